"""/insights: answered in the acknowledgement itself, within milliseconds, ephemeral unless shared."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.commands.ask import ask
from bot.services import Services

COMMAND = "/insights"


def unescape(text: str) -> str:
    """Slack sends &, < and > in command text as &amp;, &lt; and &gt;; the parser wants what the user typed."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def register(app: App, services: Services) -> None:
    def insights(ack: Ack, command: dict[str, Any]) -> None:
        rendered = ask(services, unescape(command.get("text") or ""))
        ack(text=rendered.text, blocks=rendered.blocks, response_type=rendered.response_type)

    app.command(COMMAND)(insights)
