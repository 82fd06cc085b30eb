"""data/ says only what the report says: every citation is verbatim and points at one place, Chinese summaries and
statuses are the report's own wording, periods the report does not state are said to be unstated, and every
glossary term leads somewhere through the real search.

The report's text is tests/fixtures/report.txt, a byte-for-byte copy of the shared seed
(../shared/seeds/000_ce690264fd6ab270.txt, checked below whenever that file is present).
"""

from __future__ import annotations

import re

from bot import PROJECT_ROOT
from bot.catalog.loader import read_bundle
from bot.search.query import load_glossary, parse_query, search
from bot.services import Services
from tests.conftest import FIXTURES

REPORT = (FIXTURES / "report.txt").read_text(encoding="utf-8")
SEED = PROJECT_ROOT.parent / "shared" / "seeds" / "000_ce690264fd6ab270.txt"
# The report with line breaks, spaces and markdown bold removed: what "the report's wording" is compared with, so
# that a title broken over lines (《数字化转型\n价值效益参考模型》) still counts as one phrase.
FLAT = re.sub(r"\s+|\*\*", "", REPORT)
# A Chinese summary may join excerpts with punctuation; each piece between punctuation marks must be the report's.
PIECES = re.compile(r"[，。；：、“”（）()…—《》,;:\s]+")
# What data/README.md says to write when the report states no status or no period.
NO_STATUS = "报告未说明"
NO_PERIOD = ("报告未说明时期", "period not stated in the report")
AT_REPORT_DATE = ("截至2023年（报告发布时）", "as of 2023 (report date)")

BUNDLE = read_bundle(PROJECT_ROOT / "data")
METRICS = {m.id: m for m in BUNDLE.metrics}
POLICIES = {p.id: p for p in BUNDLE.policies}
ITEMS = [*BUNDLE.metrics, *BUNDLE.policies]


def not_the_reports_wording(text: str) -> list[str]:
    return [piece for piece in PIECES.split(text) if piece and piece not in FLAT]


def test_the_copy_of_the_report_is_the_seed() -> None:
    if SEED.exists():
        assert SEED.read_text(encoding="utf-8") == REPORT


# ---- citations ----


def test_every_quote_is_verbatim_on_one_line() -> None:
    for item in ITEMS:
        assert item.quote in REPORT, item.id
        assert "\n" not in item.quote, item.id


def test_every_quote_identifies_one_place_in_the_report() -> None:
    ambiguous = {item.id: REPORT.count(item.quote) for item in ITEMS if REPORT.count(item.quote) != 1}
    assert ambiguous == {}


def test_a_bold_figure_that_recurs_is_quoted_with_its_clause() -> None:
    # Regression: "2个", "5个" and "6个" each occur several times in the report.
    assert METRICS["trade-working-group-countries"].quote == "与**2个**国家新建了贸易畅通工作组"
    assert METRICS["investment-working-group-countries"].quote == "与**5个**国家新建了投资合作工作组"
    assert METRICS["emerging-fields-mou-countries"].quote == "与**6个**国家签署包括数字经济在内的新兴领域合作备忘录"


# ---- the report's own wording ----


def test_insight_titles_and_lead_paragraphs_are_verbatim() -> None:
    for insight in BUNDLE.insights:
        assert insight.title_zh in REPORT, insight.number
        assert insight.summary_zh in REPORT, insight.number


def test_policy_summaries_in_chinese_are_the_reports_wording() -> None:
    composed = {p.id: not_the_reports_wording(p.summary_zh) for p in BUNDLE.policies}
    assert {key: value for key, value in composed.items() if value} == {}


def test_statuses_in_chinese_are_the_reports_wording() -> None:
    composed = {p.id: not_the_reports_wording(p.status_zh) for p in BUNDLE.policies if p.status_zh != NO_STATUS}
    assert {key: value for key, value in composed.items() if value} == {}


def test_periods_are_the_reports_or_say_that_it_states_none() -> None:
    for metric in BUNDLE.metrics:
        pair = (metric.period_zh, metric.period_en)
        if pair in (NO_PERIOD, AT_REPORT_DATE):
            continue
        assert metric.period_en not in (NO_PERIOD[1], AT_REPORT_DATE[1]), metric.id
        # The period itself is the report's; a bracketed note (目标, 环比, 100天专项行动) may qualify it.
        stated = re.sub(r"（[^）]*）", "", metric.period_zh).removesuffix("时期")
        assert not not_the_reports_wording(stated), metric.id


FLOW_WORDS = re.compile(r"增长|增速|销售额|场次|收入|接待|活跃|新建|新增|签署")


def test_a_flow_with_no_stated_period_is_not_dated_to_the_report() -> None:
    # Regression: sales, sessions, active streamers and growth rates carried "as of 2023", a period the report does
    # not state. "As of the report" suits only counts of what exists when it was written.
    for metric in BUNDLE.metrics:
        if (metric.period_zh, metric.period_en) == AT_REPORT_DATE:
            assert not FLOW_WORDS.search(metric.label_zh + metric.measures_zh), metric.id
    for name in (
        "livestream-sales",
        "livestream-sessions",
        "active-streamers",
        "compute-growth-rate",
        "general-compute-share",
        "shanhaijing-exhibition-revenue",
        "khufu-experience-visitors",
        "trade-working-group-countries",
    ):
        assert (METRICS[name].period_zh, METRICS[name].period_en) == NO_PERIOD, name


