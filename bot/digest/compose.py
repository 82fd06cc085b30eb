"""What a channel's digest says: what changed since its previous digest, and a few highlights that rotate so the
channel sees every metric and policy item of its subscriptions once before it sees any of them twice.

A Composer serves one tick: channels with the same subscriptions share what they follow and what changed, and
identical digests are rendered once, so a run to thousands of channels costs little more than its distinct digests.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.catalog.reference import reference
from bot.core.lang import Lang
from bot.core.poster import Poster
from bot.core.reply import Reply
from bot.digest.store import schedule_of, subscriptions_of
from bot.render import Renderer
from bot.search.query import parse_query, search
from bot.store import queries
from bot.store.models import Channel, DigestHighlight, Event, ItemTopic, StatusEntry, Subscription

SPOTLIGHT = 3  # metrics per digest
COMING_UP_DAYS = 30
COMING_UP = 5  # dated items listed
WATCH = 3  # policy items per digest
MAX_CHANGES = 8  # items whose changes are shown; the rest are counted
KEYWORD_REACH = 200  # items a keyword subscription can follow

Followed = dict[tuple[str, str], list[str]]  # (kind, item id) -> why: "topic:compute", "keyword:直播"
Signature = tuple[tuple[str, str], ...]  # a channel's subscriptions, sorted


@dataclass
class Change:
    """What happened to one item since the channel's previous digest (its events, oldest first)."""

    events: list[Event]
    item: Any
    reasons: list[str]

    @property
    def created(self) -> bool:
        return any(e.field == "created" for e in self.events)


@dataclass
class Digest:
    """The composed digest; `highlights` are recorded when (and only when) it is posted."""

    reply: Reply
    event_id: int
    highlights: list[tuple[str, str]] = field(default_factory=list)
    empty: bool = False


class Composer:
    def __init__(self, session: Session, now: dt.datetime) -> None:
        self.session = session
        self.now = now
        self.ref = reference(session)
        self.newest = self.ref.version
        self._followed: dict[Signature, Followed] = {}
        self._events: dict[int, list[Event]] = {}
        self._changes: dict[tuple[Signature, int, str], list[Change]] = {}
        # Workspaces with statuses of their own (recorded from chat): only their digests look them up.
        self._recording = set(
            session.scalars(select(StatusEntry.workspace).where(StatusEntry.workspace.is_not(None)).distinct())
        )
        self._items: dict[str, dict[str, Any]] = {"metric": {}, "policy": {}}
        self._rendered: dict[tuple[Any, ...], Any] = {}

    def compose(
        self,
        channel: Channel,
        *,
        period_key: str | None = None,
        subscriptions: Sequence[Subscription] | None = None,
        shown: Counter[tuple[str, str]] | None = None,
    ) -> Digest:
        """`subscriptions` and `shown` (highlight counts) may be passed in when read for many channels at once."""
        subscriptions = subscriptions_of(self.session, channel) if subscriptions is None else subscriptions
        signature: Signature = tuple(sorted((s.kind, s.value) for s in subscriptions))
        followed = self.followed(signature)
        shown = shown_counts(self.session, [channel.id]).get(channel.id, Counter()) if shown is None else shown
        changes = self.changes(signature, channel.last_event_id, channel.workspace)
        coming_up = self.coming_up(signature)
        spotlight = self._rotation("metric", followed, shown, SPOTLIGHT)
        watch = self._rotation("policy", followed, shown, WATCH)
        local = (
            queries.workspace_statuses([p.id for p in watch], channel.workspace, session=self.session)
            if channel.workspace in self._recording
            else {}
        )
        lang: Lang = "zh" if channel.lang == "zh" else "en"
        schedule = schedule_of(channel)
        # A preview shows the period it would be posted for: the next one.
        period = period_key or (schedule.next_due(self.now) or (self.now.date().isoformat(), self.now))[0]
        context = {
            **self.ref.context(),
            "period": period,
            "schedule": schedule,
            "changes": changes[:MAX_CHANGES],
            "more_changes": max(len(changes) - MAX_CHANGES, 0),
            "spotlight": spotlight,
            "watch": watch,
            "coming_up": coming_up,
            "both": channel.lang == "both",
            "first_topic": next((value for kind, value in signature if kind == "topic"), ""),
            "local": local,
        }
        highlights = [("metric", m.id) for m in spotlight] + [("policy", p.id) for p in watch]
        reply = Reply("digest", lang, context, visibility="in_channel")
        return Digest(reply, self.newest, highlights, empty=not (changes or spotlight or watch or coming_up))

    def payload(self, digest: Digest, renderer: Renderer, poster: Poster) -> Any:
        """The platform's rendering, made once per distinct content: many channels get exactly the same digest."""
        context = digest.reply.context
        key = (
            digest.reply.lang,
            context["both"],
            context["period"],
            context["schedule"],
            context["first_topic"],
            tuple((tuple(e.id for e in c.events), *c.reasons) for c in context["changes"]),
            context["more_changes"],
            tuple(digest.highlights),
            tuple((item.id, kind) for item, kind, _ in context["coming_up"]),
            tuple((item_id, entry.id) for item_id, entry in context["local"].items()),
        )
        if key not in self._rendered:
            self._rendered[key] = poster.render(renderer.message(digest.reply))
        return self._rendered[key]

    def followed(self, signature: Signature) -> Followed:
        if signature not in self._followed:
            self._followed[signature] = self._find_followed(signature)
        return self._followed[signature]

    def _find_followed(self, signature: Signature) -> Followed:
        reasons: Followed = {}
        topics = [value for kind, value in signature if kind == "topic"]
        if topics:
            rows = self.session.execute(
                select(ItemTopic.kind, ItemTopic.item_id, ItemTopic.topic).where(
                    ItemTopic.topic.in_(topics), ItemTopic.kind.in_(("metric", "policy"))
                )
            )
            for kind, item_id, topic in rows:
                reasons.setdefault((kind, item_id), []).append(f"topic:{topic}")
        glossary = self.ref.glossary
        for keyword in (value for kind, value in signature if kind == "keyword"):
            found = search(
                self.session,
                parse_query(keyword, glossary),
                kinds=("metric", "policy"),
                limit=KEYWORD_REACH,
                relax=False,
            )
            for hit in found.hits:
                reasons.setdefault((hit.kind, hit.item_id), []).append(f"keyword:{keyword}")
        return reasons

    def changes(self, signature: Signature, since: int, workspace: str) -> list[Change]:
        """What changed since event `since` in what `signature` follows: the published facts and `workspace`'s
        own records, never another workspace's."""
        key = (signature, since, workspace)
        if key not in self._changes:
            followed = self.followed(signature)
            by_item: dict[tuple[str, str], list[Event]] = {}
            for event in self._events_since(since) if followed else []:
                if (event.kind, event.item_id) in followed and event.workspace in (None, workspace):
                    by_item.setdefault((event.kind, event.item_id), []).append(event)
            self._load(by_item)
            self._changes[key] = [
                Change(item_events, self._items[kind][item_id], followed[(kind, item_id)])
                for (kind, item_id), item_events in by_item.items()
                if item_id in self._items[kind]
            ]
        return self._changes[key]

    def _events_since(self, since: int) -> list[Event]:
        if since not in self._events:
            self._events[since] = (
                list(
                    self.session.scalars(
                        select(Event)
                        .where(
                            Event.id > since,
                            Event.kind.in_(("metric", "policy")),
                            Event.field.not_in(queries.QUIET_FIELDS),
                        )
                        .order_by(Event.id)
                    )
                )
                if since < self.newest
                else []
            )
        return self._events[since]

    def coming_up(self, signature: Signature) -> list[tuple[Any, str, dt.date]]:
        """Followed policy items with a comment deadline or an effective date in the next 30 days."""
        followed = self.followed(signature)
        self._load([key for key in followed if key[0] == "policy"])
        horizon = self.now.date() + dt.timedelta(days=COMING_UP_DAYS)
        dated: list[tuple[Any, str, dt.date]] = []
        for kind, item_id in followed:
            item = self._items["policy"].get(item_id) if kind == "policy" else None
            if item is None:
                continue
            for name in ("comment_deadline", "effective_date"):
                day = _day(getattr(item, name))
                if day is not None and self.now.date() <= day <= horizon:
                    dated.append((item, name, day))
        return sorted(dated, key=lambda entry: (entry[2], entry[0].id))[:COMING_UP]

    def _rotation(self, kind: str, followed: Followed, shown: Counter[tuple[str, str]], count: int) -> list[Any]:
        """The `count` followed items this channel has been shown least often, in report order."""
        pool = [key for key in followed if key[0] == kind]
        self._load(pool)
        items = [self._items[kind][item_id] for _, item_id in pool if item_id in self._items[kind]]
        items.sort(key=lambda item: (shown[(kind, item.id)], item.insight, item.id))
        return items[:count]

    def _load(self, keys: Iterable[tuple[str, str]]) -> None:
        for kind in ("metric", "policy"):
            missing = [item_id for k, item_id in keys if k == kind and item_id not in self._items[kind]]
            if missing:
                self._items[kind].update(queries.items_by_ids(kind, missing, session=self.session))


