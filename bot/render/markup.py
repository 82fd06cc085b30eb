"""The markup templates write, parsed into a Message (bot.core.message).

Templates run with autoescape on, so every value from data or users arrives here escaped (&lt; &amp; ...) and can
only ever be text; the tags come from the templates alone. The parser (the standard library's html.parser) turns
the escapes back into the characters they stand for: the Message holds text as typed, and each renderer escapes it
for where it lands.

    <header>plain text</header>
    <section>rich</section>                    a paragraph; may hold one <button> (shown beside it)
    <fields><f>rich</f> ...</fields>           short pairs side by side
    <context>rich</context>                    small print; or several parts: <context><p>rich</p><p>rich</p></context>
    <divider/>
    <actions id="reply_actions"><button ...>label</button> ...</actions>

    rich text:  <b>bold</b> <i>italic</i> <code>code</code> <user id="U1"/> <channel id="C1"/>
    buttons:    <button ask="share|more|open|reply" t="command text" o="0" l="en">label</button>
                <button track="policy:ITEM_ID">label</button>
                <button channel="manage|unsubscribe" style="danger">label</button>

Whitespace: rich text keeps its line breaks and spaces as written ("\n" is a line break), so templates use
trim_blocks and lstrip_blocks (a line holding only a {% tag %} leaves nothing) and each rich text is trimmed at both
ends. Headers and button labels are one line: their whitespace runs become one space. Between blocks only
whitespace is allowed. An empty block (a section, header or context with no text) is left out: Slack refuses them.
Anything else (an unknown tag or attribute, text outside a block, a tag where it does not belong, a comment) is a
template bug and raises MarkupError.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from bot.core.kinds import Kind
from bot.core.message import (
    Action,
    Actions,
    AskAgain,
    Block,
    Button,
    ChannelCommand,
    ChannelRef,
    Context,
    Divider,
    Fields,
    Header,
    Inline,
    Rich,
    Section,
    Span,
    TrackItem,
    UserRef,
)


class MarkupError(ValueError):
    """A template wrote markup this parser does not know: a bug in the template, never in the data."""


INLINE = {"b", "i", "code"}
VOID = {"divider", "user", "channel"}
# Where each tag may appear: the tag of its parent (None: at the top).
PARENTS: dict[str, set[str | None]] = {
    "header": {None},
    "section": {None},
    "fields": {None},
    "context": {None},
    "actions": {None},
    "divider": {None},
    "f": {"fields"},
    "p": {"context"},
    "button": {"section", "actions"},
    **{tag: {"section", "f", "p", "context", *INLINE} for tag in (*INLINE, "user", "channel")},
}
ATTRIBUTES: dict[str, set[str]] = {
    "actions": {"id"},
    "user": {"id"},
    "channel": {"id"},
    "button": {"ask", "t", "o", "l", "track", "channel", "style"},
}
RICH = {"section", "f", "p", "context"}  # the tags whose text is rich


@dataclass
class _Open:
    """A tag being parsed, with what it has collected so far."""

    tag: str
    attrs: dict[str, str]
    parts: list[Inline] = field(default_factory=list)  # rich text
    text: list[str] = field(default_factory=list)  # plain text (header, button)
    children: list[Rich] = field(default_factory=list)  # <f> and <p>
    buttons: list[Button] = field(default_factory=list)


# The markup is written by our templates alone (every value in it is escaped), so one regular expression reads it:
# a tag with its attributes, or anything else that starts with "<" (a comment, a stray "<"), which is a bug.
TOKEN = re.compile(r'<(/?)([a-z]+)((?:\s+[a-z]+="[^"<>]*")*)\s*(/?)>|<')
ATTRIBUTE = re.compile(r'([a-z]+)="([^"]*)"')


class _Parser:
    """Reads markup tag by tag (much faster than html.parser, which the answer path would pay for on every reply)."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.stack: list[_Open] = []

    # ---- tags ----

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID:
            raise MarkupError(f"<{tag}> is written <{tag}/>")
        self._open(tag, attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            raise MarkupError(f"<{tag}/> cannot be empty")
        self._open(tag, attrs)
        self.handle_endtag(tag)

    def _open(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in PARENTS:
            raise MarkupError(f"unknown tag <{tag}>")
        parent = self.stack[-1].tag if self.stack else None
        if parent not in PARENTS[tag]:
            raise MarkupError(f"<{tag}> cannot be inside <{parent}>" if parent else f"<{tag}> must be inside a block")
        values = {name: value or "" for name, value in attrs}
        unknown = set(values) - ATTRIBUTES.get(tag, set())
        if unknown:
            raise MarkupError(f"<{tag}> has no attribute {', '.join(sorted(unknown))}")
        self.stack.append(_Open(tag, values))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1].tag != tag:
            raise MarkupError(f"</{tag}> closes nothing open")
        node = self.stack.pop()
        parent = self.stack[-1] if self.stack else None
        if tag in INLINE:
            assert parent is not None
            parent.parts.extend(_styled(part, tag) for part in node.parts)
        elif tag == "user":
            assert parent is not None
            parent.parts.append(UserRef(node.attrs.get("id", "")))
        elif tag == "channel":
            assert parent is not None
            parent.parts.append(ChannelRef(node.attrs.get("id", "")))
        elif tag in ("f", "p"):
            assert parent is not None
            if node.parts:
                parent.children.append(_rich(node.parts))
        elif tag == "button":
            assert parent is not None
            if parent.tag == "section" and parent.buttons:
                raise MarkupError("a section holds one button")
            parent.buttons.append(_button(node.attrs, _line(node.text)))
        else:
            self._block(node)

    def _block(self, node: _Open) -> None:
        block: Block | None = None
        if node.tag == "header":
            text = _line(node.text)
            block = Header(text) if text else None
        elif node.tag == "section":
            rich = _rich(node.parts)
            button = node.buttons[0] if node.buttons else None
            block = Section(rich, button) if rich.parts else None  # a button alone says nothing
        elif node.tag == "fields":
            block = Fields(tuple(node.children)) if node.children else None
        elif node.tag == "context":
            if node.children and _rich(node.parts).parts:
                raise MarkupError("<context> holds either <p> parts or text, not both")
            parts = tuple(node.children) if node.children else (_rich(node.parts),)
            block = Context(tuple(part for part in parts if part.parts)) if any(p.parts for p in parts) else None
        elif node.tag == "divider":
            block = Divider()
        elif node.tag == "actions":
            block = Actions(tuple(node.buttons), node.attrs.get("id") or None) if node.buttons else None
        if block is not None:
            self.blocks.append(block)

    # ---- text ----

    def handle_data(self, data: str) -> None:
        node = self.stack[-1] if self.stack else None
        if node is None or node.tag in ("fields", "actions") or (node.tag == "context" and node.children):
            if data.strip():
                where = f"<{node.tag}>" if node else "between blocks"
                raise MarkupError(f"text {data.strip()[:40]!r} {where}")
            return
        if node.tag in ("header", "button"):
            node.text.append(data)
        else:
            node.parts.append(Span(data))

    def feed(self, markup: str) -> None:
        at = 0
        for token in TOKEN.finditer(markup):
            if token.start() > at:
                self.handle_data(html.unescape(markup[at : token.start()]))
            at = token.end()
            closing, tag, attributes, empty = token.groups()
            if tag is None:
                rest = markup[token.start() : token.start() + 20]
                if rest.startswith("<!--"):
                    raise MarkupError("an HTML comment in a template: use {# ... #}")
                raise MarkupError(f"not a tag: {rest!r}")
            attrs: list[tuple[str, str | None]] = [
                (name, html.unescape(value)) for name, value in ATTRIBUTE.findall(attributes)
            ]
            if closing:
                self.handle_endtag(tag)
            elif empty:
                self.handle_startendtag(tag, attrs)
            else:
                self.handle_starttag(tag, attrs)
        if at < len(markup):
            self.handle_data(html.unescape(markup[at:]))


def parse(markup: str) -> list[Block]:
    parser = _Parser()
    parser.feed(markup)
    if parser.stack:
        raise MarkupError(f"<{parser.stack[-1].tag}> is never closed")
    return parser.blocks


def _styled(part: Inline, tag: str) -> Inline:
    if not isinstance(part, Span):
        return part  # a mention keeps no emphasis
    name = {"b": "bold", "i": "italic", "code": "code"}[tag]
    return Span(
        part.text,
        bold=part.bold or name == "bold",
        italic=part.italic or name == "italic",
        code=part.code or name == "code",
    )


def _rich(parts: list[Inline]) -> Rich:
    """Adjacent text with the same emphasis as one span, trimmed at both ends, empty spans left out."""
    merged: list[Inline] = []
    for part in parts:
        last = merged[-1] if merged else None
        if isinstance(part, Span) and isinstance(last, Span) and _style(part) == _style(last):
            merged[-1] = Span(last.text + part.text, last.bold, last.italic, last.code)
        else:
            merged.append(part)
    while merged and isinstance(merged[0], Span) and not merged[0].text.strip():
        merged.pop(0)
    while merged and isinstance(merged[-1], Span) and not merged[-1].text.strip():
        merged.pop()
    if merged and isinstance(merged[0], Span):
        first = merged[0]
        merged[0] = Span(first.text.lstrip(), first.bold, first.italic, first.code)
    if merged and isinstance(merged[-1], Span):
        last = merged[-1]
        merged[-1] = Span(last.text.rstrip(), last.bold, last.italic, last.code)
    return Rich(tuple(part for part in merged if not isinstance(part, Span) or part.text))


def _style(span: Span) -> tuple[bool, bool, bool]:
    return span.bold, span.italic, span.code


def _line(text: list[str]) -> str:
    return " ".join("".join(text).split())


ASK = {"share", "more", "open", "reply"}
KINDS = frozenset(kind.value for kind in Kind)  # iterating an Enum is slow: once, not per button
CHANNEL_COMMANDS = {"manage", "unsubscribe"}


def _button(attrs: dict[str, str], label: str) -> Button:
    kinds = [name for name in ("ask", "track", "channel") if name in attrs]
    if len(kinds) != 1:
        raise MarkupError("a button has exactly one of ask=, track=, channel=")
    style = attrs.get("style")
    if style not in (None, "primary", "danger"):
        raise MarkupError(f"button style {style!r}")
    if not label:
        raise MarkupError("a button needs a label")
    action: Action
    if "ask" in attrs:
        how, lang = attrs["ask"], attrs.get("l")
        if how not in ASK or lang not in ("zh", "en") or "t" not in attrs or not attrs.get("o", "").isdigit():
            raise MarkupError(f"<button ask=...> needs ask in {sorted(ASK)}, t=, o= (a number) and l= (zh or en)")
        action = AskAgain(cast(Any, how), attrs["t"], int(attrs["o"]), cast(Any, lang))
    elif "track" in attrs:
        kind, _, item_id = attrs["track"].partition(":")
        if kind not in KINDS or not item_id:
            raise MarkupError(f"<button track=...> is KIND:ID, not {attrs['track']!r}")
        action = TrackItem(Kind(kind), item_id)
    else:
        if attrs["channel"] not in CHANNEL_COMMANDS:
            raise MarkupError(f"<button channel=...> is one of {sorted(CHANNEL_COMMANDS)}")
        action = ChannelCommand(cast(Literal["manage", "unsubscribe"], attrs["channel"]))
    return Button(label, action, cast(Literal["primary", "danger"] | None, style))
