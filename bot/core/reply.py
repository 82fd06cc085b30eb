"""What a command answers, before it is worded: which template, with what, in which language, seen by whom."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.core.lang import Lang
from bot.core.message import Visibility


@dataclass
class Reply:
    template: str
    lang: Lang
    context: dict[str, Any] = field(default_factory=dict)
    visibility: Visibility = "ephemeral"


def notice(lang: Lang, key: str, *, example: str | None = None, **args: Any) -> Reply:
    """A short reply worded by the catalogue entry `key` (templates/_notices.j2) with `args`; `example` adds a
    command to try."""
    return Reply("notice", lang, {"key": key, "args": args, "example": example})
