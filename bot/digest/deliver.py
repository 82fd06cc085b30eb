"""Posting due digests: claimed once per channel and period, retried when Slack is briefly unavailable, paused when
it never will be, and recovered after a crash without posting twice.

The database decides what is due (see DESIGN.md: APScheduler only drives the tick). A claim is the insert of the
digests row for (channel, period): the unique constraint lets exactly one clock win. A claim whose clock died is
taken over after CLAIM_TIMEOUT; before posting again the new owner looks in the channel for the digest's own
metadata marker, so a digest that reached Slack before the crash is recorded, not repeated.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, cast

from sqlalchemy import CursorResult, Table, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.digest.compose import Composer, compose, shown_counts, subscriptions_by_channel
from bot.digest.store import schedule_of
from bot.legacy_render import Renderer, channel_link
from bot.store.models import AuditEntry, Channel, Digest, DigestHighlight

log = logging.getLogger(__name__)

EVENT_TYPE = "insights_digest"
CLAIM_TIMEOUT = dt.timedelta(minutes=10)  # far longer than a post takes, even with Slack's retries
MAX_ATTEMPTS = 8
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "is_archived",
        "not_in_channel",
        "account_inactive",
        "invalid_auth",
        "token_revoked",
        "missing_scope",
        "restricted_action",
        "team_access_not_granted",
        "no_permission",
    }
)


class PostError(Exception):
    def __init__(self, error: str, *, retry_after: float | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.retry_after = retry_after

    @property
    def permanent(self) -> bool:
        return self.error in PERMANENT_ERRORS


class Poster(Protocol):
    """The edge that talks to Slack (bot.slack.poster); tests use the Slack stand-in behind the real one."""

    def post(
        self, team_id: str, channel_id: str, text: str, blocks: list[dict[str, Any]], metadata: dict[str, Any]
    ) -> str: ...

    def find_marker(self, team_id: str, channel_id: str, metadata: dict[str, Any], oldest: float) -> str | None: ...

    def notify(self, team_id: str, user_id: str, text: str) -> None: ...


Outcome = Literal["posted", "recovered", "skipped", "retry", "paused", "empty"]


@dataclass
class RunReport:
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, outcome: Outcome) -> None:
        self.outcomes[outcome] += 1

    def __str__(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items())) or "nothing due"


def metadata_for(channel: Channel, period_key: str) -> dict[str, Any]:
    return {
        "event_type": EVENT_TYPE,
        "event_payload": {"team": channel.team_id, "channel": channel.channel_id, "period": period_key},
    }


class TeamPacer:
    """At most `per_second` posts a second for each workspace (Slack's unpublished workspace-wide limit)."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / per_second
        self.clock = clock
        self._next: dict[str, float] = defaultdict(float)
        self._lock = threading.Lock()

    def wait(self, team_id: str) -> None:
        with self._lock:
            now = self.clock()
            slot = max(now, self._next[team_id])
            self._next[team_id] = slot + self.interval
        if slot > now:
            time.sleep(slot - now)

    def hold(self, team_id: str, seconds: float) -> None:
        """Slack said 429 with Retry-After: nothing more for this workspace until then."""
        with self._lock:
            self._next[team_id] = max(self._next[team_id], self.clock() + seconds)


@dataclass(frozen=True)
class Job:
    digest_id: int
    channel_pk: int
    team_id: str
    channel_id: str
    set_up_by: str
    metadata: dict[str, Any]
    text: str
    blocks: list[dict[str, Any]]
    event_id: int
    highlights: list[tuple[str, str]]
    empty: bool


def _round_robin(due: list[tuple[int, str, str, dt.datetime]]) -> list[tuple[int, str, str, dt.datetime]]:
    """One channel of each workspace in turn, so every workspace starts posting at once."""
    by_team: dict[str, list[tuple[int, str, str, dt.datetime]]] = defaultdict(list)
    for item in due:
        by_team[item[1]].append(item)
    lanes = list(by_team.values())
    return [lane[i] for i in range(max(map(len, lanes), default=0)) for lane in lanes if i < len(lane)]


def _drain(
    results: queue.SimpleQueue[tuple[Job, str | PostError]], pending: list[tuple[Job, str | PostError]]
) -> list[tuple[Job, str | PostError]]:
    while True:
        try:
            pending.append(results.get_nowait())
        except queue.Empty:
            break
    done = list(pending)
    pending.clear()
    return done


@dataclass
class Runner:
    session_factory: sessionmaker[Session]
    renderer: Renderer
    poster: Poster
    clock_id: str
    pacer: TeamPacer = field(default_factory=lambda: TeamPacer(20))
    workers: int = 32  # posting threads: each mostly waits on Slack or on its workspace's pace
    # (i, n): this clock serves the workspaces whose hash is i modulo n, so n clock processes share the work (and
    # the CPU) instead of racing for it; claims still make any overlap harmless.
    shard: tuple[int, int] | None = None

    def run_due(self, now: dt.datetime) -> RunReport:
        """One tick: every channel whose latest scheduled period has no posted digest gets one (at most once).

        Fresh claims are made in bulk; digests are composed in turn across workspaces and posted by a pool of
        threads, each workspace paced; results are committed in batches. A period claimed before (a retry that is
        ready, a claim whose clock died) goes the careful way, one at a time, through deliver()."""
        report = RunReport()
        due = self._due(now)
        fresh = self._claim_fresh(due, now)
        if fresh:
            self._post_fresh([d for d in due if d[0] in fresh], fresh, now, report)
        for channel_pk, _team, period_key, due_at in due:
            if channel_pk not in fresh:
                report.add(self.deliver(channel_pk, period_key, due_at, now))
        return report

    def _claim_fresh(self, due: list[tuple[int, str, str, dt.datetime]], now: dt.datetime) -> dict[int, int]:
        """channel pk -> digest id for the periods nobody had claimed; the unique constraint settles races."""
        claimed: dict[int, int] = {}
        with self.session_factory.begin() as session:
            dialect_insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else postgresql_insert
            for start in range(0, len(due), 500):
                rows = [
                    {
                        "channel_pk": pk,
                        "period_key": key,
                        "due_at": at,
                        "status": "claimed",
                        "claimed_by": self.clock_id,
                        "claimed_at": now,
                        "attempts": 1,
                    }
                    for pk, _team, key, at in due[start : start + 500]
                ]
                statement = dialect_insert(Digest).on_conflict_do_nothing().returning(Digest.channel_pk, Digest.id)
                for channel_pk, digest_id in session.execute(statement, rows):
                    claimed[channel_pk] = digest_id
        return claimed

    def _post_fresh(
        self,
        due: list[tuple[int, str, str, dt.datetime]],
        claimed: dict[int, int],
        now: dt.datetime,
        report: RunReport,
    ) -> None:
        jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        results: queue.SimpleQueue[tuple[Job, str | PostError]] = queue.SimpleQueue()
        teams = {team for _pk, team, _key, _at in due}
        workers = [
            threading.Thread(target=self._post_jobs, args=(jobs, results), daemon=True)
            for _ in range(max(1, min(self.workers, len(teams) * 2)))
        ]
        for worker in workers:
            worker.start()
        pending: list[tuple[Job, str | PostError]] = []
        with self.session_factory() as session:
            composer = Composer(session, now)
            pks = [pk for pk, _team, _key, _at in due]
            subscriptions = subscriptions_by_channel(session, pks)
            shown = shown_counts(session, pks)
            channels = {c.id: c for c in session.scalars(select(Channel).where(Channel.id.in_(pks)))}
            for done, (pk, _team, key, _at) in enumerate(_round_robin(due), start=1):
                channel = channels[pk]
                digest = composer.compose(
                    channel, period_key=key, subscriptions=subscriptions.get(pk, []), shown=shown.get(pk, Counter())
                )
                rendered = composer.render(digest, self.renderer)
                jobs.put(
                    Job(
                        claimed[pk],
                        pk,
                        channel.team_id,
                        channel.channel_id,
                        channel.set_up_by,
                        metadata_for(channel, key),
                        rendered.text,
                        rendered.blocks,
                        digest.event_id,
                        digest.highlights,
                        digest.empty,
                    )
                )
                if done % 200 == 0:  # keep the database up to date while composing goes on
                    self._record(_drain(results, pending), now, report)
        for _ in workers:
            jobs.put(None)
        for worker in workers:
            worker.join()
        self._record(_drain(results, pending), now, report)

    def _post_jobs(
        self, jobs: queue.SimpleQueue[Job | None], results: queue.SimpleQueue[tuple[Job, str | PostError]]
    ) -> None:
        while (job := jobs.get()) is not None:
            self.pacer.wait(job.team_id)
            try:
                results.put((job, self.poster.post(job.team_id, job.channel_id, job.text, job.blocks, job.metadata)))
            except PostError as error:
                if error.retry_after:
                    self.pacer.hold(job.team_id, error.retry_after)
                results.put((job, error))

    def _record(self, done: list[tuple[Job, str | PostError]], now: dt.datetime, report: RunReport) -> None:
        """Posted digests in one transaction; failures one by one (they are few, and each may pause a channel)."""
        posted = [(job, ts) for job, ts in done if isinstance(ts, str)]
        if posted:
            # Core executemany statements: thousands of rows a second, where the ORM would track each object.
            digests, channels = cast(Table, Digest.__table__), cast(Table, Channel.__table__)
            with self.session_factory.begin() as session:
                session.execute(
                    digests.update()
                    .where(digests.c.id == bindparam("digest_id"))
                    .values(status="posted", posted_ts=bindparam("ts"), posted_at=now, event_id=bindparam("event")),
                    [{"digest_id": job.digest_id, "ts": ts, "event": job.event_id} for job, ts in posted],
                )
                session.execute(
                    channels.update()
                    .where(channels.c.id == bindparam("channel"))
                    .values(last_event_id=bindparam("event")),
                    [{"channel": job.channel_pk, "event": job.event_id} for job, _ts in posted],
                )
                highlights = [
                    {"channel_pk": job.channel_pk, "digest_id": job.digest_id, "kind": kind, "item_id": item_id}
                    for job, _ts in posted
                    for kind, item_id in job.highlights
                ]
                if highlights:
                    session.execute(insert(cast(Table, DigestHighlight.__table__)), highlights)
            for job, _ts in posted:
                report.add("empty" if job.empty else "posted")
        for job, error in done:
            if isinstance(error, PostError):
                report.add(self._failed(job.digest_id, job.channel_pk, error, now, job.set_up_by))

    def _due(self, now: dt.datetime) -> list[tuple[int, str, str, dt.datetime]]:
        with self.session_factory() as session:
            channels = session.scalars(
                select(Channel).where(Channel.paused_reason.is_(None), Channel.schedule_kind != "off")
            ).all()
            done = {
                (pk, key)
                for pk, key in session.execute(
                    select(Digest.channel_pk, Digest.period_key).where(Digest.status.in_(("posted", "failed")))
                )
            }
        out = []
        for channel in channels:
            if self.shard and zlib.crc32(channel.team_id.encode()) % self.shard[1] != self.shard[0]:
                continue
            latest = schedule_of(channel).latest_due(now)
            if latest is None:
                continue
            period_key, due_at = latest
            created = channel.created_at if channel.created_at.tzinfo else channel.created_at.replace(tzinfo=dt.UTC)
            # A period that was due before the channel subscribed is not owed to it.
            if due_at < created or (channel.id, period_key) in done:
                continue
            out.append((channel.id, channel.team_id, period_key, due_at))
        return out

    def deliver(self, channel_pk: int, period_key: str, due_at: dt.datetime, now: dt.datetime) -> Outcome:
        digest_id, recovering = self._claim(channel_pk, period_key, due_at, now)
        if digest_id is None:
            return "skipped"
        with self.session_factory() as session:
            channel = session.get(Channel, channel_pk)
            assert channel is not None
            metadata = metadata_for(channel, period_key)
            team_id, channel_id, set_up_by = channel.team_id, channel.channel_id, channel.set_up_by
            if recovering:
                try:
                    # An hour of slack for clocks that disagree; a digest is never posted before it is due.
                    ts = self.poster.find_marker(team_id, channel_id, metadata, oldest=due_at.timestamp() - 3600)
                except PostError as error:
                    return self._failed(digest_id, channel_pk, error, now, set_up_by)
                if ts is not None:
                    composed = compose(session, channel, now=now, period_key=period_key)
                    self._posted(digest_id, channel_pk, ts, composed.event_id, composed.highlights, now)
                    return "recovered"
            composed = compose(session, channel, now=now, period_key=period_key)
            rendered = self.renderer.render(composed.reply)
        self.pacer.wait(team_id)
        try:
            ts = self.poster.post(team_id, channel_id, rendered.text, rendered.blocks, metadata)
        except PostError as error:
            if error.retry_after:
                self.pacer.hold(team_id, error.retry_after)
            return self._failed(digest_id, channel_pk, error, now, set_up_by)
        self._posted(digest_id, channel_pk, ts, composed.event_id, composed.highlights, now)
        return "empty" if composed.empty else "posted"

    def _claim(
        self, channel_pk: int, period_key: str, due_at: dt.datetime, now: dt.datetime
    ) -> tuple[int | None, bool]:
        """(digest id, whether an earlier attempt may have reached Slack), or (None, False) when not ours."""
        try:
            with self.session_factory.begin() as session:
                digest = Digest(
                    channel_pk=channel_pk,
                    period_key=period_key,
                    due_at=due_at,
                    status="claimed",
                    claimed_by=self.clock_id,
                    claimed_at=now,
                    attempts=1,
                )
                session.add(digest)
                session.flush()
                return digest.id, False
        except IntegrityError:
            pass  # claimed before: by another clock now, or by one that died or is waiting to retry
        with self.session_factory.begin() as session:
            found = session.scalar(
                select(Digest).where(Digest.channel_pk == channel_pk, Digest.period_key == period_key)
            )
            if found is None or found.status in ("posted", "failed"):
                return None, False
            digest = found
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
                        claimed_by=self.clock_id,
                        claimed_at=now,
                        attempts=Digest.attempts + 1,
                        next_attempt_at=None,
                    )
                ),
            )
            return (digest.id, True) if taken.rowcount == 1 else (None, False)

    def _posted(
        self,
        digest_id: int,
        channel_pk: int,
        ts: str,
        event_id: int,
        highlights: Iterable[tuple[str, str]],
        now: dt.datetime,
    ) -> None:
        with self.session_factory.begin() as session:
            session.execute(
                update(Digest)
                .where(Digest.id == digest_id)
                .values(status="posted", posted_ts=ts, posted_at=now, event_id=event_id, last_error=None)
            )
            channel = session.get(Channel, channel_pk)
            assert channel is not None
            channel.last_event_id = max(channel.last_event_id, event_id)
            session.add_all(
                DigestHighlight(channel_pk=channel_pk, digest_id=digest_id, kind=kind, item_id=item_id)
                for kind, item_id in highlights
            )

    def _failed(self, digest_id: int, channel_pk: int, error: PostError, now: dt.datetime, set_up_by: str) -> Outcome:
        with self.session_factory.begin() as session:
            digest = session.get(Digest, digest_id)
            channel = session.get(Channel, channel_pk)
            assert digest is not None
            assert channel is not None
            digest.last_error = error.error
            if error.permanent or digest.attempts >= MAX_ATTEMPTS:
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
                team_id, channel_id = channel.team_id, channel.channel_id
            else:
                wait = error.retry_after or min(30 * 2 ** (digest.attempts - 1), 1800)
                digest.status = "retry"
                digest.next_attempt_at = now + dt.timedelta(seconds=wait)
                log.info("digest %s will be retried in %ss: %s", digest_id, wait, error.error)
                return "retry"
        log.warning("digests paused for %s/%s: %s", team_id, channel_id, error.error)
        try:
            self.poster.notify(team_id, set_up_by, _pause_note(channel_id, error.error))
        except PostError as notify_error:  # the workspace may be gone altogether; the pause is recorded anyway
            log.warning("could not tell %s about the pause: %s", set_up_by, notify_error.error)
        return "paused"


def _pause_note(channel_id: str, error: str) -> str:
    fixes = {
        "not_in_channel": "invite me back with `/invite @insights`",
        "channel_not_found": "the channel is gone or private to me; subscribe again from a channel I am in",
        "is_archived": "the channel is archived",
    }
    fix = fixes.get(error, "check the app's installation")
    return (
        f"I paused the insights digest for {channel_link(channel_id)}: Slack said `{error}` ({fix}). "
        "Any change to its settings (`/insights schedule ...` or `/insights subscribe ...`) starts it again."
    )


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; they were stored in UTC.
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
