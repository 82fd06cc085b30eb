"""What listeners need beyond Slack's payload, made part of their signature: a global middleware puts the bot's
services, its Slack renderer and the digest runner into Bolt's context, and Bolt passes context entries to any
listener that names them (`def listener(ack, command, services, render): ...`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot.core.caller import Caller
from bot.core.reply import Reply
from bot.digest.runner import Runner
from bot.services import Services
from bot.slack.blocks import SlackMessage, to_slack
from bot.slack.poster import SlackPoster

Render = Callable[[Reply], SlackMessage]


def slack_render(services: Services) -> Render:
    """Reply -> the message document -> Block Kit. One function per app: it is part of the answer cache's key."""

    def render(reply: Reply) -> SlackMessage:
        return to_slack(services.renderer.message(reply))

    return render


def install(app: App, services: Services, runner: Runner) -> None:
    render = slack_render(services)

    def inject(context: BoltContext, next: Callable[[], None]) -> None:
        context["services"], context["render"], context["runner"] = services, render, runner
        next()

    app.use(inject)


def caller_of(context: BoltContext, client: WebClient, channel_id: str | None = None) -> Caller:
    """The person and channel of a request, from Bolt's context; admin rights and channel membership are asked of
    Slack only if a command needs them."""
    team, user = str(context.team_id or ""), str(context.user_id or "")
    channel = channel_id if channel_id is not None else str(context.channel_id or "")
    slack = SlackPoster(lambda _team: client)
    runner: Runner | None = context.get("runner")
    return Caller(
        team,
        channel,
        user,
        is_admin=lambda: slack.is_admin(team, user),
        can_post=lambda: slack.can_post(team, channel),
        post_now=None if runner is None else partial(runner.deliver_now, team, channel),
    )
