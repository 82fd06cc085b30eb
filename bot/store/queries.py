"""Read queries over the report store. Each takes the session keyword-only and never commits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from bot.core.lang import CJK_CHAR
from bot.store.models import (
    Channel,
    Insight,
    ItemTopic,
    Metric,
    PolicyItem,
    Report,
    StatusEntry,
    Topic,
    WorkspaceSettings,
)

MODELS: dict[str, Any] = {"metric": Metric, "policy": PolicyItem}
# Changes that are bookkeeping, not news: which edition an item was last loaded from, the wording of its citation.
QUIET_FIELDS = ("report_id", "quote")


def report(*, session: Session) -> Report | None:
    """The newest edition loaded."""
    return session.scalars(select(Report).order_by(Report.year.desc(), Report.id)).first()


def insights(*, session: Session) -> list[Insight]:
    return list(session.scalars(select(Insight).order_by(Insight.number)))


def topics(*, session: Session) -> list[Topic]:
    return list(session.scalars(select(Topic).order_by(Topic.insight.is_(None), Topic.insight, Topic.slug)))


def items_of_insight(kind: str, number: int, *, session: Session) -> list[Any]:
    model = MODELS[kind]
    return list(session.scalars(select(model).where(model.insight == number).order_by(model.id)))


def items_by_ids(kind: str, ids: Sequence[str], *, session: Session) -> dict[str, Any]:
    if kind == "insight":
        numbers = [int(i) for i in ids]
        return {str(row.number): row for row in session.scalars(select(Insight).where(Insight.number.in_(numbers)))}
    model = MODELS[kind]
    return {row.id: row for row in session.scalars(select(model).where(model.id.in_(list(ids))))}


def items_by_topic(
    kind: str, topic: str | None, *, session: Session, limit: int, offset: int = 0
) -> tuple[list[Any], int]:
    """Items of one kind (in one topic when given), in report order, with the total count."""
    model = MODELS[kind]
    where = (
        []
        if topic is None
        else [model.id.in_(select(ItemTopic.item_id).where(ItemTopic.kind == kind, ItemTopic.topic == topic))]
    )
    total = session.scalar(select(func.count()).select_from(model).where(*where)) or 0
    rows = session.scalars(select(model).where(*where).order_by(model.insight, model.id).limit(limit).offset(offset))
    return list(rows), total


def suggest_titles(fragment: str, *, session: Session, limit: int = 5) -> list[str]:
    """Metric labels and policy titles sharing a character with `fragment`, for a query that found nothing."""
    chars = list(dict.fromkeys(CJK_CHAR.findall(fragment)))[:5]
    if not chars:
        return []
    labels = select(Metric.label_zh.label("title")).where(or_(*(Metric.label_zh.contains(c) for c in chars)))
    titles = select(PolicyItem.title_zh.label("title")).where(or_(*(PolicyItem.title_zh.contains(c) for c in chars)))
    union = labels.union(titles).subquery()
    return list(session.scalars(select(union.c.title).order_by(func.length(union.c.title)).limit(limit)))


def channel_is_restricted(channel_id: str, *, session: Session) -> bool:
    """Whether a channel's settings (and edits made from it) are kept to admins (`restrict on`), whichever
    workspace the person is in (a shared channel has one configuration)."""
    return bool(session.scalar(select(Channel.restricted).where(Channel.channel_id == channel_id)))


def visible_to(workspace_column: InstrumentedAttribute[Any], workspace: str | None) -> ColumnElement[bool]:
    """Rows a workspace sees: the published facts (no workspace) and its own records; only the published facts
    where no workspace asks (a terminal, an export without --workspace)."""
    if workspace is None:
        return workspace_column.is_(None)
    return or_(workspace_column.is_(None), workspace_column == workspace)


def workspace_statuses(policy_ids: Sequence[str], workspace: str | None, *, session: Session) -> dict[str, Any]:
    """The latest status each policy item has in `workspace`'s own records (a status recorded from chat), by id."""
    if workspace is None or not policy_ids:
        return {}
    rows = session.scalars(
        select(StatusEntry)
        .where(StatusEntry.workspace == workspace, StatusEntry.policy_id.in_(list(policy_ids)))
        .order_by(StatusEntry.id)
    )
    return {row.policy_id: row for row in rows}


def dm_edits(workspace: str, *, session: Session) -> str:
    """Who may record tracking changes in direct messages with the bot in this workspace: "anyone" or "admins"."""
    chosen = session.scalar(select(WorkspaceSettings.dm_edits).where(WorkspaceSettings.workspace == workspace))
    return chosen or "anyone"
