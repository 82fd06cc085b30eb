"""Claims on (channel, period) and what came of them.

A claim is the insert of the digests row for (channel, period): the unique constraint lets exactly one clock win.
A claim whose clock died is taken over after CLAIM_TIMEOUT, and a failed post is claimed again when its retry is
due; such a claim may follow a post that reached Slack, so its owner looks for the digest's marker first (see
bot.digest.runner).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Integer, Table, bindparam, case, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from bot.core.poster import PostError
from bot.store.models import AuditEntry, Channel, Digest, DigestHighlight

log = logging.getLogger(__name__)

CLAIM_TIMEOUT = dt.timedelta(minutes=10)  # far longer than a post takes, even with Slack's retries
MAX_ATTEMPTS = 8
BATCH = 500


def claim_fresh(
    session_factory: sessionmaker[Session],
    clock_id: str,
    periods: Sequence[tuple[int, str, dt.datetime]],
    now: dt.datetime,
) -> dict[int, int]:
    """Claims (channel pk, period key, due at) that nobody had claimed: channel pk -> digest id for those won."""
    claimed: dict[int, int] = {}
    with session_factory.begin() as session:
        dialect_insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else postgresql_insert
        statement = dialect_insert(Digest).on_conflict_do_nothing().returning(Digest.channel_pk, Digest.id)
        for start in range(0, len(periods), BATCH):
            rows = [
                {
                    "channel_pk": pk,
                    "period_key": key,
                    "due_at": at,
                    "status": "claimed",
                    "claimed_by": clock_id,
                    "claimed_at": now,
                    "attempts": 1,
                }
                for pk, key, at in periods[start : start + BATCH]
            ]
            for channel_pk, digest_id in session.execute(statement, rows):
                claimed[channel_pk] = digest_id
    return claimed


def claim(
    session_factory: sessionmaker[Session],
    clock_id: str,
    channel_pk: int,
    period_key: str,
    due_at: dt.datetime,
    now: dt.datetime,
) -> tuple[int | None, bool]:
    """(digest id, whether an earlier attempt may have reached Slack), or (None, False) when not ours."""
    fresh = claim_fresh(session_factory, clock_id, [(channel_pk, period_key, due_at)], now)
    if channel_pk in fresh:
        return fresh[channel_pk], False
    # Claimed before: by another clock now, or by one that died or is waiting to retry.
    with session_factory.begin() as session:
        digest = session.scalar(select(Digest).where(Digest.channel_pk == channel_pk, Digest.period_key == period_key))
        if digest is None or digest.status in ("posted", "failed"):
            return None, False
        ready = digest.next_attempt_at is not None and _aware(digest.next_attempt_at) <= now
        stale = digest.status == "claimed" and _aware(digest.claimed_at) <= now - CLAIM_TIMEOUT
        if not (ready or stale):
            return None, False
        # Compare-and-set on the claim we saw: of two clocks taking over, one wins.
        taken = cast(
            CursorResult[Any],
            session.execute(
                update(Digest)
                .where(
                    Digest.id == digest.id,
                    Digest.claimed_at == digest.claimed_at,
                    Digest.claimed_by == digest.claimed_by,
                    Digest.status == digest.status,
                )
                .values(
                    status="claimed",
                    claimed_by=clock_id,
                    claimed_at=now,
                    attempts=Digest.attempts + 1,
                    next_attempt_at=None,
                )
            ),
        )
        return (digest.id, True) if taken.rowcount == 1 else (None, False)


@dataclass(frozen=True)
class Posted:
    digest_id: int
    channel_pk: int
    ts: str
    event_id: int  # the newest event the digest was composed with
    highlights: Iterable[tuple[str, str]]


def mark_posted(session_factory: sessionmaker[Session], posted: Sequence[Posted], now: dt.datetime) -> None:
    """Posted digests, in one transaction whether one or thousands.

    The channel's watermark (last_event_id: changes up to it have been shown) only moves forward: a digest composed
    before a newer one was recorded (a recovery, `digest now` beside a scheduled run) must not bring back changes
    that were already shown."""
    if not posted:
        return
    # Core executemany statements: thousands of rows a second, where the ORM would track each object.
    digests, channels = cast(Table, Digest.__table__), cast(Table, Channel.__table__)
    event = bindparam("event", type_=Integer)
    with session_factory.begin() as session:
        session.execute(
            digests.update()
            .where(digests.c.id == bindparam("digest"))
            .values(status="posted", posted_ts=bindparam("ts"), posted_at=now, event_id=event, last_error=None),
            [{"digest": p.digest_id, "ts": p.ts, "event": p.event_id} for p in posted],
        )
        session.execute(
            channels.update()
            .where(channels.c.id == bindparam("channel"))
            .values(last_event_id=case((channels.c.last_event_id < event, event), else_=channels.c.last_event_id)),
            [{"channel": p.channel_pk, "event": p.event_id} for p in posted],
        )
        highlights = [
            {"channel_pk": p.channel_pk, "digest_id": p.digest_id, "kind": kind, "item_id": item_id}
            for p in posted
            for kind, item_id in p.highlights
        ]
        if highlights:
            session.execute(insert(cast(Table, DigestHighlight.__table__)), highlights)


@dataclass(frozen=True)
class Paused:
    """A channel whose digests were paused, and who to tell."""

    team_id: str
    channel_id: str
    set_up_by: str
    lang: str


def mark_failed(
    session_factory: sessionmaker[Session], digest_id: int, error: PostError, now: dt.datetime
) -> Paused | None:
    """A post that failed: retried later (None), or, when it never will succeed or has failed too often, the
    period given up and the channel paused until someone changes its settings."""
    with session_factory.begin() as session:
        digest = session.get(Digest, digest_id)
        assert digest is not None
        digest.last_error = error.error
        if not (error.permanent or digest.attempts >= MAX_ATTEMPTS):
            wait = error.retry_after or min(30 * 2 ** (digest.attempts - 1), 1800)
            digest.status = "retry"
            digest.next_attempt_at = now + dt.timedelta(seconds=wait)
            log.info("digest %s will be retried in %ss: %s", digest_id, wait, error.error)
            return None
        channel = session.get(Channel, digest.channel_pk)
        assert channel is not None
        digest.status = "failed"
        channel.paused_reason = f"{error.error} ({now:%Y-%m-%d %H:%M} UTC)"
        session.add(
            AuditEntry(
                team_id=channel.team_id,
                channel_id=channel.channel_id,
                user_id="bot",
                action="pause",
                detail=error.error,
            )
        )
        paused = Paused(channel.team_id, channel.channel_id, channel.set_up_by, channel.lang)
    log.warning("digests paused for %s/%s: %s", paused.team_id, paused.channel_id, error.error)
    return paused


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; they were stored in UTC.
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
