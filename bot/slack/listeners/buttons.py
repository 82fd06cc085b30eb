"""Buttons under answers and digests: share an answer in the channel, more results, open an insight, and the
digest's own buttons (see more, manage subscriptions, unsubscribe), answered to the clicker alone."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient

from bot.commands.router import ask
from bot.core.reply import Reply
from bot.slack.blocks import ask_again_of
from bot.slack.deps import Deps, caller_of

USER_ID = re.compile(r"^[UW][A-Z0-9]{1,30}$")


def _stale(respond: Respond, deps: Deps) -> None:
    respond(**deps.render(Reply("stale_button", "en")).payload(replace_original=False))


def share(ack: Ack, action: dict[str, Any], context: BoltContext, respond: Respond, deps: Deps) -> None:
    """The same answer posted in the channel, saying who shared it; the private copy has served its purpose."""
    ack()
    again, user = ask_again_of(action), str(context.user_id or "")
    if again is None or not USER_ID.match(user):
        _stale(respond, deps)
        return
    shared = ask(deps.services, again.text, deps.render, lang=again.lang, offset=again.offset, shared_by=user)
    respond(**shared.payload(replace_original=False))
    respond(delete_original=True)


def _answer_again(action: dict[str, Any], respond: Respond, deps: Deps, *, replace: bool) -> None:
    again = ask_again_of(action)
    if again is None:
        _stale(respond, deps)
        return
    answer = ask(deps.services, again.text, deps.render, lang=again.lang, offset=again.offset)
    respond(**answer.payload(replace_original=replace))


def open_in_place(ack: Ack, action: dict[str, Any], respond: Respond, deps: Deps) -> None:
    """'More results' and 'Insight N': the same question (or its next page) answered in place of the original."""
    ack()
    _answer_again(action, respond, deps, replace=True)


def reply_alone(ack: Ack, action: dict[str, Any], respond: Respond, deps: Deps) -> None:
    """Under a digest (a message everyone sees): the answer goes to the clicker alone, the digest stays."""
    ack()
    _answer_again(action, respond, deps, replace=False)


def _channel_command(
    text: str, ack: Ack, context: BoltContext, client: WebClient, respond: Respond, deps: Deps
) -> None:
    ack()
    reply = ask(deps.services, text, deps.render, caller=caller_of(context, client, deps))
    respond(**reply.payload(response_type="ephemeral", replace_original=False))


def manage_subscriptions(ack: Ack, context: BoltContext, client: WebClient, respond: Respond, deps: Deps) -> None:
    _channel_command("subscriptions", ack, context, client, respond, deps)


def unsubscribe_all(ack: Ack, context: BoltContext, client: WebClient, respond: Respond, deps: Deps) -> None:
    _channel_command("unsubscribe all", ack, context, client, respond, deps)
