"""The baseline for the serve benchmark: a Bolt app configured like ours whose /insights handler only acks."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.services import create_services
from bot.slack.client import web_client
from bot.slack.web import serve


def create_bare_wsgi_app() -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    services = create_services()
    app = App(
        signing_secret=services.settings.slack_signing_secret,
        client=web_client(services, services.settings.slack_bot_token),
        process_before_response=True,
    )

    def insights(ack: Ack) -> None:
        ack()

    app.command("/insights")(insights)
    return SlackRequestHandler(app)


if __name__ == "__main__":
    host, port, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    serve(host, port, workers, factory=create_bare_wsgi_app)
