"""history, changes, track, note, follow, unfollow, following: declarations and handlers. Writes run in the caller's
transaction and go through the one writer of history (bot.store.history)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.catalog.reference import reference
from bot.core.caller import Caller
from bot.core.commands import CommandSpec, Request
from bot.core.kinds import TRACKED, Kind
from bot.core.reply import Reply, notice
from bot.store import history as writer
from bot.store import queries
from bot.store.models import Event, Follow, ItemTopic, Metric, Note, Observation, PolicyItem, StatusEntry
from bot.tracking.items import PARTIAL_DATE, STATUS_NAMES, Found, Unclear, is_date, parse_status, resolve

MAX_NOTE = 1000
CHANGES_SHOWN = 15  # rows (an item's changes from one source)
CHANGES_SHOWN_EVENTS = 120  # events read for them


def _found(request: Request, text: str, kinds: tuple[Kind, ...] = TRACKED) -> Found | Reply:
    """The item `text` names, or the reply that says it is unclear or unknown."""
    found = resolve(request.session, text, kinds)
    if isinstance(found, Found):
        return found
    if isinstance(found, Unclear):
        return Reply("choose", request.lang, {"choices": found.choices, "text": text})
    return notice(request.lang, "no_such_item", text=text, example="history national-data-administration")


def _workspace(request: Request) -> str | None:
    """Whose records a reply shows besides the published facts: the asking workspace's; none from a terminal."""
    return request.caller.workspace if request.caller is not None else None


def history_reply(request: Request) -> Reply:
    found = _found(request, request.arg)
    if isinstance(found, Reply):
        return found
    session, workspace = request.session, _workspace(request)
    entries: list[dict[str, Any]] = []
    if found.kind == Kind.METRIC:
        points = session.scalars(
            select(Observation).where(Observation.metric_id == found.item.id).order_by(Observation.id)
        ).all()
        for previous, point in zip([None, *points], points, strict=False):
            entries.append(
                {
                    "at": point.recorded_at,
                    "kind": "value",
                    "point": point,
                    "previous": previous,
                    "source": point.source,
                    "by": None,
                }
            )
    else:
        for entry in session.scalars(
            select(StatusEntry)
            .where(StatusEntry.policy_id == found.item.id, queries.visible_to(StatusEntry.workspace, workspace))
            .order_by(StatusEntry.id)
        ):
            entries.append(
                {
                    "at": entry.recorded_at,
                    "kind": "status",
                    "entry": entry,
                    "source": entry.source,
                    "by": entry.recorded_by,
                }
            )
    for note in session.scalars(
        select(Note)
        .where(Note.kind == found.kind, Note.item_id == found.item.id, Note.workspace == workspace)
        .order_by(Note.id)
    ):
        entries.append(
            {
                "at": note.recorded_at,
                "kind": "note",
                "note": note,
                "source": "Slack",
                "by": note.recorded_by,
            }
        )
    entries.sort(key=lambda e: e["at"])
    return Reply(
        "history",
        request.lang,
        {**reference(session).context(), "found": found, "entries": entries[-20:], "hidden": max(len(entries) - 20, 0)},
    )


