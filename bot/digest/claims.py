"""Claims on (channel, period), their leases, and what came of them.

A claim is the insert of the digests row for (channel, period): the unique constraint lets exactly one clock win.
A claim is a lease until `lease_until`, set and compared on the database's clock (database_now), so clocks whose own
clocks disagree still agree on who holds what. The clock working on a claim renews its lease (renew) until it has
recorded the outcome; a claim whose lease ran out (its clock died or hung) is taken over by compare-and-set, and a
failed post is claimed again when its retry is due. Either may follow a post that reached Slack, so the new owner
looks for the digest's marker first (see bot.digest.runner).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Integer, Table, bindparam, case, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from bot.core.poster import PostError
from bot.store.models import AuditEntry, Channel, Digest, DigestHighlight

log = logging.getLogger(__name__)

# A claim's lease: renewed every third of it while its clock works, so only a clock that died or hung loses one.
LEASE = dt.timedelta(minutes=2)
# Claims made before leases existed (no lease_until, migration 0009) are stale this long after they were made.
LEGACY_TIMEOUT = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 8
BATCH = 500


def database_now(session: Session) -> dt.datetime:
    """The database's clock (UTC): one clock for every process, whatever their own clocks say (SQLite is a file on
    one machine, whose clock its processes share).

    SQLite's CURRENT_TIMESTAMP has whole seconds and a text form of its own; strftime('%f') gives milliseconds, and
    the value, parsed here, is stored and compared in SQLAlchemy's form like any other datetime."""
    if session.get_bind().dialect.name == "sqlite":
        text = session.scalar(select(func.strftime("%Y-%m-%d %H:%M:%f", "now")))
        return dt.datetime.fromisoformat(str(text)).replace(tzinfo=dt.UTC)
    # now() is the transaction's start: callers read it at the start of a short one.
    value = session.scalar(select(func.now()))
    assert isinstance(value, dt.datetime)
    return value.astimezone(dt.UTC)


def claim_fresh(
    session_factory: sessionmaker[Session],
    clock_id: str,
    periods: Sequence[tuple[int, str, dt.datetime]],
    now: dt.datetime,
    lease: dt.timedelta = LEASE,
) -> dict[int, int]:
    """Claims (channel pk, period key, due at) that nobody had claimed: channel pk -> digest id for those won."""
    claimed: dict[int, int] = {}
    with session_factory.begin() as session:
        lease_until = database_now(session) + lease
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
                    "lease_until": lease_until,
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
    lease: dt.timedelta = LEASE,
) -> tuple[int | None, bool]:
    """(digest id, whether an earlier attempt may have reached Slack), or (None, False) when not ours.

    `now` (the clock's own time) says whether a retry is due; whether a lease ran out is the database's to say."""
    fresh = claim_fresh(session_factory, clock_id, [(channel_pk, period_key, due_at)], now, lease)
    if channel_pk in fresh:
        return fresh[channel_pk], False
    # Claimed before: by a live clock now, or by one that died or is waiting to retry.
    with session_factory.begin() as session:
        digest = session.scalar(select(Digest).where(Digest.channel_pk == channel_pk, Digest.period_key == period_key))
        if digest is None or digest.status in ("posted", "failed"):
            return None, False
        db_now = database_now(session)
        if digest.status == "claimed":  # takeable once its lease ran out: its clock died or hung
            if digest.lease_until is not None:
                takeable = _aware(digest.lease_until) < db_now
            else:
                takeable = _aware(digest.claimed_at) <= now - LEGACY_TIMEOUT
        else:  # "retry": takeable when the retry is due
            takeable = digest.next_attempt_at is not None and _aware(digest.next_attempt_at) <= now
        if not takeable:
            return None, False
        # Compare-and-set on the claim as we saw it, lease included: of two clocks taking over, one wins, and a
        # lease its holder renewed meanwhile is not taken.
        taken = cast(
            CursorResult[Any],
            session.execute(
                update(Digest)
                .where(
                    Digest.id == digest.id,
                    Digest.claimed_at == digest.claimed_at,
                    Digest.claimed_by == digest.claimed_by,
                    Digest.status == digest.status,
                    Digest.lease_until == digest.lease_until,  # IS NULL when there was none
                )
                .values(
                    status="claimed",
                    claimed_by=clock_id,
                    claimed_at=now,
                    lease_until=db_now + lease,
                    attempts=Digest.attempts + 1,
                    next_attempt_at=None,
                )
                .execution_options(synchronize_session=False)
            ),
        )
        return (digest.id, True) if taken.rowcount == 1 else (None, False)


def renew(
    session_factory: sessionmaker[Session], clock_id: str, digest_ids: Collection[int], lease: dt.timedelta = LEASE
) -> set[int]:
    """Extends the leases of claims this clock is working on; returns those still its own. A claim missing from the
    answer was taken over (its lease ran out while this clock could not renew it): its digest must not be posted
    here. A lease that ran out but was not taken is simply extended: nobody else can have posted."""
    ids = sorted(digest_ids)
    ours: set[int] = set()
    with session_factory.begin() as session:
        lease_until = database_now(session) + lease
        for start in range(0, len(ids), BATCH):
            ours.update(
                session.scalars(
                    update(Digest)
                    .where(
                        Digest.id.in_(ids[start : start + BATCH]),
                        Digest.claimed_by == clock_id,
                        Digest.status == "claimed",
                    )
                    .values(lease_until=lease_until)
                    .returning(Digest.id)
                    .execution_options(synchronize_session=False)
                )
            )
    return ours


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
    session_factory: sessionmaker[Session], digest_id: int, error: PostError, now: dt.datetime, clock_id: str
) -> Paused | None:
    """A post that failed: retried later (None), or, when it never will succeed or has failed too often, the
    period given up and the channel paused until someone changes its settings. Only on a claim `clock_id` still
    holds: one that was taken over is its new holder's to record."""
    with session_factory.begin() as session:
        digest = session.get(Digest, digest_id)
        assert digest is not None
        if digest.status != "claimed" or digest.claimed_by != clock_id:
            log.warning("digest %s was taken over by %s: its failure is not recorded", digest_id, digest.claimed_by)
            return None
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
