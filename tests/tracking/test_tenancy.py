"""Workspace tenancy (issue 12): the published facts are shared; what people record from chat (statuses, notes,
follows, audit) belongs to their workspace, is seen only there, and is marked as its own. Both databases."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.digest.compose import compose
from bot.digest.store import find_channel
from bot.services import Services
from bot.slack.poster import SlackPoster, client_factory
from bot.store.models import AuditEntry, PolicyItem
from bot.tracking.export import export
from bot.tracking.notify import notify_followers
from tests.conftest import text_of
from tests.digest.conftest import say
from tests.slack.conftest import BOT_TOKEN, make_services
from tests.slack.fake_slack import FakeSlack

MINE = "recorded in this workspace"


@pytest.fixture
def services(database_url: str, fake_slack: FakeSlack) -> Iterator[Services]:
    services = make_services(database_url, fake_slack, slack_bot_token=BOT_TOKEN, bot_admins=["UADMIN"])
    yield services
    services.close()


def in_t1(services: Services, text: str, **caller: object) -> str:
    return say(services, text, team="T1", channel="C1", **caller)  # type: ignore[arg-type]


def in_t2(services: Services, text: str, **caller: object) -> str:
    return say(services, text, team="T2", channel="C2", user="U2", **caller)  # type: ignore[arg-type]


def test_a_status_and_a_note_recorded_in_one_workspace_stay_there(services: Services) -> None:
    assert "Recorded: Test Data Bureau → stalled" in in_t1(services, "track test-data-bureau stalled 2027-03 cut")
    assert "Note saved" in in_t1(services, "note test-data-bureau: budget hearing on Friday")

    mine = in_t1(services, "history test-data-bureau")
    assert "stalled 2027-03: cut" in mine and MINE in mine and "budget hearing" in mine
    assert "stalled" in in_t1(services, "changes") and "budget hearing" in in_t1(services, "changes")
    answer = in_t1(services, "测试数据局")
    assert "formally established" not in answer  # a Chinese question answers in Chinese
    assert "本工作区记录：停滞 (2027-03)" in answer and "正式组建" in answer

    theirs = in_t2(services, "history test-data-bureau")
    assert "stalled" not in theirs and "budget hearing" not in theirs and MINE not in theirs
    assert "formally established" in theirs  # the published fact, seen by every workspace
    assert "stalled" not in in_t2(services, "changes") and "budget" not in in_t2(services, "changes")
    assert "本工作区" not in in_t2(services, "测试数据局")
    # The published status is untouched; the other workspace records its own move as new.
    with services.session_factory() as session:
        assert session.get(PolicyItem, "test-data-bureau").status == "in_effect"
        audit = session.scalars(select(AuditEntry.team_id).where(AuditEntry.action.in_(("track", "note")))).all()
    assert audit == ["T1", "T1"]
    assert "Recorded: Test Data Bureau → stalled" in in_t2(services, "track test-data-bureau stalled")
    assert "already stalled" in in_t1(services, "track test-data-bureau stalled")
    # Back to the published status is a move in this workspace too, and says so.
    assert "Recorded" in in_t1(services, "track test-data-bureau in_effect")
    assert "already" in in_t1(services, "track test-data-bureau in_effect")


def test_digests_and_followers_see_only_their_own_workspace(services: Services, fake_slack: FakeSlack) -> None:
    for speak in (in_t1, in_t2):
        assert "Subscribed" in speak(services, "subscribe compute")
        assert "Following" in speak(services, "follow test-data-bureau")
    in_t1(services, "track test-data-bureau stalled")
    in_t1(services, "note test-data-bureau: a note only T1 may read")
    now = dt.datetime(2031, 3, 20, tzinfo=dt.UTC)
    with services.session_factory() as session:
        first = text_of(compose(session, find_channel(session, "C1"), now=now).reply)
        second = text_of(compose(session, find_channel(session, "C2"), now=now).reply)
    assert "formally established → stalled" in first and "(recorded in this workspace)" in first
    assert "only T1 may read" in first
    assert "stalled" not in second and "only T1" not in second

    poster = SlackPoster(client_factory(services))
    assert notify_followers(services.session_factory, services.renderer, poster) == 1
    (dm,) = fake_slack.calls_to("chat.postMessage")
    assert dm.params["channel"] == "U1" and "stalled" in dm.params["text"]


def test_who_may_record_from_direct_messages_is_the_workspaces_choice(services: Services) -> None:
    dm = {"channel": "D1", "direct": True}
    assert "Recorded" in say(services, "track test-data-bureau stalled", **dm)  # anyone, until an admin decides
    assert "Only workspace admins" in say(services, "restrict dms on", **dm)
    assert "Only admins may record changes" in say(services, "restrict dms on", user="UADMIN", **dm)
    refused = say(services, "track test-data-bureau completed", **dm)
    assert "direct messages" in refused and "restrict dms off" in refused
    assert "direct messages" in say(services, "note test-data-bureau: from a DM", **dm)
    assert "Recorded" in say(services, "track test-data-bureau completed", user="UADMIN", **dm)
    # Another workspace's DMs keep their own setting.
    assert "Recorded" in say(services, "track test-data-bureau completed", team="T2", **dm)
    # A restricted channel keeps every write from it to admins, notes included.
    in_t1(services, "subscribe compute")
    in_t1(services, "restrict on", user="UADMIN")
    assert "Only workspace admins" in in_t1(services, "note test-data-bureau: from a restricted channel")
    assert "Anyone in this workspace may record" in say(services, "restrict dms off", user="UADMIN", **dm)
    assert "Note saved" in say(services, "note test-data-bureau: from a DM", **dm)


def test_an_org_wide_scope_shares_records_between_the_orgs_workspaces(services: Services) -> None:
    """TRACKING_SCOPE=org: the Slack edge gives callers of a Grid org the org as their tenant."""
    say(services, "track test-data-bureau stalled", team="E1/T1", tenant="E1")
    assert "stalled" in say(services, "history test-data-bureau", team="E1/T2", tenant="E1")
    assert "stalled" not in say(services, "history test-data-bureau", team="E2/T3", tenant="E2")
    assert "stalled" not in say(services, "history test-data-bureau", team="E1/T2")  # workspace scope


def test_export_shows_a_workspaces_records_only_when_asked_and_never_runs_a_formula(services: Services) -> None:
    in_t1(services, 'note test-data-bureau: =HYPERLINK("http://evil.example","click")')
    in_t1(services, "note test-data-bureau: @SUM(1+1)")
    with services.session_factory() as session:
        shared = export(session, "csv")
        rows = list(csv.DictReader(io.StringIO(export(session, "csv", workspace="T1"))))
        other = export(session, "csv", workspace="T2")
    assert "HYPERLINK" not in shared and "HYPERLINK" not in other
    notes = [row for row in rows if row["kind"] == "note"]
    assert [row["note"] for row in notes] == ['\'=HYPERLINK("http://evil.example","click")', "'@SUM(1+1)"]
    assert all(row["workspace"] == "T1" for row in notes)
    negative = [row["amount"] for row in rows if row["amount"].startswith(("-", "'-"))]
    assert all(not value.startswith("'") for value in negative)  # numbers stay numbers
