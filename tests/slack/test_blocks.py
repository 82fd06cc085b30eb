"""Every reply kind as Block Kit: accepted by slack_sdk's own models, plain_text never entity-escaped, mrkdwn never
carrying a mention or link that the data wrote, and the action_ids and values the listeners know."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.core.kinds import Kind
from bot.core.message import (
    Actions,
    AskAgain,
    Button,
    ChannelCommand,
    ChannelRef,
    Context,
    Divider,
    Header,
    Message,
    Rich,
    Section,
    Span,
    TrackItem,
    UserRef,
)
from bot.core.reply import Reply
from bot.render import Renderer
from bot.render.text import plain_text
from bot.services import Services
from bot.slack.blocks import SlackMessage, home_view, mrkdwn, to_slack, track_modal
from tests.render.replies import (
    HOSTILE_TITLE,
    SIMPLE,
    answer,
    digest_reply,
    history_of_hostile_policy,
    home_reply,
    home_with_channels,
    mini,
    report,
    track_context,
    tracked,
    walk,
)

__all__ = ["mini", "report", "tracked"]  # fixtures

renderer = Renderer()
ENTITY = re.compile(r"&(amp|lt|gt);")
# The only <...> Slack may see: mentions and channel links the Message names, by a well-formed id.
ANGLE = re.compile(r"<[^>]*>")
REFERENCE = re.compile(r"^<(@[UWB]|#[CGD])[A-Z0-9]{1,30}>$")


def check_payload(blocks: list[dict[str, Any]]) -> None:
    """Each block through slack_sdk's model and back; plain_text as is; mrkdwn with nothing but escapes and ids."""
    for block in blocks:
        assert Block.parse(block).to_dict() == block
    for obj in walk(blocks):
        if obj.get("type") == "plain_text":
            assert not ENTITY.search(obj["text"]), obj
        if obj.get("type") == "mrkdwn":
            check_mrkdwn(obj["text"])


def check_mrkdwn(text: str) -> None:
    assert not re.search(r"&(?!amp;|lt;|gt;)", text), text
    for found in ANGLE.findall(text):
        assert REFERENCE.match(found), found


def slack(reply: Reply) -> SlackMessage:
    out = to_slack(renderer.message(reply))
    check_payload(out.blocks)
    assert out.response_type == reply.visibility
    check_mrkdwn(out.text)
    assert out.text.strip()
    return out


def actions(out: SlackMessage) -> dict[str, dict[str, Any]]:
    """Every button by action_id."""
    found = {}
    for block in out.blocks:
        for element in [*block.get("elements", []), block.get("accessory") or {}]:
            if element.get("type") == "button":
                found[element["action_id"]] = element
    return found


def value(text: str, offset: int = 0, lang: str = "en") -> dict[str, Any]:
    return {"t": text, "o": offset, "l": lang}


# ---- every reply kind ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SIMPLE)
def test_every_reply_kind_is_valid_block_kit(mini: Services, name: str) -> None:
    slack(SIMPLE[name](mini))


def test_help_and_list(mini: Services) -> None:
    out = slack(answer(mini, "list"))
    assert [b["type"] for b in out.blocks] == ["header", "section", "context", "actions", "actions"]
    insights = out.blocks[3]
    assert insights["block_id"] == "show_insight"
    for i, button in enumerate(insights["elements"], start=1):
        assert button["action_id"] == f"show_insight_{i}"
        assert json.loads(button["value"]) == value(f"show {i}")
    share = actions(out)["share"]
    assert out.blocks[4]["block_id"] == "reply_actions" and json.loads(share["value"]) == value("list")
    assert share["text"] == {"type": "plain_text", "text": "Share in channel", "emoji": True}
    assert "*1.* A test insight on computing power" in out.blocks[1]["text"]["text"]
    assert out.blocks[0]["text"]["text"] == "Test Report"


