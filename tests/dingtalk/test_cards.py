"""Messages as DingTalk markdown and ActionCards: buttons as dtmd links carrying the equivalent text command, and
long messages split within DingTalk's byte limits, in order."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest

from bot.core.kinds import Kind
from bot.core.message import (
    Actions,
    AskAgain,
    Button,
    ChannelCommand,
    Header,
    Message,
    Rich,
    Section,
    Span,
    TrackItem,
)
from bot.dingtalk.cards import (
    MAX_BUTTONS,
    MSG_PARAM_LIMIT,
    SEND_MESSAGE,
    WEBHOOK_TEXT_LIMIT,
    read_options,
    to_dingtalk,
    with_options,
)
from tests.conftest import RENDERER, reply_to


def section(text: str) -> Section:
    return Section(Rich((Span(text),)))


def content_of(url: str) -> str:
    assert url.startswith(SEND_MESSAGE)
    return unquote(url[len(SEND_MESSAGE) :])


def test_an_answer_is_markdown_titled_by_its_first_line(session) -> None:
    message = to_dingtalk(RENDERER.message(reply_to(session, "直播销售额")))
    assert "9.99万亿元" in message.text and "**" in message.text
    assert message.title.startswith("搜索")
    # Share (the chat sees every reply anyway) and Track (a form) have no place on DingTalk: no buttons at all.
    assert message.buttons == ()
    (body,) = message.webhook_bodies()
    assert body["msgtype"] == "markdown" and body["markdown"]["text"] == message.text
    ((key, param),) = message.robot_messages()
    assert key == "sampleMarkdown" and json.loads(param) == {"title": message.title, "text": message.text}


def test_buttons_carry_the_equivalent_command_with_what_text_cannot_say(session) -> None:
    chinese = to_dingtalk(RENDERER.message(reply_to(session, "列表")))
    # "show 1" reads as English: the Chinese list's buttons keep the language.
    assert [content_of(b.url) for b in chinese.buttons] == ["show 1 --lang zh", "show 2 --lang zh"]
    assert [b.title for b in chinese.buttons] == ["洞察 1", "洞察 2"]
    (body,) = chinese.webhook_bodies()
    assert body["msgtype"] == "actionCard"
    assert [b["actionURL"] for b in body["actionCard"]["btns"]] == [b.url for b in chinese.buttons]
    ((key, param),) = chinese.robot_messages()
    assert key == "sampleActionCard2" and json.loads(param)["actionURL2"] == chinese.buttons[1].url

    more = Message([section("results"), Actions((Button("More results", AskAgain("more", "search data", 5, "en")),))])
    (button,) = to_dingtalk(more).buttons
    assert content_of(button.url) == "search data --from 5"
    ((key, param),) = to_dingtalk(more).robot_messages()
    assert key == "sampleActionCard" and json.loads(param)["singleURL"] == button.url


@pytest.mark.parametrize(
    ("text", "lang", "offset"),
    [("show 3", "zh", 0), ("search 直播", "zh", 10), ("数据局", "en", 0), ("list", "en", 0), ("search a --b", "en", 7)],
)
def test_options_round_trip(text: str, lang: str, offset: int) -> None:
    sent = with_options(text, lang, offset)  # type: ignore[arg-type]
    back, forced, found = read_options(sent)
    assert back == text and found == offset and (forced or lang) == lang


def test_other_text_stays_part_of_the_question() -> None:
    assert read_options("why --from here") == ("why --from here", None, 0)
    assert read_options("数据 --lang fr") == ("数据 --lang fr", None, 0)
    assert read_options("a --from 3 --from 4") == ("a --from 3", None, 4)


def test_digest_buttons_and_slack_only_buttons() -> None:
    message = Message(
        [
            Header("Weekly digest"),
            Section(Rich((Span("item"),)), button=Button("Track", TrackItem(Kind.POLICY, "p1"))),
            Actions(
                (
                    Button("See more", AskAgain("reply", "metric compute", 0, "en")),
                    Button("Manage subscriptions", ChannelCommand("manage")),
                    Button("Unsubscribe", ChannelCommand("unsubscribe"), style="danger"),
                    Button("Share in channel", AskAgain("share", "list", 0, "en")),
                )
            ),
        ]
    )
    rendered = to_dingtalk(message)
    assert rendered.title == "Weekly digest"
    assert [content_of(b.url) for b in rendered.buttons] == ["metric compute", "subscriptions", "unsubscribe all"]
    assert rendered.robot_messages()[-1][0] == "sampleActionCard3"


def test_more_buttons_than_a_card_holds_become_links_and_long_ones_are_left_out() -> None:
    buttons = tuple(Button(f"Insight {n}", AskAgain("open", f"show {n}", 0, "en")) for n in range(1, 9))
    long = Button("Long", AskAgain("more", "数" * 80, 10, "zh"))  # over DingTalk's 500-character URL
    rendered = to_dingtalk(Message([section("list"), Actions((*buttons, long))]))
    assert len(rendered.buttons) == MAX_BUTTONS
    assert [content_of(b.url) for b in rendered.buttons] == [f"show {n}" for n in range(1, 6)]
    for n in (6, 7, 8):
        assert f"[Insight {n}](dtmd://dingtalkclient/sendMessage?content=show%20{n})" in rendered.text
    assert "%E6%95%B0" * 80 not in rendered.text


def test_a_long_message_is_split_within_the_limits_in_order_with_the_buttons_last() -> None:
    lines = [f'第{n}条 "引号" \\ 反斜杠 · ' + "数字经济" * 40 for n in range(400)]
    message = Message(
        [Header("摘要"), section("\n".join(lines)), Actions((Button("查看更多", AskAgain("reply", "list", 0, "zh")),))]
    )
    rendered = to_dingtalk(message)
    robot = rendered.robot_messages()
    assert len(robot) > 3
    assert all(len(param.encode("utf-8")) <= MSG_PARAM_LIMIT for _, param in robot)
    assert [key for key, _ in robot] == ["sampleMarkdown"] * (len(robot) - 1) + ["sampleActionCard"]
    texts = [json.loads(param)["text"] for _, param in robot]
    positions = [next(i for i, text in enumerate(texts) if f"第{n}条" in text) for n in range(400)]
    assert positions == sorted(positions) and positions[-1] == len(robot) - 1  # every line, in order
    titles = [json.loads(param)["title"] for _, param in robot]
    assert titles[0] == f"摘要 (1/{len(robot)})" and titles[-1] == f"摘要 ({len(robot)}/{len(robot)})"

    bodies = rendered.webhook_bodies()
    assert all(len(b[b["msgtype"]]["text"].encode("utf-8")) <= WEBHOOK_TEXT_LIMIT for b in bodies)
    assert [b["msgtype"] for b in bodies] == ["markdown"] * (len(bodies) - 1) + ["actionCard"]
