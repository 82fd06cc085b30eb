"""Issue 12: while a data load (or anything else) holds the database, a person's request is answered in Slack's time,
"the data is being updated; try again in a minute", with nothing half-written; the load itself still waits as long
as it needs. Real databases throughout: another connection holds the lock, as a load does."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Connection, text

from bot.catalog.loader import load_bundle, read_bundle
from bot.commands.router import ask
from bot.core.caller import Caller
from bot.core.errors import DatabaseBusy
from bot.search import index
from bot.services import Services, create_services
from bot.store import db
from tests.conftest import FIXTURES, MINI, text_of

BUSY_EN = "The data is being updated; please try again in a minute."
BUSY_ZH = "数据正在更新，请一分钟后再试。"
# Generous: a request gives up after db.REQUEST_LOCK_WAIT (1.5 s); this only keeps a broken test from hanging.
BOUND = 10.0
CALLER = Caller("T1", "C1", "U1")
SCHEDULE = "schedule daily 08:30 Europe/Berlin"


@pytest.fixture
def services(database_url: str) -> Iterator[Services]:
    """The mini edition loaded, and channel C1 subscribed (so that `schedule` has a row to change)."""
    services = create_services(database_url=database_url, data_dir=MINI)
    db.upgrade(services.engine)
    with services.session_factory.begin() as session:
        load_bundle(session, read_bundle(MINI))
    assert "Subscribed to compute" in ask(services, "subscribe compute", text_of, caller=CALLER)
    try:
        yield services
    finally:
        services.close()


def is_sqlite(services: Services) -> bool:
    return services.engine.dialect.name == "sqlite"


@contextmanager
def sqlite_load(services: Services) -> Iterator[None]:
    """What a load does to SQLite: a write transaction that has written and not yet committed."""
    connection = sqlite3.connect(str(services.engine.url.database), isolation_level=None, timeout=0)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(
            "INSERT INTO audit_log (team_id, channel_id, user_id, action, detail) VALUES ('T0', 'C0', 'U0', 'x', 'x')"
        )
        yield
    finally:
        connection.execute("ROLLBACK")
        connection.close()


@contextmanager
def pg_lock(services: Services, statement: str) -> Iterator[Connection]:
    """Another transaction holding a PostgreSQL lock (taken through the long-waiting engine, as a load would)."""
    with services.engine.connect() as connection, connection.begin():
        connection.exec_driver_sql(statement)
        yield connection


# The locks a load (or a maintenance job) can hold on what `schedule` writes: SQLite's one write lock; on
# PostgreSQL the whole table, or just the channel's row.
LOCKS = {
    "sqlite": ("write lock",),
    "postgresql": (
        "LOCK TABLE channels IN ACCESS EXCLUSIVE MODE",
        "SELECT id FROM channels WHERE channel_id = 'C1' FOR UPDATE",
    ),
}


@contextmanager
def held(services: Services, lock: str) -> Iterator[None]:
    if is_sqlite(services):
        with sqlite_load(services):
            yield
    else:
        with pg_lock(services, lock):
            yield


def settings_of(services: Services) -> tuple[object, ...]:
    with services.engine.connect() as connection:
        channel = connection.execute(text("SELECT schedule_kind, schedule_at, schedule_zone FROM channels")).one()
        audits = connection.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
    return (*channel, audits)


def timed(services: Services, command: str, **options: object) -> tuple[str, float]:
    started = time.monotonic()
    reply = ask(services, command, text_of, caller=CALLER, **options)  # type: ignore[arg-type]
    return reply, time.monotonic() - started


def test_a_write_during_a_load_is_told_to_try_again_and_works_once_it_is_over(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    before = settings_of(services)
    for lock in LOCKS[services.engine.dialect.name]:
        caplog.clear()
        with held(services, lock), caplog.at_level(logging.INFO):
            reply, took = timed(services, SCHEDULE)
            zh_reply, _ = timed(services, SCHEDULE, lang="zh")
        assert reply.strip() == BUSY_EN, lock
        assert zh_reply.strip() == BUSY_ZH, lock
        assert took < BOUND
        # Nothing half-done: the channel and the audit trail are as they were.
        assert settings_of(services) == before, lock
        # Logged as what it is, once per request: a warning, no traceback.
        busy = [r for r in caplog.records if "gave up waiting for the database" in r.getMessage()]
        assert len(busy) == 2 and all(r.levelno == logging.WARNING and not r.exc_info for r in busy), lock
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # The lock released, the same command goes through.
    assert timed(services, SCHEDULE)[0].startswith("Digest: daily at 08:30")
    assert settings_of(services) == ("daily", "08:30", "Europe/Berlin", before[-1] + 1)


def test_a_subscribe_during_a_load_changes_nothing(services: Services) -> None:
    before = settings_of(services)
    lock = LOCKS[services.engine.dialect.name][0]
    with held(services, lock):
        assert timed(services, "subscribe keyword:直播")[0].strip() == BUSY_ZH
    assert settings_of(services) == before
    with services.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM subscriptions")).scalar_one() == 1
    assert "Subscribed to" in timed(services, "subscribe keyword:livestream")[0]


def test_sqlite_answers_keep_working_while_a_load_writes(sqlite_url: str) -> None:
    """WAL: readers never wait for the writer, also on a connection first opened during the load."""
    services = create_services(database_url=sqlite_url, data_dir=MINI)
    try:
        db.upgrade(services.engine)
        with services.session_factory.begin() as session:
            load_bundle(session, read_bundle(MINI))
        with sqlite_load(services):
            started = time.monotonic()
            assert "/insights list" in ask(services, "help", text_of)
            assert "9.99万亿元" in ask(services, "直播销售额", text_of)
            assert "compute" in ask(services, "topics", text_of)
            assert "follows nothing" in ask(services, "subscriptions", text_of, caller=CALLER)  # a write transaction
            assert time.monotonic() - started < 1.0  # read, not waited for
    finally:
        services.close()


def test_postgresql_answers_behind_an_exclusive_lock_are_told_not_hung(pg_url: str) -> None:
    """`help` hung 11 s behind a lock: every answer reads the data version (events) first."""
    services = create_services(database_url=pg_url, data_dir=MINI)
    try:
        db.upgrade(services.engine)
        with services.session_factory.begin() as session:
            load_bundle(session, read_bundle(MINI))
        with pg_lock(services, "LOCK TABLE events IN ACCESS EXCLUSIVE MODE"):
            started = time.monotonic()
            assert ask(services, "help", text_of).strip() == BUSY_EN
            assert ask(services, "直播销售额", text_of).strip() == BUSY_ZH
            assert time.monotonic() - started < BOUND
        with pg_lock(services, "LOCK TABLE search_docs IN ACCESS EXCLUSIVE MODE"):
            assert "/insights list" in ask(services, "help", text_of)  # it does not read the locked table
            assert ask(services, "直播销售额", text_of).strip() == BUSY_ZH
        assert "/insights list" in ask(services, "help", text_of)
        assert "9.99万亿元" in ask(services, "直播销售额", text_of)
    finally:
        services.close()


def test_a_request_is_answered_in_time_while_a_real_load_runs(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bot.catalog.loader in a thread, stopped halfway (after it has written) until the test lets it go on."""
    holding, go_on = threading.Event(), threading.Event()
    refresh = index.refresh

    def paused_refresh(session, item) -> None:  # type: ignore[no-untyped-def]
        if not holding.is_set():
            session.flush()
            holding.set()
            go_on.wait(30)
        refresh(session, item)

    monkeypatch.setattr(index, "refresh", paused_refresh)
    loaded: list[object] = []

    def load() -> None:
        with services.session_factory.begin() as session:
            loaded.append(load_bundle(session, read_bundle(FIXTURES / "edition2")))

    loader = threading.Thread(target=load)
    loader.start()
    try:
        assert holding.wait(10)
        if is_sqlite(services):
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):  # the load holds the lock
                sqlite3.connect(str(services.engine.url.database), timeout=0).execute("BEGIN IMMEDIATE")
        reply, took = timed(services, SCHEDULE)
        # SQLite has one writer: told to try again. PostgreSQL locks rows: the load does not touch the channel's.
        assert reply.strip() == BUSY_EN if is_sqlite(services) else reply.startswith("Digest: daily at 08:30")
        assert took < BOUND
        assert "/insights list" in ask(services, "help", text_of)  # answers keep working throughout
    finally:
        go_on.set()
        loader.join(30)
    assert loaded and not loader.is_alive()  # the load waited for nothing and finished
    assert timed(services, SCHEDULE)[0].startswith("Digest: daily at 08:30")


