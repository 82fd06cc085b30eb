"""A Message as DingTalk sends it: markdown (bot.render.markdown, DingTalk's flavour), and buttons as an ActionCard.

DingTalk's ActionCard buttons are links, with no callback to the app. A button here is a
`dtmd://dingtalkclient/sendMessage?content=...` link: clicked, the person's DingTalk client sends `content` into
the chat as that person's message, so the robot receives the equivalent text command (`show 3`,
`subscriptions`) like any other. Two limits come with it: DingTalk delivers a group message to the robot only when
it @-mentions the robot, and such a sent text is no real mention, so in groups a button shows people the command
to type rather than running it; in one-to-one chats with the robot every message arrives, and buttons work. What a
button carries that text cannot say (the next page, a language other than the text's own) travels as options the
edge reads back (read_options): `search 直播 --from 10`, `show 3 --lang zh`.

Buttons that only make sense in Slack are left out: "Share in channel" (a DingTalk reply is already seen by the
whole chat) and "Track" (a form; `track ITEM STATUS` and `note ITEM TEXT` work as text).

Sizes: a robot message's msgParam is at most 15,000 bytes and a sessionWebhook's markdown 20,000, so a long message
becomes several, split between lines (bot.render.markdown.split_markdown), in order, the buttons on the last."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from bot.core.lang import LANGS, Lang, detect_lang
from bot.core.message import (
    Actions,
    AskAgain,
    Button,
    ChannelCommand,
    Header,
    Message,
    Section,
    TrackItem,
)
from bot.render.markdown import escape, markdown, split_markdown

SEND_MESSAGE = "dtmd://dingtalkclient/sendMessage?content="
MAX_BUTTONS = 5  # the robot API's ActionCards hold 1 (sampleActionCard) to 5 (sampleActionCard5) buttons
MAX_BUTTON_TITLE = 20
MAX_URL = 500
MAX_TITLE = 60
MSG_PARAM_LIMIT = 15_000  # bytes of a robot message's msgParam (groupMessages/send, oToMessages/batchSend)
WEBHOOK_TEXT_LIMIT = 18_000  # bytes of a sessionWebhook reply's markdown (DingTalk refuses over 20,000)
CHANNEL_COMMANDS = {"manage": "subscriptions", "unsubscribe": "unsubscribe all"}
MAX_OFFSET = 100_000
_OPTION = re.compile(r"\s+--(lang|from)\s+(\S+)\s*$")


@dataclass(frozen=True)
class LinkButton:
    title: str
    url: str


@dataclass(frozen=True)
class DingTalkMessage:
    """What DingTalk receives for one Message: a title (the notification and the chat list show it), the markdown
    text and the ActionCard's buttons (none: plain markdown)."""

    title: str
    text: str
    buttons: tuple[LinkButton, ...] = ()

    def webhook_bodies(self) -> list[dict[str, Any]]:
        """Bodies for a sessionWebhook reply, in order: markdown, and an ActionCard for the part with the buttons."""
        parts = _parts(self.text, WEBHOOK_TEXT_LIMIT)
        bodies: list[dict[str, Any]] = []
        for i, part in enumerate(parts):
            title = self._title(i, len(parts))
            if self.buttons and i == len(parts) - 1:
                buttons = [{"title": b.title, "actionURL": b.url} for b in self.buttons]
                card = {"title": title, "text": part, "btnOrientation": "0", "btns": buttons}
                bodies.append({"msgtype": "actionCard", "actionCard": card})
            else:
                bodies.append({"msgtype": "markdown", "markdown": {"title": title, "text": part}})
        return bodies

    def robot_messages(self) -> list[tuple[str, str]]:
        """(msgKey, msgParam) pairs for the robot API, in order, each msgParam within MSG_PARAM_LIMIT bytes."""
        budget = MSG_PARAM_LIMIT - len(json.dumps(self._param("", "x" * MAX_TITLE, True), ensure_ascii=False).encode())
        for _ in range(12):
            parts = _parts(self.text, budget)
            messages = [self._robot_message(part, i, len(parts)) for i, part in enumerate(parts)]
            if all(len(param.encode("utf-8")) <= MSG_PARAM_LIMIT for _, param in messages):
                return messages
            budget = budget * 3 // 4  # JSON escapes (quotes, backslashes, line breaks) made a part too big
        raise ValueError("a message that cannot be cut to fit DingTalk's msgParam")

    def _robot_message(self, text: str, index: int, count: int) -> tuple[str, str]:
        with_buttons = bool(self.buttons) and index == count - 1
        param = self._param(text, self._title(index, count), with_buttons)
        if not with_buttons:
            key = "sampleMarkdown"
        elif len(self.buttons) == 1:
            key = "sampleActionCard"
        else:
            key = f"sampleActionCard{len(self.buttons)}"
        return key, json.dumps(param, ensure_ascii=False)

    def _param(self, text: str, title: str, with_buttons: bool) -> dict[str, str]:
        param = {"title": title, "text": text}
        if with_buttons and len(self.buttons) == 1:
            param.update(singleTitle=self.buttons[0].title, singleURL=self.buttons[0].url)
        elif with_buttons:
            for n, button in enumerate(self.buttons, start=1):
                param[f"actionTitle{n}"], param[f"actionURL{n}"] = button.title, button.url
        return param

    def _title(self, index: int, count: int) -> str:
        return self.title if count == 1 else f"{self.title} ({index + 1}/{count})"


