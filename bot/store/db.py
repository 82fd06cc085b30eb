"""Engines, sessions and migrations. Sessions are opened at the boundary; store functions never commit.

Two kinds of engine share one database. The default one waits as long as a data load may take (the loader, the
clock, migrations). A request engine (`make_engine(url, request=True)`) serves people, who must be answered within
Slack's 3 seconds: it waits at most REQUEST_LOCK_WAIT seconds for a lock (and, on PostgreSQL, at most
REQUEST_STATEMENT_TIMEOUT for any statement), then raises bot.core.errors.DatabaseBusy, which the edges word as
"the data is being updated; try again in a minute". Its connections are configured once, when they connect, so
that a request pays nothing per transaction.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.core.errors import DatabaseBusy

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The newest migration; tests check it against Alembic's own view, so that start-up need not import Alembic.
HEAD_REVISION = "0012"


# Seconds. A load or the clock waits up to LONG_LOCK_WAIT for SQLite's write lock (sqlite3's busy timeout).
LONG_LOCK_WAIT = 30.0
# A request waits this long for a lock, then is told to try again. Slack gives an answer 3 s; a command may first
# spend up to 1 s asking Slack (can the bot post here, is this person an admin) and its own work takes milliseconds,
# so 1.5 s of waiting still answers in time with room for the network. Requests' own writes take milliseconds, so
# they never come near it; a data load (seconds to minutes on SQLite, which has one writer) does.
REQUEST_LOCK_WAIT = 1.5
# PostgreSQL only: the longest any statement of a request may run, lock waits included (searches take ~20 ms).
REQUEST_STATEMENT_TIMEOUT = 2.0
# sqlite3's SQLITE_BUSY, and PostgreSQL's lock_not_available (lock_timeout) and query_canceled (statement_timeout).
SQLITE_BUSY = 5
BUSY_SQLSTATES = frozenset({"55P03", "57014"})


def make_engine(url: str, *, request: bool = False) -> Engine:
    """An engine for `url`; `request=True` gives one whose waits fit a person's request (see the module's doc)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        wait = REQUEST_LOCK_WAIT if request else LONG_LOCK_WAIT
        engine = create_engine(url, connect_args={"timeout": wait})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        # psycopg prepares a statement after 5 runs, and PostgreSQL then may settle on a generic plan that ignores
        # the search terms: a common bigram and a rare one want different plans. Plan every search for its own terms.
        options = "-c plan_cache_mode=force_custom_plan"
        if request:
            options += (
                f" -c lock_timeout={round(REQUEST_LOCK_WAIT * 1000)}"
                f" -c statement_timeout={round(REQUEST_STATEMENT_TIMEOUT * 1000)}"
            )
        engine = create_engine(url, pool_pre_ping=True, connect_args={"options": options})
    if request:
        event.listen(engine, "handle_error", _busy)
    return engine


def is_busy(error: BaseException) -> bool:
    """Whether `error` (a DBAPI error, or SQLAlchemy's wrapper of one) is a lock wait or statement that timed out."""
    original = getattr(error, "orig", error)
    code = getattr(original, "sqlite_errorcode", None)
    if code is not None:
        # Extended codes (SQLITE_BUSY_SNAPSHOT, SQLITE_BUSY_RECOVERY) keep the primary code in the low byte.
        return int(code) & 0xFF == SQLITE_BUSY
    return getattr(original, "sqlstate", None) in BUSY_SQLSTATES


def _busy(context: ExceptionContext) -> None:
    """A request engine's timeouts become DatabaseBusy (the transaction is rolled back by its session, as for any
    error), logged here once, without a traceback: it is expected during a data load, not a fault."""
    if context.is_disconnect or not is_busy(context.original_exception):
        return
    reason = (str(context.original_exception).splitlines() or [""])[0]
    statement = " ".join((context.statement or "").split())[:120]
    log.warning("a request gave up waiting for the database (%s): %s", reason, statement)
    raise DatabaseBusy(reason) from context.original_exception


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def _alembic_config(engine: Engine) -> object:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(_alembic_config(engine), revision)  # type: ignore[arg-type]


def downgrade(engine: Engine, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(_alembic_config(engine), revision)  # type: ignore[arg-type]


def is_migrated(engine: Engine) -> bool:
    """True when the schema is at the latest revision (cheap: one query on alembic_version)."""
    if not inspect(engine).has_table("alembic_version"):
        return False
    with engine.connect() as connection:
        current = {row[0] for row in connection.exec_driver_sql("SELECT version_num FROM alembic_version")}
    return current == {HEAD_REVISION}


def alembic_heads() -> set[str]:
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())