def test_an_insight_has_track_buttons_for_its_items(mini: Services) -> None:
    out = slack(answer(mini, "show 1"))
    tracked_items = [b["accessory"]["value"] for b in out.blocks if b.get("accessory")]
    assert "policy:test-data-bureau" in tracked_items and "metric:test-compute-growth" in tracked_items
    assert all(b["accessory"]["action_id"] == "track_open" for b in out.blocks if b.get("accessory"))
    text = "\n".join(b["text"]["text"] for b in out.blocks if b["type"] == "section")
    assert "*Test compute growth rate*: *about 42%*" in text
    assert "_“测试算力年增长约42%”_" in text


def test_results_and_a_second_page(mini: Services, report: Services) -> None:
    first = slack(answer(report, "metric"))
    more = actions(first)["more"]
    assert json.loads(more["value"]) == value("metric", 8)
    second = slack(answer(report, "metric", offset=8))
    assert "Showing 9–" in second.blocks[0]["text"]["text"]
    assert len(second.blocks) <= 50


def test_the_copy_shared_in_the_channel_has_no_buttons(mini: Services) -> None:
    out = slack(answer(mini, "直播", shared_by="U42"))
    assert out.response_type == "in_channel"
    assert not actions(out)
    assert out.blocks[-1]["elements"][0]["text"] == "分享者 <@U42>"


def test_a_hostile_title_is_plain_in_the_header_and_escaped_in_mrkdwn(mini: Services) -> None:
    out = slack(history_of_hostile_policy(mini))
    assert out.blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": f"History: {HOSTILE_TITLE}", "emoji": True},
    }
    section = out.blocks[1]["text"]["text"]
    assert "budget &lt;!here&gt; cut &amp; R&amp;D" in section and "<@U42>" in section
    assert out.text.startswith("History: R&amp;D &lt;x&gt;")


def test_tracking_replies_after_a_new_edition(tracked: Services) -> None:
    changes = slack(answer(tracked, "changes"))
    assert changes.blocks[0]["type"] == "header" and "→" in changes.blocks[1]["text"]["text"]
    history = slack(answer(tracked, "history test-livestream-sales"))
    assert "12.5" in history.blocks[1]["text"]["text"]
    answer(tracked, "follow test-data-bureau")
    following = slack(answer(tracked, "following"))
    assert "`test-data-bureau`" in following.blocks[0]["text"]["text"]
    answer(tracked, "subscribe compute, keyword:直播 <!here>", channel="C9")
    subscriptions = slack(answer(tracked, "subscriptions", channel="C9"))
    assert "<@U1>" in subscriptions.blocks[1]["text"]["text"]
    preview = answer(tracked, "digest preview", channel="C9")
    assert preview.template == "digest"
    slack(preview)


def test_digest_buttons_and_bilingual_layout(mini: Services) -> None:
    one = slack(digest_reply(mini, "en"))
    assert one.response_type == "in_channel"
    buttons = actions(one)
    assert json.loads(buttons["digest_more"]["value"]) == value("metric ecommerce")
    assert buttons["digest_manage"]["value"] == "manage"
    assert buttons["digest_unsubscribe"]["value"] == "all" and buttons["digest_unsubscribe"]["style"] == "danger"
    assert one.blocks[-1]["block_id"] == "digest_actions"
    changes = one.blocks[1]["text"]["text"]
    expected = (
        "*What changed*\n• *Livestream sales*: 9.99 trillion yuan → 12.5 trillion yuan;"
        " note Revised &lt;!here&gt; &amp; R&amp;D"
    )
    assert changes.startswith(expected)
    assert "_(topic `ecommerce`, keyword “直播”)_" in changes
    assert "and changes to 3 more items." in changes
    coming = next(b["text"]["text"] for b in one.blocks if "Coming up" in b.get("text", {}).get("text", ""))
    assert "• 2027-03-10 — *Test Data Bureau*: comments close" in coming

    both = slack(digest_reply(mini, "both"))
    types = [b["type"] for b in both.blocks]
    assert types.count("header") == 1 and types[0] == "header"
    assert types.count("actions") == 1 and types[-1] == "actions"
    divider = types.index("divider")
    assert "有什么变化" in both.blocks[1]["text"]["text"]
    assert "What changed" in both.blocks[divider + 1]["text"]["text"]
    assert types[1:divider] == types[divider + 1 : -2]  # the same body twice; the source and buttons once, at the end
    zh = slack(digest_reply(mini, "zh"))
    assert json.loads(actions(zh)["digest_more"]["value"]) == value("metric ecommerce", lang="zh")


