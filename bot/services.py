"""The one factory: settings in, everything the CLI, the Slack app and the clock need out."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.core.cache import ReplyCache
from bot.render import Renderer
from bot.settings import Settings
from bot.store import db

log = logging.getLogger(__name__)


@dataclass
class Services:
    """`session_factory` waits as long as a data load may take: the loader, the clock, migrations and tools use it.
    `request_session_factory` is for what a person waits for (commands and answers, from Slack or the terminal): it
    gives up on a lock after a couple of seconds with bot.core.errors.DatabaseBusy (see bot.store.db)."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    renderer: Renderer
    reply_cache: ReplyCache
    request_engine: Engine
    request_session_factory: sessionmaker[Session]

    def close(self) -> None:
        self.request_engine.dispose()
        self.engine.dispose()


def create_services(settings: Settings | None = None, **overrides: Any) -> Services:
    """Build the services from settings; tests pass overrides (database_url=..., data_dir=...)."""
    settings = settings or Settings()
    if overrides:
        settings = settings.model_copy(update=overrides)
        settings = Settings.model_validate(settings.model_dump())
    engine = db.make_engine(settings.database_url)
    # Requests get a second pool on the same database, its connections configured for short waits once, when they
    # connect (a per-transaction SET LOCAL would cost every request a round trip). An in-memory SQLite database
    # exists once per engine, so it keeps the one.
    in_memory = engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")
    request_engine = engine if in_memory else db.make_engine(settings.database_url, request=True)
    return Services(
        settings,
        engine,
        db.make_session_factory(engine),
        Renderer(),
        ReplyCache(settings.reply_cache_size),
        request_engine,
        db.make_session_factory(request_engine),
    )


def ensure_ready(services: Services) -> None:
    """Migrate an unmigrated database and load the bundled data into an empty one, so the first run just works."""
    from bot.store import queries

    if not db.is_migrated(services.engine):
        log.info("migrating the database")
        db.upgrade(services.engine)
    with services.session_factory.begin() as session:
        if queries.insights(session=session):
            return
        from bot.catalog.loader import load_bundle, read_bundle

        result = load_bundle(session, read_bundle(services.settings.data_dir))
        log.info("loaded the bundled data: %d items", result.created)
