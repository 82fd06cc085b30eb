"""The Message as WeCom and DingTalk markdown: every reply kind renders, data never becomes markup, and long texts
are cut into parts that fit a byte limit (also CJK text, property-tested)."""

from __future__ import annotations

import re
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.message import (
    Actions,
    AskAgain,
    Button,
    ChannelRef,
    Context,
    Divider,
    Fields,
    Header,
    Message,
    Rich,
    Section,
    Span,
    UserRef,
)
from bot.render import Renderer
from bot.render.markdown import Flavour, escape, markdown, split_markdown
from bot.services import Services
from tests.render.replies import SIMPLE, digest_reply, mini, report, tracked
from tests.render.test_markup import BENIGN, HOSTILE, hostile_replies

__all__ = ["mini", "report", "tracked"]  # fixtures

renderer = Renderer()
FLAVOURS: tuple[Flavour, ...] = get_args(Flavour)
# Everything this renderer writes as markup; nothing else may look like markup.
OURS = re.compile(r'\*\*|\*|`|<font color="comment">|</font>|^### ', re.M)
MARKUP_CHARACTERS = re.compile(r"[<>\[\]`*_~\\]")
# A line that some Markdown would read as a block of its own (a heading other than ours, a quote, a list, a table).
BLOCK_START = re.compile(r"^(?:[-+*]\s|[-=_*]{2,}|=|#{1,6}(?:\s|$)|[>|]|\d{1,9}[.)](?:\s|$))")


def check(text: str, flavour: Flavour) -> None:
    """Only our markup: no other markup character, emphasis balanced on every line, no block but our headings."""
    assert text.strip()
    rest = OURS.sub("", text)
    assert not MARKUP_CHARACTERS.search(rest), MARKUP_CHARACTERS.search(rest)
    assert not re.search(r"&#?\w+;", rest), rest
    for line in text.split("\n"):
        bare = line.removeprefix('<font color="comment">')
        assert line.startswith("### ") or not BLOCK_START.match(re.sub(r"^(?:\*\*|\*|`)+", "", bare)), line
        assert bare.count("**") % 2 == 0, line
        assert bare.replace("**", "").count("*" if flavour == "dingtalk" else "`") % 2 == 0, line
        assert line.count("<font") == line.count("</font>") <= 1, line
    if flavour == "wecom":
        assert not re.search(r"(?<!\*)\*(?!\*)", text), "WeCom (markdown v1) has no italics"
        assert "  \n" not in text
    else:
        assert "<font" not in text and "`" not in text


def render(reply: Any, flavour: Flavour) -> str:
    text = markdown(renderer.message(reply), flavour)
    check(text, flavour)
    return text


# ---- every reply kind -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("name", SIMPLE)
def test_every_reply_kind_renders(mini: Services, name: str, flavour: Flavour) -> None:
    render(SIMPLE[name](mini), flavour)


def test_results_tracking_and_a_second_page(report: Services, tracked: Services) -> None:
    from tests.render.replies import answer

    for flavour in FLAVOURS:
        render(answer(report, "metric", offset=8), flavour)
        render(answer(tracked, "changes"), flavour)
        render(answer(tracked, "history test-livestream-sales"), flavour)
        render(answer(tracked, "history test-data-bureau"), flavour)


@pytest.mark.parametrize("lang", ["zh", "en", "both"])
def test_a_digest(mini: Services, lang: str) -> None:
    wecom = render(digest_reply(mini, lang), "wecom")
    dingtalk = render(digest_reply(mini, lang), "dingtalk")
    assert wecom.startswith("### ") and dingtalk.startswith("### ")
    if lang != "zh":
        assert "**What changed**\n• **Livestream sales**: 9.99 trillion yuan → 12.5 trillion yuan" in wecom
        assert "**What changed**  \n• **Livestream sales**: 9.99 trillion yuan → 12.5 trillion yuan" in dingtalk
        # The note's data, as text: no mention, no HTML entity read as a character.
        assert "note Revised ＜!here＞ & R&D" in wecom
        assert "(topic `ecommerce`, keyword “直播”)" in wecom  # italic is plain on WeCom, code stays code
        assert "*(topic ecommerce, keyword “直播”)*" in dingtalk  # and the other way round on DingTalk
        assert '<font color="comment">Source:' in wecom
    for text in (wecom, dingtalk):
        assert "See more" not in text and "Unsubscribe" not in text  # buttons are not rendered
    if lang == "both":
        zh, en = wecom.split("\n\n――――――――\n\n")
        assert "有什么变化" in zh and "What changed" in en


