"""Replies to render, for tests/render and the platforms' renderer tests (tests/slack/test_blocks.py,
tests/lark/test_cards.py), with what those share: every reply kind (SIMPLE) and `walk`.

Every call into the code that produces Replies (the router, the digest, the Home tab, the data) is in the first
section below, so that moving those functions means changing this file alone. Replies that are simpler to build by
hand (a digest with changes and coming-up dates, a Home tab with 40 channels, a policy titled `R&D <x>`) take real
rows from the data and small stand-ins for the rest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

# ---- the production code used here (repoint in this section only) ---------------------------------------------
from bot.catalog.loader import load_bundle, read_bundle
from bot.catalog.reference import reference
from bot.commands.router import ask
from bot.core.caller import Caller
from bot.core.lang import Lang
from bot.core.reply import Reply, notice
from bot.digest.home import home
from bot.digest.schedule import Schedule
from bot.services import Services
from bot.store.models import Metric, PolicyItem
from bot.tracking.items import STATUS_NAMES
from tests.conftest import MINI, _services

REPORT = Path(__file__).parents[2] / "data"
EDITION2 = Path(__file__).parents[1] / "fixtures" / "edition2"


def _same(reply: Reply) -> Reply:
    return reply


def answer(
    services: Services,
    text: str,
    *,
    lang: Lang | None = None,
    offset: int = 0,
    shared_by: str | None = None,
    channel: str = "C1",
) -> Reply:
    """The Reply to `/insights <text>` typed by U1 (an admin) in `channel`."""
    caller = Caller("T1", channel, "U1", is_admin=lambda: True, can_post=lambda: True)
    return ask(services, text, _same, caller=caller, lang=lang, offset=offset, shared_by=shared_by)


def loaded(url: str, bundle: Path) -> Iterator[Services]:
    for services in _services(url, bundle):
        with services.session_factory.begin() as session:
            load_bundle(session, read_bundle(bundle))
        yield services


def base_context(services: Services) -> dict[str, Any]:
    """What templates citing items need (the report, the insights, the topics by slug)."""
    with services.session_factory() as session:
        return reference(session).context()


def home_reply(services: Services, channel_ids: tuple[str, ...] = ()) -> Reply:
    with services.session_factory() as session:
        return home(session, channel_ids)


# ---- fixtures -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mini(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """The miniature edition, shared by a module's tests (they only read, or write to channels of their own)."""
    yield from loaded(f"sqlite:///{tmp_path_factory.mktemp('mini') / 'bot.db'}", MINI)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """The bundled report: enough items for a second page."""
    yield from loaded(f"sqlite:///{tmp_path_factory.mktemp('report') / 'bot.db'}", REPORT)


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """The miniature edition and then its second edition: histories and changes to show."""
    for services in loaded(f"sqlite:///{tmp_path_factory.mktemp('tracked') / 'bot.db'}", MINI):
        with services.session_factory.begin() as session:
            load_bundle(session, read_bundle(EDITION2))
        yield services


# ---- replies built by hand --------------------------------------------------------------------------------------


def _rows(services: Services) -> tuple[list[Metric], list[PolicyItem]]:
    with services.session_factory() as session:
        metrics = list(session.scalars(select(Metric).order_by(Metric.id)))
        policies = list(session.scalars(select(PolicyItem).order_by(PolicyItem.id)))
        session.expunge_all()
    return metrics, policies


def event(kind: str, item_id: str, field: str, old: str | None, new: str | None) -> SimpleNamespace:
    return SimpleNamespace(
        kind=kind,
        item_id=item_id,
        field=field,
        old_value=old,
        new_value=new,
        source="test-edition-2",
        workspace=None,
        created_at=dt.datetime(2027, 3, 1, tzinfo=dt.UTC),
    )


def digest_reply(services: Services, lang: str, **overrides: Any) -> Reply:
    """A digest with changes (a new item, a changed figure, a note), a spotlight, items to watch and dates coming up;
    `lang` is the channel's: zh, en or both."""
    metrics, policies = _rows(services)
    sales = next(m for m in metrics if m.id == "test-livestream-sales")
    data_bureau = next(p for p in policies if p.id == "test-data-bureau")
    changes = [
        SimpleNamespace(
            item=sales,
            created=False,
            reasons=["topic:ecommerce", "keyword:直播"],
            events=[
                event("metric", sales.id, "value", "9.99", "12.5"),
                event("metric", sales.id, "note", None, "Revised <!here> & R&D"),
            ],
        ),
        SimpleNamespace(
            item=data_bureau,
            created=True,
            reasons=["topic:data"],
            events=[event("policy", data_bureau.id, "created", None, None)],
        ),
    ]
    context = {
        **base_context(services),
        "period": "2027-W09",
        "schedule": Schedule(),
        "changes": changes,
        "more_changes": 3,
        "spotlight": metrics[:3],
        "watch": policies[:3],
        "coming_up": [
            (data_bureau, "comment_deadline", dt.date(2027, 3, 10)),
            (policies[0], "effective_date", dt.date(2027, 3, 20)),
        ],
        "both": lang == "both",
        "first_topic": "ecommerce",
        **overrides,
    }
    return Reply("digest", "zh" if lang == "zh" else "en", context, visibility="in_channel")


