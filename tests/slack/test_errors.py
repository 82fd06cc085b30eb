import json
import logging
import re
import sqlite3
import time

import pytest
from slack_bolt import App
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bot.core.errors import DatabaseBusy
from bot.services import Services
from bot.slack.listeners import buttons, insights
from bot.store.models import AuditEntry, Channel
from tests.slack.conftest import SECRET, dispatch
from tests.slack.fake_slack import FakeSlack
from tests.slack.requests import block_actions_body, command_body

FORM = "application/x-www-form-urlencoded"


def test_a_failing_command_answers_with_an_error_id_and_logs_it(
    app: App, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(insights, "ask", broken)
    response = dispatch(app, command_body("list", response_url=fake_slack.response_url()), FORM)
    assert response.status == 200
    body = json.loads(response.body)
    error_id = re.search(r"error id `([0-9a-f]{8})`", body["blocks"][0]["text"]["text"]).group(1)
    assert "Traceback" not in response.body and "database on fire" not in response.body
    assert any(error_id in r.getMessage() and r.exc_info for r in caplog.records)


def test_a_failing_button_tells_the_user_through_response_url(
    app: App, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(buttons, "ask", broken)
    body = block_actions_body("more", '{"t": "list", "o": 0, "l": "en"}', response_url=fake_slack.response_url("e"))
    dispatch(app, body, FORM)
    assert fake_slack.wait_for(lambda: fake_slack.responses.get("e"))  # told after the acknowledgement
    (reply,) = fake_slack.responses["e"]
    assert "Sorry, something went wrong (error id" in reply["text"] and "boom" not in reply["text"]


@pytest.mark.parametrize(
    ("secret", "age"), [("wrong-secret", 0), (SECRET, 6 * 60), (SECRET, -6 * 60)], ids=["forged", "stale", "future"]
)
def test_bad_or_stale_signatures_are_refused_and_change_nothing(
    app: App, fake_slack: FakeSlack, secret: str, age: int
) -> None:
    body = block_actions_body("share", '{"t": "list", "o": 0, "l": "en"}', response_url=fake_slack.response_url("x"))
    response = dispatch(app, body, FORM, secret=secret, timestamp=int(time.time()) - age)
    assert response.status == 401
    assert fake_slack.responses.get("x", []) == []


# ---- issue 12: a database held by a data load is "being updated", in time, never an error ----
BUSY_EN = "The data is being updated; please try again in a minute."


def test_a_command_during_a_sqlite_load_is_told_in_time_through_bolt(
    app: App, fake_slack: FakeSlack, slack_services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    def command(text: str) -> dict:
        response = dispatch(app, command_body(text, response_url=fake_slack.response_url()), FORM)
        assert response.status == 200
        return json.loads(response.body)

    assert "Subscribed to compute" in command("subscribe compute")["text"]
    load = sqlite3.connect(str(slack_services.engine.url.database), isolation_level=None, timeout=0)
    load.execute("BEGIN IMMEDIATE")  # what a load does: write, and commit only at the end
    load.execute("INSERT INTO audit_log (team_id, channel_id, user_id, action, detail) VALUES ('T','C','U','x','x')")
    try:
        started = time.monotonic()
        body = command("schedule daily 08:30 Europe/Berlin")
        assert time.monotonic() - started < 10  # generous: the request gives up after 1.5 s
        assert body["text"].strip() == BUSY_EN and body["response_type"] == "ephemeral"
        assert "error id" not in json.dumps(body)
    finally:
        load.execute("ROLLBACK")
        load.close()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    with slack_services.session_factory() as session:
        assert session.scalar(select(Channel.schedule_kind)) == "weekly"  # nothing half-written
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 1  # the subscription's only
    assert command("schedule daily 08:30 Europe/Berlin")["text"].startswith("Digest: daily at 08:30")


def test_a_busy_database_anywhere_else_gets_the_same_notice_without_an_error_id(
    app: App, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """What the policy does with a lock wait that ran out outside the router: a lazy button, and the long-waiting
    engine's own error in the acknowledgement."""

    def busy(*args, **kwargs):
        raise DatabaseBusy("database is locked")

    monkeypatch.setattr(buttons, "ask", busy)
    body = block_actions_body("more", '{"t": "list", "o": 0, "l": "en"}', response_url=fake_slack.response_url("b"))
    dispatch(app, body, FORM)
    assert fake_slack.wait_for(lambda: fake_slack.responses.get("b"))
    assert fake_slack.responses["b"][0]["text"].strip() == BUSY_EN

    def locked(*args, **kwargs):
        # What the long-waiting engine raises once its 30 s are up (sqlite3's own error, SQLITE_BUSY).
        error = sqlite3.OperationalError("database is locked")
        error.sqlite_errorcode = sqlite3.SQLITE_BUSY  # type: ignore[attr-defined]
        raise OperationalError("UPDATE channels ...", {}, error)

    monkeypatch.setattr(insights, "ask", locked)
    response = dispatch(app, command_body("直播销售额", response_url=fake_slack.response_url()), FORM)
    assert response.status == 200 and json.loads(response.body)["text"].strip() == "数据正在更新，请一分钟后再试。"
    told = [r for r in caplog.records if "database busy" in r.getMessage()]
    assert len(told) == 2 and all(r.levelno == logging.WARNING and not r.exc_info for r in told)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
