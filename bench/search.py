"""Search benchmark: a synthetic 100,000-item corpus built from the bundled data at bench time (never committed).

Measures p50/p99 of the ranked bigram search for fixed query lists (2-character Chinese, longer Chinese, English)
on SQLite, and on PostgreSQL when reachable, against a naive LIKE scan over the same texts measured in the same run;
then the cold start of `bot ask help` against `python -c "import slack_bolt"`.
Targets (issue 3): p99 <= 50 ms SQLite, <= 100 ms PostgreSQL, >= 3x faster than the naive scan at p99; cold start < 1 s.
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url

from bot import PROJECT_ROOT
from bot.catalog.loader import _fields, read_bundle
from bot.search import index
from bot.search.query import load_glossary, parse_query, search
from bot.services import create_services
from bot.settings import normalise_database_url
from bot.store import db, models

CORPUS_SIZE = int(os.environ.get("BENCH_CORPUS", "100000"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "50"))
RESULTS = PROJECT_ROOT / "bench" / "results"
QUERIES = {
    "zh-2char": ["算力", "直播", "数据", "文旅", "电商", "标准"],
    "zh-long": ["直播销售额", "数据要素市场化配置改革", "数字政府运营公司", "跨境电商进出口", "首席数据官制度"],
    "en": ["computing power", "livestream sales", "cross-border e-commerce", "data elements", "digital government"],
}
TARGET_P99_MS = {"sqlite": 50.0, "postgresql": 100.0}


def corpus(size: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Synthetic items: each real item's title with the body of itself and of another random item, so query
    selectivity follows the report's own word frequencies. Returns (search_docs rows, naive rows)."""
    bundle = read_bundle(PROJECT_ROOT / "data")
    items: list[Any] = [models.Metric(**_fields(m, exclude={"topics"})) for m in bundle.metrics]
    items += [models.PolicyItem(**_fields(p, exclude={"topics"})) for p in bundle.policies]
    items += [models.Insight(**_fields(i)) for i in bundle.insights]
    base = [(index.document(item), _raw(item)) for item in items]
    rng = random.Random(20231)
    docs, naive = [], []
    for i in range(size):
        (doc, raw), (other, other_raw) = rng.choice(base), rng.choice(base)
        docs.append(
            {**doc, "item_id": f"{doc['item_id']}-{i}", "body_tokens": doc["body_tokens"] + " " + other["body_tokens"]}
        )
        naive.append({"id": i + 1, "title": raw[0], "body": raw[1] + " " + other_raw[1]})
    return docs, naive


def _raw(item: Any) -> tuple[str, str]:
    if isinstance(item, models.Metric):
        return f"{item.label_zh} {item.label_en}", f"{item.measures_zh} {item.measures_en} {item.quote}"
    return f"{item.title_zh} {item.title_en}", f"{item.summary_zh} {item.summary_en}"


def build(url: str, docs: list[dict[str, Any]], naive: list[dict[str, Any]]) -> Engine:
    services = create_services(database_url=url, data_dir=PROJECT_ROOT / "data")
    db.upgrade(services.engine)
    from bot.catalog.loader import load_bundle

    with services.session_factory.begin() as session:
        load_bundle(session, read_bundle(PROJECT_ROOT / "data"))  # the glossary, for English queries
    with services.engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE naive_docs (id INTEGER PRIMARY KEY, title TEXT, body TEXT)")
        for start in range(0, len(docs), 5000):
            connection.execute(insert(models.SearchDoc), docs[start : start + 5000])
            connection.execute(
                text("INSERT INTO naive_docs (id, title, body) VALUES (:id, :title, :body)"),
                naive[start : start + 5000],
            )
    if services.engine.dialect.name == "postgresql":
        # What autovacuum does for a live database after a bulk load: statistics and the visibility map.
        with services.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
            connection.exec_driver_sql("CHECKPOINT")  # so the load's writes are not flushed during the timings
    return services.engine


def naive_search(engine: Engine, raw: str) -> int:
    """The baseline: LIKE over the raw texts, title hits first, with the same top 10 and total as the real search."""
    pattern = f"%{raw}%"
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT id, count(*) OVER () AS total FROM naive_docs WHERE title LIKE :p OR body LIKE :p"
                " ORDER BY CASE WHEN title LIKE :p THEN 0 ELSE 1 END, id LIMIT 10"
            ),
            {"p": pattern},
        ).all()
    return len(rows)


