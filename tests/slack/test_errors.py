import json
import re
import time

import pytest
from slack_bolt import App

from bot.slack.listeners import buttons, insights
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
