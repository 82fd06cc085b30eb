"""A Message as a Feishu interactive card (message card JSON 1.0: msg_type "interactive"), with its plain text.

Layout: the first Header is the card's header; the others are bold lines. A Section is a `div` of `lark_md` text
(its button, if Feishu can serve it, as the div's `extra`), Fields a div of short fields, Context a `note`, a Divider
an `hr`, Actions an `action` row of buttons.

Escaping is decided here, by where the text lands. `plain_text` (the header, button labels) is shown by Feishu as it
is and never escaped. `lark_md` gets every character that Feishu's markdown would read as markup written as an HTML
entity (&, <, >, *, _, ~, `, [, ], \\, and a list or heading mark at the start of a line; the colon of "://"), so that
nothing from data becomes emphasis, a link, an image or a mention. The only mentions are the UserRefs of the
Message, written <at id=ou_...></at>, and only for ids that look like Feishu open_ids.

Buttons carry their request in `value` (an object, returned as is in card.action.trigger): an AskAgain its
{"t", "o", "l"} with "h" saying how to answer (more / open: in place of the card; reply: a new card under it), a
ChannelCommand {"c": "manage" | "unsubscribe"}. Left out: "Share in channel" (in Feishu the answer is in the chat
already: the chat sees every answer) and "Track" (it opens a Slack modal; the `track` and `note` commands do the
same in Feishu).

A card request must stay under 30 KB (Feishu's 230025): a message that would not fit is shortened section by section
(each cut in its text, with an ellipsis, never inside an entity or a mention), then, if still needed, its last
blocks are left out with a note saying so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.core.lang import Lang
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
    Inline,
    Message,
    Rich,
    Section,
    Span,
    UserRef,
)
from bot.core.message import Block as MessageBlock
from bot.render import inline
from bot.render.text import outline

# The request body of a card message must be at most 30 KB (230025); the card travels as a JSON string inside it,
# so its size is counted escaped, and a little is left for the rest of the body.
MAX_CONTENT_BYTES = 29_000
MAX_TEXT = 4000  # characters of lark_md in one div: a longer section is several divs, cut between lines
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 60
MAX_PIECE = 400
# Shorter and shorter sections until the card fits (see to_card); each section then keeps its start.
FIT_LIMITS = (2000, 1000, 500, 250, 120)
OPEN_ID = re.compile(r"^ou_[0-9A-Za-z]{1,64}$")
TEMPLATE = "blue"


@dataclass(frozen=True)
class LarkCard:
    """A card and its words as plain text (logs, tests, and the text message sent when Feishu refuses a card).
    Shared between threads and cached answers: never changed after it is made."""

    card: dict[str, Any]
    text: str

    def content(self) -> str:
        """The `content` of a message of msg_type "interactive"."""
        return content_of(self.card)


def content_of(card: Mapping[str, Any]) -> str:
    return json.dumps(card, ensure_ascii=False, separators=(",", ":"))


def body_bytes(content: str) -> int:
    """How many bytes the card adds to a request body (its content string, JSON-escaped, in UTF-8)."""
    return len(json.dumps(content, ensure_ascii=False).encode("utf-8"))


# ---- what buttons carry ------------------------------------------------------------------------------------------


class AskAgainValue(BaseModel):
    """An AskAgain button's value: how to answer, the command text, the offset and the language."""

    model_config = ConfigDict(extra="forbid")
    h: Literal["more", "open", "reply"]
    t: str = Field(max_length=1000)
    o: int = Field(ge=0, le=100_000)
    l: Lang  # noqa: E741 - one letter, as in the Slack edge's values


class ChannelCommandValue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    c: Literal["manage", "unsubscribe"]


def action_of(value: object) -> AskAgain | ChannelCommand | None:
    """What a clicked button's value asks for, or None for a value that is not one of ours (an old or tampered
    card): refused rather than guessed at."""
    if not isinstance(value, Mapping):
        return None
    try:
        if "c" in value:
            return ChannelCommand(ChannelCommandValue.model_validate(dict(value)).c)
        again = AskAgainValue.model_validate(dict(value))
    except ValidationError:
        return None
    return AskAgain(again.h, again.t, again.o, again.l)


