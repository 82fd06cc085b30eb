import time

from slack_bolt import App

from tests.slack.conftest import dispatch
from tests.slack.fake_slack import FakeSlack
from tests.slack.requests import app_home_opened, event_body


def test_app_home_is_published(app: App, fake_slack: FakeSlack) -> None:
    response = dispatch(app, event_body(app_home_opened(user="U2")), "application/json")
    assert response.status == 200
    assert fake_slack.wait_for(lambda: fake_slack.calls_to("views.publish"))  # published after the acknowledgement
    (call,) = fake_slack.calls_to("views.publish")
    assert call.params["user_id"] == "U2"
    view = call.params["view"]
    assert view["type"] == "home"
    text = " ".join(b.get("text", {}).get("text", "") for b in view["blocks"])
    assert "/insights" in text and "测试算力洞察" in text and "A test insight on computing power" in text


def test_the_messages_tab_publishes_nothing(app: App, fake_slack: FakeSlack) -> None:
    event = {**app_home_opened(user="U2"), "tab": "messages"}
    assert dispatch(app, event_body(event), "application/json").status == 200
    time.sleep(0.3)  # what a lazy listener would have done by now
    assert fake_slack.calls_to("views.publish") == []


def test_a_rate_limited_call_is_retried_after_retry_after(app: App, fake_slack: FakeSlack) -> None:
    fake_slack.fail("views.publish", status=429, retry_after=1)
    assert dispatch(app, event_body(app_home_opened(user="U2")), "application/json").status == 200
    assert fake_slack.wait_for(lambda: len(fake_slack.calls_to("views.publish")) == 2)
    calls = fake_slack.calls_to("views.publish")
    assert len(calls) == 2 and calls[1].at - calls[0].at >= 1.0  # waited as Slack asked, then succeeded


def test_a_server_error_is_retried(app: App, fake_slack: FakeSlack) -> None:
    fake_slack.fail("views.publish", status=503)
    assert dispatch(app, event_body(app_home_opened(user="U2")), "application/json").status == 200
    assert fake_slack.wait_for(lambda: len(fake_slack.calls_to("views.publish")) == 2)


def test_app_home_lists_the_subscriptions_of_the_users_channels(app: App, fake_slack: FakeSlack) -> None:
    from tests.slack.requests import command_body

    fake_slack.add_channel("C8", name="secret", members=["U1"])
    for channel in ("C1", "C8"):
        dispatch(
            app,
            command_body("subscribe compute", channel_id=channel, response_url=fake_slack.response_url()),
            "application/x-www-form-urlencoded",
        )
    dispatch(app, event_body(app_home_opened(user="U2")), "application/json")
    assert fake_slack.wait_for(lambda: fake_slack.calls_to("views.publish"))
    text = " ".join(
        b.get("text", {}).get("text", "") for b in fake_slack.calls_to("views.publish")[-1].params["view"]["blocks"]
    )
    assert "<#C1>: compute" in text and "<#C8>" not in text  # U2 is not in C8
    assert "/insights subscribe" in text


def test_an_event_slack_delivers_again_is_handled_once(app: App, fake_slack: FakeSlack) -> None:
    """Slack retries an event it thinks failed (X-Slack-Retry-Num, same event_id): it is acted on once (issue 11)."""
    body = event_body(app_home_opened(user="U2"), event_id="Ev0001")
    assert dispatch(app, body, "application/json").status == 200
    assert dispatch(app, body, "application/json").status == 200
    assert fake_slack.wait_for(lambda: fake_slack.calls_to("views.publish"))
    time.sleep(0.3)  # what a second lazy listener would have done by now
    assert len(fake_slack.calls_to("views.publish")) == 1


def test_the_home_tab_is_published_when_slack_will_not_list_the_users_channels(app: App, fake_slack: FakeSlack) -> None:
    fake_slack.fail("users.conversations", status=503, times=10)
    assert dispatch(app, event_body(app_home_opened(user="U2"), event_id="Ev9"), "application/json").status == 200
    assert fake_slack.wait_for(lambda: fake_slack.calls_to("views.publish"))