def test_every_block_and_reference() -> None:
    message = Message(
        [
            Header("Title  with\nspaces"),
            Section(Rich((Span("Bold", bold=True), Span(" and "), Span("code", code=True), Span(" and "),
                          Span("italic", italic=True))), Button("Track", AskAgain("open", "x", 0, "en"))),
            Fields((Rich((Span("Value: ", bold=True), Span("42"))), Rich((Span("Unit: ", bold=True), Span("%"))))),
            Context((Rich((Span("Shared by "), UserRef("U42"))), Rich((Span("in "), ChannelRef("C1"))))),
            Divider(),
            Actions((Button("More", AskAgain("more", "x", 8, "en")),)),
        ]
    )  # fmt: skip
    assert markdown(message, "wecom") == (
        "### Title with spaces\n\n"
        "**Bold** and `code` and italic\n\n"
        "**Value:** 42\n**Unit:** %\n\n"
        '<font color="comment">Shared by @U42</font>\n<font color="comment">in #C1</font>\n\n'
        "――――――――"
    )
    assert markdown(message, "dingtalk") == (
        "### Title with spaces\n\n"
        "**Bold** and code and *italic*\n\n"
        "**Value:** 42  \n**Unit:** %\n\n"
        "Shared by @U42  \nin #C1\n\n"
        "――――――――"
    )
    with pytest.raises(ValueError, match="flavour"):
        markdown(message, "slack")  # type: ignore[arg-type]


def test_emphasis_hugs_the_words_and_never_spans_a_line() -> None:
    rich = Rich((Span("a "), Span(" bold words ", bold=True), Span("x\ny", bold=True), Span(" end")))
    assert markdown(Message([Section(rich)]), "wecom") == "a  **bold words x**\n**y** end"
    rich = Rich((Span("plain "), Span("bold", bold=True), Span(" code ", bold=True, code=True), Span("plain")))
    assert markdown(Message([Section(rich)]), "wecom") == "plain **bold `code`** plain"


# ---- data stays text ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "shown"),
    [
        ("<@zhangsan> <@all>", "＜@zhangsan＞ ＜@all＞"),  # WeCom mentions
        ('<font color="warning">red</font>', '＜font color="warning"＞red＜/font＞'),
        ("[click](https://evil.example) ![img](x)", "［click］(https://evil.example) !［img］(x)"),
        ("**bold** *it* _it_ `code` ~~s~~", "∗∗bold∗∗ ∗it∗ ＿it＿ ˋcodeˋ ∼∼s∼∼"),
        ("a\\*b", "a∖∗b"),
        ("&lt;b&gt; R&D &#60;", "＆lt;b＆gt; R&D ＆#60;"),
        ("\x00\x01\x1b[31m\tx\r", "［31m x"),
    ],
)
def test_escape(data: str, shown: str) -> None:
    assert escape(data) == shown


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("# heading", "＃ heading"),
        ("###### h6", "＃##### h6"),
        ("> quote", "＞ quote"),
        ("- item", "‐ item"),
        ("+ item", "＋ item"),
        ("* item", "∗ item"),
        ("1. first", "1． first"),
        ("2023) year", "2023） year"),
        ("---", "‐--"),
        ("===", "＝=="),
        ("| a | b |", "｜ a | b |"),
        ("   - indented", "‐ indented"),
        ("-5% growth", "-5% growth"),
        ("#hashtag", "#hashtag"),
        ("2023.5 trillion", "2023.5 trillion"),
    ],
)
def test_a_data_line_never_starts_a_block(line: str, shown: str) -> None:
    section = Section(Rich((Span(f"first\n{line}"),)))
    for flavour in FLAVOURS:
        assert markdown(Message([section]), flavour).split("\n")[1].strip() == shown


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_data_stays_text(mini: Any, text: str, flavour: Flavour) -> None:
    for hostile, benign in zip(hostile_replies(mini, text), hostile_replies(mini, BENIGN), strict=True):
        out, expected = render(hostile, flavour), render(benign, flavour)
        # The markup is exactly the benign reply's: the data added none and removed none.
        assert OURS.findall(out) == OURS.findall(expected), hostile.template
        assert "<@" not in out and "](" not in out.replace("］(", "")


# ---- splitting ----------------------------------------------------------------------------------------------------


def visible(text: str) -> str:
    """The words, without markup, markers or any white space."""
    return re.sub(r"\s", "", re.sub(r'\*\*|\*|`|<font color="[^"<>\n]{1,20}">|</font>', "", text))


