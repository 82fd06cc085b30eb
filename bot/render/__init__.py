"""Replies become Messages: templates/<name>.j2 writes a small markup (bot.render.markup) that is parsed into the
platform-neutral document of bot.core.message; bot.slack.blocks and bot.render.text render that document.

The Jinja environment autoescapes: every value from data or users is escaped into the markup, so no input can add
a block, a button, a mention or a link. Escaping for Slack happens later, by destination (bot.slack.blocks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from bot import PROJECT_ROOT
from bot.core.figures import change, figure, figure_after, figure_before
from bot.core.lang import Lang
from bot.core.message import Block, Divider, Message
from bot.core.reply import Reply, notice
from bot.render.markup import MarkupError, parse
from bot.render.text import plain_text

__all__ = ["TEMPLATES_DIR", "Form", "MarkupError", "Renderer", "clip", "make_environment"]

TEMPLATES_DIR = PROJECT_ROOT / "templates"


def clip(value: object, limit: int) -> str:
    """Data cut to `limit` characters with an ellipsis (a summary in a list, a long title). Only for data: cutting
    markup could cut a tag in half, so a macro's output is refused."""
    if isinstance(value, Markup):
        raise TypeError("clip data, not markup (a macro's output)")
    text = str(value)
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


@pass_context
def _tr(context: Context, zh: Any, en: Any) -> Any:
    """The reply language's wording. Data stays data (escaped when printed); wording with tags is written in
    {% if lang == 'zh' %} ... {% else %} ... {% endif %} instead."""
    return zh if context["lang"] == "zh" else en


@pass_context
def _field(context: Context, obj: Any, name: str) -> Any:
    """obj.<name>_zh or obj.<name>_en by the reply's language."""
    return getattr(obj, f"{name}_{context['lang']}")


def make_environment(templates_dir: Path = TEMPLATES_DIR) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(templates_dir)),
        undefined=StrictUndefined,
        autoescape=True,
        # A line that holds only a {% tag %} leaves nothing behind: rich text keeps the line breaks it writes.
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.do"],
        auto_reload=False,  # templates ship with the code: no stat() of the file on every render
    )
    env.filters.update(clip=clip, figure=figure)
    env.globals.update(
        tr=_tr, field=_field, figure_before=figure_before, figure_after=figure_after, figure_change=change
    )
    return env


@dataclass(frozen=True)
class Form:
    """A modal's words: the message its template writes, and the values it sets ({% set title = ... %}), as plain
    text (a modal's labels are plain_text, never entity-escaped)."""

    message: Message
    words: dict[str, Any]


class Renderer:
    def __init__(self, env: Environment | None = None) -> None:
        self.env = env or make_environment()

    def message(self, reply: Reply) -> Message:
        if reply.context.get("both"):
            # Bilingual: the Chinese version (with the header) then the English one (with the buttons and source).
            first = self._blocks(reply, "zh", "first")
            last = self._blocks(reply, "en", "last")
            return Message([*first, Divider(), *last], reply.visibility)
        return Message(self._blocks(reply, reply.lang, "whole"), reply.visibility)

    def words(self, lang: Lang, key: str, **args: Any) -> str:
        """A catalogue entry (templates/_notices.j2) as plain text: an error shown under a form's field."""
        return plain_text(self.message(notice(lang, key, **args)))

    def form(self, template: str, context: Mapping[str, Any], lang: Lang = "en") -> Form:
        module = self.env.get_template(f"{template}.j2").make_module({**context, "lang": lang})
        words = {name: _unescaped(value) for name, value in vars(module).items() if not name.startswith("_")}
        return Form(Message(parse(str(module))), words)

    def page(self, template: str, **context: Any) -> str:
        """An HTML page (the install page, templates/install.html.j2), escaped as HTML."""
        return self.env.get_template(template).render(**context)

    def _blocks(self, reply: Reply, lang: Lang, part: str) -> list[Block]:
        markup = self.env.get_template(f"{reply.template}.j2").render({**reply.context, "lang": lang, "part": part})
        try:
            return parse(markup)
        except MarkupError as error:
            raise MarkupError(f"templates/{reply.template}.j2: {error}") from error


def _unescaped(value: Any) -> Any:
    if isinstance(value, Markup):
        return value.unescape()
    if isinstance(value, list | tuple):
        return type(value)(_unescaped(item) for item in value)
    return value
