import json
import time

from slack_bolt import App

from tests.slack.conftest import dispatch
from tests.slack.fake_slack import FakeSlack
from tests.slack.requests import block_actions_body

FORM = "application/x-www-form-urlencoded"


def click(app: App, fake: FakeSlack, action_id: str, value: str, key: str, user: str = "U1", answers: int = 1) -> None:
    """A button click, acknowledged at once; its answer comes after the acknowledgement (a lazy listener)."""
    body = block_actions_body(action_id, value, user_id=user, response_url=fake.response_url(key))
    response = dispatch(app, body, FORM)
    assert response.status == 200
    if action_id == "track_open":
        assert fake.wait_for(lambda: fake.calls_to("views.open"))
    else:
        assert fake.wait_for(lambda: len(fake.responses.get(key, [])) >= answers)


def value(text: str, offset: int = 0, lang: str = "en") -> str:
    return json.dumps({"t": text, "o": offset, "l": lang}, ensure_ascii=False)


def test_share_posts_the_answer_in_the_channel_and_removes_the_private_copy(app: App, fake_slack: FakeSlack) -> None:
    click(app, fake_slack, "share", value("直播销售额", lang="zh"), "share1", user="U42", answers=2)
    posted, deleted = fake_slack.responses["share1"]
    assert posted["response_type"] == "in_channel" and posted["replace_original"] is False
    assert "9.99万亿元" in posted["text"]
    assert {"type": "mrkdwn", "text": "分享者 <@U42>", "verbatim": True} in posted["blocks"][-1]["elements"]
    assert not any(b["type"] == "actions" for b in posted["blocks"])  # no buttons on the shared copy
    assert deleted["delete_original"] is True


def test_more_results_replace_the_original_with_the_next_page(app: App, fake_slack: FakeSlack) -> None:
    click(app, fake_slack, "more", value("测试", offset=2), "more1")
    (reply,) = fake_slack.responses["more1"]
    assert reply["replace_original"] is True and reply["response_type"] == "ephemeral"
    assert "Showing 3–" in reply["text"] or "第 3–" in reply["text"]


def test_insight_button_opens_the_insight(app: App, fake_slack: FakeSlack) -> None:
    click(app, fake_slack, "show_insight_2", value("show 2"), "show2")
    (reply,) = fake_slack.responses["show2"]
    assert "Insight 2: A test insight on consumption" in reply["text"]


def test_a_tampered_button_value_gets_a_clear_message(app: App, fake_slack: FakeSlack) -> None:
    for i, bad in enumerate(["", "not json", '{"t": "x"}', '{"t": "x", "o": -1, "l": "en"}', '{"t":1,"o":0,"l":"fr"}']):
        click(app, fake_slack, "more", bad, f"bad{i}")
        (reply,) = fake_slack.responses[f"bad{i}"]
        assert "no longer works" in reply["text"]
    click(app, fake_slack, "share", value("list"), "baduser", user="<!channel>")
    assert "no longer works" in fake_slack.responses["baduser"][0]["text"]


def test_digest_buttons_answer_the_clicker_alone(app: App, fake_slack: FakeSlack) -> None:
    from tests.slack.requests import command_body

    dispatch(app, command_body("subscribe consumption", response_url=fake_slack.response_url()), FORM)
    click(app, fake_slack, "digest_more", value("metric consumption"), "more")
    (more,) = fake_slack.responses["more"]
    assert more["replace_original"] is False and more["response_type"] == "ephemeral"
    assert "Livestream sales" in more["text"]
    click(app, fake_slack, "digest_manage", "manage", "manage")
    assert "This channel's subscriptions" in fake_slack.responses["manage"][0]["text"]
    click(app, fake_slack, "digest_unsubscribe", "all", "unsub", user="U2")
    assert "Unsubscribed from consumption" in fake_slack.responses["unsub"][0]["text"]


def test_track_button_opens_a_modal_whose_submission_records_the_status(app: App, fake_slack: FakeSlack) -> None:
    from tests.slack.requests import command_body, view_submission_body

    # The Track button sits on each policy item of an answer.
    answer = json.loads(
        dispatch(app, command_body("policy 测试数据局", response_url=fake_slack.response_url()), FORM).body
    )
    button = next(b["accessory"] for b in answer["blocks"] if b.get("accessory", {}).get("action_id") == "track_open")
    assert button["value"] == "policy:test-data-bureau"
    click(app, fake_slack, "track_open", button["value"], "t")
    (opened,) = fake_slack.calls_to("views.open")
    view = opened.params["view"]
    assert view["callback_id"] == "track_submit" and "Test Data Bureau" in json.dumps(view)
    values = {
        "status_block": {"status": {"type": "static_select", "selected_option": {"value": "stalled"}}},
        "note_block": {"note": {"type": "plain_text_input", "value": "budget <!here> cut"}},
    }
    response = dispatch(app, view_submission_body(view, values, user_id="U2"), FORM)
    # The form turns into what was recorded, in the acknowledgement itself: no further call to Slack.
    answer = json.loads(response.body)
    assert response.status == 200 and answer["response_action"] == "update"
    assert "Test Data Bureau → stalled" in json.dumps(answer["view"], ensure_ascii=False)
    assert fake_slack.calls_to("chat.postEphemeral") == []
    nothing = {
        "status_block": {"status": {"type": "static_select", "selected_option": None}},
        "note_block": {"note": {"type": "plain_text_input", "value": None}},
    }
    refused = dispatch(app, view_submission_body(view, nothing, user_id="U2"), FORM)
    assert json.loads(refused.body)["response_action"] == "errors"  # neither a status nor a note


