"""A Message as text: for a terminal (`bot ask`), and the shape of Slack's text fallback (bot.slack.blocks), which
differs only in how rich text and plain text are written."""

from __future__ import annotations

from collections.abc import Callable

from bot.core.message import Actions, Context, Divider, Fields, Header, Message, Rich, Section

DIVIDER = "――――――――"


def outline(message: Message, rich: Callable[[Rich], str], plain: Callable[[str], str] = str) -> str:
    """Each block as a paragraph, blank lines between them; buttons are left out (nothing to click in text)."""
    paragraphs: list[str] = []
    for block in message.blocks:
        if isinstance(block, Header):
            paragraphs.append(plain(block.text))
        elif isinstance(block, Section):
            paragraphs.append(rich(block.text))
        elif isinstance(block, Fields):
            paragraphs.append("\n".join(rich(item) for item in block.items))
        elif isinstance(block, Context):
            paragraphs.append("\n".join(rich(part) for part in block.parts))
        elif isinstance(block, Divider):
            paragraphs.append(DIVIDER)
        elif not isinstance(block, Actions):
            raise TypeError(f"unknown block {block!r}")
    return "\n\n".join(paragraph for paragraph in paragraphs if paragraph)


def plain_text(message: Message) -> str:
    """What a terminal prints: the words alone, without mrkdwn (a mention as @U123, a channel as #C123)."""
    return outline(message, Rich.plain)