def changes_reply(request: Request) -> Reply:
    """`changes`, `changes since 2027-03-01`, `changes compute`: what moved recently, newest first."""
    session, lang, text = request.session, request.lang, request.arg
    since: dt.date | None = None
    topic = None
    words = text.split()
    if words[:1] in (["since"], ["自"]) and len(words) == 2:
        try:
            since = dt.date.fromisoformat(words[1])
        except ValueError:
            return notice(lang, "date_format", example="changes since 2027-03-01")
    elif text:
        topic = reference(session).find_topic(text)
        if topic is None:
            return notice(lang, "no_such_topic", text=text, example="changes compute")
    query = select(Event).where(
        Event.kind.in_(TRACKED),
        Event.field != "created",
        Event.field.not_in(queries.QUIET_FIELDS),
        queries.visible_to(Event.workspace, _workspace(request)),
    )
    if since is not None:
        query = query.where(Event.created_at >= dt.datetime.combine(since, dt.time(), dt.UTC))
    if topic is not None:
        query = query.where(
            select(ItemTopic.item_id)
            .where(ItemTopic.kind == Event.kind, ItemTopic.item_id == Event.item_id, ItemTopic.topic == topic.slug)
            .exists()
        )
    events = session.scalars(query.order_by(Event.id.desc()).limit(CHANGES_SHOWN_EVENTS + 1)).all()
    items = {
        kind: queries.items_by_ids(kind, [e.item_id for e in events if e.kind == kind], session=session)
        for kind in TRACKED
    }
    # One row per item and source (a data load, an edit from chat), newest first; its events oldest first.
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for event in events[:CHANGES_SHOWN_EVENTS]:
        item = items[Kind(event.kind)].get(event.item_id)
        if item is not None:
            row = rows.setdefault((event.kind, event.item_id, event.source), {"item": item, "kind": event.kind})
            row.setdefault("events", []).insert(0, event)
    return Reply(
        "changes",
        lang,
        {
            **reference(session).context(),
            "rows": list(rows.values())[:CHANGES_SHOWN],
            "more": len(events) > CHANGES_SHOWN_EVENTS or len(rows) > CHANGES_SHOWN,
            "since": since,
            "topic": topic,
        },
    )


def split_track(text: str) -> tuple[str, str, str | None, str] | None:
    """(item words, status, date or None, note) from `ITEM STATUS [DATE] [note]`; None without a status."""
    words = text.split()
    for start in range(1, len(words)):
        for size in (3, 2, 1):
            status = parse_status(" ".join(words[start : start + size]))
            if status is not None and start + size <= len(words):
                rest = words[start + size :]
                date = rest[0] if rest and PARTIAL_DATE.match(rest[0]) else None
                return " ".join(words[:start]), status, date, " ".join(rest[1:] if date else rest)
    return None


def track_reply(request: Request) -> Reply:
    """`track ITEM STATUS [DATE] [note]`: ITEM is an id or any words before the status."""
    parsed = split_track(request.arg)
    if parsed is None:
        return notice(
            request.lang,
            "status_names",
            names=list(STATUS_NAMES),
            example="track national-data-administration in_effect 2027-03 notice",
        )
    item_text, status, date, remark = parsed
    if date is not None and not is_date(date):
        return notice(
            request.lang, "not_a_date", text=date, example="track national-data-administration in_effect 2027-03"
        )
    found = _found(request, item_text, (Kind.POLICY,))
    if isinstance(found, Reply):
        return found
    moved = track(request.session, found.item, status, remark or None, request.need_caller(), date=date)
    return notice(
        request.lang, "tracked" if moved else "status_unchanged", item=found.item, status=STATUS_NAMES[status]
    )


def note_reply(request: Request) -> Reply:
    """`note ID TEXT`, or `note ANY WORDS: TEXT` to name the item in words."""
    session, text = request.session, request.arg
    first, _, rest = text.partition(" ")
    if ":" in text and session.get(Metric, first) is None and session.get(PolicyItem, first) is None:
        first, _, rest = text.partition(":")
    found = _found(request, first.strip())
    if isinstance(found, Reply):
        return found
    rest = rest.strip()
    if not rest or len(rest) > MAX_NOTE:
        return notice(request.lang, "write_note", limit=MAX_NOTE, example=f"note {found.item.id}: text")
    add_note(session, found, rest, request.need_caller())
    return notice(request.lang, "note_saved")


def track(
    session: Session, policy: PolicyItem, status: str, note: str | None, caller: Caller, *, date: str | None = None
) -> bool:
    """Move a policy item to `status` (from chat): its history, events, the audit trail. False when it was already
    in that status (nothing recorded)."""
    source = f"Slack {caller.team_id}"
    events = writer.record_status(
        policy,
        (status, *STATUS_NAMES[status]),
        date=date,
        note=note,
        source=source,
        recorded_by=caller.user_id,
        event_source=f"{source} by {caller.user_id}" + (f": {note}" if note else ""),
        session=session,
        workspace=caller.workspace,
    )
    if events:
        writer.audit(caller, "track", f"{policy.id} {events[0].old_value} -> {status}", session=session)
    return bool(events)


