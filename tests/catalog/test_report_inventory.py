"""Nothing the report names is missing from data/: tests/fixtures/report_names.yaml maps every counted phrase in
Chinese numerals and every named institution, document, event and agreement to the item that records it (or says why
none does), and the regular expressions below prove that the inventory misses no occurrence.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from bot import PROJECT_ROOT
from bot.catalog.loader import read_bundle
from tests.conftest import FIXTURES

REPORT = (FIXTURES / "report.txt").read_text(encoding="utf-8")
FLAT = re.sub(r"\s+|\*\*", "", REPORT)
INVENTORY = yaml.safe_load((FIXTURES / "report_names.yaml").read_text(encoding="utf-8"))
NUMBERS = yaml.safe_load((FIXTURES / "report_numbers.yaml").read_text(encoding="utf-8"))
BUNDLE = read_bundle(PROJECT_ROOT / "data")

# Runs of Chinese numerals; 零 only as a numeral (零售 is "retail"). 万 and 亿 are left out: see the next test.
COUNTED = re.compile(r"[一二三四五六七八九十两双百千〇]+|零(?!售)")
# Words that form names (the bureau, the ministry, the committee, the agreement...), Latin acronyms, book titles.
# 布局/格局/当局 (layout), 东部/西部/中部/内部/全部 (regions, "all") and 部署 (deploy) are ordinary words.
NAME_WORD = re.compile(
    r"(?<![布格当])局|(?<![东西中内全])部(?!署)|委(?!员)|委员会|大会|中汽协|百人会|研究院|研究中心|协定|协议|宣言|倡议"
    r"|规划|意见|大典|名单|榜单|集团|峰会|组织|博览会|大运会|工作组|备忘录|条例|公司|[A-Z][A-Za-z-]*[A-Z]{2,}[A-Z-]*|《"
)
TARGETS = ("metric", "policy", "insight", "report", "skip")


def chinese_text(kind: str, target: Any) -> str:
    """Everything Chinese an item says, flattened like FLAT, where the inventory's phrase must appear."""
    if kind == "report":
        assert target == BUNDLE.report.id
        row: Any = BUNDLE.report
    elif kind == "insight":
        row = next(i for i in BUNDLE.insights if i.number == target)
    else:
        rows = BUNDLE.metrics if kind == "metric" else BUNDLE.policies
        found = [item for item in rows if item.id == target]
        assert found, f"no {kind} {target!r}"
        row = found[0]
    fields = row.model_dump()
    text = "".join(str(value) for key, value in fields.items() if key.endswith("_zh") or key in {"quote", "title_zh"})
    return re.sub(r"\s+|\*\*", "", text)


def target_of(entry: dict[str, Any]) -> tuple[str, Any]:
    present = [key for key in TARGETS if key in entry]
    assert len(present) == 1, f"exactly one of {TARGETS}: {entry}"
    return present[0], entry[present[0]]


def covers(phrase: str, start: int, end: int, text: str) -> bool:
    return any(m.start() <= start and end <= m.end() for m in re.finditer(re.escape(phrase), text))


# ---- counted phrases ----


def test_every_chinese_numeral_in_the_report_is_in_the_inventory_in_order() -> None:
    found = list(COUNTED.finditer(REPORT))
    entries = INVENTORY["counted"]
    assert [m.group() for m in found] == [e["text"] for e in entries]
    for match, entry in zip(found, entries, strict=True):
        assert covers(entry["phrase"], match.start(), match.end(), REPORT), entry


@pytest.mark.parametrize("entry", INVENTORY["counted"], ids=lambda e: e["phrase"])
def test_every_counted_phrase_is_recorded_or_skipped_for_a_reason(entry: dict[str, Any]) -> None:
    kind, target = target_of(entry)
    if kind == "skip":
        assert len(target) > 10, "a skip needs a reason"
    else:
        assert re.sub(r"\s+", "", entry["phrase"]) in chinese_text(kind, target), entry


def test_wan_and_yi_only_scale_arabic_figures_which_the_numbers_inventory_covers() -> None:
    for match in re.finditer(r"[万亿]", REPORT):
        before = REPORT[: match.start()].rstrip("+万")
        assert before[-1].isdigit(), REPORT[match.start() - 5 : match.end() + 5]
    numbers = [entry["text"] for entry in NUMBERS["numbers"]]
    assert sum(text.count("万") + text.count("亿") for text in numbers) == REPORT.count("万") + REPORT.count("亿")


def test_the_counted_phrases_the_issue_names_are_recorded() -> None:
    recorded = {e["phrase"]: target_of(e) for e in INVENTORY["counted"] if "skip" not in e}
    for phrase in ("电光锂“新三样”", "“三赋”", "三种建设运营模式", "全球第二", "未来五年", "中亚五国峰会"):
        assert phrase in recorded, phrase


# ---- names ----


@pytest.mark.parametrize("entry", INVENTORY["names"], ids=lambda e: e["name"])
def test_every_name_is_the_reports_and_is_recorded_by_an_item(entry: dict[str, Any]) -> None:
    assert entry["name"] in FLAT
    kind, target = target_of(entry)
    assert kind != "skip" or len(target) > 10
    if kind != "skip":
        assert entry["name"] in chinese_text(kind, target), entry


def test_every_name_forming_word_in_the_report_lies_in_an_inventoried_name() -> None:
    phrases = [e["name"] for e in INVENTORY["names"]] + [e["phrase"] for e in INVENTORY["not_names"]]
    assert all(len(e["reason"]) > 10 for e in INVENTORY["not_names"])
    uncovered = [
        FLAT[max(0, m.start() - 10) : m.end() + 5]
        for m in NAME_WORD.finditer(FLAT)
        if not any(covers(phrase, m.start(), m.end(), FLAT) for phrase in phrases)
    ]
    assert uncovered == []


def test_the_names_the_issue_lists_are_recorded() -> None:
    names = {e["name"] for e in INVENTORY["names"] if "skip" not in e}
    for name in (
        "科技部",
        "新一代人工智能发展研究中心",
        "中汽协",
        "电动汽车百人会",
        "海关",
        "成都大运会",
        "数据交易平台",
    ):
        assert name in names, name