# ---- fields fixed against the report (issue 10) ----


def test_quality_standards_brands_is_one_of_the_three_empowerments() -> None:
    item = POLICIES["sme-quality-standards-brands"]
    assert "之一" in item.title_zh and "one of" in item.title_en
    assert "one of the three" in item.summary_en


def test_the_national_standards_carry_the_reports_status_wording() -> None:
    for name in (
        "std-transformation-value-model",
        "std-supply-chain-digital-management",
        "std-equipment-operation-management",
        "std-equipment-performance-indicators",
    ):
        item = POLICIES[name]
        assert item.status == "in_progress" and item.status_zh == "渐进完善", name  # 标准规范渐进完善
        assert "国家标准" in item.summary_zh


def test_digital_navigator_enterprises_are_not_pilots() -> None:
    item = POLICIES["digital-pilot-enterprises"]  # the id is stable; the words are fixed
    assert "pilot" not in (item.title_en + item.summary_en).lower()
    assert all("数字领航企业" not in term.zh or "pilot" not in term.en for term in BUNDLE.glossary)


def test_labels_say_what_the_report_says() -> None:
    assert "by market value" in METRICS["platform-investment-share-change"].label_en
    top_leader = METRICS["provincial-top-leader-mechanism-share"]
    assert "personally" not in top_leader.label_en and "mechanism" in top_leader.label_en


def test_the_digital_china_plan_summary_names_all_five_elements() -> None:
    summary = POLICIES["digital-china-plan"].summary_zh
    for element in ("完善法律法规体系", "构建技术标准体系", "提升治理水平", "健全网络综合治理体系", "净化网络空间"):
        assert element in summary


def test_the_global_security_initiative_is_not_digital_security() -> None:
    assert POLICIES["global-security-initiative-concept-paper"].topics == ["opening"]


def test_statuses_the_report_does_not_support_are_gone() -> None:
    guangdong = POLICIES["guangdong-one-network-services"]
    assert guangdong.status == "in_progress" and guangdong.status_zh in REPORT
    assert POLICIES["big-data-groups"].status == "in_progress"
    assert POLICIES["private-economy-opinion"].status_zh == NO_STATUS


def test_no_hotline_the_report_does_not_mention() -> None:
    assert "热线" not in REPORT
    for item in ITEMS:
        assert "hotline" not in item.model_dump_json().lower(), item.id
    assert all("hotline" not in term.en for term in BUNDLE.glossary)


# ---- what the report names, now recorded ----


def test_insight_9_is_covered() -> None:
    # Section 九 states no figure; its named contents are policy items (see data/README.md on findings).
    ids = {p.id for p in BUNDLE.policies if p.insight == 9}
    assert {
        "multilevel-digital-security-systems",
        "tech-ethics-security-governance",
        "general-ai-technical-risks",
        "general-ai-social-risks",
        "general-ai-economic-risks",
        "general-ai-political-risks",
        "algorithm-discrimination",
        "algorithm-manipulation",
        "algorithm-collusion",
        "ai-driven-digital-security-industry",
    } <= ids
    assert not [m for m in BUNDLE.metrics if m.insight == 9]
    assert not re.search(r"\d", REPORT.split("九、制度产业并行发展")[2].split("十、多极格局")[0])


def test_the_risk_table_is_recorded_column_by_column() -> None:
    rows = [line.split("\t") for line in REPORT.splitlines() if line.count("\t") == 3]
    assert rows[0] == ["技术风险", "社会风险", "经济风险", "政治风险"]
    for column, name in enumerate(("technical", "social", "economic", "political")):
        item = POLICIES[f"general-ai-{name}-risks"]
        assert all(row[column] in item.title_zh and row[column] in item.summary_zh for row in rows), name


def test_credited_sources_stand_with_their_figures() -> None:
    credited = "科技部，新一代人工智能发展研究中心，中汽协，电动汽车百人会"
    for name in (
        "large-models-over-1b-params",
        "china-us-large-model-share",
        "nev-export-growth",
        "auto-software-cagr",
    ):
        assert credited in METRICS[name].measures_zh, name
    assert "有关报告显示" in METRICS["large-models-over-1b-params"].measures_zh
    assert "海关数据显示" in METRICS["cross-border-ecommerce-trade"].measures_zh
    assert "调研显示" in METRICS["platform-investment-share-change"].measures_zh


# ---- the glossary ----


def test_glossary_terms_are_the_reports_and_each_english_phrase_is_listed_once() -> None:
    for term in BUNDLE.glossary:
        assert all(zh in REPORT for zh in term.zh), term.en
    english = [term.en for term in BUNDLE.glossary]
    assert len(english) == len(set(english))


def test_every_glossary_term_reaches_an_item(report_services: Services) -> None:
    """Searched as a user would ask, with no "closest matches" relaxation: each English phrase, and each of its
    Chinese terms, finds at least one item."""
    with report_services.session_factory() as session:
        glossary = load_glossary(session)
        nothing = [
            phrase
            for term in BUNDLE.glossary
            for phrase in (term.en, *term.zh)
            if search(session, parse_query(phrase, glossary), relax=False).total == 0
        ]
    assert nothing == []
