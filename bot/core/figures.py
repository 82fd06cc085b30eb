"""How the report's figures read, in one place: 约50%, 1.27万亿元, over 73 million jobs, 全球第二; and what they are as
numbers (1.27万亿元 is 1,270,000,000,000 元) for a spreadsheet or a change between two editions.

A figure is stored as the report writes it: `value` with the Chinese unit and its scale (7300 万个), and, when English
scales it differently, `value_en` with the English unit (73 million jobs); a `qualifier` (over, about...) and a
`display` wording that reads better than value and unit (全球第二). Metrics and their observations carry the same
fields, so everything here takes either.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from bot.core.lang import Lang

QUALIFIERS = {
    "about": ("约", "about"),
    "over": ("超过", "over"),
    "nearly": ("近", "nearly"),
    "up_to": ("高达", "up to"),
    "at_least": ("至少", "at least"),
}
FIGURE_FIELDS = ("value", "value_en", "unit_zh", "unit_en", "qualifier", "display_zh", "display_en")
# Scale words at the start of a unit, longest first: 万亿元 is 10^12 元, "trillion yuan" 10^12 yuan.
ZH_SCALES = (("万亿", 10**12), ("亿", 10**8), ("万", 10**4), ("千", 10**3))
EN_SCALES = (("trillion", 10**12), ("billion", 10**9), ("million", 10**6), ("thousand", 10**3))


class FigureLike(Protocol):
    value: Any
    value_en: Any
    unit_zh: str
    unit_en: str
    qualifier: str | None
    display_zh: str | None
    display_en: str | None


@dataclass(frozen=True)
class Figure:
    value: str | None
    value_en: str | None = None
    unit_zh: str = ""
    unit_en: str = ""
    qualifier: str | None = None
    display_zh: str | None = None
    display_en: str | None = None


def figure_of(item: FigureLike) -> Figure:
    return Figure(**{name: _text(getattr(item, name)) for name in FIGURE_FIELDS})


def _text(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def number(value: str | Decimal | None) -> str:
    """1270000 -> "1,270,000"; 9.990 -> "9.99"."""
    if value is None:
        return ""
    amount = Decimal(str(value))
    text = f"{amount:,f}" if abs(amount) >= 10000 else f"{amount:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def figure(item: FigureLike, lang: Lang) -> str:
    """A figure as a reader says it, in `lang`: 约50%, 1.27万亿元, over 73 million jobs, 2nd in the world."""
    display = getattr(item, f"display_{lang}")
    if display:
        return str(display)
    qualifier = QUALIFIERS.get(item.qualifier or "", ("", ""))
    if lang == "zh":
        return f"{qualifier[0]}{number(item.value)}{item.unit_zh}"
    amount = number(item.value_en if item.value_en is not None else item.value)
    return f"{qualifier[1]} {_with_unit(amount, item.unit_en or '')}".strip()


def _with_unit(amount: str, unit: str) -> str:
    return amount + unit if unit.startswith("%") or not unit else f"{amount} {unit}"


def _split(unit: str, scales: tuple[tuple[str, int], ...]) -> tuple[int, str]:
    """(multiplier, unit without its scale word): "万亿元" -> (10^12, "元"), "million jobs" -> (10^6, "jobs")."""
    for word, multiplier in scales:
        if unit.startswith(word):
            return multiplier, unit[len(word) :].strip()
    return 1, unit


def base(item: FigureLike) -> tuple[Decimal | None, str, str]:
    """The figure in base units, for computing with it: (1270000000000, "元", "yuan") for 1.27万亿元; (None, ...)
    when the value is not a number."""
    multiplier, unit_zh = _split(item.unit_zh or "", ZH_SCALES)
    _, unit_en = _split(item.unit_en or "", EN_SCALES)
    try:
        amount = Decimal(str(item.value)) * multiplier
    except (InvalidOperation, TypeError):
        return None, unit_zh, unit_en
    # 9.99 x 10^12 exactly, written out (never 9.99E+12), so a spreadsheet reads it as the number it is.
    return (amount.quantize(Decimal(1)) if amount == amount.to_integral() else amount.normalize()), unit_zh, unit_en


def change(old: FigureLike, new: FigureLike, lang: Lang) -> str | None:
    """The change from `old` to `new` in `lang`, in the new figure's own scale and unit: "+2.51万亿元 (+25.1%)",
    "+2.51 trillion yuan (+25.1%)". None when the two are not the same kind of number (another unit, no number)."""
    (before, unit_zh, unit_en), (after, new_zh, new_en) = base(old), base(new)
    if before is None or after is None or (unit_zh, unit_en) != (new_zh, new_en):
        return None
    difference = after - before
    if lang == "zh":
        multiplier, _ = _split(new.unit_zh or "", ZH_SCALES)
        amount = f"{_signed(difference / multiplier)}{new.unit_zh}"
    else:
        multiplier, _ = _split(new.unit_en or "", EN_SCALES)
        amount = _with_unit(_signed(difference / multiplier), new.unit_en or "")
    relative = f" ({difference / before * 100:+.1f}%)" if before else ""
    return amount + relative


def _signed(amount: Decimal) -> str:
    return ("+" if amount >= 0 else "-") + number(abs(amount))


def figure_before(item: FigureLike, events: Iterable[Any]) -> Figure | None:
    """What `item`'s figure was before `events` (a run of its change events, oldest first), or None when they did
    not change it: the item's figure with each changed field put back to its first old value."""
    old: dict[str, Any] = {}
    for event in events:
        if event.field in FIGURE_FIELDS and event.field not in old:
            old[event.field] = event.old_value
    return replace(figure_of(item), **old) if old else None


def figure_after(item: FigureLike, events: Iterable[Any]) -> Figure | None:
    """What `item`'s figure became after `events`, or None when they did not change it (see figure_before)."""
    new: dict[str, Any] = {}
    for event in events:
        if event.field in FIGURE_FIELDS:
            new[event.field] = event.new_value
    return replace(figure_of(item), **new) if new else None
