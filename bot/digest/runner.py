"""Posting due digests: claimed once per channel and period, retried when Slack is briefly unavailable, paused when
it never will be, and recovered after a crash without posting twice.

What is due comes from bot.digest.due, claims and their outcomes from bot.digest.claims, the pace per workspace
from bot.digest.pacing. Each digest carries a metadata marker (metadata_for); before posting on a claim that an
earlier attempt may have used, the runner looks in the channel for it, so a digest that reached Slack before a
crash is recorded, not repeated.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.message import Message
from bot.core.poster import Poster, PostError
from bot.core.reply import notice
from bot.digest.claims import Paused, Posted, claim, claim_fresh, mark_failed, mark_posted
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

    def run_due(self, now: dt.datetime) -> RunReport:
        """One tick: every channel whose latest scheduled period has no posted digest gets one (at most once).

        Fresh claims are made in bulk; digests are composed in turn across workspaces and posted by a pool of
        threads, each workspace paced; results are committed in batches. A period claimed before (a retry that is
        ready, a claim whose clock died) goes the careful way, one at a time, through deliver()."""
        report = RunReport()
        due = due_digests(self.session_factory, now, self.shard)
        fresh = claim_fresh(
            self.session_factory, self.clock_id, [(d.channel_pk, d.period_key, d.due_at) for d in due], now
        )
        if fresh:
            self._post_fresh([d for d in due if d.channel_pk in fresh], fresh, now, report)
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
            for _ in range(max(1, min(self.workers, len(teams) * 2)))
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
                digest = composer.compose(
                    channel, period_key=key, subscriptions=subscriptions.get(pk, []), shown=shown.get(pk, Counter())
                )
                payload = composer.payload(digest, self.renderer, self.poster)
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
            self.pacer.wait(job.team_id)
            try:
                results.put((job, self.poster.post(job.team_id, job.channel_id, job.payload, job.metadata)))
            except PostError as error:
                if error.retry_after:
                    self.pacer.hold(job.team_id, error.retry_after)
                results.put((job, error))

    def _record(self, done: list[Result], now: dt.datetime, report: RunReport) -> None:
        """Posted digests in one transaction; failures one by one (they are few, and each may pause a channel)."""
        posted = [(job, ts) for job, ts in done if isinstance(ts, str)]
        mark_posted(
            self.session_factory,
            [Posted(job.digest_id, job.channel_pk, ts, job.event_id, job.highlights) for job, ts in posted],
            now,
        )
        for job, _ts in posted:
            report.add("empty" if job.empty else "posted")
        for job, error in done:
            if isinstance(error, PostError):
                report.add(self._failed(job.digest_id, error, now))

    def deliver(self, channel_pk: int, period_key: str, due_at: dt.datetime, now: dt.datetime) -> Outcome:
        """One channel's digest for one period, at most once (also `digest now`, under a period key of its own)."""
        digest_id, recovering = claim(self.session_factory, self.clock_id, channel_pk, period_key, due_at, now)
        if digest_id is None:
            return "skipped"
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
                if ts is not None:
                    composed = compose(session, channel, now=now, period_key=period_key)
                    posted = _posted(digest_id, channel_pk, ts, period_key, composed)
                    mark_posted(self.session_factory, [posted], now)
                    return "recovered"
            composed = compose(session, channel, now=now, period_key=period_key)
            payload = self.poster.render(self.renderer.message(composed.reply))
        self.pacer.wait(team_id)
        try:
            ts = self.poster.post(team_id, channel_id, payload, metadata)
        except PostError as error:
            if error.retry_after:
                self.pacer.hold(team_id, error.retry_after)
            return self._failed(digest_id, error, now)
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
        paused = mark_failed(self.session_factory, digest_id, error, now)
        if paused is None:
            return "retry"
        try:
            self.poster.notify(paused.team_id, paused.set_up_by, self._pause_note(paused, error.error))
        except PostError as notify_error:  # the workspace may be gone altogether; the pause is recorded anyway
            log.warning("could not tell %s about the pause: %s", paused.set_up_by, notify_error.error)
        return "paused"

    def _pause_note(self, paused: Paused, error: str) -> Message:
        """The direct message about a pause (templates/_notices.j2 digest_paused), in the channel's digest language."""
        reply = notice(
            "zh" if paused.lang == "zh" else "en", "digest_paused", channel_id=paused.channel_id, error=error
        )
        reply.context["both"] = paused.lang == "both"
        return self.renderer.message(reply)


def _posted(digest_id: int, channel_pk: int, ts: str, period_key: str, composed: Composed) -> Posted:
    """What a posted digest records: an on-demand one leaves the watermark (event 0 never moves it forward) and
    the rotation alone, so the next scheduled digest still shows everything it would have."""
    if period_key.startswith(ON_DEMAND):
        return Posted(digest_id, channel_pk, ts, 0, [])
    return Posted(digest_id, channel_pk, ts, composed.event_id, composed.highlights)
