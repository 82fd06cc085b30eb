"""Replies become Block Kit JSON and a plain-text fallback through Jinja2 templates (templates/<name>.json.j2 and
templates/<name>.txt.j2). Every string from data or users passes the mrkdwn escape, so no input can become a
mention, a channel ping or a disguised link; JSON is produced with tojson only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context

from bot import PROJECT_ROOT
from bot.core.lang import Lang

TEMPLATES_DIR = PROJECT_ROOT / "templates"

# Slack's documented Block Kit limits, enforced while rendering and checked again by check_blocks.
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_FIELDS = 10
MAX_BUTTON_VALUE = 2000
MAX_ACTION_ID = 255
MAX_BUTTON_TEXT = 75
MAX_MESSAGE_TEXT = 40000


from bot.core.reply import Reply  # noqa: E402


@dataclass(frozen=True)
class Rendered:
    blocks: list[dict[str, Any]]
    text: str
    response_type: str


_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def escape_mrkdwn(value: object, limit: int | None = None) -> str:
    """Escape &, < and > as Slack asks; with a limit, cut between characters so no entity is ever split."""
    text = str(value)
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if limit is None or len(escaped) <= limit:
        return escaped
    out: list[str] = []
    size = 0
    for char in text:
        piece = _ESCAPES.get(char, char)
        if size + len(piece) > limit - 1:
            break
        out.append(piece)
        size += len(piece)
    return "".join(out) + "…"


def clip(value: object, limit: int) -> str:
    """Cut to `limit` characters with an ellipsis, never inside an escape such as &amp;."""
    text = str(value)
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    amp = cut.rfind("&", max(len(cut) - 5, 0))
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


_QUALIFIERS = {
    "about": ("约", "about"),
    "over": ("超过", "over"),
    "nearly": ("近", "nearly"),
    "up_to": ("高达", "up to"),
    "at_least": ("至少", "at least"),
}


def _number(value: str | Decimal | None) -> str:
    if value is None:
        return ""
    number = Decimal(str(value))
    text = f"{number:,f}" if abs(number) >= 10000 else f"{number:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def figure(metric: Any, lang: Lang) -> str:
    """A metric's value as a reader says it: 约50%, 1.27万亿元, over 73 million jobs."""
    display = getattr(metric, f"display_{lang}")
    if display:
        return str(display)
    qualifier = _QUALIFIERS.get(metric.qualifier or "", ("", ""))
    if lang == "zh":
        return f"{qualifier[0]}{_number(metric.value)}{metric.unit_zh}"
    number = _number(metric.value_en if metric.value_en is not None else metric.value)
    unit = metric.unit_en or ""
    joined = number + unit if unit.startswith("%") or not unit else f"{number} {unit}"
    return f"{qualifier[1]} {joined}".strip()


SLACK_ID = re.compile(r"^[UWB][A-Z0-9]{1,30}$")


@pass_context
def mention(context: Context, user_id: object) -> str:
    """<@U123> for a real Slack user id in Slack (the id itself in a terminal); anything else as escaped text."""
    text = str(user_id)
    if not context.get("for_slack", True):
        return text[:40]
    return f"<@{text}>" if SLACK_ID.match(text) else escape_mrkdwn(text, 40)


CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{1,30}$")


def channel_link(channel_id: object) -> str:
    """<#C123> for a real channel id; anything else as escaped text."""
    text = str(channel_id)
    return f"<#{text}>" if CHANNEL_ID.match(text) else escape_mrkdwn(text, 40)


@pass_context
def _tr(context: Context, zh: str, en: str) -> str:
    return zh if context["lang"] == "zh" else en


@pass_context
def _field(context: Context, obj: Any, name: str) -> Any:
    """obj.<name>_zh or obj.<name>_en by the reply's language."""
    return getattr(obj, f"{name}_{context['lang']}")


@pass_context
def _esc(context: Context, value: object, limit: int | None = None) -> str:
    # Plain text for a terminal is shown as is; anything bound for Slack is escaped.
    if context.get("for_slack", True):
        return escape_mrkdwn(value, limit)
    return clip(value, limit) if limit else str(value)


