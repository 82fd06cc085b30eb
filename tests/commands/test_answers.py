import pytest
from sqlalchemy.orm import Session

from bot.answers.commands import PAGE_SIZE
from bot.services import Services
from tests.conftest import reply_to, slack_of
from tests.conftest import text_of as terminal_text


def text_of(session: Session, command: str, **kwargs) -> str:
    reply = reply_to(session, command, **kwargs)
    slack_of(reply)  # within Slack's limits
    return terminal_text(reply)


def test_help_has_working_examples(session: Session) -> None:
    text = text_of(session, "help")
    for example in ("/insights list", "/insights 3", "metric compute", "/insights topics"):
        assert example in text
    assert "可用命令" in text_of(session, "帮助")


def test_list_shows_the_insights_in_the_reply_language(session: Session) -> None:
    assert "1. A test insight on computing power" in text_of(session, "list")
    assert "1. 测试算力洞察" in text_of(session, "列表")


def test_show_an_insight_with_its_figures_and_policy_items(session: Session) -> None:
    text = text_of(session, "show 1")
    assert "A test summary about computing power" in text
    assert "Test compute growth rate: about 42%" in text
    assert "Test Data Bureau — formally established (2030-03)" in text
    assert "“测试算力年增长约42%”" in text  # the citation
    assert "Test Institute" in text  # the source


def test_a_result_carries_value_unit_period_insight_and_citation(session: Session) -> None:
    text = text_of(session, "直播销售额")
    assert "直播销售额: 9.99万亿元" in text
    assert "2030年上半年" in text and "洞察 2 · 数字消费" in text and "“测试直播销售额9.99万亿元”" in text


def test_english_scaling_of_a_figure(session: Session) -> None:
    assert "1.23 million people" in text_of(session, "metric Test active streamers")


def test_metric_by_topic_and_by_query(session: Session) -> None:
    by_topic = text_of(session, "metric ecommerce")
    assert "Livestream sales" in by_topic and "Test compute growth" not in by_topic
    assert "Metrics · E-commerce (ecommerce)" in by_topic
    by_name = text_of(session, "metric 数字消费")  # a topic by its Chinese name
    assert "直播销售额" in by_name
    by_query = text_of(session, "policy cross-border e-commerce")
    assert "Test cross-border e-commerce pilot plan" in by_query and "Livestream" not in by_query


def test_search_groups_results_by_kind(session: Session) -> None:
    text = text_of(session, "直播")
    assert text.index("\n指标\n") < text.index("\n洞察\n")


def test_topics(session: Session) -> None:
    text = text_of(session, "topics")
    assert "compute — Computing power (insight 1)" in text and "ecommerce — E-commerce" in text


def test_nothing_found_gets_suggestions_not_an_empty_message(session: Session) -> None:
    text = text_of(session, "quantum physics")
    assert "Nothing found" in text and "compute," in text
    assert "Did you mean /insights show 3?" in text_of(session, "shw 3")
    assert "相近的条目" in text_of(session, "直销")
    # A question is searched, never taken for a mistyped command.
    assert "Did you mean" not in text_of(session, "how many livestream sales")


def test_a_question_no_item_answers_is_declined_before_the_related_items(session: Session) -> None:
    text = text_of(session, "直播销售额 2099")
    assert text.startswith("报告没有给出这一信息（“直播销售额 2099”）。") and "直播销售额: 9.99万亿元" in text
    assert text_of(session, "how many livestream hosts in 2099").startswith("The report does not state this")
    assert not text_of(session, "直播销售额").startswith("报告没有给出")


def test_usage_errors_are_friendly(session: Session) -> None:
    assert "give a number from 1 to 10.\n\nFor example: /insights show 3" in text_of(session, "show 12")
    assert "请输入 1 到 10" in text_of(session, "查看 十一")


def test_paging_says_how_many_more(report_services: Services) -> None:
    with report_services.session_factory() as session:
        first = reply_to(session, "policy 数据")
        total = first.context["total"]
        assert total > 2 * PAGE_SIZE and first.context["shown"] == PAGE_SIZE
        assert f"还有 {total - PAGE_SIZE} 条" in terminal_text(first)
        last_offset = (total - 1) // PAGE_SIZE * PAGE_SIZE  # however many items the data holds
        last = reply_to(session, "policy 数据", offset=last_offset)
        assert last.context["shown"] == total - last_offset and last.context["remaining"] == 0
        assert "还有" not in terminal_text(last)


def test_an_empty_database_says_so(empty_services: Services) -> None:
    with empty_services.session_factory() as session:
        assert "No report data is loaded yet" in text_of(session, "growth")
        assert "还没有报告数据" in text_of(session, "算力")


@pytest.mark.parametrize("command", ["list", "1", "5", "10", "metric", "policy", "topics", "算力", "data elements"])
def test_the_bundled_report_answers_within_block_kit_limits(report_services: Services, command: str) -> None:
    with report_services.session_factory() as session:
        rendered = slack_of(reply_to(session, command))
    assert rendered.blocks and rendered.text


def test_bundled_report_answers_real_questions(report_services: Services) -> None:
    with report_services.session_factory() as session:
        assert "1.27万亿" in text_of(session, "直播销售额")
        assert "1.27 trillion" in text_of(session, "livestream sales")
        assert "84.24%" in text_of(session, "网络诚信")
        assert "国家数据局" in text_of(session, "policy 数据局")
        assert "2.5万亿元" in text_of(session, "可数字化交付")
        assert "DEPA" in text_of(session, "DEPA")
        assert "元宇宙" in text_of(session, "metaverse")