def home_with_channels(services: Services, count: int) -> Reply:
    followed = [
        {
            "channel_id": f"C{i:08d}",
            "follows": [("topic", "compute"), ("topic", "ecommerce"), ("keyword", "直播 <!here>")],
            "schedule": Schedule(),
            "paused": "not_in_channel" if i % 7 == 0 else None,
        }
        for i in range(count)
    ]
    reply = home_reply(services)
    reply.context["followed"] = followed
    return reply


HOSTILE_TITLE = "R&D <x>"


def history_of_hostile_policy(services: Services) -> Reply:
    """The history of a policy item titled `R&D <x>` (its header is plain text: shown as is)."""
    _, policies = _rows(services)
    item = SimpleNamespace(
        **{c: getattr(policies[-1], c) for c in ("id", "status_zh", "status_en")},
        title_zh=HOSTILE_TITLE,
        title_en=HOSTILE_TITLE,
    )
    entry = SimpleNamespace(
        status_zh="停滞", status_en="stalled", date="2027-03", note="budget <!here> cut & R&D", workspace="T1"
    )
    entries = [
        {"at": dt.datetime(2027, 3, 1, tzinfo=dt.UTC), "kind": "status", "entry": entry, "source": "Slack", "by": "U42"}
    ]
    context = {
        **base_context(services),
        "found": SimpleNamespace(kind="policy", item=item),
        "entries": entries,
        "hidden": 0,
        "request": {"t": f"history {item.id}", "o": 0, "l": "en"},
        "shared_by": None,
    }
    return Reply("history", "en", context)


def usage_reply(lang: Lang) -> Reply:
    return notice(lang, "no_such_item", text="Which insight? <!here>", example="show 3")


def track_context(services: Services, kind: str) -> dict[str, Any]:
    """What bot.slack.actions' track_open hands the modal."""
    metrics, policies = _rows(services)
    item: Any = policies[0] if kind == "policy" else metrics[0]
    titles = (item.title_zh, item.title_en) if kind == "policy" else (item.label_zh, item.label_en)
    return {
        "kind": kind,
        "item": item,
        "title_zh": titles[0],
        "title_en": titles[1],
        "statuses": STATUS_NAMES,
        "metadata": {"kind": kind, "item": item.id, "channel": "C1"},
    }


NOTICES = [
    notice("en", "posting_digest"),
    notice("zh", "posting_digest"),
    notice("en", "digest_paused", channel_id="C0123", error="not_in_channel"),
    notice("zh", "digest_paused", channel_id="<!channel>", error="is_archived <@U1>"),
    notice("en", "recorded", what=f"{HOSTILE_TITLE} → stalled", example="history test-data-bureau"),
]


# ---- shared by the platforms' renderer tests ---------------------------------------------------------------------

# Every reply kind, by a name for the test's id.
SIMPLE: dict[str, Callable[[Services], Reply]] = {
    "help": lambda s: answer(s, "help"),
    "help zh": lambda s: answer(s, "帮助"),
    "list": lambda s: answer(s, "list"),
    "list zh": lambda s: answer(s, "列表"),
    "show": lambda s: answer(s, "show 1"),
    "show zh": lambda s: answer(s, "show 2", lang="zh"),
    "metric": lambda s: answer(s, "metric"),
    "policy": lambda s: answer(s, "policy"),
    "search": lambda s: answer(s, "直播"),
    "search without hits": lambda s: answer(s, "zzzqqq <!here>"),
    "search without hits zh": lambda s: answer(s, "量子计算机"),
    "topics": lambda s: answer(s, "topics"),
    "history of a metric": lambda s: answer(s, "history test-livestream-sales"),
    "history of a policy": lambda s: answer(s, "history test-data-bureau"),
    "choose": lambda s: answer(s, "history test"),
    "changes (none)": lambda s: answer(s, "changes"),
    "usage": lambda s: usage_reply("en"),
    "usage zh": lambda s: usage_reply("zh"),
    "error": lambda s: Reply("error", "en", {"error_id": "ab12cd34"}),
    "error zh": lambda s: Reply("error", "zh", {"error_id": "ab12cd34"}),
    "no data": lambda s: Reply("no_data", "zh"),
    "stale button": lambda s: Reply("stale_button", "en"),
    "digest zh": lambda s: digest_reply(s, "zh"),
    "digest en": lambda s: digest_reply(s, "en"),
    "digest both": lambda s: digest_reply(s, "both"),
    "empty digest": lambda s: digest_reply(s, "en", changes=[], spotlight=[], watch=[], coming_up=[], more_changes=0),
    **{f"notice {i}": (lambda s, n=n: n) for i, n in enumerate(NOTICES)},  # type: ignore[misc]
}


def walk(value: Any) -> Iterator[dict[str, Any]]:
    """Every dict in a payload (Block Kit blocks, a Feishu card), depth first."""
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)
