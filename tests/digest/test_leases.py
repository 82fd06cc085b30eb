"""Claims as leases on the database's clock (issue 12): a run slower than its lease, clocks that disagree, a holder
that really died, a claim lost while its holder could not renew it; and one channel's failure (composing, rendering,
posting) that never stops the others nor leaves its digest claimed."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Collection
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.core.message import Message
from bot.digest import claims
from bot.digest import runner as runner_module
from bot.digest.compose import Composer
from bot.digest.pacing import TeamPacer
from bot.digest.runner import Runner
from bot.services import Services
from bot.store.models import Channel, Digest
from tests.digest.conftest import say
from tests.digest.test_runner import created
from tests.slack.conftest import BOT_TOKEN, make_services
from tests.slack.fake_slack import FakeSlack

UTC = dt.UTC
DUE = dt.datetime(2027, 3, 1, 1, 0, tzinfo=UTC)  # Monday 09:00 Asia/Shanghai: the default schedule's first due
SHORT = dt.timedelta(seconds=0.4)  # a lease far shorter than the runs below


class MemoryPoster:
    """A chat platform in memory, shared by every clock of a test: the posts of each channel with their markers.
    A post takes `delay` seconds; a channel in `broken` raises its exception instead."""

    def __init__(self, delay: float = 0.0, broken: dict[str, BaseException] | None = None) -> None:
        self.delay = delay
        self.broken = broken or {}
        self.posts: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        self.marker_lookups: list[str] = []
        self.notes: list[str] = []
        self._ts = itertools.count(1)
        self._lock = threading.Lock()

    def render(self, message: Message) -> Message:
        return message

    def post(self, team_id: str, channel_id: str, payload: Any, metadata: dict[str, Any]) -> str:
        if channel_id in self.broken:
            raise self.broken[channel_id]
        time.sleep(self.delay)
        with self._lock:
            ts = f"{next(self._ts)}.000100"
            self.posts[channel_id].append((ts, metadata))
        return ts

    def find_marker(self, team_id: str, channel_id: str, metadata: dict[str, Any], oldest: float) -> str | None:
        with self._lock:
            self.marker_lookups.append(channel_id)
            return next((ts for ts, found in self.posts[channel_id] if found == metadata), None)

    def notify(self, team_id: str, user_id: str, message: Message) -> None:
        self.notes.append(user_id)

    def counts(self, channels: list[str]) -> dict[str, int]:
        with self._lock:
            return {channel: len(self.posts[channel]) for channel in channels}


def setup(url: str, fake: FakeSlack, count: int) -> tuple[Services, list[str]]:
    """`count` channels of one workspace following compute, due at DUE."""
    services = make_services(url, fake, slack_bot_token=BOT_TOKEN)
    channels = [f"C{i:03d}" for i in range(count)]
    for channel in channels:
        fake.add_channel(channel)
        say(services, "subscribe compute", channel=channel)
    created(services, DUE - dt.timedelta(days=1))
    return services, channels


def clock(services: Services, poster: Any, clock_id: str, **options: Any) -> Runner:
    return Runner(services.session_factory, services.renderer, poster, clock_id, TeamPacer(1000), **options)


def statuses(services: Services) -> dict[str, int]:
    with services.session_factory() as session:
        rows = session.scalars(select(Digest.status)).all()
    return {status: rows.count(status) for status in set(rows)}


def pk_of(services: Services, channel_id: str) -> int:
    with services.session_factory() as session:
        return session.scalars(select(Channel.id).where(Channel.channel_id == channel_id)).one()


def test_a_run_slower_than_its_lease_keeps_its_claims(database_url: str, fake_slack: FakeSlack) -> None:
    """Clock A needs about four leases to post (16 posts of 0.1 s on two threads); clock B ticks all the while."""
    services, channels = setup(database_url, fake_slack, 16)
    poster = MemoryPoster(delay=0.1)
    a, b = clock(services, poster, "clock-A", lease=SHORT), clock(services, poster, "clock-B", lease=SHORT)
    reports: list[dict[str, int]] = []
    run = threading.Thread(target=lambda: reports.append(dict(a.run_due(DUE).outcomes)))
    run.start()
    assert FakeSlack.wait_for(lambda: statuses(services).get("claimed", 0) > 0, timeout=10)  # A claimed first
    seen: dict[str, int] = defaultdict(int)
    for _ in range(300):  # bounded: A is done in a second or two
        if not run.is_alive():
            break
        for outcome, count in b.run_due(DUE).outcomes.items():
            seen[outcome] += count
        time.sleep(0.02)
    run.join(30)
    assert reports == [{"posted": 16}]
    assert seen and set(seen) == {"skipped"}  # B ticked while A posted, and never took a claim over
    assert poster.counts(channels) == dict.fromkeys(channels, 1)
    assert b.run_due(DUE).outcomes == {} and statuses(services) == {"posted": 16}
    services.close()


def test_clocks_twenty_minutes_apart_post_once(database_url: str, fake_slack: FakeSlack) -> None:
    """B's own clock is 20 minutes ahead of A's: once it was enough to take over all A was still posting."""
    services, channels = setup(database_url, fake_slack, 12)
    poster = MemoryPoster(delay=0.05)
    a, b = clock(services, poster, "clock-A"), clock(services, poster, "clock-B")
    reports: list[dict[str, int]] = []
    run = threading.Thread(target=lambda: reports.append(dict(a.run_due(DUE).outcomes)))
    run.start()
    assert FakeSlack.wait_for(lambda: statuses(services).get("claimed", 0) > 0, timeout=10)
    ahead = b.run_due(DUE + dt.timedelta(minutes=20)).outcomes
    run.join(30)
    assert set(ahead) <= {"skipped"}
    behind = b.run_due(DUE - dt.timedelta(minutes=20))  # and one behind: nothing is due yet for it
    assert behind.outcomes == {}
    assert reports == [{"posted": 12}]
    assert poster.counts(channels) == dict.fromkeys(channels, 1)
    services.close()


def dead_claims(services: Services, channels: list[str], posted: list[str], poster: MemoryPoster) -> None:
    """A clock claimed these channels' digests, posted those in `posted`, and died: its leases ran out."""
    periods = [(pk_of(services, channel), "2027-W09", DUE) for channel in channels]
    claims.claim_fresh(services.session_factory, "dead-clock", periods, DUE, lease=-dt.timedelta(seconds=1))
    with services.session_factory() as session:
        found = {c.channel_id: c for c in session.scalars(select(Channel))}
        for channel in posted:
            poster.post("T1", channel, None, runner_module.metadata_for(found[channel], "2027-W09"))


