"""Every reply kind as a Feishu card: valid against the card schema Feishu documents (card_schema.py), lark_md never
carrying markup, a mention or a link that data wrote, plain_text as is, buttons carrying what the handlers expect,
and a card that fits Feishu's 30 KB."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from bot.core.kinds import Kind
from bot.core.message import (
    Actions,
    AskAgain,
    Button,
    ChannelCommand,
    ChannelRef,
    Context,
    Divider,
    Fields,
    Header,
    Message,
    Rich,
    Section,
    Span,
    TrackItem,
    UserRef,
)
from bot.core.reply import Reply
from bot.lark.cards import MAX_CONTENT_BYTES, LarkCard, action_of, body_bytes, escape_md, lark_md, to_card
from bot.render import Renderer
from bot.services import Services
from tests.lark.card_schema import card_errors
from tests.render import replies
from tests.render.replies import (
    HOSTILE_TITLE,
    answer,
    digest_reply,
    history_of_hostile_policy,
    mini,
    report,
    tracked,
    walk,
)

__all__ = ["mini", "report", "tracked"]  # fixtures

renderer = Renderer()
# What lark_md may hold besides text: entities, emphasis, line breaks, and mentions of open_ids.
ENTITY = re.compile(r"&(amp|lt|gt|#\d+);")
MENTION = re.compile(r"<at id=ou_[0-9A-Za-z]+></at>")


def check_lark_md(text: str) -> None:
    """No raw markup from data: every &, <, >, [, ], `, ~, _ is an entity or one of our mentions."""
    bare = MENTION.sub("", text)
    assert not re.search(r"&(?!(amp|lt|gt|#\d+);)", bare), text
    assert not re.search(r"[<>\[\]`~_\\]", bare), text
    assert "://" not in bare, text


def lark(reply: Reply) -> LarkCard:
    out = to_card(renderer.message(reply))
    assert card_errors(out.card) == [], card_errors(out.card)
    for obj in walk(out.card):
        if obj.get("tag") == "lark_md":
            check_lark_md(obj["content"])
    assert body_bytes(out.content()) <= MAX_CONTENT_BYTES
    assert out.text.strip() and "<" not in out.text
    assert json.loads(out.content()) == out.card
    return out


def buttons(out: LarkCard) -> list[dict[str, Any]]:
    return [obj for obj in walk(out.card) if obj.get("tag") == "button"]


def texts(out: LarkCard) -> str:
    return "\n".join(obj["content"] for obj in walk(out.card) if obj.get("tag") in ("lark_md", "plain_text"))


# Every reply kind; a search without hits for words that would be markup, a mention or a link in Feishu.
SIMPLE: dict[str, Callable[[Services], Reply]] = {
    **replies.SIMPLE,
    "search without hits": lambda s: answer(s, "zzzqqq <at id=all></at> [x](https://evil.example)"),
}


@pytest.mark.parametrize("name", SIMPLE)
def test_every_reply_kind_is_a_valid_card(mini: Services, name: str) -> None:
    lark(SIMPLE[name](mini))


def test_the_insights_list_has_a_button_for_each_insight(mini: Services) -> None:
    out = lark(answer(mini, "list"))
    assert out.card["header"] == {"title": {"tag": "plain_text", "content": "Test Report"}, "template": "blue"}
    values = [b["value"] for b in buttons(out)]
    assert {"h": "open", "t": "show 1", "o": 0, "l": "en"} in values
    assert all(action_of(v) is not None for v in values)
    assert "Share in channel" not in texts(out)  # the chat sees the answer already


def test_more_results_carries_the_next_page(report: Services) -> None:
    out = lark(answer(report, "metric"))
    assert {"h": "more", "t": "metric", "o": 8, "l": "en"} in [b["value"] for b in buttons(out)]


def test_track_buttons_are_left_out(mini: Services) -> None:
    out = lark(answer(mini, "show 1"))
    assert not [b for b in buttons(out) if "track" in json.dumps(b["value"])]
    assert "**Test compute growth rate**: **about 42%**" in texts(out)
    assert "*“测试算力年增长约42%”*" in texts(out)


def test_digest_buttons(mini: Services) -> None:
    out = lark(digest_reply(mini, "en"))
    values = [b["value"] for b in buttons(out)]
    assert values == [{"h": "reply", "t": "metric ecommerce", "o": 0, "l": "en"}, {"c": "manage"}, {"c": "unsubscribe"}]
    assert [b["type"] for b in buttons(out)] == ["default", "default", "danger"]
    assert action_of(values[1]) == ChannelCommand("manage")
    assert out.card["config"]["update_multi"] is True  # a shared card that buttons may change for everyone
    changes = out.card["elements"][0]["text"]["content"]
    assert changes.startswith("**What changed**\n• **Livestream sales**: 9.99 trillion yuan → 12.5 trillion yuan;")
    assert "note Revised &lt;!here&gt; &amp; R&amp;D *(topic **ecommerce**, keyword “直播”)*" in changes


