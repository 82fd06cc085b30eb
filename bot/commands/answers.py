"""Answering a command: parse, query the store, and hand back a Reply for the renderer. No Slack here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from bot.commands.caller import Caller
from bot.commands.parser import CHANNEL_COMMANDS, TRACKING_COMMANDS, Command, UsageError, clean, closest_command, parse
from bot.commands.reference import reference
from bot.digest import channels
from bot.legacy_render import Lang, Reply
from bot.search import query as search
from bot.store import queries
from bot.tracking import commands as tracking

PAGE_SIZE = 8  # items per reply: with headers and citations this stays far inside Slack's 50 blocks
KIND_ORDER = ("metric", "policy", "insight")


@dataclass(frozen=True)
class Group:
    kind: str
    items: list[Any]


def answer(
    session: Session,
    text: str,
    *,
    lang: Lang | None = None,
    offset: int = 0,
    shared_by: str | None = None,
    caller: Caller | None = None,
    admins: Sequence[str] = (),
) -> Reply:
    """The reply to `/insights <text>`; a usage error becomes a friendly reply, never an exception.

    `shared_by` (a validated Slack user id) renders the version posted in the channel by "Share in channel".
    Channel commands change the channel's settings in `session`: the caller commits."""
    try:
        command = parse(text, lang)
    except UsageError as error:
        reply = Reply(
            "usage", error.lang, {"message": error.zh if error.lang == "zh" else error.en, "example": error.example}
        )
    else:
        if not reference(session).insights:
            reply = Reply("no_data", command.lang)
        elif command.name in CHANNEL_COMMANDS:
            reply = channels.handle(session, command, caller, admins)
        elif command.name in TRACKING_COMMANDS:
            reply = tracking.handle(session, command, caller, admins)
        else:
            reply = HANDLERS[command.name](session, command, max(offset, 0))
    # What the buttons carry to ask the same question again (share, more results).
    reply.context["request"] = {"t": clean(text)[0], "o": max(offset, 0), "l": reply.lang}
    reply.context["shared_by"] = shared_by
    if shared_by:
        reply.response_type = "in_channel"
    return reply


def help_reply(session: Session, command: Command, offset: int) -> Reply:
    return Reply("help", command.lang, {"report": reference(session).report})


def list_reply(session: Session, command: Command, offset: int) -> Reply:
    return Reply(
        "list", command.lang, {**reference(session).context(), "items": list(reference(session).insights.values())}
    )


def show_reply(session: Session, command: Command, offset: int) -> Reply:
    number = int(command.arg)
    insight = reference(session).insights.get(number)
    if insight is None:
        return Reply("usage", command.lang, {"message": "", "example": "list"})
    metrics = queries.items_of_insight("metric", number, session=session)
    policies = queries.items_of_insight("policy", number, session=session)
    return Reply(
        "insight",
        command.lang,
        {
            **reference(session).context(),
            "insight": insight,
            "metrics": metrics[:PAGE_SIZE],
            "metric_total": len(metrics),
            "policies": policies[:PAGE_SIZE],
            "policy_total": len(policies),
        },
    )


def topics_reply(session: Session, command: Command, offset: int) -> Reply:
    return Reply("topics", command.lang, {"topics": reference(session).topics})


def kind_reply(session: Session, command: Command, offset: int) -> Reply:
    """`metric [query or topic]` and `policy [query or topic]`."""
    kind = command.name
    topic = reference(session).find_topic(command.arg) if command.arg else None
    if not command.arg or topic is not None:
        items, total = queries.items_by_topic(
            kind, topic.slug if topic else None, session=session, limit=PAGE_SIZE, offset=offset
        )
        return _results(session, command, [Group(kind, items)] if items else [], total, offset, topic=topic)
    return _search(session, command, offset, kinds=(kind,))


def search_reply(session: Session, command: Command, offset: int) -> Reply:
    return _search(session, command, offset, kinds=())


def _search(session: Session, command: Command, offset: int, kinds: tuple[str, ...]) -> Reply:
    parsed = search.parse_query(command.arg, reference(session).glossary)
    # A mistyped command ("shw 3") is better answered with "did you mean" than with loose matches.
    did_you_mean = closest_command(command.arg)
    result = search.search(session, parsed, kinds=kinds, limit=PAGE_SIZE, offset=offset, relax=did_you_mean is None)
    rows: dict[str, dict[str, Any]] = {}
    for kind in KIND_ORDER:
        ids = [hit.item_id for hit in result.hits if hit.kind == kind]
        if ids:
            rows[kind] = queries.items_by_ids(kind, ids, session=session)
    # Grouped by kind, the groups in the order of their best hit, each group in rank order.
    order = list(dict.fromkeys(hit.kind for hit in result.hits))
    groups = [Group(kind, [rows[kind][h.item_id] for h in result.hits if h.kind == kind]) for kind in order]
    extra: dict[str, Any] = {"mode": result.mode, "glossed": parsed.glossed, "capped": result.capped}
    if not result.hits:
        extra.update(
            suggestions=queries.suggest_titles(command.arg, session=session) if command.lang == "zh" else [],
            did_you_mean=did_you_mean,
            topics=reference(session).topics,
        )
    return _results(session, command, groups, result.total, offset, **extra)


def _results(session: Session, command: Command, groups: list[Group], total: int, offset: int, **extra: Any) -> Reply:
    shown = sum(len(group.items) for group in groups)
    topics = {}
    for group in groups:
        if group.kind != "insight":
            topics.update(queries.topics_of(group.kind, [i.id for i in group.items], session=session))
    context = {
        **reference(session).context(),
        "command": command.name,
        "query": command.arg,
        "groups": groups,
        "total": total,
        "offset": offset,
        "shown": shown,
        "remaining": max(total - offset - shown, 0),
        "item_topics": topics,
        "truncated": command.truncated,
        "topic": None,
        "mode": "all",
        "suggestions": [],
        "did_you_mean": None,
        "topics": [],
        "glossed": (),
        "capped": False,
    }
    context.update(extra)
    return Reply("results", command.lang, context)


HANDLERS: dict[str, Callable[[Session, Command, int], Reply]] = {
    "help": help_reply,
    "list": list_reply,
    "show": show_reply,
    "topics": topics_reply,
    "metric": kind_reply,
    "policy": kind_reply,
    "search": search_reply,
}


def home(session: Session, team_id: str = "", channel_ids: Sequence[str] = ()) -> Reply:
    """The App Home tab: what the bot does, the ten insights, how to subscribe, and what the channels the user is in
    follow; in both languages (Slack tells us no locale)."""
    followed = channels.followed_by_channel(session, team_id, channel_ids)
    return Reply(
        "home",
        "en",
        {**reference(session).context(), "items": list(reference(session).insights.values()), "followed": followed},
    )