def test_a_dead_clock_s_claims_are_taken_over_once(database_url: str, fake_slack: FakeSlack) -> None:
    services, channels = setup(database_url, fake_slack, 8)
    poster = MemoryPoster()
    dead_claims(services, channels, channels[:3], poster)  # it got three out before it died
    takers = [clock(services, poster, "clock-B"), clock(services, poster, "clock-C")]
    barrier = threading.Barrier(2)
    reports: list[dict[str, int]] = []

    def take(taker: Runner) -> None:
        barrier.wait()
        reports.append(dict(taker.run_due(DUE).outcomes))

    threads = [threading.Thread(target=take, args=(taker,)) for taker in takers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    total = {k: sum(r.get(k, 0) for r in reports) for k in ("recovered", "posted", "skipped")}
    assert total == {"recovered": 3, "posted": 5, "skipped": 8}  # each taken once: by one clock, the other skipped
    assert sorted(poster.marker_lookups) == channels  # the winner looked for the marker first, once per channel
    assert poster.counts(channels) == dict.fromkeys(channels, 1)
    with services.session_factory() as session:
        rows = session.scalars(select(Digest)).all()
    assert {r.status for r in rows} == {"posted"} and {r.attempts for r in rows} == {2}
    services.close()


def test_a_claim_lost_while_its_clock_could_not_renew_is_not_posted(
    database_url: str, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cannot reach the database for longer than its lease (posting held up meanwhile); B takes the claims over
    and posts them. When A can renew again, it finds them gone and drops its posts."""
    services, channels = setup(database_url, fake_slack, 6)
    poster = MemoryPoster()
    unreachable, waiting, resume = threading.Event(), threading.Event(), threading.Event()
    real_renew = claims.renew

    def renew(factory: sessionmaker[Session], clock_id: str, ids: Collection[int], lease: dt.timedelta) -> set[int]:
        if clock_id == "clock-A" and unreachable.is_set():
            raise OperationalError("UPDATE digests", {}, Exception("connection refused"))
        return real_renew(factory, clock_id, ids, lease)

    class HeldUp(TeamPacer):
        def wait(self, team_id: str) -> None:
            waiting.set()
            resume.wait(30)

    monkeypatch.setattr(runner_module, "renew", renew)
    a = Runner(services.session_factory, services.renderer, poster, "clock-A", HeldUp(1000), lease=SHORT)
    b = clock(services, poster, "clock-B", lease=SHORT)
    reports: list[dict[str, int]] = []
    run = threading.Thread(target=lambda: reports.append(dict(a.run_due(DUE).outcomes)))
    run.start()
    assert waiting.wait(10)  # A holds every claim and is about to post
    unreachable.set()
    taken: dict[str, int] = defaultdict(int)
    for _ in range(200):  # bounded: the leases run out within SHORT of A's last renewal
        for outcome, count in b.run_due(DUE).outcomes.items():
            taken[outcome] += count
        if taken["posted"] == len(channels):
            break
        time.sleep(0.02)
    assert taken["posted"] == len(channels)
    unreachable.clear()
    resume.set()
    run.join(30)
    assert reports == [{"skipped": len(channels)}]
    assert poster.counts(channels) == dict.fromkeys(channels, 1)
    assert statuses(services) == {"posted": len(channels)}
    services.close()


def test_a_digest_that_cannot_be_composed_fails_alone(
    database_url: str, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """In bulk (run_due) and alone (deliver, as its retries go): the others are posted, the bad one is retried and,
    after MAX_ATTEMPTS, paused; never left claimed."""
    services, channels = setup(database_url, fake_slack, 4)
    bad = pk_of(services, "C001")
    real_compose = Composer.compose

    def compose(self: Composer, channel: Channel, **options: Any) -> Any:
        if channel.id == bad:
            raise OverflowError("cannot convert float infinity to integer")
        return real_compose(self, channel, **options)

    monkeypatch.setattr(Composer, "compose", compose)
    poster = MemoryPoster()
    a = clock(services, poster, "clock-A")
    with caplog.at_level(logging.ERROR, logger="bot.digest.runner"):
        assert a.run_due(DUE).outcomes == {"posted": 3, "retry": 1}
    (record,) = caplog.records
    assert "compose_failed" in record.getMessage() and "C001" in record.getMessage() and record.exc_info
    assert statuses(services) == {"posted": 3, "retry": 1}
    assert poster.counts(channels) == {"C000": 1, "C001": 0, "C002": 1, "C003": 1}
    outcomes = [a.run_due(DUE + dt.timedelta(hours=hour)).outcomes for hour in range(1, claims.MAX_ATTEMPTS)]
    assert outcomes == [{"retry": 1}] * (claims.MAX_ATTEMPTS - 2) + [{"paused": 1}]  # through deliver()
    with services.session_factory() as session:
        digest = session.scalars(select(Digest).where(Digest.channel_pk == bad)).one()
        paused = session.get(Channel, bad)
    assert digest.status == "failed" and digest.last_error == "compose_failed" and paused is not None
    assert paused.paused_reason and poster.notes == ["U1"]
    assert poster.counts(channels)["C001"] == 0
    services.close()


def test_a_post_that_raises_something_unexpected_fails_alone(sqlite_url: str, fake_slack: FakeSlack) -> None:
    """One posting thread only: had the exception ended it, every later channel would have stayed claimed."""
    services, channels = setup(sqlite_url, fake_slack, 5)
    poster = MemoryPoster(broken={"C000": RuntimeError("a bug in the client")})
    a = clock(services, poster, "clock-A", workers=1)
    assert a.run_due(DUE).outcomes == {"posted": 4, "retry": 1}
    with services.session_factory() as session:
        digest = session.scalars(select(Digest).where(Digest.channel_pk == pk_of(services, "C000"))).one()
    assert digest.status == "retry" and digest.last_error == "post_failed"
    poster.broken.clear()
    assert a.run_due(DUE + dt.timedelta(minutes=1)).outcomes == {"posted": 1}  # retried: marker first, then posted
    assert poster.marker_lookups == ["C000"]
    assert poster.counts(channels) == dict.fromkeys(channels, 1)
    services.close()


def test_the_database_clock_is_utc_now_on_either_database(database_url: str, fake_slack: FakeSlack) -> None:
    """SQLite's own time is text without a zone; both come back as UTC, to the millisecond at least."""
    services, _ = setup(database_url, fake_slack, 0)
    with services.session_factory() as session:
        first, second = claims.database_now(session), claims.database_now(session)
    assert first.tzinfo is not None and abs(first - dt.datetime.now(UTC)) < dt.timedelta(seconds=5)
    assert second >= first
    services.close()
