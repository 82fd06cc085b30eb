"""The bundled report data: valid, loadable, and complete against an inventory of the report's figures and titles.

tests/fixtures/report_numbers.yaml lists every run of Arabic digits in the report's text, in order, and every
《...》 title; each is captured by a metric or policy item, or skipped with a stated reason.
"""

import re
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from bot import PROJECT_ROOT
from bot.catalog.loader import read_bundle
from bot.search.text import title_key
from tests.conftest import FIXTURES

DATA = PROJECT_ROOT / "data"
INVENTORY = yaml.safe_load((FIXTURES / "report_numbers.yaml").read_text(encoding="utf-8"))
BUNDLE = read_bundle(DATA)
METRICS = {m.id: m for m in BUNDLE.metrics}
POLICIES = {p.id: p for p in BUNDLE.policies}
INSIGHT_TOPICS = {i.number: i.topic for i in BUNDLE.insights}


def test_the_bundle_covers_the_whole_report() -> None:
    assert [i.number for i in BUNDLE.insights] == list(range(1, 11))
    assert [t.slug for t in BUNDLE.topics if t.insight] == [
        "compute",
        "data",
        "industry",
        "transformation",
        "consumption",
        "government",
        "regional",
        "governance",
        "security",
        "opening",
    ]
    assert len(BUNDLE.metrics) >= 45 and len(BUNDLE.policies) >= 40
    assert BUNDLE.report.publisher_zh.startswith("中国电子信息产业发展研究院")


def test_every_item_starts_with_its_insight_topic() -> None:
    for item in [*BUNDLE.metrics, *BUNDLE.policies]:
        assert item.topics[0] == INSIGHT_TOPICS[item.insight], item.id


@pytest.mark.parametrize("entry", INVENTORY["numbers"], ids=lambda e: e["context"])
def test_every_number_in_the_report_is_captured_or_skipped_for_a_reason(entry: dict) -> None:
    digits = re.match(r"[0-9]+(?:\.[0-9]+)?", entry["text"]).group(0)
    assert digits in entry["context"]
    targets = [key for key in ("metric", "policy", "skip") if key in entry]
    assert len(targets) == 1, "exactly one of metric, policy, skip"
    if "skip" in entry:
        assert len(entry["skip"]) > 10, "a skip needs a reason"
    elif "metric" in entry:
        metric = METRICS[entry["metric"]]
        # The figure is the metric's value, or stands in its citation, or dates or qualifies it (10亿参数, 前10位).
        stated = {str(metric.value), str(metric.value_en)}
        assert (
            Decimal(digits) in {metric.value, metric.value_en}
            or digits in metric.quote
            or any(digits in text for text in (metric.period_zh, metric.label_zh, metric.measures_zh, *stated))
        ), entry
    else:
        policy = POLICIES[entry["policy"]]
        assert digits in policy.quote or digits in (policy.date or "") or digits in policy.summary_zh, entry


def test_every_figure_of_the_report_that_is_not_furniture_is_a_metric() -> None:
    skipped = [e for e in INVENTORY["numbers"] if "skip" in e]
    captured = [e for e in INVENTORY["numbers"] if "skip" not in e]
    assert len(captured) >= 55 and len(skipped) <= 20
    assert {e["metric"] for e in captured if "metric" in e} <= set(METRICS)


@pytest.mark.parametrize("entry", INVENTORY["titles"], ids=lambda e: e["text"].replace("\n", ""))
def test_every_titled_document_is_a_policy_item(entry: dict) -> None:
    policy = POLICIES[entry["policy"]]
    assert title_key(entry["text"]) in title_key(policy.title_zh)


def test_each_metric_quote_is_short_and_holds_its_figure_or_its_wording() -> None:
    for metric in BUNDLE.metrics:
        assert len(metric.quote) <= 60, metric.id
        number = f"{metric.value:f}".rstrip("0").rstrip(".") if "." in f"{metric.value:f}" else f"{metric.value:f}"
        assert number in metric.quote or metric.display_zh, metric.id


def test_the_glossary_reaches_the_report() -> None:
    terms = {g.en: g.zh for g in BUNDLE.glossary}
    for english, chinese in {
        "computing power": "算力",
        "livestream": "直播",
        "cross-border e-commerce": "跨境电商",
        "metaverse": "元宇宙",
        "large model": "大模型",
        "national data administration": "国家数据局",
    }.items():
        assert chinese in terms[english], english


def test_data_holds_no_test_fixture_values() -> None:
    text = "".join(p.read_text(encoding="utf-8") for p in Path(DATA).glob("*.yaml"))
    assert "测试" not in text and "test-" not in text