def add_note(session: Session, found: Found, text: str, caller: Caller) -> None:
    writer.record_note(
        found.kind, found.item.id, text, caller, source=f"Slack {caller.team_id} by {caller.user_id}", session=session
    )
    writer.audit(caller, "note", f"{found.item.id}: {text[:200]}", session=session)


def follow_reply(request: Request) -> Reply:
    found = _found(request, request.arg)
    if isinstance(found, Reply):
        return found
    session, caller = request.session, request.need_caller()
    if _follow(session, caller, found) is None:
        newest = session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1)) or 0
        session.add(
            Follow(
                team_id=caller.team_id,
                user_id=caller.user_id,
                workspace=caller.workspace,
                kind=found.kind,
                item_id=found.item.id,
                last_event_id=newest,
            )
        )
    return notice(request.lang, "following", found=found)


def unfollow_reply(request: Request) -> Reply:
    found = _found(request, request.arg)
    if isinstance(found, Reply):
        return found
    existing = _follow(request.session, request.need_caller(), found)
    if existing is None:
        return notice(request.lang, "not_following", found=found)
    request.session.delete(existing)
    return notice(request.lang, "unfollowed", found=found)


def _follow(session: Session, caller: Caller, found: Found) -> Follow | None:
    return session.scalar(
        select(Follow).where(
            Follow.team_id == caller.team_id,
            Follow.user_id == caller.user_id,
            Follow.kind == found.kind,
            Follow.item_id == found.item.id,
        )
    )


def following_reply(request: Request) -> Reply:
    session, caller = request.session, request.need_caller()
    follows = session.scalars(
        select(Follow).where(Follow.team_id == caller.team_id, Follow.user_id == caller.user_id).order_by(Follow.id)
    ).all()
    items = [
        Found(Kind(f.kind), queries.items_by_ids(f.kind, [f.item_id], session=session).get(f.item_id)) for f in follows
    ]
    return Reply("following", request.lang, {"items": [f for f in items if f.item is not None]})


def follower_updates(session: Session) -> list[tuple[Follow, list[Event]]]:
    """For each follow, the events of its item it has not been told about (oldest first)."""
    pairs = session.execute(
        select(Follow, Event)
        .join(
            Event,
            (Event.kind == Follow.kind)
            & (Event.item_id == Follow.item_id)
            & (Event.id > Follow.last_event_id)
            # The published facts and the follower's own workspace's records, never another workspace's.
            & (Event.workspace.is_(None) | (Event.workspace == Follow.workspace)),
        )
        .order_by(Follow.id, Event.id)
    ).all()
    grouped: dict[int, tuple[Follow, list[Event]]] = {}
    for follow, event in pairs:
        grouped.setdefault(follow.id, (follow, []))[1].append(event)
    return list(grouped.values())


def item_of(session: Session, kind: str, item_id: str) -> Metric | PolicyItem | None:
    """A tracked item by kind and id; None for anything else (a stale or tampered reference)."""
    if kind == Kind.METRIC:
        return session.get(Metric, item_id)
    return session.get(PolicyItem, item_id) if kind == Kind.POLICY else None


COMMANDS = (
    CommandSpec(
        "history", ("历史",), history_reply, "history national-data-administration", takes="words", tenanted=True
    ),
    CommandSpec("changes", ("变化", "变动"), changes_reply, "changes since 2027-03-01", tenanted=True),
    CommandSpec(
        "track",
        ("跟踪",),
        track_reply,
        "track national-data-administration in_effect 2027-03",
        takes="words",
        access="editor",
        writes=True,
    ),
    CommandSpec(
        "note",
        ("备注",),
        note_reply,
        "note national-data-administration: text",
        takes="words",
        access="editor",
        writes=True,
    ),
    CommandSpec(
        "follow",
        ("关注",),
        follow_reply,
        "follow national-data-administration",
        takes="words",
        access="caller",
        writes=True,
    ),
    CommandSpec(
        "unfollow",
        ("取消关注",),
        unfollow_reply,
        "unfollow national-data-administration",
        takes="words",
        access="caller",
        writes=True,
    ),
    CommandSpec("following", ("我的关注",), following_reply, "following", takes="nothing", access="caller"),
)
