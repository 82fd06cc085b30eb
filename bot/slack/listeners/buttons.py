"""Buttons under answers and digests: share an answer in the channel, more results, open an insight, and the
digest's own buttons (see more, manage subscriptions, unsubscribe), answered to the clicker alone.

Each runs after the acknowledgement (a lazy listener): its answer goes to Slack's response_url, which can be slow."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from slack_bolt import BoltContext, Respond
from slack_sdk import WebClient

from bot.commands.router import ask
from bot.core.reply import Reply
from bot.slack.blocks import SlackMessage, ask_again_of
from bot.slack.deps import Deps, caller_of

USER_ID = re.compile(r"^[UW][A-Z0-9]{1,30}$")
log = logging.getLogger(__name__)


@dataclass
class Clicker:
    """Where a button's answer goes: Slack's response_url, or, once that no longer takes answers (five within 30
    minutes), a message through the Web API, so a click is never answered by silence."""

    respond: Respond
    context: BoltContext
    client: WebClient

    def answer(self, message: SlackMessage, *, replace: bool = False, in_channel: bool = False) -> None:
        if self.respond(**message.payload(replace_original=replace)).status_code == 200:
            return
        log.info("response_url no longer answers; posting through the Web API")
        channel, payload = str(self.context.channel_id or ""), message.payload(response_type=None)
        if in_channel:
            self.client.chat_postMessage(channel=channel, **payload)
        else:
            self.client.chat_postEphemeral(channel=channel, user=str(self.context.user_id or ""), **payload)

    def stale(self, deps: Deps) -> None:
        self.answer(deps.render(Reply("stale_button", "en")))


def share_key(body: dict[str, Any]) -> str | None:
    """A double click on Share posts once: one share per person and private message."""
    message_ts = (body.get("container") or {}).get("message_ts")
    user = (body.get("user") or {}).get("id")
    return f"share:{user}:{message_ts}" if message_ts and user else None


def share(action: dict[str, Any], context: BoltContext, client: WebClient, respond: Respond, deps: Deps) -> None:
    """The same answer posted in the channel, saying who shared it; the private copy has served its purpose."""
    clicker = Clicker(respond, context, client)
    again, user = ask_again_of(action), str(context.user_id or "")
    if again is None or not USER_ID.match(user):
        clicker.stale(deps)
        return
    clicker.answer(
        ask(deps.services, again.text, deps.render, lang=again.lang, offset=again.offset, shared_by=user),
        in_channel=True,
    )
    respond(delete_original=True)


def _answer_again(action: dict[str, Any], clicker: Clicker, deps: Deps, *, replace: bool) -> None:
    again = ask_again_of(action)
    if again is None:
        clicker.stale(deps)
        return
    clicker.answer(ask(deps.services, again.text, deps.render, lang=again.lang, offset=again.offset), replace=replace)


def open_in_place(
    action: dict[str, Any], context: BoltContext, client: WebClient, respond: Respond, deps: Deps
) -> None:
    """'More results' and 'Insight N': the same question (or its next page) answered in place of the original."""
    _answer_again(action, Clicker(respond, context, client), deps, replace=True)


def reply_alone(action: dict[str, Any], context: BoltContext, client: WebClient, respond: Respond, deps: Deps) -> None:
    """Under a digest (a message everyone sees): the answer goes to the clicker alone, the digest stays."""
    _answer_again(action, Clicker(respond, context, client), deps, replace=False)


def _channel_command(text: str, context: BoltContext, client: WebClient, respond: Respond, deps: Deps) -> None:
    reply = ask(deps.services, text, deps.render, caller=caller_of(context, client, deps))
    Clicker(respond, context, client).answer(reply)


def manage_subscriptions(context: BoltContext, client: WebClient, respond: Respond, deps: Deps) -> None:
    _channel_command("subscriptions", context, client, respond, deps)


def unsubscribe_all(context: BoltContext, client: WebClient, respond: Respond, deps: Deps) -> None:
    _channel_command("unsubscribe all", context, client, respond, deps)
