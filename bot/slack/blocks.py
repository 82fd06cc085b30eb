"""A Message as Slack Block Kit, built with slack_sdk's models so that slack_sdk checks Slack's limits
(SlackObjectFormationError) before Slack would refuse the message.

Escaping is decided here, by where the text lands: mrkdwn text gets &, < and > escaped as Slack asks, so nothing
from data becomes a mention, a channel ping or a link; plain_text (headers, button labels, modal labels) is shown
by Slack as is and is never escaped. The only mentions and channel links are the ones the Message names, and only
for ids that look like Slack's.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.core.lang import Lang
from bot.core.message import (
    Actions,
    AskAgain,
    AskHow,
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
    TrackItem,
    UserRef,
)
from bot.core.message import Block as MessageBlock
from bot.render import Renderer, inline
from bot.render.text import outline

MAX_BLOCKS = 50  # in a message (a Home tab or a modal may have 100: View checks those)
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_CONTEXT_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_MODAL_TITLE = 24
MAX_MESSAGE_TEXT = 40000
# Escaping multiplies a character by at most 5 (& -> &amp;): a line cut into pieces this long stays in a section.
MAX_PIECE = 500

USER_ID = re.compile(r"^[UWB][A-Z0-9]{1,30}$")
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{1,30}$")


@dataclass
class SlackMessage:
    blocks: list[dict[str, Any]]
    text: str  # the fallback: notifications, and clients that show no blocks
    response_type: str

    def payload(self, **overrides: Any) -> dict[str, Any]:
        """The arguments of ack(), respond() or chat.postMessage; an override of None leaves that key out."""
        values = {"text": self.text, "blocks": self.blocks, "response_type": self.response_type, **overrides}
        return {key: value for key, value in values.items() if value is not None}


class AskAgainValue(BaseModel):
    """What an AskAgain button carries (see _button): the command text, the offset and the language. A value that
    does not fit (an old or tampered button) is refused rather than guessed at."""

    model_config = ConfigDict(extra="forbid")
    t: str = Field(max_length=1000)
    o: int = Field(ge=0, le=100_000)
    l: Lang  # noqa: E741 - kept one letter: it travels in every button value


def ask_again_of(action: Mapping[str, Any], how: AskHow = "open") -> AskAgain | None:
    """The AskAgain a clicked button stands for, or None for a value that is not one of ours."""
    try:
        value = AskAgainValue.model_validate_json(str(action.get("value", "")))
    except ValidationError:
        return None
    return AskAgain(how, value.t, value.o, value.l)


def to_slack(message: Message) -> SlackMessage:
    blocks = _blocks(message)
    if len(blocks) > MAX_BLOCKS:
        raise SlackObjectFormationError(f"{len(blocks)} blocks: a message has at most {MAX_BLOCKS} (page instead)")
    return SlackMessage(blocks, fallback_text(message), message.visibility)


def fallback_text(message: Message) -> str:
    """The message's words in mrkdwn, escaped like the blocks."""
    return _shorten(outline(message, mrkdwn, escape), MAX_MESSAGE_TEXT)


def home_view(message: Message) -> dict[str, Any]:
    """The App Home tab (views.publish)."""
    view: dict[str, Any] = View(type="home", blocks=_blocks(message)).to_dict()
    return view


def notice_view(message: Message, title: str) -> dict[str, Any]:
    """A modal that only says something (what a form recorded), in place of the form: views' response_action
    "update"."""
    view: dict[str, Any] = View(
        type="modal", title=_plain_object(title, MAX_MODAL_TITLE), blocks=_blocks(message)
    ).to_dict()
    return view


def track_modal(renderer: Renderer, context: Mapping[str, Any]) -> dict[str, Any]:
    """The modal an item's Track button opens (views.open), worded by templates/track_modal.j2: for a policy item a
    new status, a date and a note; for a figure a note. `context`: kind, item, title_zh, title_en, statuses (key ->
    (zh, en)), metadata (what the submission needs back: kind, item id, channel)."""
    form = renderer.form("track_modal", context)
    words = form.words
    blocks: list[Block] = [model for block in form.message.blocks for model in _models(block)]
    if context["kind"] == "policy":
        options = [Option(value=key, text=PlainTextObject(text=label)) for key, label in words["status_options"]]
        blocks.append(
            InputBlock(
                block_id="status_block",
                optional=True,
                label=PlainTextObject(text=words["status_label"]),
                element=StaticSelectElement(action_id="status", options=options),
            )
        )
        blocks.append(
            InputBlock(
                block_id="date_block",
                optional=True,
                label=PlainTextObject(text=words["date_label"]),
                element=PlainTextInputElement(action_id="date", max_length=10),
            )
        )
    blocks.append(
        InputBlock(
            block_id="note_block",
            optional=context["kind"] == "policy",  # a figure's form is only its note
            label=PlainTextObject(text=words["note_label"]),
            element=PlainTextInputElement(action_id="note", multiline=True, max_length=1000),
        )
    )
    view: dict[str, Any] = View(
        type="modal",
        callback_id="track_submit",
        private_metadata=json.dumps(context["metadata"], ensure_ascii=False),
        title=PlainTextObject(text=words["title"]),
        submit=PlainTextObject(text=words["submit"]),
        close=PlainTextObject(text=words["close"]),
        blocks=blocks,
    ).to_dict()
    return view


# ---- blocks ------------------------------------------------------------------------------------------------------


