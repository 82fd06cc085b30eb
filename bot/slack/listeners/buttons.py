"""Buttons under answers and digests: share an answer in the channel, more results, open an insight, and the
digest's own buttons (see more, manage subscriptions, unsubscribe), answered to the clicker alone.

Each runs after the acknowledgement (a lazy listener): its answer goes to Slack's response_url, which can be slow."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt import BoltContext, Respond
from slack_sdk import WebClient

from bot.commands.router import ask
from bot.core.reply import Reply
from bot.slack.blocks import ask_again_of
from bot.slack.deps import Deps, caller_of

USER_ID = re.compile(r"^[UW][A-Z0-9]{1,30}$")


def _stale(respond: Respond, deps: Deps) -> None:
    respond(**deps.render(Reply("stale_button", "en")).payload(replace_original=False))


def share_key(body: dict[str, Any]) -> str | None:
    """A double click on Share posts once: one share per person and private message."""
    message_ts = (body.get("container") or {}).get("message_ts")
    user = (body.get("user") or {}).get("id")
    return f"share:{user}:{message_ts}" if message_ts and user else None


def share(action: dict[str, Any], context: BoltContext, respond: Respond, deps: Deps) -> None:
    """The same answer posted in the channel, saying who shared it; the private copy has served its purpose."""
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


def open_in_place(action: dict[str, Any], respond: Respond, deps: Deps) -> None:
    """'More results' and 'Insight N': the same question (or its next page) answered in place of the original."""
    _answer_again(action, respond, deps, replace=True)


def reply_alone(action: dict[str, Any], respond: Respond, deps: Deps) -> None:
    """Under a digest (a message everyone sees): the answer goes to the clicker alone, the digest stays."""
    _answer_again(action, respond, deps, replace=False)


def _channel_command(text: str, context: BoltContext, client: WebClient, respond: Respond, deps: Deps) -> None:
    reply = ask(deps.services, text, deps.render, caller=caller_of(context, client, deps))
    respond(**reply.payload(response_type="ephemeral", replace_original=False))


def manage_subscriptions(context: BoltContext, client: WebClient, respond: Respond, deps: Deps) -> None:
    _channel_command("subscriptions", context, client, respond, deps)


def unsubscribe_all(context: BoltContext, client: WebClient, respond: Respond, deps: Deps) -> None:
    _channel_command("unsubscribe all", context, client, respond, deps)
