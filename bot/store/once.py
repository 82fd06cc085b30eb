"""Acting on a request once, across processes: an event Slack delivers again, a double click, a form submitted twice.
Takes the session keyword-only and never commits: the caller's transaction does."""

from __future__ import annotations

import datetime as dt
import zlib

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.store.models import HandledRequest

KEPT = dt.timedelta(days=1)  # Slack retries an event within minutes; a day is ample


def first_time(key: str, *, session: Session, now: dt.datetime | None = None) -> bool:
    """True the first time `key` is seen (and remembers it), False after: one insert, which the primary key settles
    between concurrent processes."""
    now = now or dt.datetime.now(dt.UTC)
    dialect_insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else postgresql_insert
    statement = dialect_insert(HandledRequest).values(key=key[:200], at=now).on_conflict_do_nothing()
    inserted = session.execute(statement.returning(HandledRequest.key)).first()
    if inserted is not None and zlib.crc32(key.encode()) % 100 == 0:  # now and then, forget what is old
        session.execute(delete(HandledRequest).where(HandledRequest.at < now - KEPT))
    return inserted is not None
