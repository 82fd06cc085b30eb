"""SQLite (FTS5) and PostgreSQL (GIN tsvector) give the same results for the same query on the bundled report:
the same items, in the same tiers, with the same totals; order may differ only within a tier."""

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from bot import PROJECT_ROOT
from bot.search.query import load_glossary, parse_query, search
from tests.conftest import loaded_session

QUERIES = [
    "算力",
    "直播",
    "数据",
    "电商",
    "标准",
    "大模型",
    "元宇宙",
    "直播销售额",
    "数据要素市场化配置改革",
    "国家数据局",
    "数字政府",
    "跨境电商进出口",
    "首席数据官制度",
    "computing power",
    "livestream sales",
    "cross-border e-commerce",
    "data elements",
    "metaverse",
    "DEPA",
    "CPTPP",
    "AI 大模型",
    "5G",
    "算",
    "播",
    "量子",
    "quantum",
    "直播 量子",
    "national data administration",
    "new energy vehicles export",
    "网络谣言",
    "2023",
    "84.24",
    # questions: question words dropped, traditional characters, junction bigrams, numerals not matched alone
    "數據局",
    "直播銷售額是多少",
    "数据交易所有多少家",
    "数据二十条",
    "筹建中的公共算力平台有多少个",
    "网络诚信满意率",
    "how many large models with more than 1 billion parameters",
    "how many data exchanges",
    "2023年直播销售额",
]


def open_store(url: str) -> Iterator[Session]:
    return loaded_session(url, PROJECT_ROOT / "data")


@pytest.fixture
def both(sqlite_url: str, pg_url: str) -> Iterator[tuple[Session, Session]]:
    for sqlite in open_store(sqlite_url):
        for postgres in open_store(pg_url):
            yield sqlite, postgres


def tiers(session: Session, text: str, kinds=()) -> tuple[dict[tuple[str, str], int], int, str]:
    result = search(session, parse_query(text, load_glossary(session)), kinds=kinds, limit=200)
    return {(h.kind, h.item_id): h.tier for h in result.hits}, result.total, result.mode


def test_sqlite_and_postgresql_agree(both: tuple[Session, Session]) -> None:
    sqlite, postgres = both
    for text in QUERIES:
        assert tiers(sqlite, text) == tiers(postgres, text), text
        assert tiers(sqlite, text, ("metric",)) == tiers(postgres, text, ("metric",)), text
    assert tiers(sqlite, "直播")[0], "the comparison is not between two empty results"


def test_order_agrees_across_tiers(both: tuple[Session, Session]) -> None:
    sqlite, postgres = both
    for text in QUERIES:
        one = search(sqlite, parse_query(text, load_glossary(sqlite)), limit=200).hits
        two = search(postgres, parse_query(text, load_glossary(postgres)), limit=200).hits
        assert [h.tier for h in one] == [h.tier for h in two], text
