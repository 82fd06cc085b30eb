"""A Message as the markdown of Chinese chat platforms' robots: WeCom group robots (`markdown` messages) and DingTalk
(markdown and ActionCard text). Both take a small subset of Markdown, and each a slightly different one:

| | WeCom (markdown, v1) | DingTalk |
| --- | --- | --- |
| headings, `**bold**`, `> quote` | yes | yes |
| `*italic*` | not documented: italic text is written plain here | yes |
| `` `code` `` | yes, one line | not documented: written plain here |
| `<font color=...>` | info, comment, warning (grey small print here) | not documented: not used |
| a line break | "\\n" | "  \\n" (two spaces first, as DingTalk asks) |
| size | 4096 bytes of UTF-8 | 20000 bytes (custom robot), 15000 (msgParam) |

Headers, sections, fields, context and dividers are rendered; buttons are not (DingTalk renders its own ActionCard
buttons; WeCom robots have none). The Message has no link spans: a URL in data stays text (a client may still make
a bare URL clickable, but never behind other words). A person or a channel named by the Message is shown by its id,
never as a mention: WeCom's `<@userid>` would notify someone, and a digest must never do that.

Escaping is decided here, as bot.slack.blocks decides it for mrkdwn. Neither platform documents an escape character,
so a backslash may be shown rather than obeyed; instead every character of the data that could open markup is
written as a look-alike that no Markdown reads (`*` -> `∗`, `[` -> `［`, `<` -> `＜`, `` ` `` -> `ˋ` ...), and a data
line that would start a heading, a quote or a list starts with a look-alike too. So report data and what people typed
can never add a link, a mention, a font, emphasis or a heading: the only markup is what this module writes.

`split_markdown` cuts a long text into parts that each fit a byte limit, between paragraphs or lines where it can,
closing and reopening emphasis where a line itself has to be cut.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Literal

from bot.core.message import (
    Actions,
    ChannelRef,
    Context,
    Divider,
    Fields,
    Header,
    Inline,
    Message,
    Rich,
    Section,
    UserRef,
)
from bot.core.message import Block as MessageBlock
from bot.render import inline
from bot.render.text import DIVIDER

Flavour = Literal["dingtalk", "wecom"]
FLAVOURS: tuple[Flavour, ...] = ("dingtalk", "wecom")

# Data characters that open markup somewhere in either flavour, and the look-alikes written instead.
LOOK_ALIKES = str.maketrans(
    {
        "*": "∗",  # U+2217 ASTERISK OPERATOR: emphasis
        "_": "＿",  # emphasis
        "`": "ˋ",  # U+02CB MODIFIER LETTER GRAVE ACCENT: code
        "[": "［",  # links and images
        "]": "］",
        "<": "＜",  # <font>, <@userid> mentions, autolinks, HTML
        ">": "＞",
        "\\": "∖",  # U+2216 SET MINUS: an escape that would swallow one of our markers
        "~": "∼",  # U+223C TILDE OPERATOR: strikethrough
        "\t": " ",
        "\r": None,
    }
)
# C0 controls (but the line break) and DEL: nothing a chat message should carry.
CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# "&lt;" would be shown as "<" by a renderer that reads HTML entities: the "&" of anything entity-like is a look-alike.
ENTITY = re.compile(r"&(?=#?[0-9A-Za-z]{1,32};)")
# What a line may start with to become a block of its own: heading, quote, list, table, setext underline, rule.
LINE_START = re.compile(r"^(?:[-+*](?=\s|$)|[-=_*]{2,}|=|#{1,6}(?=\s|$)|[>|]|\d{1,9}[.)](?=\s|$))")
LINE_START_LOOK_ALIKES = {"-": "‐", "+": "＋", "*": "∗", "_": "＿", "=": "＝", "#": "＃", ">": "＞", "|": "｜"}

# (name of the Span attribute, marker): outermost first; a flavour without a marker shows that emphasis as plain.
MARKS: dict[Flavour, tuple[tuple[str, str], ...]] = {
    "wecom": (("bold", "**"), ("code", "`")),
    "dingtalk": (("bold", "**"), ("italic", "*")),
}
LINE_BREAK: dict[Flavour, str] = {"wecom": "\n", "dingtalk": "  \n"}
HEADING = "### "
WECOM_SMALL_PRINT = '<font color="comment">{}</font>'  # grey: WeCom's own small print


def escape(text: str) -> str:
    """Data as text that no Markdown of either flavour reads as markup (see the module's docstring)."""
    text = CONTROLS.sub("", text.translate(LOOK_ALIKES))
    return ENTITY.sub("＆", text)


def markdown(message: Message, flavour: Flavour) -> str:
    """The message's blocks as paragraphs, blank lines between them; buttons are left out."""
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown markdown flavour {flavour!r}")
    paragraphs = [_block(block, flavour) for block in message.blocks]
    return "\n\n".join(paragraph for paragraph in paragraphs if paragraph)


@functools.lru_cache(maxsize=8192)
def _block(block: MessageBlock, flavour: Flavour) -> str:
    """Remembered: digests repeat the same items for channel after channel."""
    if isinstance(block, Header):
        text = " ".join(block.text.split())
        return HEADING + escape(text) if text else ""
    if isinstance(block, Section):
        return _rich(block.text, flavour)
    if isinstance(block, Fields):
        return LINE_BREAK[flavour].join(line for item in block.items if (line := _rich(item, flavour)))
    if isinstance(block, Context):
        lines = [line for part in block.parts for line in _rich_lines(part, flavour)]
        if flavour == "wecom":
            lines = [WECOM_SMALL_PRINT.format(line) for line in lines]
        return LINE_BREAK[flavour].join(lines)
    if isinstance(block, Divider):
        return DIVIDER
    if isinstance(block, Actions):
        return ""
    raise TypeError(f"unknown block {block!r}")


def _rich(rich: Rich, flavour: Flavour) -> str:
    return LINE_BREAK[flavour].join(_rich_lines(rich, flavour))


def _rich_lines(rich: Rich, flavour: Flavour) -> list[str]:
    """Each line of the rich text as markdown; empty lines are left out (a blank line would end the paragraph)."""
    return [line for parts in inline.lines(rich) if (line := _line(parts, flavour))]


def _line(parts: list[Inline], flavour: Flavour) -> str:
    """One line (bot.render.inline nests the markers, against the words: `** bold **` is not bold). The line never
    starts a block of its own: no leading spaces (an indented line is a code block to Markdown), and first words
    that would start one are guarded."""
    return inline.nest(_line_start_guarded(inline.marked(parts, STYLES[flavour]))).rstrip()


def _line_start_guarded(items: Iterable[tuple[Sequence[str], str]]) -> Iterator[tuple[Sequence[str], str]]:
    first = True
    for wanted, text in items:
        if first:
            text = text.lstrip()
            if not text:
                continue
            text = _guard_line_start(text)
            first = False
        yield wanted, text


def _guard_line_start(text: str) -> str:
    """A line's first words that would make it a heading, a quote, a list item or a table row: their first
    character as a look-alike."""
    match = LINE_START.match(text)
    if match is None:
        return text
    first = match.group(0)[0]
    if first.isdigit():  # "2023. " would be an ordered list: the dot (or parenthesis) is the marker
        end = match.end() - 1
        return text[:end] + ("．" if text[end] == "." else "）") + text[end + 1 :]
    return LINE_START_LOOK_ALIKES[first] + text[1:]


def _reference(part: Inline) -> str:
    """A person or a channel by the id the Message names: as text, never a mention (see the module's docstring)."""
    if isinstance(part, UserRef):
        return "@" + escape(part.user_id)
    if isinstance(part, ChannelRef):
        return "#" + escape(part.channel_id)
    raise TypeError(f"not a reference: {part!r}")


STYLES: dict[Flavour, inline.Style] = {
    flavour: inline.Style(escape, inline.marks_by_attribute(MARKS[flavour]), _reference) for flavour in FLAVOURS
}


# ---- splitting ---------------------------------------------------------------------------------------------------

MIN_LIMIT = 128  # room for a continuation marker, a line's prefix, its open markers and one character
# Markup that opens and closes on one line: bold, italic, code, and WeCom's font (never nested in what we write).
TOKEN = re.compile(r'\*\*|\*|`|<font color="[^"<>\n]{1,20}">|</font>', re.S)
ATOM = re.compile(TOKEN.pattern + "|.", re.S)
PREFIX = re.compile(r"^(?:#{1,6} |> )")


def marker(number: int, total: int) -> str:
    """The continuation marker that starts every part after the first."""
    return f"({number}/{total})"


def split_markdown(text: str, limit_bytes: int) -> list[str]:
    """`text` in parts of at most `limit_bytes` bytes of UTF-8 each, in order, each part after the first starting
    with its marker ("(2/3)" and a blank line). Cut between paragraphs where possible, else between lines; a line
    longer than a part is cut between characters, and any emphasis or font open at the cut is closed at the end of
    one part and opened again at the start of the next, so each part is well-formed on its own."""
    if limit_bytes < MIN_LIMIT:
        raise ValueError(f"a part of {limit_bytes} bytes is too small to split into (at least {MIN_LIMIT})")
    text = text.strip("\n")
    if not text.strip():
        return []
    if _size(text) <= limit_bytes:
        return [text]
    # Room for the largest marker the parts could need: a text of n bytes makes at most n parts.
    reserve = _size(marker(_size(text), _size(text))) + 2
    budget = limit_bytes - reserve
    parts: list[str] = []
    current = ""

    def add(piece: str, separator: str) -> bool:
        """`piece` appended to the current part if it fits there; False when it does not."""
        nonlocal current
        joined = current + separator + piece if current else piece
        if _size(joined) > budget:
            return False
        current = joined
        return True

    def flush() -> None:
        nonlocal current
        if TOKEN.sub("", current).strip():  # markup around nothing is left out
            parts.append(current.strip("\n"))
        current = ""

    for paragraph in text.split("\n\n"):
        if not paragraph.strip() or add(paragraph, "\n\n"):
            continue
        if _size(paragraph) <= budget:  # whole in a part of its own, rather than cut
            flush()
            current = paragraph
            continue
        for i, line in enumerate(paragraph.split("\n")):
            separator = "\n" if i else "\n\n"
            if add(line, separator):
                continue
            flush()
            if _size(line) <= budget:
                current = line
                continue
            pieces = _cut_line(line, budget)
            parts.extend(pieces[:-1])
            current = pieces[-1]
    flush()
    total = len(parts)
    return [part if number == 1 else f"{marker(number, total)}\n\n{part}" for number, part in enumerate(parts, 1)]


def _cut_line(line: str, budget: int) -> list[str]:
    """One line in pieces of at most `budget` bytes, between characters; a heading's or quote's prefix is repeated,
    and markup open at a cut is closed before it and opened again after it (markers that would end a piece are moved
    to the start of the next)."""
    found = PREFIX.match(line)
    prefix = found.group(0) if found else ""
    atoms = [match.group(0) for match in ATOM.finditer(line[len(prefix) :])]
    pieces: list[str] = []
    opened: list[str] = []  # open at the start of the current piece
    body: list[str] = []
    stacks: list[list[str]] = []  # what is open after each atom of `body`
    for atom in atoms:
        before = stacks[-1] if stacks else opened
        after = _push(before, atom)
        candidate = prefix + "".join(opened) + "".join(body) + atom + _closers(after)
        texts = [i for i, kept in enumerate(body) if not TOKEN.fullmatch(kept)]
        if _size(candidate) > budget and texts:
            last = texts[-1]
            if any(not body[i].isspace() for i in texts):  # markup around white space alone is left out
                pieces.append(prefix + "".join(opened) + "".join(body[: last + 1]) + _closers(stacks[last]))
            opened, body, stacks = stacks[last], body[last + 1 :], stacks[last + 1 :]
        body.append(atom)
        stacks.append(after)
    pieces.append(prefix + "".join(opened) + "".join(body) + _closers(stacks[-1] if stacks else opened))
    return pieces


def _push(stack: list[str], atom: str) -> list[str]:
    """The markup open after `atom`: a marker toggles its emphasis, a font opens (one at a time) and closes."""
    after = list(stack)
    if atom in ("**", "*", "`"):
        if atom in after:
            del after[after.index(atom) :]
        else:
            after.append(atom)
    elif atom.startswith("<font"):
        if not any(open_.startswith("<font") for open_ in after):
            after.append(atom)
    elif atom == "</font>":
        fonts = [i for i, open_ in enumerate(after) if open_.startswith("<font")]
        if fonts:
            del after[fonts[-1] :]
    return after


def _closers(stack: list[str]) -> str:
    return "".join("</font>" if open_.startswith("<font") else open_ for open_ in reversed(stack))


def _size(text: str) -> int:
    return len(text.encode("utf-8"))
