"""/insights: answered in the acknowledgement itself, within milliseconds, ephemeral unless shared.

`digest now` is the one slow command (it posts to the channel, maybe after Slack's Retry-After): it is acknowledged
at once and finished by a lazy listener, which Bolt runs after the acknowledgement has gone back to Slack."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.commands.ask import ask
from bot.commands.caller import Caller
from bot.commands.parser import UsageError, parse
from bot.digest.clock import make_runner, post_now
from bot.legacy_render import Reply
from bot.services import Services
from bot.slack.poster import SlackPoster

COMMAND = "/insights"


def unescape(text: str) -> str:
    """Slack sends &, < and > in command text as &amp;, &lt; and &gt;; the parser wants what the user typed."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def is_digest_now(text: str) -> bool:
    try:
        command = parse(text)
    except UsageError:
        return False
    return command.name == "digest" and command.arg.lower() in {"now", "立即"}


def caller_of(payload: dict[str, Any], client: WebClient, services: Services, runner: Any = None) -> Caller:
    """The person and channel of a command or a button, with Slack asked lazily (users.info, conversations.info)."""
    team = str(payload.get("team_id") or (payload.get("team") or {}).get("id") or "")
    channel = str(payload.get("channel_id") or (payload.get("channel") or {}).get("id") or "")
    user = str(payload.get("user_id") or (payload.get("user") or {}).get("id") or "")
    slack = SlackPoster(lambda team_id: client)
    return Caller(
        team,
        channel,
        user,
        is_admin=lambda: slack.is_admin(team, user),
        can_post=lambda: slack.can_post(team, channel),
        post_now=post_now(services, runner, team, channel) if runner is not None else None,
    )


def register(app: App, services: Services) -> None:
    runner = make_runner(services)

    def digest_now_requested(command: dict[str, Any]) -> bool:
        return is_digest_now(unescape(command.get("text") or ""))

    def acknowledge_digest_now(ack: Ack, command: dict[str, Any]) -> None:
        lang = parse(unescape(command.get("text") or "")).lang
        message = "正在发送摘要……" if lang == "zh" else "Posting the digest…"
        rendered = services.renderer.render(Reply("channel_message", lang, {"message": message}))
        ack(text=rendered.text, blocks=rendered.blocks, response_type="ephemeral")

    def finish_digest_now(command: dict[str, Any], client: WebClient, respond: Respond) -> None:
        text = unescape(command.get("text") or "")
        rendered = ask(services, text, caller=caller_of(command, client, services, runner))
        respond(text=rendered.text, blocks=rendered.blocks, response_type="ephemeral", replace_original=False)

    def insights(ack: Ack, command: dict[str, Any], client: WebClient) -> None:
        rendered = ask(services, unescape(command.get("text") or ""), caller=caller_of(command, client, services))
        ack(text=rendered.text, blocks=rendered.blocks, response_type=rendered.response_type)

    # Bolt runs the first listener that matches: `digest now` (a lazy listener, which costs a thread) only for
    # that command; everything else is answered in the acknowledgement by the second.
    app.command(COMMAND, matchers=[digest_now_requested])(ack=acknowledge_digest_now, lazy=[finish_digest_now])
    app.command(COMMAND)(insights)