def timed(run: Callable[[], object], repeats: int) -> list[float]:
    for _ in range(3):  # warm the caches and the statement cache
        run()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        out.append((time.perf_counter() - start) * 1000)
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def measure(engine: Engine) -> dict[str, Any]:
    services_session = create_services(database_url=engine.url.render_as_string(hide_password=False))
    out: dict[str, Any] = {}
    with services_session.session_factory() as session:
        glossary = load_glossary(session)
        for category, queries in QUERIES.items():
            fast, slow, matches, per_query = [], [], [], {}
            for raw in queries:
                parsed = parse_query(raw, glossary)
                matches.append(search(session, parsed, limit=10).total)
                times = timed(lambda parsed=parsed: search(session, parsed, limit=10), REPEATS)
                per_query[raw] = {"p50_ms": percentile(times, 50), "p99_ms": percentile(times, 99)}
                fast += times
                slow += timed(lambda raw=raw: naive_search(engine, raw), max(REPEATS // 3, 5))
            out[category] = {
                "search_p50_ms": percentile(fast, 50),
                "search_p99_ms": percentile(fast, 99),
                "naive_p50_ms": percentile(slow, 50),
                "naive_p99_ms": percentile(slow, 99),
                "matches": dict(zip(queries, matches, strict=True)),
                "per_query": per_query,
            }
    services_session.close()
    return out


def cold_start(repeats: int = 5) -> dict[str, float]:
    def run(args: list[str]) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run(args, check=True, capture_output=True)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    bot = str(Path(sys.executable).with_name("bot"))
    return {
        "bot_ask_help_s": run([bot, "ask", "help"]),
        "import_slack_bolt_s": run([sys.executable, "-c", "import slack_bolt"]),
        "python_startup_s": run([sys.executable, "-c", "pass"]),
    }


def postgres_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        engine = create_engine(
            normalise_database_url(url), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        with engine.connect():
            pass
        return normalise_database_url(url)
    except Exception as error:  # any failure means "not reachable": report it and measure SQLite alone
        print(f"PostgreSQL not reachable ({type(error).__name__}); measuring SQLite only")
        return None


def main() -> None:
    print(f"building a {CORPUS_SIZE:,}-item synthetic corpus from data/ ...")
    docs, naive = corpus(CORPUS_SIZE)
    report: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "corpus": CORPUS_SIZE,
        "repeats": REPEATS,
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "backends": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        engine = build(f"sqlite:///{tmp}/bench.db", docs, naive)
        print(f"sqlite: built in {time.perf_counter() - started:.1f}s")
        report["backends"]["sqlite"] = measure(engine)
        engine.dispose()
    pg = postgres_url()
    if pg:
        name = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            started = time.perf_counter()
            engine = build(make_url(pg).set(database=name).render_as_string(hide_password=False), docs, naive)
            print(f"postgresql: built in {time.perf_counter() - started:.1f}s")
            report["backends"]["postgresql"] = measure(engine)
            engine.dispose()
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()
    report["cold_start"] = cold_start()
    print_table(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "search.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"written to {path.relative_to(PROJECT_ROOT)}")


def print_table(report: dict[str, Any]) -> None:
    print(f"\nsearch over {report['corpus']:,} items ({report['machine']}); times in ms")
    print(f"{'backend':<11}{'queries':<10}{'p50':>8}{'p99':>8}{'naive p50':>11}{'naive p99':>11}{'p99 x':>8}  target")
    for backend, categories in report["backends"].items():
        for category, row in categories.items():
            ratio = row["naive_p99_ms"] / row["search_p99_ms"]
            ok = row["search_p99_ms"] <= TARGET_P99_MS[backend] and ratio >= 3
            print(
                f"{backend:<11}{category:<10}{row['search_p50_ms']:>8.1f}{row['search_p99_ms']:>8.1f}"
                f"{row['naive_p50_ms']:>11.1f}{row['naive_p99_ms']:>11.1f}{ratio:>7.1f}x  "
                f"{'ok' if ok else 'MISSED'} (p99 <= {TARGET_P99_MS[backend]:.0f}, >= 3x)"
            )
    cold = report["cold_start"]
    print(
        f"\ncold start: bot ask help {cold['bot_ask_help_s']:.2f}s (target < 1 s); "
        f"import slack_bolt {cold['import_slack_bolt_s']:.2f}s; python itself {cold['python_startup_s']:.2f}s"
    )
