"""History shows each figure as the report states it, in both languages, and a status's own date (issue 10)."""

from __future__ import annotations

import pytest

from bot.core.figures import figure
from bot.services import Services
from bot.store.models import Metric
from tests.conftest import reply_to, text_of

SCALED = [
    "active-streamers",
    "jobs-total",
    "jobs-next-20-years",
    "livestream-sessions",
    "shanhaijing-exhibition-revenue",
    "khufu-experience-visitors",
    "rumor-campaign-accounts-closed",
    "rumor-campaign-messages-removed",
    "compute-growth-rate",  # 高达30%: the qualifier stays
    "compute-scale-rank",  # 全球第二: the display wording stays
]


@pytest.mark.parametrize("metric_id", SCALED)
def test_history_words_the_figure_as_the_answers_do(report_services: Services, metric_id: str) -> None:
    with report_services.session_factory() as session:
        metric = session.get(Metric, metric_id)
        assert metric is not None
        english = text_of(reply_to(session, f"history {metric_id}"))
        chinese = text_of(reply_to(session, f"history {metric_id}", lang="zh"))
        assert figure(metric, "en") in english and figure(metric, "zh") in chinese


def test_active_streamers_are_2_7_million(report_services: Services) -> None:
    with report_services.session_factory() as session:
        text = text_of(reply_to(session, "history active-streamers"))
    assert "2.7 million" in text and "270 million" not in text and "270million" not in text


def test_a_status_without_a_stated_date_says_so(report_services: Services) -> None:
    with report_services.session_factory() as session:
        chinese = text_of(reply_to(session, "历史 国家数据局"))
        english = text_of(reply_to(session, "history national-data-administration"))
    first = chinese.splitlines()[2]
    assert first.startswith("• 正式组建（来源未给出日期）") and "记录于" in first
    assert "(the source states no date)" in english and "recorded " in english