def shown_counts(session: Session, channel_pks: Sequence[int]) -> dict[int, Counter[tuple[str, str]]]:
    """How often each channel has been shown each highlight: one query for many channels."""
    counts: dict[int, Counter[tuple[str, str]]] = {}
    for start in range(0, len(channel_pks), 500):
        rows = session.execute(
            select(DigestHighlight.channel_pk, DigestHighlight.kind, DigestHighlight.item_id, func.count())
            .where(DigestHighlight.channel_pk.in_(list(channel_pks[start : start + 500])))
            .group_by(DigestHighlight.channel_pk, DigestHighlight.kind, DigestHighlight.item_id)
        )
        for channel_pk, kind, item_id, count in rows:
            counts.setdefault(channel_pk, Counter())[(kind, item_id)] = count
    return counts


def subscriptions_by_channel(session: Session, channel_pks: Sequence[int]) -> dict[int, list[Subscription]]:
    out: dict[int, list[Subscription]] = {}
    for start in range(0, len(channel_pks), 500):
        rows = session.scalars(
            select(Subscription)
            .where(Subscription.channel_pk.in_(list(channel_pks[start : start + 500])))
            .order_by(Subscription.id)
        )
        for row in rows:
            out.setdefault(row.channel_pk, []).append(row)
    return out


def compose(session: Session, channel: Channel, *, now: dt.datetime, period_key: str | None = None) -> Digest:
    """One channel's digest (a preview, `digest now`, a recovery)."""
    return Composer(session, now).compose(channel, period_key=period_key)


def _day(value: str | None) -> dt.date | None:
    """A key date as a day: a full date as is, a month as its first day; a bare year is too vague to list."""
    if not value or len(value) < 7:
        return None
    try:
        return dt.date.fromisoformat(value if len(value) == 10 else f"{value}-01")
    except ValueError:
        return None
