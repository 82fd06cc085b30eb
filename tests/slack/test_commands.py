import json
import time

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


def test_subscribe_checks_the_bot_can_post_in_the_channel(app: App, fake_slack: FakeSlack) -> None:
    fake_slack.add_channel("C5", name="quiet", is_member=False)
    body = json.loads(
        dispatch(
            app, command_body("subscribe compute", channel_id="C5", response_url=fake_slack.response_url()), FORM
        ).body
    )
    assert "Invite me with `/invite @insights`" in body["text"]
    ok = json.loads(dispatch(app, command_body("subscribe compute", response_url=fake_slack.response_url()), FORM).body)
    assert "Subscribed to compute" in ok["text"]
    listing = json.loads(
        dispatch(app, command_body("subscriptions", response_url=fake_slack.response_url()), FORM).body
    )
    assert "<@U1>" in json.dumps(listing)  # who added it, as a mention


def test_restricted_channel_asks_slack_whether_the_user_is_an_admin(app: App, fake_slack: FakeSlack) -> None:
    fake_slack.add_user("U7", is_admin=True)
    dispatch(app, command_body("subscribe compute", response_url=fake_slack.response_url()), FORM)
    restricted = dispatch(app, command_body("restrict on", user_id="U7", response_url=fake_slack.response_url()), FORM)
    assert "Only admins may change" in json.loads(restricted.body)["text"]
    refused = dispatch(app, command_body("lang zh", user_id="U1", response_url=fake_slack.response_url()), FORM)
    assert "Only workspace admins" in json.loads(refused.body)["text"]
    assert {c.params["user"] for c in fake_slack.calls_to("users.info")} == {"U7", "U1"}


def test_digest_now_is_acknowledged_at_once_then_posted_once(app: App, fake_slack: FakeSlack) -> None:
    dispatch(app, command_body("subscribe compute", response_url=fake_slack.response_url()), FORM)
    first = dispatch(app, command_body("digest now", response_url=fake_slack.response_url("n1")), FORM)
    assert "Posting the digest" in json.loads(first.body)["text"]
    assert fake_slack.wait_for(lambda: fake_slack.responses.get("n1"))
    assert "The digest is posted" in fake_slack.responses["n1"][0]["text"]
    dispatch(app, command_body("digest now", response_url=fake_slack.response_url("n2")), FORM)  # a double click
    assert fake_slack.wait_for(lambda: fake_slack.responses.get("n2"))
    assert "posted a moment ago" in fake_slack.responses["n2"][0]["text"]
    digests = [m for m in fake_slack.messages_in("C1") if (m.get("metadata") or {}).get("event_type")]
    assert len(digests) == 1 and digests[0]["blocks"][0]["type"] == "header"


def test_digest_preview_is_private(app: App, fake_slack: FakeSlack) -> None:
    dispatch(app, command_body("subscribe compute", response_url=fake_slack.response_url()), FORM)
    body = json.loads(dispatch(app, command_body("digest preview", response_url=fake_slack.response_url()), FORM).body)
    assert body["response_type"] == "ephemeral" and "Digital economy digest" in body["text"]
    assert fake_slack.messages_in("C1") == []


def test_an_admin_check_slack_cannot_answer_in_time_is_refused_honestly_and_quickly(
    app: App, fake_slack: FakeSlack
) -> None:
    """users.info answering 429 with Retry-After 20 (or hanging) must not hold the acknowledgement (issue 11)."""
    dispatch(app, command_body("subscribe compute", response_url=fake_slack.response_url()), FORM)
    fake_slack.fail("users.info", status=429, retry_after=20)
    started = time.monotonic()
    refused = json.loads(dispatch(app, command_body("restrict on", response_url=fake_slack.response_url()), FORM).body)
    assert time.monotonic() - started < 2.5
    assert "could not verify that you are an admin" in refused["text"]
    fake_slack.fail("users.info", delay=8)
    started = time.monotonic()
    hung = json.loads(dispatch(app, command_body("restrict on", response_url=fake_slack.response_url()), FORM).body)
    assert time.monotonic() - started < 2.5 and "could not verify" in hung["text"]


def test_an_admin_check_is_remembered_for_a_minute(app: App, fake_slack: FakeSlack) -> None:
    fake_slack.add_user("U7", is_admin=True)
    dispatch(app, command_body("subscribe compute", response_url=fake_slack.response_url()), FORM)
    for text in ("restrict on", "lang zh", "restrict off"):
        dispatch(app, command_body(text, user_id="U7", response_url=fake_slack.response_url()), FORM)
    assert len(fake_slack.calls_to("users.info")) == 1


def test_subscribe_in_a_direct_message_says_where_digests_go(app: App, fake_slack: FakeSlack) -> None:
    body = json.loads(
        dispatch(
            app, command_body("subscribe compute", channel_id="D123", response_url=fake_slack.response_url()), FORM
        ).body
    )
    assert "Digests go to channels" in body["text"] and "/invite" in body["text"]