def test_a_hostile_title_is_plain_in_the_header_and_escaped_in_lark_md(mini: Services) -> None:
    out = lark(history_of_hostile_policy(mini))
    assert out.card["header"]["title"] == {"tag": "plain_text", "content": f"History: {HOSTILE_TITLE}"}
    assert "budget &lt;!here&gt; cut &amp; R&amp;D" in texts(out)
    assert "<at id=" not in texts(out)  # U42 is a Slack id: written as text, never a mention
    assert "@U42" in out.text


def test_escaping_leaves_no_markup_from_data() -> None:
    hostile = "*bold* _it_ ~~x~~ `c` [link](https://evil.example) <at id=all></at> & \\ 1.5"
    escaped = escape_md(hostile)
    check_lark_md(escaped)
    assert escaped.endswith("1.5")  # a dot inside a line is not a list's
    assert escape_md("- item\n# title\n12. twelve\n+ plus") == "&#45; item\n&#35; title\n12&#46; twelve\n&#43; plus"


def test_mentions_only_from_user_refs_with_open_ids() -> None:
    rich = Rich((Span("by "), UserRef("ou_abc123"), Span(" and "), UserRef("U999"), Span(" in "), ChannelRef("oc_1")))
    assert lark_md(rich) == "by <at id=ou_abc123></at> and @U999 in oc&#95;1"
    assert lark_md(Rich((UserRef("ou_x></at><at id=all"),))) == "@ou&#95;x&gt;&lt;/at&gt;&lt;at id=all"


def test_emphasis_sits_against_the_words() -> None:
    rich = Rich((Span("a "), Span("bold ", bold=True), Span("both", bold=True, italic=True), Span(" end")))
    assert lark_md(rich) == "a **bold** ***both*** end"
    italic = Rich((Span("(topic ", italic=True), Span("x", italic=True, bold=True), Span(")", italic=True)))
    assert lark_md(italic) == "*(topic **x**)*"


def test_every_block_kind() -> None:
    message = Message(
        [
            Header("Title <x>"),
            Section(Rich((Span("text"),)), Button("More", AskAgain("more", "metric", 8, "en"))),
            Section(Rich((Span("tracked"),)), Button("Track", TrackItem(Kind("metric"), "m1"))),
            Fields((Rich((Span("a", bold=True),)), Rich((Span("b"),)))),
            Header("Second heading"),
            Divider(),
            Context((Rich((Span("source"),)),)),
            Actions((Button("Share", AskAgain("share", "x", 0, "en")),)),
            Actions((Button("Go", AskAgain("open", "show 2", 0, "zh"), style="primary"),)),
        ]
    )
    out = to_card(message)
    assert card_errors(out.card) == []
    assert out.card["header"]["title"]["content"] == "Title <x>"
    tags = [e["tag"] for e in out.card["elements"]]
    assert tags == ["div", "div", "div", "div", "hr", "note", "action"]  # the lone Share row is left out
    assert out.card["elements"][0]["extra"]["value"] == {"h": "more", "t": "metric", "o": 8, "l": "en"}
    assert "extra" not in out.card["elements"][1]
    assert out.card["elements"][3]["text"]["content"] == "**Second heading**"
    assert out.card["elements"][-1]["actions"][0]["type"] == "primary"


def test_button_values_that_are_not_ours_are_refused() -> None:
    assert action_of({"h": "more", "t": "metric", "o": 8, "l": "en"}) == AskAgain("more", "metric", 8, "en")
    for value in (
        None,
        "show 1",
        {"h": "share", "t": "x", "o": 0, "l": "en"},
        {"h": "more", "t": "x", "o": -1, "l": "en"},
        {"h": "more", "t": "x", "o": 0, "l": "fr"},
        {"h": "more", "t": "x" * 1001, "o": 0, "l": "en"},
        {"h": "more", "t": "x", "o": 0, "l": "en", "extra": 1},
        {"c": "drop table"},
    ):
        assert action_of(value) is None, value


def test_a_huge_message_is_shortened_to_fit() -> None:
    line = "数据要素 <x> & *y* " * 40
    message = Message([Header("big"), *[Section(Rich((Span(f"{i}: {line}\n" * 5),))) for i in range(60)]])
    out = to_card(message)
    assert body_bytes(out.content()) <= MAX_CONTENT_BYTES
    assert card_errors(out.card) == []
    for obj in walk(out.card):
        if obj.get("tag") == "lark_md":
            check_lark_md(obj["content"])
    assert len(out.card["elements"]) >= 10  # shortened section by section before any is left out


def test_a_long_section_is_split_between_lines_and_nothing_is_lost() -> None:
    lines = [f"line {i} " + "x" * 90 for i in range(100)]
    out = to_card(Message([Section(Rich((Span("\n".join(lines)),)))]))
    contents = [e["text"]["content"] for e in out.card["elements"]]
    assert len(contents) > 1 and all(len(c) <= 4000 for c in contents)
    assert "\n".join(contents).split("\n") == lines
