"""What a channel's digest says: what changed since its previous digest, and a few highlights that rotate so the
channel sees every metric and policy item of its subscriptions once before it sees any of them twice."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.commands.reference import reference
from bot.digest.store import schedule_of, subscriptions_of
from bot.render import Lang, Reply
from bot.search.query import parse_query, search
from bot.store import queries
from bot.store.models import Channel, DigestHighlight, Event, ItemTopic

SPOTLIGHT = 3  # metrics per digest
WATCH = 3  # policy items per digest
MAX_CHANGES = 8  # change lines shown; the rest are counted
KEYWORD_REACH = 200  # items a keyword subscription can follow


@dataclass
class Change:
    event: Event
    item: Any
    reasons: list[str]


@dataclass
class Digest:
    """The composed digest; `highlights` are recorded when (and only when) it is posted."""

    reply: Reply
    event_id: int
    highlights: list[tuple[str, str]] = field(default_factory=list)
    empty: bool = False


def followed_items(session: Session, channel: Channel) -> dict[tuple[str, str], list[str]]:
    """(kind, item id) -> why the channel follows it ("topic compute", "keyword 直播")."""
    reasons: dict[tuple[str, str], list[str]] = {}
    subscriptions = subscriptions_of(session, channel)
    topics = [s.value for s in subscriptions if s.kind == "topic"]
    if topics:
        rows = session.execute(
            select(ItemTopic.kind, ItemTopic.item_id, ItemTopic.topic).where(
                ItemTopic.topic.in_(topics), ItemTopic.kind.in_(("metric", "policy"))
            )
        )
        for kind, item_id, topic in rows:
            reasons.setdefault((kind, item_id), []).append(f"topic:{topic}")
    glossary = reference(session).glossary
    for keyword in (s.value for s in subscriptions if s.kind == "keyword"):
        found = search(
            session, parse_query(keyword, glossary), kinds=("metric", "policy"), limit=KEYWORD_REACH, relax=False
        )
        for hit in found.hits:
            reasons.setdefault((hit.kind, hit.item_id), []).append(f"keyword:{keyword}")
    return reasons


def compose(session: Session, channel: Channel, *, now: dt.datetime, period_key: str | None = None) -> Digest:
    lang: Lang = "zh" if channel.lang == "zh" else "en"
    followed = followed_items(session, channel)
    newest = session.scalar(select(func.max(Event.id))) or 0
    changes = _changes(session, channel, followed)
    spotlight = _rotation(session, channel, "metric", followed, SPOTLIGHT)
    watch = _rotation(session, channel, "policy", followed, WATCH)
    schedule = schedule_of(channel)
    # A preview shows the period it would be posted for: the next one.
    period = period_key or (schedule.next_due(now) or (now.date().isoformat(), now))[0]
    context = {
        **_base(session),
        "period": period,
        "schedule": schedule.describe(lang),
        "changes": changes[:MAX_CHANGES],
        "more_changes": max(len(changes) - MAX_CHANGES, 0),
        "spotlight": spotlight,
        "watch": watch,
        "both": channel.lang == "both",
        "first_topic": next((r.split(":", 1)[1] for rs in followed.values() for r in rs if r.startswith("topic:")), ""),
    }
    highlights = [("metric", m.id) for m in spotlight] + [("policy", p.id) for p in watch]
    empty = not (changes or spotlight or watch)
    return Digest(Reply("digest", lang, context, response_type="in_channel"), newest, highlights, empty)


def _base(session: Session) -> dict[str, Any]:
    ref = reference(session)
    return {"report": ref.report, "insights": ref.insights, "topic_names": ref.topic_names}


def _changes(session: Session, channel: Channel, followed: dict[tuple[str, str], list[str]]) -> list[Change]:
    if not followed:
        return []
    events = session.scalars(
        select(Event).where(Event.id > channel.last_event_id, Event.kind.in_(("metric", "policy"))).order_by(Event.id)
    ).all()
    relevant = [e for e in events if (e.kind, e.item_id) in followed]
    items: dict[str, dict[str, Any]] = {}
    for kind in ("metric", "policy"):
        ids = [e.item_id for e in relevant if e.kind == kind]
        items[kind] = queries.items_by_ids(kind, ids, session=session) if ids else {}
    return [
        Change(e, items[e.kind][e.item_id], followed[(e.kind, e.item_id)])
        for e in relevant
        if e.item_id in items[e.kind]
    ]


def _rotation(
    session: Session, channel: Channel, kind: str, followed: dict[tuple[str, str], list[str]], count: int
) -> list[Any]:
    """The `count` followed items this channel has been shown least often, in report order."""
    pool = [item_id for (k, item_id) in followed if k == kind]
    if not pool:
        return []
    shown = Counter(
        dict(
            session.execute(
                select(DigestHighlight.item_id, func.count())
                .where(DigestHighlight.channel_pk == channel.id, DigestHighlight.kind == kind)
                .group_by(DigestHighlight.item_id)
            ).all()
        )
    )
    rows = queries.items_by_ids(kind, pool, session=session)
    ordered = sorted(rows.values(), key=lambda item: (shown[item.id], item.insight, item.id))
    return ordered[:count]
