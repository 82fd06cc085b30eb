"""The one writer of history. Every change to an item (a data load, a status recorded from chat, a note) goes through
these functions, which write the change and its event together; events are what digests, `changes` and followers
read, so nothing can change without them knowing. The audit trail of who did what from chat is kept here too.

All take the session keyword-only and never commit: the caller's transaction does.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.caller import Caller
from bot.core.kinds import Kind
from bot.store import queries
from bot.store.models import AuditEntry, Event, Metric, Note, Observation, PolicyItem, StatusEntry


def record_event(
    kind: str,
    item_id: str,
    field: str,
    old: Any,
    new: Any,
    *,
    source: str,
    session: Session,
    workspace: str | None = None,
) -> Event:
    """One field of one item changed (or "created", or "note"): the event log grows by one row. `workspace`: the
    workspace whose records it belongs to (seen only there); None for a published fact."""
    event = Event(
        kind=str(kind),
        item_id=item_id,
        field=field,
        old_value=None if old is None else str(old),
        new_value=None if new is None else str(new),
        source=source,
        workspace=workspace,
    )
    session.add(event)
    return event


def set_fields(
    row: Any, kind: str, item_id: str, values: dict[str, Any], *, source: str, session: Session
) -> list[Event]:
    """Set the fields of `row` that differ from `values`, one event per field that changed."""
    events = []
    for name, new in values.items():
        old = getattr(row, name)
        if old != new:
            setattr(row, name, new)
            events.append(record_event(kind, item_id, name, old, new, source=source, session=session))
    return events


def _latest(model: Any, key: Any, value: str, *, session: Session, workspace: str | None = None) -> Any:
    """The newest row of `model` for `value` that `workspace` sees (the published ones where it is None)."""
    session.flush()
    where = [key == value]
    if hasattr(model, "workspace"):
        where.append(queries.visible_to(model.workspace, workspace))
    return session.scalars(select(model).where(*where).order_by(model.id.desc()).limit(1)).first()


# What a point of a metric's series keeps: the figure as stated, and its period.
OBSERVED = (
    "value",
    "value_en",
    "qualifier",
    "display_zh",
    "display_en",
    "unit_zh",
    "unit_en",
    "period_zh",
    "period_en",
)


def record_observation(metric: Metric, *, source: str, session: Session) -> bool:
    """A new point in the metric's series when its figure or period differ from the latest one. The change of the
    metric's own fields (and so its events) comes first, through set_fields; returns whether a point was added."""
    latest = _latest(Observation, Observation.metric_id, metric.id, session=session)
    stated = {name: getattr(metric, name) for name in OBSERVED}
    if latest is not None and all(getattr(latest, name) == value for name, value in stated.items()):
        return False
    session.add(Observation(metric_id=metric.id, source=source, **stated))
    return True


def record_status(
    policy: PolicyItem,
    status: tuple[str, str, str],
    *,
    date: str | None,
    note: str | None,
    source: str,
    recorded_by: str,
    session: Session,
    event_source: str | None = None,
    workspace: str | None = None,
) -> list[Event]:
    """Move a policy item to `status` (key, Chinese, English): a new entry in its status history when the status
    differs from the latest entry, and one event per field of the item that changed.

    With a `workspace` (a status recorded from chat) the move is that workspace's record: the item's published
    status stays, and the move is compared with the latest status the workspace sees (its own or the published)."""
    entry = StatusEntry(
        policy_id=policy.id,
        status=status[0],
        status_zh=status[1],
        status_en=status[2],
        date=date,
        note=note,
        source=source,
        recorded_by=recorded_by,
        workspace=workspace,
    )
    latest = _latest(StatusEntry, StatusEntry.policy_id, policy.id, session=session, workspace=workspace)
    if workspace is None:
        if latest is None or (latest.status, latest.status_zh) != status[:2]:
            session.add(entry)
        values = dict(zip(("status", "status_zh", "status_en"), status, strict=True))
        return set_fields(policy, Kind.POLICY, policy.id, values, source=event_source or source, session=session)
    now = (latest or policy).status, (latest or policy).status_zh, (latest or policy).status_en
    if now[:2] == status[:2]:
        return []
    session.add(entry)
    return [
        record_event(
            Kind.POLICY, policy.id, name, old, new, source=event_source or source, session=session, workspace=workspace
        )
        for name, old, new in zip(("status", "status_zh", "status_en"), now, status, strict=True)
        if old != new
    ]


def record_note(kind: str, item_id: str, text: str, caller: Caller, *, source: str, session: Session) -> Event:
    """A note from chat: the caller's workspace's record."""
    session.add(
        Note(
            kind=str(kind),
            item_id=item_id,
            text=text,
            team_id=caller.team_id,
            workspace=caller.workspace,
            recorded_by=caller.user_id,
        )
    )
    return record_event(kind, item_id, "note", None, text, source=source, session=session, workspace=caller.workspace)


def audit(caller: Caller, action: str, detail: str, *, session: Session) -> None:
    """Keep who did what, where and when (audit_log), in the caller's transaction."""
    session.add(
        AuditEntry(
            team_id=caller.team_id,
            channel_id=caller.channel_id,
            user_id=caller.user_id,
            action=action,
            detail=detail,
        )
    )