@pytest.mark.parametrize("count", [0, 1, 40])
def test_the_home_tab(mini: Services, count: int) -> None:
    reply = home_reply(mini) if count == 0 else home_with_channels(mini, count)
    view = home_view(renderer.message(reply))
    assert set(view) == {"type", "blocks"} and view["type"] == "home"
    assert View(**view).to_dict() == view
    check_payload(view["blocks"])
    text = "\n".join(b.get("text", {}).get("text", "") for b in view["blocks"])
    assert ("Your channels' subscriptions" in text) == (count > 0)
    for i in range(min(count, 20)):
        assert f"<#C{i:08d}>" in text  # every channel shown (20 at most), none lost to a cut
    assert "“直播 &lt;!here&gt;”" in text or count == 0


@pytest.mark.parametrize("kind", ["policy", "metric"])
def test_the_track_modal(mini: Services, kind: str) -> None:
    context = track_context(mini, kind)
    view = track_modal(renderer, context)
    assert View(**view).to_dict() == view
    check_payload(view["blocks"])
    assert view["type"] == "modal" and view["callback_id"] == "track_submit"
    assert json.loads(view["private_metadata"]) == context["metadata"]
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    if kind == "policy":
        assert view["title"]["text"] == "Track a policy item"
        assert list(inputs) == ["status_block", "date_block", "note_block"]
        select = inputs["status_block"]["element"]
        assert select["action_id"] == "status" and select["options"][0]["value"] == "proposed"
        assert select["options"][0]["text"]["text"] == "proposed / 提出"
        assert inputs["date_block"]["element"]["action_id"] == "date"
        assert inputs["note_block"]["optional"] is True
        assert "Now / 当前: " in view["blocks"][0]["text"]["text"]
    else:
        assert view["title"]["text"] == "Note on a figure"
        assert list(inputs) == ["note_block"] and inputs["note_block"]["optional"] is False
    assert inputs["note_block"]["element"]["action_id"] == "note"
    assert context["title_en"] in view["blocks"][0]["text"]["text"]


def test_a_hostile_title_in_the_track_modal(mini: Services) -> None:
    context = {**track_context(mini, "policy"), "title_en": HOSTILE_TITLE}
    view = track_modal(renderer, context)
    assert "*R&amp;D &lt;x&gt;*" in view["blocks"][0]["text"]["text"]


# ---- the renderer's rules ------------------------------------------------------------------------------------------


def section(*parts: Any, button: Button | None = None) -> Message:
    return Message([Section(Rich(tuple(parts)), button)])


def test_mrkdwn_emphasis_sits_against_the_words() -> None:
    assert mrkdwn(Rich((Span("a ", bold=True), Span("b")))) == "*a* b"
    parts = (Span("(topic ", italic=True), Span("compute", italic=True, code=True), Span(")", italic=True))
    assert mrkdwn(Rich(parts)) == "_(topic `compute`)_"
    assert mrkdwn(Rich((Span("one\ntwo", bold=True),))) == "*one*\n*two*"
    assert mrkdwn(Rich((Span("R&D <x> *y*"),))) == "R&amp;D &lt;x&gt; *y*"


def test_mentions_only_for_real_ids() -> None:
    parts = (
        UserRef("U123"),
        Span(" "),
        UserRef("<!here>"),
        Span(" "),
        ChannelRef("C1"),
        Span(" "),
        ChannelRef("general|x"),
    )
    assert mrkdwn(Rich(parts)) == "<@U123> &lt;!here&gt; <#C1> general|x"