def make_environment(templates_dir: Path = TEMPLATES_DIR) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(templates_dir)),
        undefined=StrictUndefined,
        autoescape=False,  # noqa: S701 - the output is JSON and mrkdwn, not HTML: see the mrkdwn filter
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        extensions=["jinja2.ext.do"],
        auto_reload=False,  # templates ship with the code: no stat() of the file on every render
    )
    env.filters.update(mrkdwn=_esc, clip=clip, figure=figure, mention=mention, channel=channel_link)
    env.globals.update(tr=_tr, field=_field, MAX_SECTION_TEXT=MAX_SECTION_TEXT, MAX_HEADER_TEXT=MAX_HEADER_TEXT)
    env.policies["json.dumps_kwargs"] = {"ensure_ascii": False, "sort_keys": False}
    return env


class Renderer:
    def __init__(self, env: Environment | None = None) -> None:
        self.env = env or make_environment()

    def render(self, reply: Reply, *, for_slack: bool = True) -> Rendered:
        if reply.context.get("both"):
            # Bilingual: the Chinese version (with the header) then the English one (with the buttons).
            first = self._render(reply, "zh", "first", for_slack)
            last = self._render(reply, "en", "last", for_slack)
            text = clip(first.text + "\n\n" + last.text, MAX_MESSAGE_TEXT)
            return Rendered([*first.blocks, {"type": "divider"}, *last.blocks], text, reply.visibility)
        return self._render(reply, reply.lang, "whole", for_slack)

    def view(self, template: str, context: dict[str, Any]) -> dict[str, Any]:
        """A modal (views.open): one JSON object from templates/<template>.json.j2, escaped like any message."""
        view: dict[str, Any] = json.loads(
            self.env.get_template(f"{template}.json.j2").render({**context, "lang": "en", "for_slack": True})
        )
        return view

    def _render(self, reply: Reply, lang: Lang, part: str, for_slack: bool) -> Rendered:
        context = {**reply.context, "lang": lang, "part": part, "for_slack": True}
        blocks = json.loads(self.env.get_template(f"{reply.template}.json.j2").render(context))
        text_context = {**context, "for_slack": for_slack}
        text = self.env.get_template(f"{reply.template}.txt.j2").render(text_context).strip()
        return Rendered(blocks=blocks, text=clip(text, MAX_MESSAGE_TEXT), response_type=reply.visibility)




def check_blocks(blocks: list[dict[str, Any]]) -> list[str]:
    """Every way `blocks` breaks a Block Kit limit (empty when Slack would accept them)."""
    problems: list[str] = []
    if not blocks:
        problems.append("no blocks")
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks")
    for i, block in enumerate(blocks):
        kind = block.get("type")
        text = block.get("text", {})
        if kind == "header" and len(text.get("text", "")) > MAX_HEADER_TEXT:
            problems.append(f"block {i}: header too long")
        if kind == "section":
            if len(text.get("text", "")) > MAX_SECTION_TEXT:
                problems.append(f"block {i}: section text too long")
            if not text.get("text", "").strip() and not block.get("fields"):
                problems.append(f"block {i}: empty section")
            if len(block.get("fields", [])) > MAX_FIELDS:
                problems.append(f"block {i}: too many fields")
        if kind == "context" and not 0 < len(block.get("elements", [])) <= MAX_CONTEXT_ELEMENTS:
            problems.append(f"block {i}: context elements")
        for element in block.get("elements", []) if kind == "actions" else []:
            if len(element.get("value", "")) > MAX_BUTTON_VALUE:
                problems.append(f"block {i}: button value too long")
            if len(element.get("action_id", "")) > MAX_ACTION_ID:
                problems.append(f"block {i}: action_id too long")
            if len(element.get("text", {}).get("text", "")) > MAX_BUTTON_TEXT:
                problems.append(f"block {i}: button text too long")
    return problems
