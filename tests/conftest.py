"""Each test gets a fresh database: a SQLite file under tmp_path, or a new PostgreSQL database when asked for."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bot.catalog.loader import load_bundle, read_bundle
from bot.commands.router import reply_to
from bot.core.reply import Reply
from bot.render import Renderer
from bot.render.text import plain_text
from bot.services import Services, create_services
from bot.settings import normalise_database_url
from bot.slack.blocks import SlackMessage, to_slack
from bot.store import db

FIXTURES = Path(__file__).parent / "fixtures"
MINI = FIXTURES / "mini"
PG_URL = os.environ.get("TEST_DATABASE_URL")
IN_CI = os.environ.get("CI") == "true"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bot.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards. Mandatory in CI, skipped (with the reason) elsewhere."""
    if not PG_URL:
        if IN_CI:
            pytest.fail("CI=true: PostgreSQL tests must run, but TEST_DATABASE_URL is not set")
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)")
    base = make_url(normalise_database_url(PG_URL))
    name = f"bot_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


def _services(url: str, data_dir: Path) -> Iterator[Services]:
    services = create_services(database_url=url, data_dir=data_dir)
    db.upgrade(services.engine)
    try:
        yield services
    finally:
        services.close()


def loaded_session(url: str, bundle: Path = MINI) -> Iterator[Session]:
    """A session on a freshly migrated database at `url` with `bundle` loaded (for generator fixtures)."""
    for services in _services(url, bundle):
        with services.session_factory.begin() as session:
            load_bundle(session, read_bundle(bundle))
        with services.session_factory() as session:
            yield session


@pytest.fixture
def empty_services(sqlite_url: str) -> Iterator[Services]:
    """Migrated, no data loaded."""
    yield from _services(sqlite_url, MINI)


@pytest.fixture
def mini_services(sqlite_url: str) -> Iterator[Services]:
    """Migrated, with the invented miniature edition loaded."""
    for services in _services(sqlite_url, MINI):
        with services.session_factory.begin() as session:
            load_bundle(session, read_bundle(MINI))
        yield services


@pytest.fixture
def report_services(sqlite_url: str) -> Iterator[Services]:
    """Migrated, with the bundled report (data/) loaded."""
    for services in _services(sqlite_url, Path(__file__).parent.parent / "data"):
        with services.session_factory.begin() as session:
            load_bundle(session, read_bundle(services.settings.data_dir))
        yield services


@pytest.fixture
def session(mini_services: Services) -> Iterator[Session]:
    with mini_services.session_factory() as session:
        yield session


# ---- answering without a chat platform: the router's Reply, its Slack payload (validated), its terminal text ----
RENDERER = Renderer()
__all__ = ["reply_to"]


def slack_of(reply: Reply) -> SlackMessage:
    """Block Kit through slack_sdk's models, which refuse anything over Slack's limits."""
    return to_slack(RENDERER.message(reply))


def text_of(reply: Reply) -> str:
    """What a terminal shows."""
    return plain_text(RENDERER.message(reply))
