"""Posting due digests: claimed once per channel and period, retried when Slack is briefly unavailable, paused when
it never will be, and recovered after a crash without posting twice.

What is due comes from bot.digest.due, claims and their outcomes from bot.digest.claims, the pace per workspace
from bot.digest.pacing. Each digest carries a metadata marker (metadata_for); before posting on a claim that an
earlier attempt may have used, the runner looks in the channel for it, so a digest that reached Slack before a
crash is recorded, not repeated.

A claim is a lease (bot.digest.claims): while a run or a delivery is under way, a heartbeat thread renews the leases
of the claims this clock has not finished, so a slow run keeps them; a digest is posted only on a claim confirmed
recently enough that its lease outlasts the post, and one that was taken over is dropped, not posted. A digest that
cannot be composed, rendered or posted (any exception) is recorded as failed, to be retried or paused, and logged:
one bad channel never stops the others.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.message import Message
from bot.core.platforms import platform_of
from bot.core.poster import Poster, PostError, Posters
from bot.core.reply import notice
from bot.digest.claims import LEASE, Paused, Posted, claim, claim_fresh, mark_failed, mark_posted, renew
from bot.digest.compose import Composer, compose, shown_counts, subscriptions_by_channel
from bot.digest.compose import Digest as Composed
from bot.digest.due import Due, due_digests, round_robin
from bot.digest.pacing import TeamPacer
from bot.digest.store import find_channel
from bot.render import Renderer
from bot.store.models import Channel

log = logging.getLogger(__name__)

EVENT_TYPE = "insights_digest"
# Period keys of digests posted on demand (`digest now`). They do not consume what the scheduled digest will show:
# the channel's "What changed" watermark and its rotation of highlights stay where they were.
ON_DEMAND = "now-"

# "skipped": another clock holds the claim (or took it over), or the period is done.
Outcome = Literal["posted", "recovered", "skipped", "retry", "paused", "empty"]


@dataclass
class RunReport:
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, outcome: Outcome) -> None:
        self.outcomes[outcome] += 1

    def __str__(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items())) or "nothing due"


def metadata_for(channel: Channel, period_key: str) -> dict[str, Any]:
    """The marker posted with a digest, and looked for after a crash."""
    return {
        "event_type": EVENT_TYPE,
        "event_payload": {"team": channel.team_id, "channel": channel.channel_id, "period": period_key},
    }


@dataclass(frozen=True)
class Job:
    digest_id: int
    channel_pk: int
    team_id: str
    channel_id: str
    metadata: dict[str, Any]
    payload: Any  # the platform's rendering of the digest (Poster.render), shared by identical digests
    event_id: int
    highlights: list[tuple[str, str]]
    empty: bool


LOST = PostError("claim_lost")  # another clock took the claim over: not posted, not recorded here
Result = tuple[Job, str | PostError]  # the message's ts, or why it was not posted


def _drain(results: queue.SimpleQueue[Result], pending: list[Result]) -> list[Result]:
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
    lease: dt.timedelta = LEASE  # how long a claim holds without renewal (tests shorten it)
    # Claims this clock is working on: digest id -> time.monotonic() when its lease was last confirmed (just before
    # the statement that set it), shared by the posting threads, the heartbeat and concurrent deliveries.
    _held: dict[int, float] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _busy: int = field(default=0, init=False, repr=False)  # runs and deliveries under way
    _stop_heartbeat: threading.Event = field(default_factory=threading.Event, init=False, repr=False)

    def run_due(self, now: dt.datetime) -> RunReport:
        """One tick: every channel whose latest scheduled period has no posted digest gets one (at most once).

        Fresh claims are made in bulk; digests are composed in turn across workspaces and posted by a pool of
        threads, each workspace paced; results are committed in batches. A period claimed before (a retry that is
        ready, a claim whose clock died) goes the careful way, one at a time, through deliver()."""
        report = RunReport()
        due = due_digests(self.session_factory, now, self.shard)
        if isinstance(self.poster, Posters):  # channels of a platform this process cannot post to wait for one that can
            due = [d for d in due if self.poster.serves(d.team_id)]
        with self._heartbeat():
            confirmed = time.monotonic()
            periods = [(d.channel_pk, d.period_key, d.due_at) for d in due]
            fresh = claim_fresh(self.session_factory, self.clock_id, periods, now, self.lease)
            self._hold(fresh.values(), confirmed)
            try:
                if fresh:
                    self._post_fresh([d for d in due if d.channel_pk in fresh], fresh, now, report)
            finally:  # when an exception escapes, what is left unrecorded is not renewed: its leases run out
                self._release(fresh.values())
            for channel_pk, _team, period_key, due_at in due:
                if channel_pk not in fresh:
                    report.add(self.deliver(channel_pk, period_key, due_at, now))
        return report

    def _post_fresh(self, due: list[Due], claimed: dict[int, int], now: dt.datetime, report: RunReport) -> None:
        jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        results: queue.SimpleQueue[Result] = queue.SimpleQueue()
        teams = {d.team_id for d in due}
        workers = [
            threading.Thread(target=self._post_jobs, args=(jobs, results), daemon=True)
            for _ in range(max(1, min(self.workers, len(teams) * 4)))
        ]
        for worker in workers:
            worker.start()
        pending: list[Result] = []
        with self.session_factory() as session:
            composer = Composer(session, now)
            pks = [d.channel_pk for d in due]
            subscriptions = subscriptions_by_channel(session, pks)
            shown = shown_counts(session, pks)
            channels = {c.id: c for c in session.scalars(select(Channel).where(Channel.id.in_(pks)))}
            for done, (pk, _team, key, _at) in enumerate(round_robin(due), start=1):
                channel = channels[pk]
                try:
                    digest = composer.compose(
                        channel, period_key=key, subscriptions=subscriptions.get(pk, []), shown=shown.get(pk, Counter())
                    )
                    payload = composer.payload(digest, self.renderer, self.poster)
                except Exception:  # this channel's digest only: the others go on
                    session.rollback()  # a database error would otherwise fail every channel after this one
                    report.add(self._broken(claimed[pk], channel.team_id, channel.channel_id, "compose_failed", now))
                    continue
                jobs.put(
                    Job(
                        claimed[pk],
                        pk,
                        channel.team_id,
                        channel.channel_id,
                        metadata_for(channel, key),
                        payload,
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

    def _post_jobs(self, jobs: queue.SimpleQueue[Job | None], results: queue.SimpleQueue[Result]) -> None:
        while (job := jobs.get()) is not None:
            try:
                self.pacer.wait(job.team_id)
                if not self._holds(job.digest_id):
                    results.put((job, LOST))
                    continue
                results.put((job, self.poster.post(job.team_id, job.channel_id, job.payload, job.metadata)))
            except PostError as error:
                if error.retry_after:
                    self.pacer.hold(job.team_id, error.retry_after)
                results.put((job, error))
            except Exception:  # a bug or a surprise in one post: recorded as a failure, and this thread goes on
                log.exception("digest %s for %s/%s: posting failed", job.digest_id, job.team_id, job.channel_id)
                results.put((job, PostError("post_failed")))

    def _record(self, done: list[Result], now: dt.datetime, report: RunReport) -> None:
        """Posted digests in one transaction; failures one by one (they are few, and each may pause a channel)."""
        self._release(job.digest_id for job, _ in done)
        posted = [(job, ts) for job, ts in done if isinstance(ts, str)]
        mark_posted(
            self.session_factory,
            [Posted(job.digest_id, job.channel_pk, ts, job.event_id, job.highlights) for job, ts in posted],
            now,
        )
        for job, _ts in posted:
            report.add("empty" if job.empty else "posted")
        for job, error in done:
            if error is LOST:
                report.add("skipped")
            elif isinstance(error, PostError):
                report.add(self._failed(job.digest_id, error, now))

    def deliver(self, channel_pk: int, period_key: str, due_at: dt.datetime, now: dt.datetime) -> Outcome:
        """One channel's digest for one period, at most once (also `digest now`, under a period key of its own)."""
        with self._heartbeat():
            confirmed = time.monotonic()
            digest_id, recovering = claim(
                self.session_factory, self.clock_id, channel_pk, period_key, due_at, now, self.lease
            )
            if digest_id is None:
                return "skipped"
            self._hold([digest_id], confirmed)
            try:
                return self._deliver(digest_id, recovering, channel_pk, period_key, due_at, now)
            finally:
                self._release([digest_id])  # also when an exception escapes: its lease then runs out

    def _deliver(
        self, digest_id: int, recovering: bool, channel_pk: int, period_key: str, due_at: dt.datetime, now: dt.datetime
    ) -> Outcome:
        ts: str | None = None
        with self.session_factory() as session:
            channel = session.get(Channel, channel_pk)
            assert channel is not None
            metadata = metadata_for(channel, period_key)
            team_id, channel_id = channel.team_id, channel.channel_id
            if recovering:
                try:
                    # An hour of slack for clocks that disagree; a digest is never posted before it is due.
                    ts = self.poster.find_marker(team_id, channel_id, metadata, oldest=due_at.timestamp() - 3600)
                except PostError as error:
                    return self._failed(digest_id, error, now)
                except Exception:
                    return self._broken(digest_id, team_id, channel_id, "find_marker_failed", now)
            try:
                composed = compose(session, channel, now=now, period_key=period_key)
                payload = None if ts else self.poster.render(self.renderer.message(composed.reply))
            except Exception:
                session.rollback()
                return self._broken(digest_id, team_id, channel_id, "compose_failed", now)
        if ts:
            self._release([digest_id])  # recorded below: no renewal needed any more
            mark_posted(self.session_factory, [_posted(digest_id, channel_pk, ts, period_key, composed)], now)
            return "recovered"
        self.pacer.wait(team_id)
        if not self._holds(digest_id):
            return "skipped"  # taken over while this clock could not renew it: the new holder posts it
        try:
            ts = self.poster.post(team_id, channel_id, payload, metadata)
        except PostError as error:
            if error.retry_after:
                self.pacer.hold(team_id, error.retry_after)
            return self._failed(digest_id, error, now)
        except Exception:
            return self._broken(digest_id, team_id, channel_id, "post_failed", now)
        self._release([digest_id])
        mark_posted(self.session_factory, [_posted(digest_id, channel_pk, ts, period_key, composed)], now)
        return "empty" if composed.empty else "posted"

    def deliver_now(self, channel_id: str, period_key: str) -> Outcome:
        """`digest now` for one channel: delivered like a scheduled digest, under a period key of its own."""
        with self.session_factory() as session:
            channel = find_channel(session, channel_id)
            channel_pk = None if channel is None else channel.id
        if channel_pk is None:
            return "skipped"
        now = dt.datetime.now(dt.UTC)
        return self.deliver(channel_pk, period_key, now, now)

    def _failed(self, digest_id: int, error: PostError, now: dt.datetime) -> Outcome:
        self._release([digest_id])
        paused = mark_failed(self.session_factory, digest_id, error, now, self.clock_id)
        if paused is None:
            return "retry"
        try:
            self.poster.notify(paused.team_id, paused.set_up_by, self._pause_note(paused, error.error))
        except PostError as notify_error:  # the workspace may be gone altogether; the pause is recorded anyway
            log.warning("could not tell %s about the pause: %s", paused.set_up_by, notify_error.error)
        return "paused"

    def _broken(self, digest_id: int, team_id: str, channel_id: str, reason: str, now: dt.datetime) -> Outcome:
        """An exception while making or posting one digest (a bug, a value that cannot be shown), called in its
        except block: logged once with its traceback, and recorded as a failure like Slack's, retried later and
        paused if it keeps failing."""
        log.exception("digest %s for %s/%s: %s", digest_id, team_id, channel_id, reason)
        return self._failed(digest_id, PostError(reason), now)

    @contextmanager
    def _heartbeat(self) -> Iterator[None]:
        """While any run or delivery of this clock is under way, a thread renews its leases every third of one."""
        with self._lock:
            self._busy += 1
            if self._busy == 1:
                self._stop_heartbeat = stop = threading.Event()
                threading.Thread(target=self._beat, args=(stop,), name="digest-leases", daemon=True).start()
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1
                if self._busy == 0:
                    self._stop_heartbeat.set()

    def _beat(self, stop: threading.Event) -> None:
        while not stop.wait(self.lease.total_seconds() / 3):
            with self._lock:
                held = list(self._held)
            try:
                if held:
                    self._confirm(held)
            except Exception:  # the database is unreachable: leases age, and _holds stops posts before they end
                log.exception("could not renew %s digest claims", len(held))

    def _confirm(self, digest_ids: list[int]) -> set[int]:
        """Renews these claims' leases: those still ours, confirmed now; the others, forgotten (they are dropped)."""
        started = time.monotonic()
        ours = renew(self.session_factory, self.clock_id, digest_ids, self.lease)
        with self._lock:
            lost = [i for i in digest_ids if i not in ours and self._held.pop(i, None) is not None]
            for digest_id in ours:
                if digest_id in self._held:  # not finished meanwhile
                    self._held[digest_id] = started
        if lost:
            log.warning("claims on digests %s were taken over by another clock: not posting them", lost)
        return ours

    def _holds(self, digest_id: int) -> bool:
        """Whether this clock may post on its claim now: a lease confirmed within half its length leaves the other
        half for the post (Slack's timeouts and retries included) before another clock could take it over; an
        older one (the heartbeat is late) is confirmed here first. False for a claim that was taken over."""
        with self._lock:
            confirmed = self._held.get(digest_id)
        if confirmed is None:
            return False
        if time.monotonic() - confirmed < self.lease.total_seconds() / 2:
            return True
        return digest_id in self._confirm([digest_id])

    def _hold(self, digest_ids: Iterable[int], confirmed: float) -> None:
        with self._lock:
            self._held.update(dict.fromkeys(digest_ids, confirmed))

    def _release(self, digest_ids: Iterable[int]) -> None:
        """Claims about to be recorded (posted, failed, dropped): the heartbeat leaves them alone."""
        with self._lock:
            for digest_id in digest_ids:
                self._held.pop(digest_id, None)

    def _pause_note(self, paused: Paused, error: str) -> Message:
        """The direct message about a pause (templates/_notices.j2 digest_paused), in the channel's digest language."""
        reply = notice(
            "zh" if paused.lang == "zh" else "en",
            "digest_paused",
            channel_id=paused.channel_id,
            error=error,
            platform=platform_of(paused.team_id),
        )
        reply.context["both"] = paused.lang == "both"
        return self.renderer.message(reply)


def _posted(digest_id: int, channel_pk: int, ts: str, period_key: str, composed: Composed) -> Posted:
    """What a posted digest records: an on-demand one leaves the watermark (event 0 never moves it forward) and
    the rotation alone, so the next scheduled digest still shows everything it would have."""
    if period_key.startswith(ON_DEMAND):
        return Posted(digest_id, channel_pk, ts, 0, [])
    return Posted(digest_id, channel_pk, ts, composed.event_id, composed.highlights)
