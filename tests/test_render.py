"""Bad input of any kind gets a clear answer that is safe in Slack: the parser, the router, the templates and the
Block Kit renderer together, on text chosen to break them."""

import re
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from bot.slack.blocks import SlackMessage
from tests.conftest import loaded_session, reply_to, slack_of, text_of

# What Slack would turn into a ping, a mention or a link if it reached a message unescaped.
SLACK_SYNTAX = re.compile(r"<[!@#]|<https?:|<mailto:|&(?!amp;|lt;|gt;)")


def mrkdwn_texts(blocks: list[dict]) -> Iterator[str]:
    for block in blocks:
        if block["type"] in ("section", "context"):
            if "text" in block:
                yield block["text"]["text"]
            for element in block.get("elements", []):
                yield element["text"]


def assert_safe(rendered: SlackMessage) -> None:
    for text in [*mrkdwn_texts(rendered.blocks), rendered.text]:
        assert not SLACK_SYNTAX.search(text), text
        assert "<" not in text and ">" not in text


@pytest.fixture(scope="module")
def mini_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    yield from loaded_session(f"sqlite:///{tmp_path_factory.mktemp('render') / 'bot.db'}")


HOSTILE = [
    "",
    " ",
    "\x00\x01\x02",
    "算" * 10_000,
    "<!here>",
    "<!channel> 直播",
    "<@U123>",
    "<#C123|general>",
    "<https://evil.example|直播销售额>",
    "&lt;!here&gt;",
    "'; DROP TABLE metrics; --",
    '" OR 1=1',
    "😀🇨🇳",
    "search <!everyone>",
    "metric <@U1>",
    "show <!here>",
    "policy & < >",
    "NEAR(直播 销售)",
    "直播*",
    "-直播",
    "\u202eevil",
    "a" * 5000,
    "show 99999999999999999999",
    "第十一条",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_input_gets_a_clear_and_safe_answer(mini_session: Session, text: str) -> None:
    reply = reply_to(mini_session, text)
    assert_safe(slack_of(reply))  # slack_sdk's models also refuse anything over Slack's limits
    assert text_of(reply).strip()


# Text built from command words, Slack markup, CJK, digits, emoji and arbitrary unicode, control characters included.
pieces = st.sampled_from(
    [
        "show",
        "metric",
        "policy",
        "search",
        "list",
        "help",
        "topics",
        "直播",
        "算力",
        "数据",
        "<!here>",
        "<@U1>",
        "<#C1>",
        "<http://x|y>",
        "&",
        "<",
        ">",
        "*",
        "_",
        "`",
        "~",
        "\n",
        "\t",
        " ",
        "3",
        "11",
        "😀",
        "\x00",
        "'",
        '"',
    ]
)
command_text = st.lists(st.one_of(pieces, st.text(max_size=12)), max_size=12).map(" ".join)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=command_text, lang=st.sampled_from([None, "zh", "en"]))
def test_no_command_text_breaks_the_parser_or_the_renderer(mini_session: Session, text: str, lang) -> None:
    reply = reply_to(mini_session, text, lang=lang)
    assert_safe(slack_of(reply))
    assert text_of(reply).strip()
