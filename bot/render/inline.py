"""Rich text (bot.core.message.Rich) as a chat platform's inline markup: the algorithm every renderer shares, given
what differs by platform (a `Style`: how text is escaped, which markers an emphasis gets, how a person or a channel is
written).

- `lines`: the parts of each line; emphasis never runs across a line break.
- `nest`: markers that open and close only where emphasis changes, properly nested, against the words (`* bold *` is
  not bold anywhere): spaces at a change go outside the markers.
- `write` and `line`: rich text (a line of it) as markup.
- `chunks`: markup in pieces under a character limit, cut between lines, inside a line only between pieces of text,
  never inside an escape, a marker pair or a mention.
- `fitted` and `cut`: markup shortened in the text itself (never in the markup), with an ellipsis.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from bot.core.message import Inline, Rich, Span


@dataclass(frozen=True)
class Style:
    """What a platform's markup writes: `escape` for text, `marks` for a span's markers (outermost first),
    `reference` for a UserRef or a ChannelRef."""

    escape: Callable[[str], str]
    marks: Callable[[Span], Sequence[str]]
    reference: Callable[[Inline], str]


def marks_by_attribute(pairs: Sequence[tuple[str, str]]) -> Callable[[Span], list[str]]:
    """`marks` from (Span attribute, marker) pairs, outermost first: an attribute with no pair is written plain."""

    def marks(span: Span) -> list[str]:
        return [mark for name, mark in pairs if getattr(span, name)]

    return marks


def lines(rich: Rich) -> list[list[Inline]]:
    """The parts of each line: emphasis never runs across a line break."""
    found: list[list[Inline]] = [[]]
    for part in rich.parts:
        if not isinstance(part, Span):
            found[-1].append(part)
            continue
        for i, text in enumerate(part.text.split("\n")):
            if i:
                found.append([])
            if text:
                found[-1].append(Span(text, part.bold, part.italic, part.code))
    return found


def marked(parts: Iterable[Inline], style: Style) -> Iterator[tuple[Sequence[str], str]]:
    """Each part as its markers and its text, escaped (a reference as the style writes it, with no markers)."""
    for part in parts:
        if isinstance(part, Span):
            yield style.marks(part), style.escape(part.text)
        else:
            yield [], style.reference(part)


def nest(items: Iterable[tuple[Sequence[str], str]]) -> str:
    """Texts with their markers (outermost first) as one line: markers open and close only where emphasis changes,
    and sit against the words: spaces at a change go outside the markers."""
    out: list[str] = []
    active: Sequence[str] = []  # markers open, outermost first
    pending = ""  # spaces waiting to learn which side of a marker they go
    for wanted, text in items:
        if not text.strip():
            pending += text
            continue
        keep = 0
        while keep < min(len(active), len(wanted)) and active[keep] == wanted[keep]:
            keep += 1
        if keep == len(active) == len(wanted):  # no change: spaces stay where they are
            out.append(pending + text.rstrip())
        else:
            out.extend(reversed(active[keep:]))
            stripped = text.lstrip()
            out.append(pending + text[: len(text) - len(stripped)])
            out.extend(wanted[keep:])
            out.append(stripped.rstrip())
        active = wanted
        pending = text[len(text.rstrip()) :]
    out.extend(reversed(active))
    out.append(pending)
    return "".join(out)


def line(parts: list[Inline], style: Style) -> str:
    """One line of markup; a line of plain text alone (the usual one) is escaped whole."""
    if all(type(part) is Span and not (part.bold or part.italic or part.code) for part in parts):
        return style.escape("".join(part.text for part in parts))  # type: ignore[union-attr]
    return nest(marked(parts, style))


@functools.lru_cache(maxsize=8192)
def write(rich: Rich, style: Style) -> str:
    """Rich text as markup. Remembered: the blocks and the fallback text need the same sections, and digests repeat
    items."""
    return "\n".join(line(parts, style) for parts in lines(rich))


def chunks(rich: Rich, limit: int, style: Style, *, piece: int, reference_size: int) -> list[str]:
    """Markup in chunks of at most `limit` characters, cut between lines (inside a line only when the line alone is
    longer, and then between pieces of at most `piece` characters of text, a reference counting `reference_size`:
    never inside an escape, a marker pair or a mention)."""
    whole = write(rich, style)
    if len(whole) <= limit:
        return [whole]
    found: list[str] = []
    current = ""
    for parts in lines(rich):
        for i, text in enumerate(pieces(parts, style, piece=piece, reference_size=reference_size)):
            separator = "\n" if i == 0 and current else ""
            if len(current) + len(separator) + len(text) > limit:
                found.append(current)
                current, separator = "", ""
            current += separator + text
    found.append(current)
    return [chunk.strip("\n") for chunk in found if chunk.strip()]


def pieces(parts: list[Inline], style: Style, *, piece: int, reference_size: int) -> list[str]:
    """A line as markup, in pieces of at most `piece` characters of text each (a reference counts
    `reference_size`)."""
    found: list[list[Inline]] = [[]]
    size = 0
    for part in parts:
        if isinstance(part, Span):
            cuts: list[Inline] = [
                Span(part.text[i : i + piece], part.bold, part.italic, part.code)
                for i in range(0, len(part.text), piece)
            ]
        else:
            cuts = [part]
        for cut_ in cuts:
            length = len(cut_.text) if isinstance(cut_, Span) else reference_size
            if size + length > piece and found[-1]:
                found.append([])
                size = 0
            found[-1].append(cut_)
            size += length
    return [line(each, style) for each in found]


def fitted(rich: Rich, limit: int, style: Style, shrink: Callable[[int], int]) -> str:
    """Rich text as markup of at most `limit` characters where it can be, shortened in the text itself (never in the
    markup), so a cut leaves no half of a marker pair, an escape or a mention: those are whole or left out. While the
    markup is `over` characters too long, the text is shortened by `shrink(over)` more and written again."""
    text = write(rich, style)
    budget = len(rich.plain())
    while len(text) > limit and budget > 0:
        budget -= shrink(len(text) - limit)
        text = write(cut(rich, budget), style)
    return text


def cut(rich: Rich, budget: int) -> Rich:
    """The first `budget` characters of the text, then an ellipsis; a mention either fits whole or is dropped."""
    kept: list[Inline] = []
    for part in rich.parts:
        size = len(part.text) if isinstance(part, Span) else len(Rich((part,)).plain())
        if size <= budget:
            kept.append(part)
            budget -= size
            continue
        if isinstance(part, Span) and budget > 0:
            kept.append(Span(part.text[:budget], part.bold, part.italic, part.code))
        break
    return Rich((*kept, Span("…")))