def test_a_load_still_waits_for_a_lock_a_request_would_give_up_on(sqlite_url: str) -> None:
    """The loader and the clock keep the long wait: the load's write lock comes after a 3 s holder lets go."""
    services = create_services(database_url=sqlite_url, data_dir=MINI)
    try:
        db.upgrade(services.engine)
        released = threading.Event()

        def hold() -> None:
            with sqlite_load(services):
                started.set()
                time.sleep(db.REQUEST_LOCK_WAIT + 1)
            released.set()

        started = threading.Event()
        holder = threading.Thread(target=hold)
        holder.start()
        assert started.wait(10)
        with services.session_factory.begin() as session:
            result = load_bundle(session, read_bundle(MINI))
        assert released.is_set() and result.created
        holder.join()
    finally:
        services.close()


def test_request_connections_have_short_waits_and_the_others_long_ones(database_url: str) -> None:
    services = create_services(database_url=database_url)
    short, long = round(db.REQUEST_LOCK_WAIT * 1000), round(db.LONG_LOCK_WAIT * 1000)
    try:
        if is_sqlite(services):
            for engine, wait in ((services.engine, long), (services.request_engine, short)):
                with engine.connect() as connection:
                    assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == wait
        else:
            statement = round(db.REQUEST_STATEMENT_TIMEOUT * 1000)
            settings = (
                "SELECT setting FROM pg_settings WHERE name IN ('lock_timeout', 'statement_timeout') ORDER BY name"
            )
            for engine, timeouts in ((services.engine, [0, 0]), (services.request_engine, [short, statement])):
                with engine.connect() as connection:
                    assert [int(v) for v in connection.exec_driver_sql(settings).scalars()] == timeouts
    finally:
        services.close()


