"""Tracking against the invented second edition (tests/fixtures/edition2): series, status history, events,
history, changes, track and note, follows and their messages, Coming up, export, and a malformed edition."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from bot.catalog.loader import DataError, load_bundle, read_bundle
from bot.digest.compose import compose
from bot.digest.pacing import TeamPacer
from bot.digest.runner import Runner
from bot.digest.store import find_channel
from bot.services import Services
from bot.slack.poster import SlackPoster, client_factory
from bot.store.models import Event, Observation, StatusEntry
from bot.tracking.export import export
from bot.tracking.notify import notify_followers
from tests.conftest import FIXTURES, text_of
from tests.digest.conftest import say
from tests.slack.fake_slack import FakeSlack

EDITION2 = FIXTURES / "edition2"


def load(services: Services, bundle: Path = EDITION2):
    with services.session_factory.begin() as session:
        return load_bundle(session, read_bundle(bundle))


def test_a_new_edition_adds_observations_status_entries_and_events(services: Services) -> None:
    result = load(services)
    assert result.created == 1 + 1 + 1  # the edition's report, a new metric, a new regulation
    with services.session_factory() as session:
        series = session.scalars(
            select(Observation).where(Observation.metric_id == "test-livestream-sales").order_by(Observation.id)
        ).all()
        assert [(p.value, p.period_en, p.source) for p in series] == [
            ("9.99", "H1 2030", "test-edition-1"),
            ("12.5", "H1 2031", "test-edition-2"),
        ]
        statuses = session.scalars(
            select(StatusEntry).where(StatusEntry.policy_id == "test-data-bureau").order_by(StatusEntry.id)
        ).all()
        assert [(s.status, s.source) for s in statuses] == [
            ("in_effect", "test-edition-1"),
            ("completed", "test-edition-2"),
        ]
        fields = {(e.item_id, e.field) for e in session.scalars(select(Event).where(Event.source == "test-edition-2"))}
    assert {
        ("test-livestream-sales", "value"),
        ("test-data-bureau", "status"),
        ("test-new-platforms", "created"),
    } <= fields
    before = _counts(services)
    assert load(services).events == []  # the same edition again changes nothing
    assert _counts(services) == before


def _counts(services: Services) -> tuple[int, int, int]:
    with services.session_factory() as session:
        return tuple(session.scalar(select(func.count()).select_from(m)) for m in (Observation, StatusEntry, Event))


def test_history_derives_the_change_and_keeps_the_sources(services: Services) -> None:
    load(services)
    text = say(services, "history test-livestream-sales")
    assert "9.99万亿元" in text or "9.99" in text
    assert "change +2.51 trillion yuan (+25.1%)" in text and "source: test-edition-2" in text
    by_name = say(services, "history 测试数据局")
    assert "正式组建" in by_name and "完成组建" in by_name


def test_an_unclear_item_offers_a_short_choice(services: Services) -> None:
    text = say(services, "history test")
    assert "matches several items; use an id" in text and "test-compute-growth" in text
    assert "No item matches" in say(services, "history nothing-like-this")


def test_track_and_note_from_slack_move_the_item_and_are_audited(services: Services) -> None:
    assert "Recorded: Test Data Bureau → stalled" in say(services, "track test-data-bureau stalled budget cut")
    assert "Note saved" in say(services, "note test-data-bureau Source: a notice")
    assert "A status is one of" in say(services, "track test-data-bureau sideways")
    history = say(services, "history test-data-bureau")
    assert "stalled (the source states no date): budget cut" in history and "note: Source: a notice" in history
    changes = say(services, "changes")
    assert "status formally established → stalled" in changes and "note Source: a notice" in changes
    assert "in_effect" not in changes  # statuses as worded, not their keys
    # The restricted-channel rule applies to editing too.
    say(services, "subscribe compute")
    say(services, "restrict on", user="UADMIN")
    assert "Only workspace admins" in say(services, "track test-data-bureau completed")


def test_changes_since_a_date_and_by_topic(services: Services) -> None:
    load(services)
    assert "test-livestream-sales" in say(services, "changes consumption")
    assert "test-livestream-sales" not in say(services, "changes compute")
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    assert "Nothing has changed" in say(services, f"changes since {tomorrow}")
    assert "Write the date as" in say(services, "changes since yesterday")


def test_followers_are_told_once_when_their_item_changes(services: Services, fake_slack: FakeSlack) -> None:
    assert "已关注：直播销售额" in say(services, "follow 直播销售额", user="U2")  # a Chinese question, a Chinese reply
    assert "test-livestream-sales Livestream sales" in say(services, "following", user="U2")
    poster = SlackPoster(client_factory(services))
    assert notify_followers(services.session_factory, services.renderer, poster) == 0  # nothing new yet
    load(services)
    assert notify_followers(services.session_factory, services.renderer, poster) == 1
    (dm,) = [c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "U2"]
    assert "9.99 trillion yuan → 12.5 trillion yuan" in dm.params["text"] and "test-edition-2" in dm.params["text"]
    assert notify_followers(services.session_factory, services.renderer, poster) == 0  # told once
    assert "Stopped following" in say(services, "unfollow test-livestream-sales", user="U2")


def test_the_digest_shows_what_changed_and_what_is_coming_up(services: Services) -> None:
    say(services, "subscribe compute, consumption")
    load(services)
    with services.session_factory() as session:
        channel = find_channel(session, "C1")
        digest = compose(session, channel, now=dt.datetime(2031, 3, 20, tzinfo=dt.UTC))
        text = text_of(digest.reply)
    assert "9.99 trillion yuan → 12.5 trillion yuan" in text and "New: Test Data Regulations" in text
    assert "Coming up (next 30 days)" in text and "2031-04-15 — Test Data Regulations: comments close" in text
    assert "takes effect" not in text  # 2031-07-01 is further away


def test_export_csv_and_json(services: Services) -> None:
    load(services)
    with services.session_factory() as session:
        rows = list(csv.DictReader(io.StringIO(export(session, "csv"))))
        data = json.loads(export(session, "json", topic="consumption"))
    sales = [r for r in rows if r["id"] == "test-livestream-sales"]
    assert [r["value"] for r in sales] == ["9.99", "12.5"]
    # Both wordings of each figure, and the number itself in base units (万亿元 = 10^12 元) to compute with.
    assert [(r["figure_zh"], r["figure_en"], r["amount"], r["amount_unit_zh"]) for r in sales] == [
        ("9.99万亿元", "9.99 trillion yuan", "9990000000000", "元"),
        ("12.5万亿元", "12.5 trillion yuan", "12500000000000", "元"),
    ]
    assert {r["status"] for r in rows if r["id"] == "test-data-bureau"} == {"in_effect", "completed"}
    assert {m["id"] for m in data["metrics"]} == {
        "test-livestream-sales",
        "test-livestream-hosts",
        "test-new-platforms",
    }
    assert [p["value"] for p in next(m for m in data["metrics"] if m["id"] == "test-livestream-sales")["series"]] == [
        "9.99",
        "12.5",
    ]


def test_a_malformed_edition_changes_nothing(services: Services, tmp_path: Path) -> None:
    bundle = tmp_path / "bad"
    shutil.copytree(EDITION2, bundle)
    data = yaml.safe_load((bundle / "policies.yaml").read_text(encoding="utf-8"))
    data["policies"][-1]["comment_deadline"] = "mid April"
    (bundle / "policies.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    before = _counts(services)
    with pytest.raises(DataError, match="comment_deadline"):
        load(services, bundle)
    assert _counts(services) == before


def test_the_clock_tick_tells_followers(services: Services, fake_slack: FakeSlack) -> None:
    from bot.clock import tick

    say(services, "follow test-data-bureau", user="U2")
    load(services)
    runner = Runner(
        services.session_factory, services.renderer, SlackPoster(client_factory(services)), "c", TeamPacer(1000)
    )
    assert tick(runner).outcomes["followers told"] == 1


def test_key_dates_show_with_the_item(services: Services) -> None:
    load(services)
    text = say(services, "policy Test Data Regulations")
    assert "Comments close 2031-04-15 · Takes effect 2031-07-01" in text


def test_track_takes_any_words_for_the_item_and_an_optional_date(services: Services) -> None:
    from bot.tracking.commands import split_track

    assert split_track("national data administration in effect 2027-03 notice no. 5") == (
        "national data administration",
        "in_effect",
        "2027-03",
        "notice no. 5",
    )
    assert split_track("x completed") == ("x", "completed", None, "")
    assert split_track("no status here") is None
    assert "Recorded: Test Data Bureau → in effect" in say(services, "track Test Data Bureau in effect 2031-05 gazette")
    assert "in effect 2031-05: gazette" in say(services, "history test-data-bureau")
    assert "Note saved" in say(services, "note Test Data Bureau: confirmed by the ministry")


def test_a_date_that_does_not_exist_is_refused_and_the_same_status_twice_records_nothing(services: Services) -> None:
    """track … 2027-13-99 is refused; recording the status an item already has is a no-op that says so (issue 12)."""
    assert "is not a date that exists" in say(services, "track test-data-bureau stalled 2027-13-99")
    assert "is not a date that exists" in say(services, "track test-data-bureau stalled 2027-02-30")
    with services.session_factory() as session:
        before = session.scalar(select(func.count()).select_from(Event))
    assert "Recorded" in say(services, "track test-data-bureau stalled 2027-02-28")
    assert "is already stalled: nothing new was recorded" in say(services, "track test-data-bureau stalled")
    with services.session_factory() as session:
        statuses = session.scalars(select(Event).where(Event.id > before, Event.field == "status")).all()
    assert [(e.old_value, e.new_value) for e in statuses] == [("in_effect", "stalled")]
