import json
from dataclasses import replace
from pathlib import Path

import pytest
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.oauth.installation_store import Bot
from slack_sdk.socket_mode.request import SocketModeRequest
from sqlalchemy import func, select, table

from bot.core.errors import ConfigurationError
from bot.services import Services
from bot.slack.app import create_app
from bot.slack.client import installation_store
from tests.slack.conftest import dispatch, make_services
from tests.slack.fake_slack import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, FakeSlack
from tests.slack.requests import event_body, fixture, tokens_revoked
from tests.test_cli import bot


def test_missing_credentials_are_a_clear_configuration_error(sqlite_url: str, fake_slack: FakeSlack) -> None:
    services = make_services(sqlite_url, fake_slack)
    with pytest.raises(ConfigurationError, match="SLACK_BOT_TOKEN"):
        create_app(services)
    with pytest.raises(ConfigurationError, match="SLACK_SIGNING_SECRET"):
        create_app(replace(services, settings=services.settings.model_copy(update={"slack_signing_secret": None})))
    services.close()


def test_serve_and_socket_without_credentials_say_what_is_missing(tmp_path: Path) -> None:
    for command in ("serve", "socket"):
        result = bot(tmp_path, command)
        assert result.returncode == 2 and "Configuration:" in result.stderr and "Traceback" not in result.stderr


def oauth_services(url: str, fake: FakeSlack) -> Services:
    return make_services(url, fake, slack_client_id=DEFAULT_CLIENT_ID, slack_client_secret=DEFAULT_CLIENT_SECRET)


def save_bot(services: Services, team_id: str, token: str) -> None:
    installation_store(services).save_bot(
        Bot(
            app_id="A1",
            enterprise_id=None,
            team_id=team_id,
            bot_token=token,
            bot_id="B1",
            bot_user_id="UBOT",
            installed_at=1_700_000_000.0,
        )
    )


def test_the_installation_store_works_on_our_migrated_tables(database_url: str, fake_slack: FakeSlack) -> None:
    services = oauth_services(database_url, fake_slack)
    save_bot(services, "T5", "xoxb-five")
    store = installation_store(services)
    assert store.find_bot(enterprise_id=None, team_id="T5").bot_token == "xoxb-five"
    store.delete_all(enterprise_id=None, team_id="T5")
    assert store.find_bot(enterprise_id=None, team_id="T5") is None
    services.close()


def test_revoked_bot_tokens_are_forgotten_and_the_workspace_digests_stop(
    sqlite_url: str, fake_slack: FakeSlack
) -> None:
    from tests.digest.conftest import say

    services = oauth_services(sqlite_url, fake_slack)
    save_bot(services, "T5", "xoxb-five")
    fake_slack.add_token("xoxb-five", team_id="T5")
    say(services, "subscribe compute", team="T5")
    app = create_app(services)
    response = dispatch(app, event_body(tokens_revoked("UBOT"), team_id="T5"), "application/json")
    assert response.status == 200
    with services.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(table("slack_bots"))).scalar() == 0
    assert "paused: tokens_revoked" in say(services, "subscriptions", team="T5")
    services.close()


class RecordingSocketClient:
    """Stands in for the WebSocket: what the handler sends back to Slack for an envelope."""

    def __init__(self, logger) -> None:
        self.logger = logger
        self.sent: list = []

    def send_socket_mode_response(self, response) -> None:
        self.sent.append(response)


def test_socket_mode_runs_the_same_app(slack_services: Services) -> None:
    app = create_app(slack_services)
    handler = SocketModeHandler(app, app_token="xapp-1-test")
    client = RecordingSocketClient(handler.client.logger)
    payload = {**fixture("command"), "text": "直播销售额", "response_url": "http://127.0.0.1:9/response/x"}
    handler.handle(client, SocketModeRequest(type="slash_commands", envelope_id="env-1", payload=payload))
    (sent,) = client.sent
    assert sent.envelope_id == "env-1"
    assert "9.99万亿元" in json.dumps(sent.payload, ensure_ascii=False)