def test_busy_errors_are_recognised_and_others_are_not(tmp_path: Path) -> None:
    path = str(tmp_path / "busy.db")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError) as locked:
        sqlite3.connect(path, timeout=0).execute("BEGIN IMMEDIATE")
    holder.execute("ROLLBACK")
    with pytest.raises(sqlite3.OperationalError) as missing:
        holder.execute("SELECT * FROM nowhere")
    assert db.is_busy(locked.value) and not db.is_busy(missing.value)
    snapshot = sqlite3.OperationalError("database is locked")
    snapshot.sqlite_errorcode = 517  # type: ignore[attr-defined]  # SQLITE_BUSY_SNAPSHOT
    assert db.is_busy(snapshot)
    assert db.is_busy(psycopg.errors.LockNotAvailable()) and db.is_busy(psycopg.errors.QueryCanceled())
    assert not db.is_busy(psycopg.errors.UniqueViolation()) and not db.is_busy(RuntimeError("database is locked"))


def test_other_database_errors_on_request_paths_stay_errors(sqlite_url: str) -> None:
    services = create_services(database_url=sqlite_url)
    try:
        with pytest.raises(Exception, match="no such table") as caught, services.request_session_factory() as s:
            s.execute(text("SELECT * FROM nowhere"))
        assert not isinstance(caught.value, DatabaseBusy)
    finally:
        services.close()


def test_an_in_memory_database_is_shared_by_requests() -> None:
    services = create_services(database_url="sqlite://")
    try:
        assert services.request_engine is services.engine
    finally:
        services.close()
