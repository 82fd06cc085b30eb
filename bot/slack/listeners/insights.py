"""/insights: answered in the acknowledgement itself, within milliseconds, ephemeral unless shared.

A command whose declaration says its work can outlast the acknowledgement (`digest now`, which posts to the channel,
maybe after Slack's Retry-After) is acknowledged at once and finished by a lazy listener, which Bolt runs after the
acknowledgement has gone back to Slack."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient

from bot.commands.router import ask, parse
from bot.core.commands import Command
from bot.core.reply import Reply, notice
from bot.slack.deps import Deps, caller_of

COMMAND = "/insights"


def text_of(command: dict[str, Any]) -> str:
    """Slack sends &, < and > in command text as &amp;, &lt; and &gt;; the parser wants what the user typed."""
    text = str(command.get("text") or "")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def parsed(context: BoltContext, command: dict[str, Any]) -> Command | Reply:
    """The request, parsed once: the matcher below parses it and keeps it in Bolt's context for the listener."""
    if "parsed" not in context:
        context["parsed"] = parse(text_of(command))
    found: Command | Reply = context["parsed"]
    return found


def is_deferred(command: dict[str, Any], context: BoltContext) -> bool:
    found = parsed(context, command)
    return isinstance(found, Command) and found.acknowledgement is not None


def answer(ack: Ack, command: dict[str, Any], context: BoltContext, client: WebClient, deps: Deps) -> None:
    reply = ask(deps.services, parsed(context, command), deps.render, caller=caller_of(context, client, deps))
    ack(**reply.payload())


def acknowledge(command: dict[str, Any], ack: Ack, context: BoltContext, deps: Deps) -> None:
    found = parsed(context, command)
    # is_deferred matched: a command that declares what to say at once.
    assert isinstance(found, Command)
    assert found.acknowledgement is not None
    ack(**deps.render(notice(found.lang, found.acknowledgement)).payload())


def answer_later(
    command: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    respond: Respond,
    deps: Deps,
) -> None:
    reply = ask(deps.services, parsed(context, command), deps.render, caller=caller_of(context, client, deps))
    respond(**reply.payload(replace_original=False))
