from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from bot.search.query import load_glossary, parse_query, search
from tests.conftest import loaded_session


@pytest.fixture
def any_session(database_url: str) -> Iterator[Session]:
    """The miniature edition, loaded into SQLite and into PostgreSQL."""
    yield from loaded_session(database_url)


def run(session: Session, text: str, **kwargs):
    return search(session, parse_query(text, load_glossary(session)), **kwargs)


def ids(result) -> list[str]:
    return [hit.item_id for hit in result.hits]


def test_two_character_chinese_query_finds_every_mention(any_session: Session) -> None:
    result = run(any_session, "直播")
    assert set(ids(result)) == {"test-livestream-sales", "test-livestream-hosts", "1"}
    assert result.mode == "all"


def test_exact_label_ranks_before_passing_mentions(any_session: Session) -> None:
    result = run(any_session, "直播销售额")
    assert result.hits[0].item_id == "test-livestream-sales" and result.hits[0].tier == 0
    # test-livestream-hosts only mentions 直播销售额 in its description.
    assert ids(result) == ["test-livestream-sales", "test-livestream-hosts"]
    assert [hit.tier for hit in result.hits] == [0, 2]


def test_english_reaches_chinese_through_the_glossary(any_session: Session) -> None:
    result = run(any_session, "cross-border e-commerce")
    assert ids(result)[0] == "test-cross-border-pilot"
    parsed = parse_query("cross-border e-commerce", load_glossary(any_session))
    assert parsed.glossed == (("cross-border e-commerce", ("跨境电商",)),)


def test_english_label_is_an_exact_hit(any_session: Session) -> None:
    result = run(any_session, "Livestream Sales")
    assert result.hits[0].item_id == "test-livestream-sales" and result.hits[0].tier == 0


def test_mixed_query(any_session: Session) -> None:
    assert ids(run(any_session, "测试 livestream"))[:1] == ["test-livestream-sales"]


def test_kind_and_topic_filters(any_session: Session) -> None:
    assert set(ids(run(any_session, "直播", kinds=("metric",)))) == {"test-livestream-sales", "test-livestream-hosts"}
    assert ids(run(any_session, "直播", kinds=("metric",), topic="ecommerce")) == ["test-livestream-sales"]


def test_no_full_match_falls_back_to_the_closest_items(any_session: Session) -> None:
    result = run(any_session, "直播 量子")
    assert result.mode == "any" and "test-livestream-sales" in ids(result)


def test_single_character_falls_back_to_a_scan(any_session: Session) -> None:
    result = run(any_session, "播")
    assert result.mode == "char" and "test-livestream-sales" in ids(result)


def test_nothing_found_is_an_empty_result_not_an_error(any_session: Session) -> None:
    for text in ("quantum", "量子", "", "   ", "!!!", '" OR 1=1 --', "'; DROP TABLE metrics; --", "NEAR(a b)"):
        result = run(any_session, text)
        assert result.hits == [] and result.total == 0


def test_paging_counts_the_total(any_session: Session) -> None:
    first = run(any_session, "测试", limit=2)
    second = run(any_session, "测试", limit=2, offset=2)
    past = run(any_session, "测试", limit=2, offset=100)
    assert first.total == second.total == past.total >= 5
    assert not set(ids(first)) & set(ids(second))
    assert past.hits == []


def test_broad_queries_count_up_to_the_cap_and_keep_title_hits_first(
    any_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.search import query as query_module

    monkeypatch.setattr(query_module, "CANDIDATES", 3)
    result = run(any_session, "测试", limit=10)
    assert result.capped and result.total == 3
    assert result.hits and all(hit.tier == 1 for hit in result.hits)
    narrow = run(any_session, "直播销售额")
    assert not narrow.capped and narrow.total == 2


def test_a_year_or_number_may_stand_in_the_body_and_still_rank_in_the_title_tier(any_session: Session) -> None:
    result = run(any_session, "直播销售额 2030")
    assert result.hits[0].item_id == "test-livestream-sales" and result.hits[0].tier == 1 and result.answered
    assert not run(any_session, "直播销售额 2099").answered  # a number nowhere in it: no answer


def test_chinese_numerals_are_not_matched_on_their_own(any_session: Session) -> None:
    parsed = parse_query("直播二十条", load_glossary(any_session))
    relaxed = search(any_session, parsed)
    assert relaxed.mode == "any" and not relaxed.answered


def test_a_bigram_joining_two_words_of_a_question_is_dropped(any_session: Session) -> None:
    # 测试增长率: 试增 joins 测试 and 增长 and occurs in no document (the label is 测试算力增长率); its neighbours do.
    result = run(any_session, "测试增长率")
    assert result.mode == "all" and result.hits[0].item_id == "test-compute-growth" and result.answered
    # An edge bigram stays: 量子 occurs nowhere, so nothing has every word.
    assert run(any_session, "直播量子").mode == "any"


def test_a_question_for_a_number_is_answered_by_a_figure_only(any_session: Session) -> None:
    assert run(any_session, "测试数据局").answered
    assert not run(any_session, "测试数据局有多少个").answered


def test_a_glossary_phrase_with_stopwords_is_read_as_queries_are(report_services) -> None:
    """Queries drop "of", "and"...: the glossary's phrases must too, or "ministry of commerce" never reaches 商务部."""
    from bot.search.query import load_glossary, parse_query

    with report_services.session_factory() as session:
        glossary = load_glossary(session)
    for phrase in ("ministry of commerce", "small and medium enterprises", "ministry of science and technology"):
        assert [english for english, _ in parse_query(phrase, glossary).glossed] == [phrase], phrase