def button_value(button: Button) -> dict[str, Any] | None:
    """The value a button carries, or None for a button left out in Feishu (see the module's docstring)."""
    action = button.action
    if isinstance(action, AskAgain):
        if action.how == "share":
            return None
        return AskAgainValue(h=action.how, t=action.text, o=action.offset, l=action.lang).model_dump()
    if isinstance(action, ChannelCommand):
        return {"c": action.name}
    return None  # TrackItem: a Slack modal


# ---- the card ----------------------------------------------------------------------------------------------------


def to_card(message: Message) -> LarkCard:
    text = fallback_text(message)
    card = _card(message, None)
    for limit in FIT_LIMITS:
        if _fits(card):
            return LarkCard(card, text)
        card = _card(message, limit)
    elements = card["elements"]
    keep = len(elements)
    while not _fits(card) and keep > 1:
        keep = keep * 3 // 4
        card["elements"] = [*elements[:keep], {"tag": "note", "elements": [_plain("…", MAX_TEXT)]}]
    return LarkCard(card, text)


def _fits(card: dict[str, Any]) -> bool:
    return body_bytes(content_of(card)) <= MAX_CONTENT_BYTES


def fallback_text(message: Message) -> str:
    """The message as plain text, for a text message (msg_type "text"), where <at ...> would be a mention: no
    angle bracket from data survives as one."""
    return outline(message, Rich.plain).replace("<", "\uff1c").replace(">", "\uff1e")


def _card(message: Message, fit: int | None) -> dict[str, Any]:
    """`fit` None: every word, long sections split into several divs; otherwise each piece of text cut to `fit`."""
    card: dict[str, Any] = {"config": {"wide_screen_mode": True, "update_multi": True}}
    blocks = list(message.blocks)
    first = blocks[0] if blocks else None
    if isinstance(first, Header):
        card["header"] = {"title": _plain(first.text, MAX_HEADER_TEXT), "template": TEMPLATE}
        blocks = blocks[1:]
    elements = [element for block in blocks for element in _elements(block, fit)]
    if not elements:  # a card needs a body: the header's words, or an ellipsis
        elements = [{"tag": "div", "text": _plain("…", MAX_TEXT)}]
    card["elements"] = elements
    return card


def _elements(block: MessageBlock, fit: int | None) -> list[dict[str, Any]]:
    if isinstance(block, Header):  # a heading inside the card: a bold line
        return [_div(escape_md(_shorten(block.text, MAX_HEADER_TEXT), bold=True))]
    if isinstance(block, Section):
        texts = _chunks(block.text, MAX_TEXT) if fit is None else [_fitted(block.text, fit)]
        divs = [_div(text) for text in texts]
        value = button_value(block.button) if block.button else None
        if value is not None and block.button is not None:
            divs[0]["extra"] = _button(block.button, value)
        return divs
    if isinstance(block, Fields):
        limit = fit or MAX_TEXT
        fields = [{"is_short": True, "text": _md(_fitted(item, limit))} for item in block.items]
        return [{"tag": "div", "fields": fields}]
    if isinstance(block, Context):
        limit = fit or MAX_TEXT
        return [{"tag": "note", "elements": [_md(_fitted(part, limit)) for part in block.parts]}]
    if isinstance(block, Divider):
        return [{"tag": "hr"}]
    if isinstance(block, Actions):
        buttons = [_button(b, v) for b in block.buttons if (v := button_value(b)) is not None]
        return [{"tag": "action", "actions": buttons}] if buttons else []
    raise TypeError(f"unknown block {block!r}")


def _div(text: str) -> dict[str, Any]:
    return {"tag": "div", "text": _md(text)}


