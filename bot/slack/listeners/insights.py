"""/insights: answered in the acknowledgement itself, within milliseconds, ephemeral unless shared.

`digest now` is the one slow command (it posts to the channel, maybe after Slack's Retry-After): it is acknowledged
at once and finished by a lazy listener, which Bolt runs after the acknowledgement has gone back to Slack."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient

from bot.commands.router import PARSER, ask
from bot.core.errors import UsageError
from bot.core.reply import notice
from bot.slack.deps import Deps, caller_of

COMMAND = "/insights"


def text_of(command: dict[str, Any]) -> str:
    """Slack sends &, < and > in command text as &amp;, &lt; and &gt;; the parser wants what the user typed."""
    text = str(command.get("text") or "")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def answer(ack: Ack, command: dict[str, Any], context: BoltContext, client: WebClient, deps: Deps) -> None:
    reply = ask(deps.services, text_of(command), deps.render, caller=caller_of(context, client, deps))
    ack(**reply.payload())


def is_digest_now(command: dict[str, Any]) -> bool:
    try:
        parsed = PARSER.parse(text_of(command))
    except UsageError:
        return False
    return parsed.name == "digest" and parsed.arg == "now"


def acknowledge_digest_now(ack: Ack, command: dict[str, Any], deps: Deps) -> None:
    ack(**deps.render(notice(PARSER.parse(text_of(command)).lang, "posting_digest")).payload())


def post_digest_now(
    command: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    respond: Respond,
    deps: Deps,
) -> None:
    reply = ask(deps.services, text_of(command), deps.render, caller=caller_of(context, client, deps))
    respond(**reply.payload(replace_original=False))
