from sqlalchemy import inspect

from bot.services import create_services
from bot.store import db


def test_migrations_run_up_from_empty_and_back(database_url: str) -> None:
    services = create_services(database_url=database_url)
    try:
        assert not db.is_migrated(services.engine)
        db.upgrade(services.engine)
        assert db.is_migrated(services.engine)
        tables = set(inspect(services.engine).get_table_names())
        assert {"reports", "insights", "metrics", "policy_items", "events", "search_docs", "glossary"} <= tables
        db.downgrade(services.engine)
        assert not db.is_migrated(services.engine)
        assert set(inspect(services.engine).get_table_names()) <= {"alembic_version"}
        db.upgrade(services.engine)  # and up again: downgrade left nothing behind
        assert db.is_migrated(services.engine)
    finally:
        services.close()


def test_sqlite_file_directory_is_created(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'dir' / 'bot.db'}"
    services = create_services(database_url=url)
    db.upgrade(services.engine)
    assert (tmp_path / "nested" / "dir" / "bot.db").exists()
    services.close()


def test_head_revision_constant_matches_the_migrations() -> None:
    assert db.alembic_heads() == {db.HEAD_REVISION}