def test_track_submission_lands_in_the_history(app: App, slack_services, fake_slack: FakeSlack) -> None:
    from sqlalchemy import select

    from bot.store.models import StatusEntry
    from tests.slack.requests import view_submission_body

    view = {
        "callback_id": "track_submit",
        "private_metadata": json.dumps({"item": "test-data-bureau", "channel": "C1"}),
        "type": "modal",
        "blocks": [],
    }
    values = {
        "status_block": {"status": {"type": "static_select", "selected_option": {"value": "completed"}}},
        "note_block": {"note": {"type": "plain_text_input", "value": None}},
    }
    dispatch(app, view_submission_body(view, values, user_id="U3"), FORM)
    with slack_services.session_factory() as session:
        entry = session.scalars(select(StatusEntry).order_by(StatusEntry.id.desc())).first()
    assert (entry.status, entry.recorded_by) == ("completed", "U3")


def test_a_note_on_a_figure_from_its_track_button(app: App, slack_services, fake_slack: FakeSlack) -> None:
    from sqlalchemy import select

    from bot.store.models import Note
    from tests.slack.requests import view_submission_body

    click(app, fake_slack, "track_open", "metric:test-livestream-sales", "m")
    view = fake_slack.calls_to("views.open")[-1].params["view"]
    assert "status_block" not in json.dumps(view)  # a figure has no status, only notes
    empty = {"note_block": {"note": {"type": "plain_text_input", "value": " "}}}
    assert json.loads(dispatch(app, view_submission_body(view, empty), FORM).body)["response_action"] == "errors"
    values = {"note_block": {"note": {"type": "plain_text_input", "value": "Revised in the 2024 edition"}}}
    dispatch(app, view_submission_body(view, values, user_id="U4"), FORM)
    with slack_services.session_factory() as session:
        saved = session.scalars(select(Note)).one()
    assert (saved.item_id, saved.text, saved.recorded_by) == (
        "test-livestream-sales",
        "Revised in the 2024 edition",
        "U4",
    )


def test_a_double_click_on_share_posts_once(app: App, fake_slack: FakeSlack) -> None:
    """Two clicks on the same private answer (Slack sends both) share it once (issue 11)."""
    container = {"type": "message", "message_ts": "1700000000.000100", "channel_id": "C1", "is_ephemeral": True}
    for key in ("d1", "d2"):
        body = block_actions_body(
            "share", value("list"), user_id="U42", container=container, response_url=fake_slack.response_url(key)
        )
        assert dispatch(app, body, FORM).status == 200
    assert fake_slack.wait_for(lambda: len(fake_slack.responses.get("d1", [])) == 2)
    time.sleep(0.3)  # what the second click's listener would have done by now
    assert fake_slack.responses.get("d2", []) == []


def test_a_form_submitted_twice_records_once(app: App, slack_services, fake_slack: FakeSlack) -> None:
    from sqlalchemy import func, select

    from bot.store.models import Note
    from tests.slack.requests import view_submission_body

    view = {
        "callback_id": "track_submit",
        "private_metadata": json.dumps({"kind": "metric", "item": "test-livestream-sales", "channel": "C1"}),
        "type": "modal",
        "blocks": [],
    }
    values = {"note_block": {"note": {"type": "plain_text_input", "value": "Revised"}}}
    first = json.loads(dispatch(app, view_submission_body(view, values), FORM).body)
    again = json.loads(dispatch(app, view_submission_body(view, values), FORM).body)  # a retry, a double click
    assert "Note saved" in json.dumps(first["view"]) and "submitted already" in json.dumps(again["view"])
    with slack_services.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Note)) == 1


def test_when_the_response_url_no_longer_answers_the_click_is_answered_through_the_web_api(
    app: App, fake_slack: FakeSlack
) -> None:
    """Slack takes five answers within 30 minutes on a response_url; after that a click still gets its answer."""
    fake_slack.fail("response_url", status=404, error="expired_url")
    body = block_actions_body("more", value("list"), response_url=fake_slack.response_url("old"))
    assert dispatch(app, body, FORM).status == 200
    assert fake_slack.wait_for(lambda: fake_slack.calls_to("chat.postEphemeral"))
    (fallback,) = fake_slack.calls_to("chat.postEphemeral")
    assert fallback.params["user"] == "U1" and "A test insight on computing power" in json.dumps(
        fallback.params, ensure_ascii=False
    )