def _md(text: str) -> dict[str, Any]:
    return {"tag": "lark_md", "content": text}


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"tag": "plain_text", "content": _shorten(text, limit)}


def _button(button: Button, value: dict[str, Any]) -> dict[str, Any]:
    kind = {"primary": "primary", "danger": "danger"}.get(button.style or "", "default")
    return {"tag": "button", "text": _plain(button.label, MAX_BUTTON_TEXT), "type": kind, "value": value}


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- lark_md -----------------------------------------------------------------------------------------------------

# HTML entities for what Feishu's markdown reads as markup anywhere in a line.
_ENTITIES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "*": "&#42;",
    "_": "&#95;",
    "~": "&#126;",
    "`": "&#96;",
    "[": "&#91;",
    "]": "&#93;",
    "\\": "&#92;",
}
_ANYWHERE = re.compile("|".join(re.escape(c) for c in _ENTITIES))
# At the start of a line: a heading or list mark, or the dot of a numbered list ("1.").
_LINE_START = re.compile(r"^([ \t]*)(?:([#+\-])|(\d+)\.)(?=[ \t]|$)", re.M)
_SCHEME = re.compile(r":(?=//)")  # https://... written out is not made a link


def escape_md(text: str, *, bold: bool = False) -> str:
    """Text as lark_md that shows exactly this text (bold: as bold runs, one a line). Marks that count only at the
    start of a line are escaped at the start of any piece of text: harmless elsewhere, and a piece may start one."""
    escaped = _ANYWHERE.sub(lambda m: _ENTITIES[m.group(0)], text)
    escaped = _SCHEME.sub("&#58;", escaped)
    escaped = _LINE_START.sub(_line_start, escaped)
    if bold:
        return "\n".join(f"**{line}**" if line.strip() else line for line in escaped.split("\n"))
    return escaped


def _line_start(match: re.Match[str]) -> str:
    mark, digits = match.group(2), match.group(3)
    return match.group(1) + (f"&#{ord(mark)};" if mark else f"{digits}&#46;")


def _marks(span: Span) -> list[str]:
    """Outermost first: italic around bold makes `*a **b** c*`, never a run of four asterisks. Code is shown bold:
    lark_md in a card has no inline code that would show the text as typed."""
    return [mark for on, mark in ((span.italic, "*"), (span.bold or span.code, "**")) if on]


def _reference(part: Inline) -> str:
    if isinstance(part, UserRef):
        return f"<at id={part.user_id}></at>" if OPEN_ID.match(part.user_id) else escape_md(f"@{part.user_id}")
    if isinstance(part, ChannelRef):  # Feishu's markdown has no link to a chat: its id, as text
        return escape_md(part.channel_id)
    raise TypeError(f"not a reference: {part!r}")


LARK_MD = inline.Style(escape_md, _marks, _reference)
REFERENCE_SIZE = 80  # of a mention in a piece


def lark_md(rich: Rich) -> str:
    """Rich text as lark_md: markers open and close only where emphasis changes, against the words (spaces at a
    change go outside the markers), as in bot.slack.blocks (both by bot.render.inline)."""
    return inline.write(rich, LARK_MD)


def _chunks(rich: Rich, limit: int) -> list[str]:
    """lark_md in pieces of at most `limit` characters, cut between lines (inside a line only when the line alone is
    longer, and then between pieces of text, never inside an entity or a mention)."""
    return inline.chunks(rich, limit, LARK_MD, piece=MAX_PIECE, reference_size=REFERENCE_SIZE)


def _fitted(rich: Rich, limit: int) -> str:
    """Rich text as lark_md of at most `limit` characters, shortened in the text itself (never in the lark_md), so
    that a cut leaves no half of a **bold** pair, of an entity or of a mention."""
    # Entities make lark_md up to 6 times longer than the text: each try is shorter by a quarter of what was too much.
    text = inline.fitted(rich, limit, LARK_MD, lambda over: max(1, over // 4))
    return text if len(text) <= limit else "…"
