"""Questions an analyst would type, against the bundled report (data/): the top answer (the first item of the first
group), or a plain "the report does not state this" followed by the related items."""

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from bot.core.reply import Reply
from bot.services import Services
from tests.conftest import reply_to, slack_of, text_of

ANSWERED = [
    # ---- Chinese ----
    ("直播销售额是多少", "livestream-sales"),
    ("直播销售额有多少？", "livestream-sales"),
    ("直播銷售額", "livestream-sales"),  # traditional characters
    ("累计直播场次", "livestream-sessions"),
    ("活跃主播有多少人", "active-streamers"),
    ("我国算力总规模全球排名第几", "compute-scale-rank"),
    ("算力年增长率是多少", "compute-growth-rate"),
    ("新增算力设施中通用算力占比", "general-compute-share"),
    ("已建成的公共算力开放创新平台有几个", "public-compute-platforms-built"),
    ("筹建中的公共算力平台有多少个", "public-compute-platforms-in-preparation"),
    ("超算互联网首批有多少家超算中心", "supercomputing-centers-first-batch"),
    ("10亿参数以上的大模型有多少个", "large-models-over-1b-params"),
    ("中美大模型占全球比重", "china-us-large-model-share"),
    ("新能源汽车出口增长多少", "nev-export-growth"),
    ("汽车软件年复合增长率", "auto-software-cagr"),
    ("数字化转型服务商有多少家", "transformation-service-providers"),
    ("数字化转型服务产品有多少项", "transformation-service-products"),
    ("厦门元宇宙超市备案服务商", "xiamen-service-providers"),
    ("厦门赋能平台有几个", "xiamen-enablement-platforms"),
    ("数字职业有多少个", "digital-occupations"),
    ("未来二十年提供多少就业岗位", "jobs-next-20-years"),
    ("探秘山海经收入", "shanhaijing-exhibition-revenue"),
    ("胡夫金字塔接待观众", "khufu-experience-visitors"),
    ("全国示范智慧商圈有几个", "smart-business-districts"),
    ("数字政府运营公司有几种模式", "gov-operation-models"),
    ("出台数字经济专项政策的省份占比", "provincial-special-policy-share"),
    ("一把手牵头的省份占比", "provincial-top-leader-mechanism-share"),
    ("网络谣言专项行动侦办案件", "rumor-campaign-cases"),
    ("网络谣言专项行动关停账号", "rumor-campaign-accounts-closed"),
    ("网络诚信满意率", "online-integrity-satisfaction"),
    ("可数字化交付的服务贸易规模", "digital-services-trade"),
    ("跨境电商进出口是多少", "cross-border-ecommerce-trade"),
    ("跨境电商进出口同比增长", "cross-border-ecommerce-growth"),
    ("国家数据局什么时候成立", "national-data-administration"),
    ("國家數據局", "national-data-administration"),
    ("數據局", "national-data-administration"),
    ("首席数据官制度进展", "chief-data-officer-system"),
    ("DCMM标准", "dcmm-standard"),
    ("数据要素集聚区", "data-element-cluster-zones"),
    ("地方数据条例", "local-data-regulations"),
    ("DEPA进展如何", "depa-accession"),
    ("贸易畅通工作组有哪些国家", "trade-working-group-countries"),
    ("粤港澳大湾区", "greater-bay-area"),
    ("成渝双城", "chengdu-chongqing"),
    ("数字中国建设整体布局规划", "digital-china-plan"),
    ("鹏腾生态", "pengteng-ecosystem"),
    ("policy 数据局", "national-data-administration"),
    # ---- English ----
    ("how many large models with more than 1 billion parameters", "large-models-over-1b-params"),
    ("what is the livestream sales", "livestream-sales"),
    ("livestream sales", "livestream-sales"),
    ("how many active streamers", "active-streamers"),
    ("what is the growth rate of computing power", "compute-growth-rate"),
    ("how big is cross-border e-commerce", "cross-border-ecommerce-trade"),
    ("when was the National Data Administration established", "national-data-administration"),
    ("which countries signed MOUs on emerging fields", "emerging-fields-mou-countries"),
    ("how many digital occupations", "digital-occupations"),
    ("what share of new computing facilities is general-purpose computing", "general-compute-share"),
    ("how many smart business districts", "smart-business-districts"),
    ("chief data officer system progress", "chief-data-officer-system"),
    ("how many cases in the campaign against online rumours", "rumor-campaign-cases"),
    ("online integrity satisfaction", "online-integrity-satisfaction"),
    ("how many jobs over the next twenty years", "jobs-next-20-years"),
    ("trade in digitally deliverable services", "digital-services-trade"),
    ("what is the status of DEPA", "depa-accession"),
]

# Questions the report does not answer: (question, an item that must be offered as related, or None for none,
# items that must not be offered).
DECLINED = [
    ("数据交易所有多少家", "local-data-bodies", {"xiamen-service-providers"}),
    ("数据二十条", "local-data-regulations", {"jobs-next-20-years"}),
    ("how many data exchanges", "new-internet-exchange-centers", set()),
    ("what is the value of the data market", None, set()),
    ("直播 量子", "livestream-sales", set()),
]


@pytest.fixture
def report_session(report_services: Services) -> Iterator[Session]:
    with report_services.session_factory() as session:
        yield session


def item_id(item: object) -> str:
    return str(getattr(item, "id", None) or item.number)  # type: ignore[attr-defined]


def offered(reply: Reply) -> list[str]:
    return [item_id(item) for group in reply.context["groups"] for item in group.items]


@pytest.mark.parametrize(("question", "expected"), ANSWERED)
def test_a_question_gets_its_answer_first(report_session: Session, question: str, expected: str) -> None:
    reply = reply_to(report_session, question)
    assert not reply.context["declined"], question
    assert offered(reply)[:1] == [expected], question


@pytest.mark.parametrize(("question", "related", "unrelated"), DECLINED)
def test_a_question_the_report_does_not_answer_is_declined_first(
    report_session: Session, question: str, related: str | None, unrelated: set[str]
) -> None:
    reply = reply_to(report_session, question)
    text = text_of(reply)
    slack_of(reply)
    if related is None and not offered(reply):
        assert text.startswith(("Results for", "搜索")) and ("Nothing found" in text or "没有找到" in text)
        return
    assert reply.context["declined"], question
    first_line = text.splitlines()[0]
    assert first_line.startswith(("报告没有给出这一信息", "The report does not state this")), text
    assert related is None or related in offered(reply)
    assert not unrelated & set(offered(reply))


def test_ordinary_lookups_still_answer_directly(report_session: Session) -> None:
    for command in ("直播销售额", "livestream sales", "算力", "数据要素", "policy 数据局", "metric compute", "DEPA"):
        reply = reply_to(report_session, command)
        assert offered(reply) and not reply.context["declined"], command
        assert "报告没有给出" not in text_of(reply) and "does not state" not in text_of(reply)


def test_traditional_and_simplified_find_the_same_items(report_session: Session) -> None:
    for traditional, simplified in (("數據局", "数据局"), ("直播銷售額", "直播销售额"), ("國家數據局", "国家数据局")):
        assert offered(reply_to(report_session, traditional)) == offered(reply_to(report_session, simplified))
