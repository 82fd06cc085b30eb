"""One way to word a figure everywhere, and its number in base units."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from bot.core.figures import EN_SCALES, Figure, base, change, figure, figure_after, figure_before

DATA = Path(__file__).parents[2] / "data"


def fig(**fields: object) -> Figure:
    return Figure(**{"value": "1", **fields})  # type: ignore[arg-type]


def test_a_figure_reads_as_the_report_words_it() -> None:
    jobs = fig(value="7300", value_en="73", unit_zh="万个", unit_en="million jobs", qualifier="over")
    assert (figure(jobs, "zh"), figure(jobs, "en")) == ("超过7300万个", "over 73 million jobs")
    assert figure(fig(value="30", unit_zh="%", unit_en="%", qualifier="up_to"), "zh") == "高达30%"
    assert figure(fig(value="2", display_zh="全球第二", display_en="2nd in the world"), "en") == "2nd in the world"
    assert figure(fig(value="3", unit_zh="个", unit_en="models"), "en") == "3 models"


def test_base_units_for_a_spreadsheet() -> None:
    sales = fig(value="1.27", unit_zh="万亿元", unit_en="trillion yuan")
    assert base(sales) == (Decimal("1270000000000"), "元", "yuan")
    assert str(base(sales)[0]) == "1270000000000"
    assert base(fig(value="84.24", unit_zh="%", unit_en="%")) == (Decimal("84.24"), "%", "%")


def test_a_change_is_worded_in_the_new_figure_s_scale() -> None:
    old, new = (
        fig(value="9.99", unit_zh="万亿元", unit_en="trillion yuan"),
        fig(value="12.5", unit_zh="万亿元", unit_en="trillion yuan"),
    )
    assert change(old, new, "zh") == "+2.51万亿元 (+25.1%)"
    assert change(old, new, "en") == "+2.51 trillion yuan (+25.1%)"
    assert change(old, fig(value="3", unit_zh="个", unit_en="platforms"), "en") is None  # not the same kind of number


def test_before_and_after_a_run_of_events() -> None:
    item = fig(value="12.5", unit_zh="万亿元", unit_en="trillion yuan")
    events = [
        SimpleNamespace(field="value", old_value="9.99", new_value="12.5"),
        SimpleNamespace(field="note", old_value=None, new_value="x"),
    ]
    assert figure(figure_before(item, events), "zh") == "9.99万亿元"  # type: ignore[arg-type]
    assert figure(figure_after(item, events), "zh") == "12.5万亿元"  # type: ignore[arg-type]
    assert figure_before(item, events[1:]) is None


def _metrics() -> list[dict[str, object]]:
    return list(yaml.safe_load((DATA / "metrics.yaml").read_text(encoding="utf-8"))["metrics"])


@pytest.mark.parametrize("metric", _metrics(), ids=lambda m: str(m["id"]))
def test_the_english_figure_is_the_same_number_as_the_chinese_one(metric: dict[str, object]) -> None:
    """270万人 is 2.7 million people, never 270 million: both scalings name one number (issue 10)."""
    item = SimpleNamespace(
        **{name: metric.get(name) for name in ("value", "value_en", "qualifier", "display_zh", "display_en")},
        unit_zh=str(metric.get("unit_zh") or ""),
        unit_en=str(metric.get("unit_en") or ""),
    )
    chinese, _, _ = base(item)
    english_value = Decimal(str(item.value_en if item.value_en is not None else item.value))
    multiplier = next((m for word, m in EN_SCALES if item.unit_en.startswith(word)), 1)
    assert chinese == english_value * multiplier, (figure(item, "zh"), figure(item, "en"))