def _parts(text: str, limit_bytes: int) -> list[str]:
    if len(text.encode("utf-8")) <= limit_bytes:
        return [text]
    return [part for part in split_markdown(text, limit_bytes) if part.strip()] or [text[:1]]


def to_dingtalk(message: Message) -> DingTalkMessage:
    text = markdown(message, "dingtalk")
    links = [link for link in (_link(button) for button in _buttons(message)) if link is not None]
    links = list(dict.fromkeys(links))
    buttons, overflow = links[:MAX_BUTTONS], links[MAX_BUTTONS:]
    if overflow:  # more than an ActionCard holds: the rest as links under the text, which DingTalk also opens
        text += "\n\n" + "\n".join(f"- [{escape(b.title)}]({b.url})" for b in overflow)
    return DingTalkMessage(title_of(message), text, tuple(buttons))


def title_of(message: Message) -> str:
    """The message's header, or its first line: what DingTalk shows in notifications and the chat list."""
    for block in message.blocks:
        if isinstance(block, Header) and block.text.strip():
            return _cut(block.text.strip(), MAX_TITLE)
        if isinstance(block, Section):
            line = next((line.strip() for line in block.text.plain().split("\n") if line.strip()), "")
            if line:
                return _cut(line, MAX_TITLE)
    return "insights"


def _buttons(message: Message) -> Iterable[Button]:
    for block in message.blocks:
        if isinstance(block, Actions):
            yield from block.buttons
        elif isinstance(block, Section) and block.button is not None:
            yield block.button


def _link(button: Button) -> LinkButton | None:
    command = command_of(button)
    if command is None:
        return None
    url = SEND_MESSAGE + quote(command, safe="")
    if len(url) > MAX_URL:  # DingTalk refuses longer button URLs: a very long question gets no button
        return None
    return LinkButton(_cut(button.label, MAX_BUTTON_TITLE), url)


def command_of(button: Button) -> str | None:
    """The text command a button stands for on DingTalk; None for buttons that have no place there."""
    action = button.action
    if isinstance(action, AskAgain):
        if action.how == "share":
            return None
        return with_options(action.text, action.lang, action.offset)
    if isinstance(action, ChannelCommand):
        return CHANNEL_COMMANDS[action.name]
    if isinstance(action, TrackItem):
        return None
    raise TypeError(f"unknown action {action!r}")


def with_options(text: str, lang: Lang, offset: int) -> str:
    """`text`, with what it cannot say itself: the results' offset and a language other than the text's own."""
    out = text.strip()
    if offset > 0:
        out += f" --from {offset}"
    if lang != detect_lang(text):
        out += f" --lang {lang}"
    return out


def read_options(text: str) -> tuple[str, Lang | None, int]:
    """The command, its language (None: the text's own) and offset, from text that may end in the options a button
    adds (with_options); anything else stays part of the question."""
    lang: Lang | None = None
    offset = 0
    while match := _OPTION.search(text):
        name, value = match.groups()
        if name == "lang" and value in LANGS and lang is None:
            lang = "zh" if value == "zh" else "en"
        elif name == "from" and value.isdigit() and int(value) <= MAX_OFFSET and not offset:
            offset = int(value)
        else:
            break
        text = text[: match.start()]
    return text.strip(), lang, offset


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
