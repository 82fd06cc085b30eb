"""Listeners are plain functions: called here directly, with what Bolt would pass, no HTTP and no Slack."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient

from bot.services import Services
from bot.slack.deps import make_deps
from bot.slack.listeners import buttons, insights


class Recorder:
    """Stands in for Bolt's ack() or respond(): keeps what it was called with."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> SimpleNamespace:
        self.calls.append(kwargs)
        return SimpleNamespace(status_code=200)  # what respond() returns when Slack took the answer


def test_the_command_listener_answers_in_its_acknowledgement(mini_services: Services) -> None:
    ack = Recorder()
    context = BoltContext({"team_id": "T1", "user_id": "U1", "channel_id": "C1"})
    insights.answer(ack, {"text": "直播销售额"}, context, WebClient(), make_deps(mini_services))
    (answer,) = ack.calls
    assert answer["response_type"] == "ephemeral" and "9.99万亿元" in answer["text"]
    assert answer["blocks"][-1]["block_id"] == "reply_actions"


def test_a_button_whose_value_is_not_ours_is_answered_plainly(mini_services: Services) -> None:
    respond = Recorder()
    context = BoltContext({"team_id": "T1", "user_id": "U1", "channel_id": "C1"})
    buttons.open_in_place({"value": "{}"}, context, WebClient(), respond, make_deps(mini_services))
    (reply,) = respond.calls
    assert "no longer works" in reply["text"] and reply["replace_original"] is False
