"""help, list, show, metric, policy, search, topics: declarations and handlers. Nothing here knows a chat platform."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.catalog.reference import reference
from bot.core.commands import CommandSpec, Request
from bot.core.kinds import Kind
from bot.core.reply import Reply, notice
from bot.search import query as search
from bot.store import queries

PAGE_SIZE = 8  # items per reply: with headers and citations this stays far inside Slack's 50 blocks
KIND_ORDER = (Kind.METRIC, Kind.POLICY, Kind.INSIGHT)
_ZH_NUMERALS = {c: i for i, c in enumerate("一二三四五六七八九十", start=1)}


@dataclass(frozen=True)
class Group:
    kind: str
    items: list[Any]


def insight_number(text: str) -> str | None:
    """ "3", "三", "第五条" -> the insight's number (1 to 10) as text; None for anything else."""
    text = text.strip().removeprefix("第").removesuffix("条").removesuffix("个")
    number = int(text) if text.isascii() and text.isdigit() else _ZH_NUMERALS.get(text)
    return str(number) if number is not None and 1 <= number <= 10 else None


def help_reply(request: Request) -> Reply:
    return Reply("help", request.lang, {"report": reference(request.session).report})


def list_reply(request: Request) -> Reply:
    ref = reference(request.session)
    return Reply("list", request.lang, {**ref.context(), "items": list(ref.insights.values())})


def show_reply(request: Request) -> Reply:
    session, number = request.session, int(request.arg)
    ref = reference(session)
    if number not in ref.insights:  # an edition with fewer than ten
        return notice(request.lang, "no_such_insight", number=number, count=len(ref.insights), example="list")
    metrics = queries.items_of_insight(Kind.METRIC, number, session=session)
    policies = queries.items_of_insight(Kind.POLICY, number, session=session)
    return Reply(
        "insight",
        request.lang,
        {
            **ref.context(),
            "insight": ref.insights[number],
            "metrics": metrics[:PAGE_SIZE],
            "metric_total": len(metrics),
            "policies": policies[:PAGE_SIZE],
            "policy_total": len(policies),
            "local": _local(request, policies[:PAGE_SIZE]),
        },
    )


def topics_reply(request: Request) -> Reply:
    return Reply("topics", request.lang, {"topics": reference(request.session).topics})


def kind_reply(request: Request) -> Reply:
    """`metric [query or topic]` and `policy [query or topic]`."""
    kind, arg = request.command.name, request.arg
    topic = reference(request.session).find_topic(arg) if arg else None
    if arg and topic is None:
        return _search(request, kinds=(kind,))
    items, total = queries.items_by_topic(
        kind, topic.slug if topic else None, session=request.session, limit=PAGE_SIZE, offset=request.offset
    )
    return _results(request, [Group(kind, items)] if items else [], total, topic=topic)


def search_reply(request: Request) -> Reply:
    return _search(request, kinds=())


def _search(request: Request, kinds: tuple[str, ...]) -> Reply:
    session, ref = request.session, reference(request.session)
    parsed = search.parse_query(request.arg, ref.glossary)
    result = search.search(session, parsed, kinds=kinds, limit=PAGE_SIZE, offset=request.offset)
    # Whether the report answers the question is decided by the best hits, which the first page shows.
    first = result if request.offset == 0 else search.search(session, parsed, kinds=kinds, limit=PAGE_SIZE)
    rows: dict[str, dict[str, Any]] = {}
    for kind in KIND_ORDER:
        ids = [hit.item_id for hit in result.hits if hit.kind == kind]
        if ids:
            rows[kind] = queries.items_by_ids(kind, ids, session=session)
    # Grouped by kind, each group in rank order: first the kinds that answer (a figure for "how many"), then the
    # others, each in the order of its best hit.
    order = list(dict.fromkeys(hit.kind for hit in result.hits if result.answers(hit)))
    order += [kind for kind in dict.fromkeys(hit.kind for hit in result.hits) if kind not in order]
    groups = [Group(kind, [rows[kind][h.item_id] for h in result.hits if h.kind == kind]) for kind in order]
    extra: dict[str, Any] = {
        "mode": result.mode,
        "glossed": parsed.glossed,
        "capped": result.capped,
        # A mistyped command ("shw 3") gets "did you mean" next to whatever the text itself finds, never instead.
        "did_you_mean": request.did_you_mean,
        # A question no item answers: the reply says so first, then offers what was found as related items.
        "declined": bool(result.hits) and not first.answered and request.did_you_mean is None,
    }
    if not result.hits:
        extra.update(
            suggestions=queries.suggest_titles(request.arg, session=session) if request.lang == "zh" else [],
            topics=ref.topics,
        )
    return _results(request, groups, result.total, **extra)


def _local(request: Request, policies: list[Any]) -> dict[str, Any]:
    """The statuses the asking workspace recorded for these policy items, shown beside the published ones."""
    workspace = request.caller.workspace if request.caller is not None else None
    return queries.workspace_statuses([p.id for p in policies], workspace, session=request.session)


def _results(request: Request, groups: list[Group], total: int, **extra: Any) -> Reply:
    session, offset = request.session, request.offset
    shown = sum(len(group.items) for group in groups)
    context = {
        **reference(session).context(),
        "command": request.command.name,
        "query": request.arg,
        "groups": groups,
        "total": total,
        "offset": offset,
        "shown": shown,
        "remaining": max(total - offset - shown, 0),
        "truncated": request.command.truncated,
        "topic": None,
        "mode": "all",
        "suggestions": [],
        "did_you_mean": None,
        "topics": [],
        "glossed": (),
        "capped": False,
        "declined": False,
        "local": _local(request, [item for group in groups if group.kind == Kind.POLICY for item in group.items]),
    }
    context.update(extra)
    return Reply("results", request.lang, context)


COMMANDS = (
    CommandSpec("help", ("帮助", "?", "？"), help_reply, "help", takes="nothing"),
    CommandSpec("list", ("insights", "列表", "目录"), list_reply, "list", takes="nothing"),
    CommandSpec(
        "show",
        ("insight", "查看", "洞察"),
        show_reply,
        "show 3",
        takes="words",
        normalise=insight_number,
        invalid="insight_number",
        bare=True,
        tenanted=True,
    ),
    CommandSpec("metric", ("metrics", "figure", "figures", "指标"), kind_reply, "metric compute"),
    CommandSpec("policy", ("policies", "政策"), kind_reply, "policy 数据", tenanted=True),
    CommandSpec(
        "search",
        ("find", "搜索", "查找"),
        search_reply,
        "search 直播",
        takes="words",
        invalid="search_what",
        tenanted=True,
    ),
    CommandSpec("topics", ("主题",), topics_reply, "topics", takes="nothing"),
)
