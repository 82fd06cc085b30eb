"""Engines, sessions and migrations. Sessions are opened at the boundary; store functions never commit."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The newest migration; tests check it against Alembic's own view, so that start-up need not import Alembic.
HEAD_REVISION = "0008"


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # psycopg prepares a statement after 5 runs, and PostgreSQL then may settle on a generic plan that ignores the
    # search terms: a common bigram and a rare one want different plans. Plan every search for its own terms.
    return create_engine(url, pool_pre_ping=True, connect_args={"options": "-c plan_cache_mode=force_custom_plan"})


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
