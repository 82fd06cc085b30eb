"""The markup templates write, and what data can (not) do to it."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from markupsafe import Markup

from bot.core.figures import figure
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
from bot.core.reply import Reply, notice
from bot.digest.schedule import Schedule
from bot.render import Renderer, clip, make_environment
from bot.render.markup import MarkupError, parse
from bot.render.text import plain_text
from bot.slack.blocks import to_slack
from tests.render.replies import history_of_hostile_policy, mini

__all__ = ["mini"]  # a fixture

renderer = Renderer()


def rich(*parts: Any) -> Rich:
    return Rich(tuple(Span(p) if isinstance(p, str) else p for p in parts))


# ---- the markup ---------------------------------------------------------------------------------------------------


def test_every_block() -> None:
    markup = """
    <header>  A   title
      on two lines </header>
    <section>
    <b>Bold</b> and <i>italic <code>code</code></i>, <user id="U1"/> in <channel id="C1"/>
      indented second line
    </section>
    <fields><f>one</f> <f><b>two</b></f></fields>
    <context><p>a</p><p>b</p></context>
    <context>just text</context>
    <divider/>
    <actions id="reply_actions">
      <button ask="share" t="直播 &amp; &lt;x&gt;" o="0" l="zh">Share</button>
      <button channel="unsubscribe" style="danger">Unsubscribe</button>
    </actions>
    """
    assert parse(markup) == [
        Header("A title on two lines"),
        Section(
            Rich(
                (
                    Span("Bold", bold=True),
                    Span(" and "),
                    Span("italic ", italic=True),
                    Span("code", italic=True, code=True),
                    Span(", "),
                    UserRef("U1"),
                    Span(" in "),
                    ChannelRef("C1"),
                    Span("\n      indented second line"),
                )
            )
        ),
        Fields((rich("one"), Rich((Span("two", bold=True),)))),
        Context((rich("a"), rich("b"))),
        Context((rich("just text"),)),
        Divider(),
        Actions(
            (
                Button("Share", AskAgain("share", "直播 & <x>", 0, "zh")),
                Button("Unsubscribe", ChannelCommand("unsubscribe"), "danger"),
            ),
            "reply_actions",
        ),
    ]


def test_a_section_with_its_track_button() -> None:
    (section,) = parse('<section><button track="policy:test-data-bureau">Track</button>\ntext</section>')
    assert section == Section(rich("text"), Button("Track", TrackItem(Kind.POLICY, "test-data-bureau")))


def test_empty_blocks_are_left_out() -> None:
    assert parse("<section>  \n </section><header> </header><context><p></p></context><actions></actions>") == []


@pytest.mark.parametrize(
    "markup",
    [
        "<script>x</script>",
        "<section><a href='x'>y</a></section>",
        "<section class='x'>y</section>",
        "text between blocks",
        "<section>open",
        "<section><b>x</section></b>",
        "</section>",
        "<section><section>x</section></section>",
        "<b>outside</b>",
        "<header><b>x</b></header>",
        "<divider>",
        "<section/>",
        "<!-- a comment -->",
        "<actions>words<button channel='manage'>x</button></actions>",
        "<actions><button>no action</button></actions>",
        "<actions><button channel='manage' ask='share'>two actions</button></actions>",
        "<actions><button ask='share' t='x' o='-1' l='en'>x</button></actions>",
        "<actions><button ask='share' t='x' o='0' l='fr'>x</button></actions>",
        "<actions><button ask='delete' t='x' o='0' l='en'>x</button></actions>",
        "<actions><button track='insightx'>x</button></actions>",
        "<actions><button track='other:x'>x</button></actions>",
        "<actions><button channel='delete'>x</button></actions>",
        "<actions><button channel='manage' style='pink'>x</button></actions>",
        "<actions><button channel='manage'> </button></actions>",
        "<section><button track='policy:a'>A</button><button track='policy:b'>B</button>x</section>",
        "<context><p>a</p>b</context>",
        "<fields>loose<f>x</f></fields>",
        "<p>x</p>",
    ],
)
def test_markup_mistakes_raise(markup: str) -> None:
    with pytest.raises(MarkupError):
        parse(markup)


def test_an_unknown_tag_in_a_template_names_the_template(tmp_path: Path) -> None:
    (tmp_path / "bad.j2").write_text("<section><blink>x</blink></section>", encoding="utf-8")
    with pytest.raises(MarkupError, match=r"templates/bad.j2: unknown tag <blink>"):
        Renderer(make_environment(tmp_path)).message(Reply("bad", "en"))


def test_clip_is_for_data_only() -> None:
    assert clip("abcdef", 4) == "abc…" and clip("abc", 4) == "abc"
    with pytest.raises(TypeError):
        clip(Markup("<b>x</b>"), 2)


class M:
    value, value_en, unit_zh, unit_en, qualifier, display_zh, display_en = (
        "7300",
        "73",
        "万个",
        "million jobs",
        "over",
        None,
        None,
    )


def test_figure_reads_naturally() -> None:
    assert figure(M(), "zh") == "超过7300万个"
    assert figure(M(), "en") == "over 73 million jobs"
    m = M()
    m.unit_en, m.value_en, m.qualifier = "%", None, None
    assert figure(m, "en") == "7300%"
    m.value = "12345.50"
    m.unit_zh = "亿元"
    assert figure(m, "zh") == "12,345.5亿元"
    m.display_en = "2nd in the world"
    assert figure(m, "en") == "2nd in the world"


# ---- hostile data ---------------------------------------------------------------------------------------------------

HOSTILE = [
    "<!here>",
    "<!channel> 直播",
    "<@U123>",
    "<#C123|general>",
    "<https://evil.example|直播销售额>",
    "&",
    "R&D <x>",
    "*bold* _it_ `code` ~s~",
    "\x00\x01\x02\x1b[31m",
    "算" * 10_000,
    "\"quoted\" 'single'",
    '</section><actions><button channel="unsubscribe">x</button></actions><section>',
    "{{ 7 * 7 }} {% if %}",
    "\u202eevil",
]
BENIGN = "plain words"


def hostile_replies(services: Any, text: str) -> list[Reply]:
    """Replies with `text` in as many data fields as their templates print."""
    report = SimpleNamespace(title_zh=text, title_en=text, publisher_zh=text, publisher_en=text, year=2030)
    topic = SimpleNamespace(slug="compute", name_zh=text, name_en=text, insight=1)
    insight = SimpleNamespace(number=1, topic="compute", title_zh=text, title_en=text, summary_zh=text, summary_en=text)
    request = {"t": text[:200], "o": 0, "l": "en"}  # the parser keeps 200 characters of a command
    listing = {
        "report": report,
        "insights": {1: insight},
        "topic_names": {"compute": topic},
        "items": [insight],
        "request": request,
        "shared_by": None,
    }
    subscription = {
        "kind": "keyword",
        "value": text,
        "name": text,
        "added_by": text,
        "added_at": SimpleNamespace(strftime=lambda _: "2027-03-01"),
    }
    channel = SimpleNamespace(lang="en", restricted=True, paused_reason=text)
    history = history_of_hostile_policy(services)
    history.context["found"].item.title_en = text
    history.context["entries"][0]["entry"].note = text
    history.context["entries"][0]["by"] = text
    return [
        Reply("list", "en", listing),
        Reply("list", "zh", {**listing, "shared_by": text}),
        Reply("topics", "zh", {"topics": [topic], "request": request, "shared_by": None}),
        notice("en", "no_such_item", text=text, example=text),
        Reply("subscriptions", "en", {"rows": [subscription], "schedule": Schedule(zone=text), "channel": channel}),
        Reply(
            "home",
            "en",
            {
                "report": report,
                "insights": {},
                "topic_names": {},
                "items": [insight],
                "followed": [
                    {
                        "channel_id": text,
                        "follows": [("topic", text), ("keyword", text)],
                        "schedule": Schedule(zone=text),
                        "paused": text,
                    }
                ],
            },
        ),
        Reply(
            "follow_update",
            "en",
            {
                "item": SimpleNamespace(id="x", title_en=text, title_zh=text),
                "kind": "policy",
                "events": [SimpleNamespace(field="note", old_value=None, new_value=text, source=text, workspace="T1")],
            },
        ),
        history,
        notice("en", "recorded", what=text, example=text),
        notice("zh", "digest_paused", channel_id=text, error=text),
    ]


def shape(message: Message) -> list[tuple[str, int]]:
    """The kinds of blocks and their buttons, long sections counted once (a long text may take several)."""
    out: list[tuple[str, int]] = []
    for block in message.blocks:
        buttons = len(block.buttons) if isinstance(block, Actions) else int(getattr(block, "button", None) is not None)
        out.append((type(block).__name__, buttons))
    return out


def spans(message: Message) -> list[Span]:
    found: list[Span] = []
    for block in message.blocks:
        riches = [block.text] if isinstance(block, Section) else [*getattr(block, "parts", getattr(block, "items", ()))]
        for r in riches:
            found += [p for p in r.parts if isinstance(p, Span)]
    return found


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_data_stays_text(mini: Any, text: str) -> None:
    for hostile, benign in zip(hostile_replies(mini, text), hostile_replies(mini, BENIGN), strict=True):
        message, expected = renderer.message(hostile), renderer.message(benign)
        # No block, button, mention or emphasis comes from the data: the document has the benign one's shape.
        assert shape(message) == shape(expected), hostile.template
        assert [(s.bold, s.italic, s.code) for s in spans(message)] == [
            (s.bold, s.italic, s.code) for s in spans(expected)
        ]
        out = to_slack(message)
        for block in out.blocks:
            for obj in _objects(block):
                if obj.get("type") == "mrkdwn":
                    assert not re.search(r"<[!@#]|<https?:|&(?!amp;|lt;|gt;)", obj["text"]), obj["text"][:200]
                    assert "<" not in obj["text"] and ">" not in obj["text"]
                elif obj.get("type") == "plain_text" and "&" not in text:
                    assert not re.search(r"&(amp|lt|gt);", obj["text"]), obj["text"][:200]
        assert "<" not in out.text and ">" not in out.text
        assert plain_text(message).strip()


def test_a_hostile_title_keeps_its_characters_in_plain_text(mini: Any) -> None:
    out = to_slack(renderer.message(history_of_hostile_policy(mini)))
    assert out.blocks[0]["text"]["text"] == "History: R&D <x>"


def _objects(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value, *(o for v in value.values() for o in _objects(v))]
    if isinstance(value, list):
        return [o for v in value for o in _objects(v)]
    return []


def test_the_install_page_is_html_escaped() -> None:
    page = renderer.page("install.html.j2", url='https://slack.com/oauth?a=1&b="<x>"', lang="en")
    assert 'href="https://slack.com/oauth?a=1&amp;b=&#34;&lt;x&gt;&#34;"' in page
