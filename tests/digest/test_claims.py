"""Claims against the Slack stand-in: two clocks at once, a post that timed out but reached Slack, a clock that
died after posting, and the channel's watermark, which only moves forward."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select, update

from bot.digest import runner as runner_module
from bot.digest.runner import Runner
from bot.services import Services
from bot.store.models import Channel, Digest
from tests.digest.conftest import say
from tests.digest.test_runner import created, digests_in, runner
from tests.slack.conftest import BOT_TOKEN, make_services
from tests.slack.fake_slack import FakeSlack

UTC = dt.UTC


def test_two_clocks_at_once_never_post_twice(pg_url: str, fake_slack: FakeSlack) -> None:
    services = make_services(pg_url, fake_slack, slack_bot_token=BOT_TOKEN)
    channels = [f"C{i:03d}" for i in range(24)]
    for channel in channels:
        fake_slack.add_channel(channel)
        say(services, "subscribe consumption", channel=channel)
    due = dt.datetime(2027, 3, 1, 1, 0, tzinfo=UTC)  # Monday 09:00 Asia/Shanghai
    created(services, due - dt.timedelta(days=1))
    clocks = [runner(services, "clock-A"), runner(services, "clock-B")]
    barrier = threading.Barrier(2)

    def run(clock: Runner) -> None:
        barrier.wait()
        clock.run_due(due)

    threads = [threading.Thread(target=run, args=(clock,)) for clock in clocks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(len(digests_in(fake_slack, channel)) == 1 for channel in channels)
    with services.session_factory() as session:
        rows = session.scalars(select(Digest)).all()
    assert len(rows) == 24 and {r.status for r in rows} == {"posted"}
    assert {r.claimed_by for r in rows} <= {"clock-A", "clock-B"}
    services.close()


def test_a_timeout_that_reached_slack_is_recorded_not_repeated(sqlite_url: str, fake_slack: FakeSlack) -> None:
    services = make_services(sqlite_url, fake_slack, slack_bot_token=BOT_TOKEN, slack_timeout=1)
    say(services, "subscribe compute")
    now = dt.datetime.now(UTC)
    clock = runner(services)
    with services.session_factory() as session:
        channel_pk = session.scalars(select(Channel.id)).one()
    fake_slack.fail("chat.postMessage", delay=2.5, times=3)  # every attempt times out, but Slack posts it
    assert clock.deliver(channel_pk, "p1", now, now) == "retry"
    assert fake_slack.wait_for(lambda: len(digests_in(fake_slack, "C1")) >= 1, timeout=15)
    assert clock.deliver(channel_pk, "p1", now, now + dt.timedelta(minutes=5)) == "recovered"
    assert len(digests_in(fake_slack, "C1")) >= 1
    count = len(digests_in(fake_slack, "C1"))
    assert clock.deliver(channel_pk, "p1", now, now + dt.timedelta(hours=1)) == "skipped"
    assert len(digests_in(fake_slack, "C1")) == count
    services.close()


def test_a_crash_after_posting_is_recovered_from_the_marker(
    services: Services, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    say(services, "subscribe compute")
    due = dt.datetime.now(UTC)
    clock = runner(services)
    with services.session_factory() as session:
        channel_pk = session.scalars(select(Channel.id)).one()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies between Slack's answer and our commit

    monkeypatch.setattr(runner_module, "mark_posted", crash)
    with pytest.raises(KeyboardInterrupt):
        clock.deliver(channel_pk, "p1", due, due)
    monkeypatch.undo()
    assert len(digests_in(fake_slack, "C1")) == 1
    later = runner(services, "clock-B")
    # The lease runs on the database's clock: however late this clock thinks it is, the claim is still held.
    assert later.deliver(channel_pk, "p1", due, due + dt.timedelta(hours=1)) == "skipped"
    expire_leases(services)  # nobody renews the dead clock's lease: it runs out
    assert later.deliver(channel_pk, "p1", due, due + dt.timedelta(minutes=5)) == "recovered"
    assert len(digests_in(fake_slack, "C1")) == 1


def expire_leases(services: Services) -> None:
    """Time passes for claims nobody renews (their clock died): every lease has run out."""
    with services.session_factory.begin() as session:
        session.execute(update(Digest).values(lease_until=dt.datetime(2000, 1, 1, tzinfo=UTC)))


def test_the_watermark_only_moves_forward_on_either_path(database_url: str, fake_slack: FakeSlack) -> None:
    """A digest composed before a newer one was recorded (here: the channel has shown changes up to an event this
    clock has not seen) leaves last_event_id where it is, posted in bulk by run_due or alone by deliver."""
    services = make_services(database_url, fake_slack, slack_bot_token=BOT_TOKEN)
    say(services, "subscribe compute")
    due = dt.datetime(2027, 3, 1, 1, 0, tzinfo=UTC)
    created(services, due - dt.timedelta(days=1))
    clock = runner(services)

    def watermark(value: int | None = None) -> int:
        with services.session_factory.begin() as session:
            if value is not None:
                session.execute(update(Channel).values(last_event_id=value))
            return session.scalars(select(Channel.last_event_id)).one()

    ahead = watermark(10**6)
    assert clock.run_due(due).outcomes == {"posted": 1}  # the bulk path
    assert watermark() == ahead
    with services.session_factory() as session:
        channel_pk = session.scalars(select(Channel.id)).one()
        composed_at = session.scalars(select(Digest.event_id)).one()
    assert 0 < composed_at < ahead
    # The single path (a scheduled period delivered alone, as a retry or a recovery is; not on demand, which never
    # moves the watermark at all).
    assert clock.deliver(channel_pk, "2027-W99", due, due) in ("posted", "empty")
    assert watermark() == ahead
    watermark(0)  # and forward it goes, on both paths
    assert clock.deliver(channel_pk, "2027-W98", due, due) in ("posted", "empty")
    assert watermark() == composed_at
    watermark(0)
    assert clock.run_due(due + dt.timedelta(weeks=1)).outcomes == {"posted": 1}
    assert watermark() == composed_at
    services.close()
