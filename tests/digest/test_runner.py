"""The runner against the Slack stand-in: one digest per channel and period through time and time zones, retries,
Slack's rate limits, pauses, and clocks sharing the workspaces."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select, update

from bot.catalog.loader import load_bundle, read_bundle
from bot.digest.pacing import TeamPacer
from bot.digest.runner import EVENT_TYPE, Runner
from bot.services import Services
from bot.slack.client import web_client
from bot.slack.poster import SlackPoster, client_factory
from bot.store.models import Channel, DigestHighlight, ItemTopic
from tests.conftest import MINI
from tests.digest.conftest import say
from tests.slack.conftest import BOT_TOKEN, make_services
from tests.slack.fake_slack import FakeSlack

UTC = dt.UTC


def runner(services: Services, clock_id: str = "clock-A") -> Runner:
    poster = SlackPoster(client_factory(services))
    return Runner(services.session_factory, services.renderer, poster, clock_id, TeamPacer(1000))


def digests_in(fake: FakeSlack, channel: str) -> list[dict]:
    return [m for m in fake.messages_in(channel) if (m.get("metadata") or {}).get("event_type") == EVENT_TYPE]


def periods(fake: FakeSlack, channel: str) -> list[str]:
    return [m["metadata"]["event_payload"]["period"] for m in digests_in(fake, channel)]


def created(services: Services, when: dt.datetime) -> None:
    """Pretend the channels subscribed at `when` (so time travel can start there)."""
    with services.session_factory.begin() as session:
        session.execute(update(Channel).values(created_at=when))


def edit_edition(tmp_path: Path, value: float) -> Path:
    bundle = tmp_path / f"edition-{value}"
    shutil.copytree(MINI, bundle)
    data = yaml.safe_load((bundle / "metrics.yaml").read_text(encoding="utf-8"))
    data["metrics"][1]["value"] = value
    (bundle / "metrics.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return bundle


CHANGE = "9.99 trillion yuan → 10.5 trillion yuan"  # the figure as worded, old → new


def test_eight_weeks_of_ticks_give_one_digest_per_channel_and_period(
    services: Services, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    say(services, "subscribe consumption", channel="C1")
    say(services, "subscribe consumption", channel="C2")
    say(services, "schedule daily 02:30 Europe/London", channel="C2")
    fake_slack.add_channel("C3", name="nyc")
    say(services, "subscribe compute", channel="C3")
    say(services, "schedule weekly sunday 02:30 America/New_York", channel="C3")  # in the 2027-03-14 DST gap
    start = dt.datetime(2027, 3, 1, tzinfo=UTC)
    created(services, start)
    clock = runner(services)
    tick, changed = start, False
    while tick < start + dt.timedelta(weeks=8):
        clock.run_due(tick)
        if not changed and tick >= start + dt.timedelta(days=10):
            with services.session_factory.begin() as session:  # a new edition arrives mid-way
                load_bundle(session, read_bundle(edit_edition(tmp_path, 10.5)))
            changed = True
        tick += dt.timedelta(minutes=30)
    assert len(periods(fake_slack, "C1")) == 8 == len(set(periods(fake_slack, "C1")))
    assert len(periods(fake_slack, "C2")) == 56 == len(set(periods(fake_slack, "C2")))
    assert periods(fake_slack, "C3") == [f"2027-W{w:02d}" for w in range(9, 17)]
    # "What changed" shows the new value once, in the first digest after it arrived, and never again.
    mentions = [m["text"].count(CHANGE) for m in digests_in(fake_slack, "C1")]
    assert mentions == [0, 0, 1, 0, 0, 0, 0, 0]
    assert sum(CHANGE in m["text"] for m in digests_in(fake_slack, "C3")) == 0  # C3 follows compute only


def test_the_gap_hour_digest_is_posted_just_after_the_jump(services: Services, fake_slack: FakeSlack) -> None:
    say(services, "subscribe compute")
    say(services, "schedule weekly sunday 02:30 America/New_York")
    created(services, dt.datetime(2027, 3, 8, tzinfo=UTC))
    clock = runner(services)
    assert clock.run_due(dt.datetime(2027, 3, 14, 7, 29, tzinfo=UTC)).outcomes == {}
    assert clock.run_due(dt.datetime(2027, 3, 14, 7, 30, tzinfo=UTC)).outcomes["posted"] == 1  # 03:30 EDT


def test_rotation_shows_every_highlight_before_repeating_one(sqlite_url: str, fake_slack: FakeSlack) -> None:
    services = make_services(sqlite_url, fake_slack, slack_bot_token=BOT_TOKEN)
    with services.session_factory.begin() as session:
        load_bundle(session, read_bundle(Path(__file__).parents[2] / "data"))  # the report's compute figures
    say(services, "subscribe compute")
    clock, now = runner(services), dt.datetime.now(UTC)
    with services.session_factory() as session:
        channel_pk = session.scalars(select(Channel.id)).one()
    for week in range(3):
        assert clock.deliver(channel_pk, f"test-{week}", now, now) in ("posted", "empty")
    with services.session_factory() as session:
        shown = session.scalars(
            select(DigestHighlight.item_id).where(DigestHighlight.kind == "metric").order_by(DigestHighlight.id)
        ).all()
        pool = session.scalar(
            select(func.count()).select_from(ItemTopic).where(ItemTopic.topic == "compute", ItemTopic.kind == "metric")
        )
    assert pool == 8 and len(shown) == 9  # seven figures of the report and one of the miniature edition
    assert len(set(shown[:pool])) == pool  # every one before any repeat
    assert shown[pool] in shown[:pool]
    services.close()


def test_server_errors_are_retried_later_and_posted_once(services: Services, fake_slack: FakeSlack) -> None:
    say(services, "subscribe compute")
    due = dt.datetime(2027, 3, 1, 1, 0, tzinfo=UTC)
    created(services, due - dt.timedelta(days=1))
    clock = runner(services)
    fake_slack.fail("chat.postMessage", status=500, times=3)  # more than the client's own two retries
    assert clock.run_due(due).outcomes == {"retry": 1}
    assert clock.run_due(due + dt.timedelta(seconds=10)).outcomes == {"skipped": 1}  # backing off
    assert clock.run_due(due + dt.timedelta(seconds=31)).outcomes == {"posted": 1}
    assert len(digests_in(fake_slack, "C1")) == 1


def test_a_429_storm_is_waited_out(services: Services, fake_slack: FakeSlack) -> None:
    say(services, "subscribe compute")
    due = dt.datetime(2027, 3, 1, 1, 0, tzinfo=UTC)
    created(services, due - dt.timedelta(days=1))
    clock = runner(services)
    fake_slack.fail("chat.postMessage", status=429, retry_after=1, times=4)
    outcomes = [clock.run_due(due + dt.timedelta(seconds=s)).outcomes for s in (0, 2, 4, 6)]
    assert sum(o.get("posted", 0) for o in outcomes) == 1
    assert len(digests_in(fake_slack, "C1")) == 1


@pytest.mark.parametrize("error", ["not_in_channel", "channel_not_found", "is_archived", "invalid_auth"])
def test_a_permanent_error_pauses_the_channel_and_tells_who_set_it_up(
    services: Services, fake_slack: FakeSlack, error: str
) -> None:
    say(services, "subscribe compute", user="U2")
    due = dt.datetime(2027, 3, 1, 1, 0, tzinfo=UTC)
    created(services, due - dt.timedelta(days=1))
    clock = runner(services)
    fake_slack.fail("chat.postMessage", error=error)
    assert clock.run_due(due).outcomes == {"paused": 1}
    assert clock.run_due(due + dt.timedelta(days=7)).outcomes == {}  # paused: not even considered
    dm = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "U2"]
    assert len(dm) == 1 and error in dm[0].params["text"] and "<#C1>" in dm[0].params["text"]
    assert "paused" in say(services, "subscriptions")
    say(services, "schedule weekly monday 09:00", user="U2")  # any change starts it again
    assert clock.run_due(due + dt.timedelta(days=14)).outcomes == {"posted": 1}


def test_the_pause_note_is_in_the_channel_s_digest_language(services: Services, fake_slack: FakeSlack) -> None:
    say(services, "subscribe compute", user="U2")
    say(services, "lang both", user="U2")
    due = dt.datetime(2027, 3, 1, 1, 0, tzinfo=UTC)
    created(services, due - dt.timedelta(days=1))
    fake_slack.fail("chat.postMessage", error="not_in_channel")
    assert runner(services).run_due(due).outcomes == {"paused": 1}
    (dm,) = [c.params["text"] for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "U2"]
    chinese, english = dm.split("\n\n――――――――\n\n")
    assert "<#C1>" in chinese and "暂停" in chinese and "`/invite @insights`" in chinese
    assert english.startswith("I paused the insights digest for <#C1>: Slack said `not_in_channel`")


def test_sharded_clocks_split_the_workspaces_between_them(services: Services, fake_slack: FakeSlack) -> None:
    for team in ("T1", "T2", "T3", "T4"):
        fake_slack.add_token(f"xoxb-{team}", team_id=team)
        fake_slack.add_channel(f"C{team}")  # channel ids are unique across workspaces, as in Slack
        say(services, "subscribe compute", team=team, channel=f"C{team}")
    due = dt.datetime(2027, 3, 1, 1, 0, tzinfo=UTC)
    created(services, due - dt.timedelta(days=1))
    clients = {team: web_client(services, f"xoxb-{team}") for team in ("T1", "T2", "T3", "T4")}
    shards = [
        Runner(
            services.session_factory,
            services.renderer,
            SlackPoster(clients.__getitem__),
            f"clock-{i}",
            TeamPacer(1000),
            shard=(i, 2),
        )
        for i in range(2)
    ]
    posted = [clock.run_due(due).outcomes.get("posted", 0) for clock in shards]
    assert sum(posted) == 4 and all(posted)  # each clock served its own share, nothing twice
    assert [clock.run_due(due).outcomes for clock in shards] == [{}, {}]


def test_a_digest_posted_on_demand_does_not_consume_the_scheduled_one(
    services: Services, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    """`digest now` shows what changed, and the scheduled digest still shows it too (issue 12)."""
    say(services, "subscribe consumption")
    created(services, dt.datetime(2027, 2, 27, tzinfo=UTC))
    with services.session_factory.begin() as session:
        load_bundle(session, read_bundle(edit_edition(tmp_path, 10.5)))
    assert runner(services).deliver_now("C1", "now-202702281200") == "posted"
    assert runner(services).run_due(dt.datetime(2027, 3, 1, 1, 0, tzinfo=UTC)).outcomes == {"posted": 1}
    on_demand, scheduled = digests_in(fake_slack, "C1")
    assert CHANGE in on_demand["text"] and CHANGE in scheduled["text"]
