import json

from slack_bolt import App

from tests.slack.conftest import dispatch
from tests.slack.fake_slack import FakeSlack
from tests.slack.requests import command_body

FORM = "application/x-www-form-urlencoded"


def ask(app: App, fake: FakeSlack, text: str) -> dict:
    response = dispatch(app, command_body(text, response_url=fake.response_url()), FORM)
    assert response.status == 200
    return json.loads(response.body)


def test_a_command_is_answered_in_the_acknowledgement(app: App, fake_slack: FakeSlack) -> None:
    body = ask(app, fake_slack, "直播销售额")
    assert body["response_type"] == "ephemeral"
    assert "9.99万亿元" in body["text"]
    sections = " ".join(b["text"]["text"] for b in body["blocks"] if b["type"] == "section")
    assert "*直播销售额*: *9.99万亿元*" in sections
    actions = [b for b in body["blocks"] if b["type"] == "actions"][-1]
    assert actions["elements"][0]["action_id"] == "share"
    assert json.loads(actions["elements"][0]["value"]) == {"t": "直播销售额", "o": 0, "l": "zh"}
    assert fake_slack.calls_to("chat.postMessage") == []  # nothing else was sent anywhere


def test_empty_command_is_help(app: App, fake_slack: FakeSlack) -> None:
    assert "/insights list" in ask(app, fake_slack, "")["text"]


def test_slack_escaped_text_is_unescaped_then_escaped_again_for_display(app: App, fake_slack: FakeSlack) -> None:
    # Slack sends what the user typed as "<!here> & co" in this escaped form.
    body = ask(app, fake_slack, "&lt;!here&gt; &amp; co")
    rendered = json.dumps(body, ensure_ascii=False)
    assert "<!here>" not in rendered and "&lt;!here&gt; &amp; co" in rendered


def test_usage_errors_are_friendly_replies(app: App, fake_slack: FakeSlack) -> None:
    assert "give a number from 1 to 10" in ask(app, fake_slack, "show 42")["text"]