def _blocks(message: Message) -> list[dict[str, Any]]:
    return [as_dict for block in message.blocks for as_dict in _block_dicts(block)]


@functools.lru_cache(maxsize=8192)
def _block_dicts(block: MessageBlock) -> tuple[dict[str, Any], ...]:
    """One block of the document as Block Kit, checked by slack_sdk's models. Remembered, because the same item
    appears in answer after answer and digest after digest: the dicts are shared, and nothing may change them."""
    return tuple(model.to_dict() for model in _models(block))


def _models(block: MessageBlock) -> list[Block]:
    if isinstance(block, Header):
        return [HeaderBlock(text=_plain_object(block.text, MAX_HEADER_TEXT))]
    if isinstance(block, Section):
        # A long section is several sections, cut between lines: nothing is dropped. The button stays on the first.
        return [
            SectionBlock(
                text=_mrkdwn_object(text), accessory=_button(block.button, 0) if block.button and i == 0 else None
            )
            for i, text in enumerate(_chunks(block.text, MAX_SECTION_TEXT))
        ]
    if isinstance(block, Fields):
        return [SectionBlock(fields=[_mrkdwn_object(_fitted(f, MAX_FIELD_TEXT)) for f in block.items])]
    if isinstance(block, Context):
        return [ContextBlock(elements=[_mrkdwn_object(_fitted(p, MAX_CONTEXT_TEXT)) for p in block.parts])]
    if isinstance(block, Divider):
        return [DividerBlock()]
    if isinstance(block, Actions):
        return [ActionsBlock(block_id=block.id, elements=[_button(b, i) for i, b in enumerate(block.buttons)])]
    raise TypeError(f"unknown block {block!r}")


def _mrkdwn_object(text: str) -> MarkdownTextObject:
    # verbatim: Slack must not turn words into links or mentions on its own; every link and mention is explicit.
    return MarkdownTextObject(text=text, verbatim=True)


def _plain_object(text: str, limit: int) -> PlainTextObject:
    # Slack shows plain_text as it is: never escaped, only shortened to fit.
    return PlainTextObject(text=_shorten(text, limit, plain=True), emoji=True)


def _button(button: Button, index: int) -> ButtonElement:
    """The action_ids and values the listeners in bot.slack.actions know."""
    action = button.action
    if isinstance(action, AskAgain):
        # action_ids are unique within a block: an insight's button is show_insight_<its place in the row>.
        action_id = {"share": "share", "more": "more", "reply": "digest_more"}.get(action.how)
        action_id = action_id or f"show_insight_{index + 1}"
        value = AskAgainValue(t=action.text, o=action.offset, l=action.lang).model_dump_json()
        # Never shown, but a payload with no raw <, > or & anywhere is one less thing for a reader to check.
        value = value.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    elif isinstance(action, TrackItem):
        action_id, value = "track_open", f"{action.kind.value}:{action.item_id}"
    elif isinstance(action, ChannelCommand):
        action_id = f"digest_{action.name}"
        value = "manage" if action.name == "manage" else "all"
    else:
        raise TypeError(f"unknown action {action!r}")
    return ButtonElement(
        text=_plain_object(button.label, MAX_BUTTON_TEXT),
        action_id=action_id,
        value=value,
        style=button.style,
    )


# ---- mrkdwn ------------------------------------------------------------------------------------------------------


def escape(text: str) -> str:
    """&, < and > as Slack asks: the only characters that can make a mention, a ping or a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _reference(part: Inline) -> str:
    if isinstance(part, UserRef):
        return f"<@{part.user_id}>" if USER_ID.match(part.user_id) else escape(part.user_id)
    if isinstance(part, ChannelRef):
        return f"<#{part.channel_id}>" if CHANNEL_ID.match(part.channel_id) else escape(part.channel_id)
    raise TypeError(f"not a reference: {part!r}")


MRKDWN = inline.Style(escape, inline.marks_by_attribute((("bold", "*"), ("italic", "_"), ("code", "`"))), _reference)
REFERENCE_SIZE = 40  # of a mention in a piece: a mention is short


def mrkdwn(rich: Rich) -> str:
    """Rich text as mrkdwn (bot.render.inline: emphasis never runs across a line break, markers sit against the
    words, since Slack ignores `* bold *`)."""
    return inline.write(rich, MRKDWN)


def _chunks(rich: Rich, limit: int) -> list[str]:
    """mrkdwn in pieces of at most `limit` characters, cut between lines (inside a line only when the line alone is
    longer, and then never inside an escape or a mention)."""
    return inline.chunks(rich, limit, MRKDWN, piece=MAX_PIECE, reference_size=REFERENCE_SIZE)


def _fitted(rich: Rich, limit: int) -> str:
    """Rich text as mrkdwn of at most `limit` characters, shortened in the text itself (never in the mrkdwn), so a
    cut leaves no half of a *bold* pair, an escape (&amp;) or a mention (<@U1>): those are whole or left out."""
    # Escapes and markers make mrkdwn longer than the text: each try is shorter by what was too much, and one more.
    return inline.fitted(rich, limit, MRKDWN, lambda over: over + 1)


def _shorten(text: str, limit: int, *, plain: bool = False) -> str:
    """At most `limit` characters, the last an ellipsis; mrkdwn is never cut inside an escape (&amp;) or a mention
    (<@U1>), plain text anywhere."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    for start, end in () if plain else (("&", ";"), ("<", ">")):
        at = cut.rfind(start)
        if at != -1 and end not in cut[at:]:
            cut = cut[:at]
    return cut + "…"
