"""Socket Mode over a real WebSocket (tests/slack/socket_server.py): every envelope acknowledged, a refresh or a
dropped socket costs well under a second, nothing is processed twice, and no signing secret is needed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import pytest

from bot.core.errors import ConfigurationError
from bot.services import Services
from bot.slack.app import create_app
from bot.slack.socket import Handler, socket_mode_handler
from tests.slack.conftest import BOT_TOKEN, make_services
from tests.slack.fake_slack import FakeSlack
from tests.slack.requests import app_home_opened, block_actions_body, command_body, event_body
from tests.slack.socket_server import APP_TOKEN, SocketModeServer


def command(fake: FakeSlack, text: str) -> dict[str, Any]:
    """A slash command as a Socket Mode payload: the HTTP form fields as a JSON object."""
    return dict(parse_qsl(command_body(text, response_url=fake.response_url()).decode()))


def action(fake: FakeSlack, action_id: str, value: str = "") -> dict[str, Any]:
    """A block_actions payload: what HTTP carries in its `payload=` form field."""
    form = dict(parse_qsl(block_actions_body(action_id, value, response_url=fake.response_url()).decode()))
    return dict(json.loads(form["payload"]))


def event(inner: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(event_body(inner)))


@pytest.fixture
def socket_services(sqlite_url: str, fake_slack: FakeSlack) -> Iterator[Services]:
    services = make_services(sqlite_url, fake_slack, slack_bot_token=BOT_TOKEN, slack_app_token=APP_TOKEN)
    # Socket Mode has no use for a signing secret, and `bot socket` must not ask for one.
    services.settings = services.settings.model_copy(update={"slack_signing_secret": None})
    yield services
    services.close()


def raising_listener() -> None:
    raise RuntimeError("a listener that fails before it acknowledges")


@pytest.fixture
def server(socket_services: Services, fake_slack: FakeSlack) -> Iterator[SocketModeServer]:
    app = create_app(socket_services, socket_mode=True)
    app.event("member_joined_channel")(raising_listener)  # Bolt answers 500 for it
    with SocketModeServer(fake_slack) as server:
        handler = socket_mode_handler(socket_services, app)
        handler.connect()
        server.wait_connection()
        try:
            yield server
        finally:
            handler.close()


def test_the_handler_is_built_without_a_signing_secret(socket_services: Services) -> None:
    assert socket_services.settings.slack_signing_secret is None
    handler = socket_mode_handler(socket_services)
    try:
        assert isinstance(handler, Handler)
    finally:
        handler.close()


def test_an_app_token_is_required(socket_services: Services) -> None:
    socket_services.settings = socket_services.settings.model_copy(update={"slack_app_token": None})
    with pytest.raises(ConfigurationError, match="SLACK_APP_TOKEN"):
        socket_mode_handler(socket_services)


def test_the_connection_uses_the_app_token(server: SocketModeServer, fake_slack: FakeSlack) -> None:
    (first, *_) = fake_slack.calls_to("apps.connections.open")
    assert first.token == APP_TOKEN


def test_a_command_is_acknowledged_with_its_answer(server: SocketModeServer, fake_slack: FakeSlack) -> None:
    envelope_id = server.send("slash_commands", command(fake_slack, "help"))
    ack = server.wait_ack(envelope_id)
    assert ack.payload is not None and ack.payload["response_type"] == "ephemeral"
    assert "/insights" in json.dumps(ack.payload["blocks"], ensure_ascii=False)
    assert server.latency(envelope_id) < 1.0


def test_an_unknown_event_type_is_acknowledged(server: SocketModeServer) -> None:
    unknown = {"type": "reaction_added", "user": "U1", "reaction": "+1", "event_ts": f"{time.time():.6f}"}
    envelope_id = server.send("events_api", event(unknown))
    assert server.wait_ack(envelope_id).payload is None


def test_an_unknown_action_id_is_acknowledged(server: SocketModeServer, fake_slack: FakeSlack) -> None:
    envelope_id = server.send("interactive", action(fake_slack, "no_such_button", "x"))
    assert server.wait_ack(envelope_id).payload is None


def test_a_listener_that_raises_is_acknowledged(server: SocketModeServer) -> None:
    # Bolt answers 500, which its adapter never acknowledged: Slack would deliver the event again and again.
    joined = {"type": "member_joined_channel", "user": "U2", "channel": "C1", "event_ts": f"{time.time():.6f}"}
    envelope_id = server.send("events_api", event(joined))
    assert server.wait_ack(envelope_id).payload is None


def test_a_listener_that_fails_after_its_acknowledgement_is_acknowledged_once(
    server: SocketModeServer, fake_slack: FakeSlack
) -> None:
    fake_slack.fail("views.publish", error="invalid_arguments")  # the App Home listener raises
    envelope_id = server.send("events_api", event(app_home_opened(user="U2")))
    assert server.wait_ack(envelope_id).payload is None
    assert fake_slack.wait_for(lambda: len(fake_slack.calls_to("views.publish")) == 1)
    assert len(server.acks_of(envelope_id)) == 1


def test_a_command_whose_listener_raises_is_acknowledged_with_the_apology(
    server: SocketModeServer, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr("bot.slack.listeners.insights.ask", broken)
    envelope_id = server.send("slash_commands", command(fake_slack, "list"))
    ack = server.wait_ack(envelope_id)
    assert ack.payload is not None
    assert "boom" not in json.dumps(ack.payload)  # an error id for the user, never the exception


def test_the_first_command_after_a_refresh_is_acknowledged_at_once(
    server: SocketModeServer, fake_slack: FakeSlack
) -> None:
    current = server.wait_connection()
    for _ in range(3):
        old = server.refresh(current)
        current = server.wait_connection(after=old.number)
        envelope_id = server.send("slash_commands", command(fake_slack, "help"))
        # The built-in client took ~3 s here: it read the new socket only once the old one's receive timed out.
        assert server.latency(envelope_id) < 1.0
        assert server.wait_ack(envelope_id).connection == current.number
        assert server.wait_closed(old)  # the app closes the old connection itself
        assert old.client_closed


def test_an_abrupt_close_is_noticed_within_seconds(server: SocketModeServer, fake_slack: FakeSlack) -> None:
    old = server.drop()  # no disconnect message, no close frame
    started = time.monotonic()
    current = server.wait_connection(after=old.number, timeout=5)
    assert time.monotonic() - started < 3.0  # not the next 10 s ping
    envelope_id = server.send("slash_commands", command(fake_slack, "help"), connection=current)
    assert server.latency(envelope_id) < 1.0


def test_the_app_reconnects_after_a_server_restart(server: SocketModeServer, fake_slack: FakeSlack) -> None:
    old = server.wait_connection()
    server.restart(down_for=0.5)
    started = time.monotonic()
    current = server.wait_connection(after=old.number, timeout=8)
    assert time.monotonic() - started < 5.0
    envelope_id = server.send("slash_commands", command(fake_slack, "help"), connection=current)
    assert server.latency(envelope_id) < 1.0


def test_nothing_is_processed_twice_across_refreshes_and_drops(server: SocketModeServer, fake_slack: FakeSlack) -> None:
    sent: list[str] = []
    current = server.wait_connection()
    for round_number in range(4):
        sent.append(server.send("events_api", event(app_home_opened(user="U2")), connection=current))
        sent.append(server.send("slash_commands", command(fake_slack, "list"), connection=current))
        for envelope_id in sent[-2:]:
            server.wait_ack(envelope_id)
        old = server.refresh(current) if round_number % 2 == 0 else server.drop(current)
        current = server.wait_connection(after=old.number)
    assert fake_slack.wait_for(lambda: len(fake_slack.calls_to("views.publish")) >= 4)
    time.sleep(0.3)  # room for a late duplicate to show up
    assert all(len(server.acks_of(envelope_id)) == 1 for envelope_id in sent)
    assert len(fake_slack.calls_to("views.publish")) == 4  # one App Home per event, none repeated
