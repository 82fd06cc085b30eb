"""Socket Mode: the same app over a WebSocket that the app opens, for workspaces behind a firewall."""

from __future__ import annotations

from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.core.errors import ConfigurationError
from bot.services import Services
from bot.slack.app import create_app


def run_socket_mode(services: Services) -> None:
    app_token = services.settings.slack_app_token
    if not app_token:
        raise ConfigurationError(
            "SLACK_APP_TOKEN (xapp-..., Basic Information > App-Level Tokens) is required for Socket Mode"
        )
    SocketModeHandler(create_app(services), app_token).start()  # type: ignore[no-untyped-call]
