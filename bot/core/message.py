"""The platform-neutral message document: what an answer or a digest says, before any chat platform's format.

Answers and digests produce a Message (bot.render turns a Reply's template into one); each platform renders it in
its own way (bot.slack.blocks: Block Kit through slack_sdk's models; bot.render.text: a terminal). Text in the
document is what a person typed or the report says, never escaped: escaping belongs to the renderer, which knows
where each piece of text lands (Slack mrkdwn, Slack plain_text, a terminal...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bot.core.kinds import Kind
from bot.core.lang import Lang

# ---- rich text ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """A run of text, with its emphasis."""

    text: str
    bold: bool = False
    italic: bool = False
    code: bool = False


@dataclass(frozen=True)
class UserRef:
    """A person, by the platform's user id (a mention where the platform has them)."""

    user_id: str


@dataclass(frozen=True)
class ChannelRef:
    """A channel or chat, by the platform's id (a link to it where the platform has them)."""

    channel_id: str


Inline = Span | UserRef | ChannelRef


@dataclass(frozen=True)
class Rich:
    """Rich text: spans in order. Line breaks are "\n" inside spans."""

    parts: tuple[Inline, ...] = ()

    def plain(self) -> str:
        """The text alone, as a person reads it (a mention as the id it names)."""
        out = []
        for part in self.parts:
            if isinstance(part, Span):
                out.append(part.text)
            elif isinstance(part, UserRef):
                out.append(f"@{part.user_id}")
            else:
                out.append(f"#{part.channel_id}")
        return "".join(out)


# ---- actions: what a button asks for, typed ---------------------------------------------------------------------


AskHow = Literal["share", "more", "open", "reply"]


@dataclass(frozen=True)
class AskAgain:
    """Ask a command again: `share` posts the same answer in the channel, `more` shows the next page, `open` answers
    in place of the original (an insight's button), `reply` answers the clicker alone under a message everyone sees."""

    how: AskHow
    text: str
    offset: int
    lang: Lang


@dataclass(frozen=True)
class TrackItem:
    """Open the form that records a policy item's status or a note on an item."""

    kind: Kind
    item_id: str


@dataclass(frozen=True)
class ChannelCommand:
    """Run a channel command for the clicker (under a digest: manage or drop the channel's subscriptions)."""

    name: Literal["manage", "unsubscribe"]


Action = AskAgain | TrackItem | ChannelCommand


@dataclass(frozen=True)
class Button:
    label: str
    action: Action
    style: Literal["primary", "danger"] | None = None


# ---- blocks -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    """A title: plain text only."""

    text: str


@dataclass(frozen=True)
class Section:
    """A paragraph of rich text, optionally with one button beside it (an item's Track button)."""

    text: Rich
    button: Button | None = None


@dataclass(frozen=True)
class Fields:
    """Short label/value pairs shown side by side."""

    items: tuple[Rich, ...]


@dataclass(frozen=True)
class Context:
    """Small print: sources, notes on the results, who shared an answer."""

    parts: tuple[Rich, ...]


@dataclass(frozen=True)
class Divider:
    pass


@dataclass(frozen=True)
class Actions:
    buttons: tuple[Button, ...]
    id: str | None = None


Block = Header | Section | Fields | Context | Divider | Actions
Visibility = Literal["ephemeral", "in_channel"]


@dataclass
class Message:
    blocks: list[Block] = field(default_factory=list)
    # Ephemeral: only the person who asked sees it; in_channel: everyone in the channel.
    visibility: Visibility = "ephemeral"