def check_parts(text: str, parts: list[str], limit: int) -> None:
    assert all(len(part.encode("utf-8")) <= limit for part in parts), [len(p.encode()) for p in parts]
    if len(text.encode()) <= limit:  # a text that fits is one part, as it is
        assert parts == ([text.strip("\n")] if text.strip() else [])
    else:
        assert all(map(visible, parts))
    bodies = [parts[0]] if parts else []
    for number, part in enumerate(parts[1:], start=2):
        marker = f"({number}/{len(parts)})\n\n"
        assert part.startswith(marker), part[:20]
        bodies.append(part.removeprefix(marker))
    assert visible("".join(bodies)) == visible(text)


def test_white_space_makes_no_part() -> None:
    text = "x" + " " * 500 + "y" + "\n" + " " * 600 + "\n\n" + " **  ** " * 100
    check_parts(text, split_markdown(text, 128), 128)


def test_a_short_text_is_one_part_as_it_is() -> None:
    assert split_markdown("**a**\n\nb", 4096) == ["**a**\n\nb"]
    assert split_markdown("\n\n", 4096) == []
    with pytest.raises(ValueError, match="too small"):
        split_markdown("x", 10)


def test_parts_are_cut_between_paragraphs_first() -> None:
    paragraphs = [f"**第{i}段**\n" + "数字经济" * 30 for i in range(20)]
    text = "\n\n".join(paragraphs)
    parts = split_markdown(text, 1000)
    check_parts(text, parts, 1000)
    assert len(parts) > 1
    for part in parts:
        body = re.sub(r"^\(\d+/\d+\)\n\n", "", part)
        assert all(paragraph in paragraphs for paragraph in body.split("\n\n"))  # none was cut


def test_a_long_line_is_cut_between_characters_and_its_emphasis_closed_and_reopened() -> None:
    line = '<font color="comment">**' + "算力" * 400 + "** `code` end</font>"
    parts = split_markdown(f"### Title\n\n{line}", 300)
    assert len(parts) > 5
    for part in parts[1:]:
        body = re.sub(r"^\(\d+/\d+\)\n\n", "", part)
        assert body.count("**") % 2 == 0 and body.count("`") % 2 == 0, body
        assert body.startswith('<font color="comment">') and body.endswith("</font>"), body
    assert visible("".join(re.sub(r"^\(\d+/\d+\)\n\n", "", p) for p in parts)) == visible(f"### Title\n\n{line}")


def test_a_long_quote_or_heading_keeps_its_prefix() -> None:
    parts = split_markdown("> " + "引用" * 200, 200)
    assert len(parts) > 1
    assert all(re.sub(r"^\(\d+/\d+\)\n\n", "", part).startswith("> ") for part in parts)


def test_long_replies_in_small_parts(mini: Services, report: Services) -> None:
    from tests.render.replies import answer

    replies = [digest_reply(mini, "both"), answer(report, "policy"), answer(report, "metric")]
    text = "\n\n".join(markdown(renderer.message(reply), "wecom") for reply in replies)
    parts = split_markdown(text, 700)
    check_parts(text, parts, 700)
    for part in parts:
        for line in part.split("\n"):
            assert line.count("**") % 2 == 0 and line.count("<font") == line.count("</font>"), line


MARKUP = st.sampled_from(["**", "*", "`", '<font color="info">', "</font>", "\n", "\n\n", "> ", "### ", " "])
CHARACTERS = st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs"))
CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
EMOJI = st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF)
PIECE = st.one_of(MARKUP, st.text(st.one_of(CHARACTERS, CJK, EMOJI), max_size=300))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=st.lists(PIECE, max_size=60), limit=st.integers(min_value=128, max_value=3000))
def test_parts_fit_the_byte_limit_and_keep_every_character_in_order(pieces: list[str], limit: int) -> None:
    text = "".join(pieces)
    parts = split_markdown(text, limit)
    check_parts(text, parts, limit)


@settings(max_examples=100, deadline=None)
@given(words=st.text(CJK, min_size=1, max_size=3000), limit=st.integers(min_value=128, max_value=1000))
def test_cjk_text_in_one_long_line(words: str, limit: int) -> None:
    text = f"**{words}**"
    parts = split_markdown(text, limit)
    check_parts(text, parts, limit)
    for part in parts:
        body = re.sub(r"^\(\d+/\d+\)\n\n", "", part)
        assert body.startswith("**") and body.endswith("**") and body.count("**") == 2, body
