"""How a figure reads: 约50%, 1.27万亿元, over 73 million jobs (a template filter)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.core.lang import Lang

QUALIFIERS = {
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
    qualifier = QUALIFIERS.get(metric.qualifier or "", ("", ""))
    if lang == "zh":
        return f"{qualifier[0]}{_number(metric.value)}{metric.unit_zh}"
    number = _number(metric.value_en if metric.value_en is not None else metric.value)
    unit = metric.unit_en or ""
    joined = number + unit if unit.startswith("%") or not unit else f"{number} {unit}"
    return f"{qualifier[1]} {joined}".strip()