def test_a_long_header_is_shortened_and_never_escaped() -> None:
    out = to_slack(Message([Header("R&D <x> " + "长" * 200), Section(Rich((Span("x"),)))]))
    text = out.blocks[0]["text"]["text"]
    assert len(text) == 150 and text.endswith("…") and text.startswith("R&D <x> 长")


def test_a_long_section_is_split_between_lines_and_nothing_is_lost() -> None:
    lines = [f"line {i} & more " + "数" * 80 for i in range(100)]
    out = to_slack(section(Span("\n".join(lines))))
    texts = [b["text"]["text"] for b in out.blocks]
    assert len(texts) > 1 and all(len(t) <= 3000 for t in texts)
    assert "\n".join(texts) == "\n".join(lines).replace("&", "&amp;")
    single = to_slack(section(Span("算" * 10_000), button=Button("Track", TrackItem(Kind.POLICY, "x"))))
    assert "".join(b["text"]["text"] for b in single.blocks) == "算" * 10_000
    assert [bool(b.get("accessory")) for b in single.blocks] == [True] + [False] * (len(single.blocks) - 1)


def test_more_than_fifty_blocks_is_an_error() -> None:
    with pytest.raises(SlackObjectFormationError):
        to_slack(Message([Divider()] * 51))


def test_buttons_carry_what_the_listeners_expect() -> None:
    buttons = (
        Button("Share", AskAgain("share", "直播", 0, "zh")),
        Button("More", AskAgain("more", "metric", 8, "en")),
        Button("Insight 1", AskAgain("open", "show 1", 0, "en")),
        Button("See more", AskAgain("reply", "list", 0, "en")),
        Button("Manage", ChannelCommand("manage")),
        Button("Unsubscribe", ChannelCommand("unsubscribe"), style="danger"),
        Button("Track", TrackItem(Kind.METRIC, "test-livestream-sales")),
    )
    out = to_slack(Message([Actions(buttons, "reply_actions")]))
    elements = out.blocks[0]["elements"]
    assert [e["action_id"] for e in elements] == [
        "share",
        "more",
        "show_insight_3",
        "digest_more",
        "digest_manage",
        "digest_unsubscribe",
        "track_open",
    ]
    assert [e["value"] for e in elements[4:]] == ["manage", "all", "metric:test-livestream-sales"]
    assert json.loads(elements[1]["value"]) == value("metric", 8)
    assert elements[5]["style"] == "danger" and out.blocks[0]["block_id"] == "reply_actions"


def test_the_fallback_text_is_the_message_in_escaped_mrkdwn() -> None:
    message = Message([Header("R&D <x>"), Section(Rich((Span("a & b", bold=True),))), Context((Rich((Span("c"),)),))])
    assert to_slack(message).text == "R&amp;D &lt;x&gt;\n\n*a &amp; b*\n\nc"
    assert plain_text(message) == "R&D <x>\n\na & b\n\nc"


def test_shortened_small_print_never_cuts_a_pair_a_mention_or_an_escape() -> None:
    """A context or field over Slack's limit is cut in its text, not in its mrkdwn (issue 11)."""
    from bot.core.message import ChannelRef, Context, Message, Rich, Span, UserRef

    long = Rich((Span("x" * 2990), Span("bold & <b>", bold=True), UserRef("U123"), ChannelRef("C123"), Span("tail")))
    (block,) = to_slack(Message([Context((long,))])).blocks
    text = block["elements"][0]["text"]
    assert len(text) <= 3000 and text.endswith("…")
    assert text.count("*") % 2 == 0  # a bold pair whole, or not at all
    assert not re.search(r"&(?!amp;|lt;|gt;)|&[a-z]*$", text)  # no half escape
    assert not re.search(r"<[@#][A-Z0-9]*$", text.rstrip("…*"))  # no half mention
