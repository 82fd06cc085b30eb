"""What listeners need beyond Slack's payload, made part of their signature: each listener takes `deps`, bound
when it is registered (bot.slack.listeners.register), next to the arguments Bolt passes by name. (A middleware
putting them in Bolt's context would cost every request a pass through Bolt's middleware chain.)"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from slack_bolt import BoltContext
from slack_sdk import WebClient

from bot.core.caller import Caller
from bot.core.reply import Reply
from bot.digest.runner import Runner
from bot.services import Services
from bot.slack.blocks import SlackMessage, to_slack
from bot.slack.poster import SlackPoster

Render = Callable[[Reply], SlackMessage]


@dataclass(frozen=True)
class Deps:
    services: Services
    # Reply -> the message document -> Block Kit. One function per app: it is part of the answer cache's key.
    render: Render
    # Posts `digest now` like the clock would; None where nothing can post.
    runner: Runner | None = None


def make_deps(services: Services, runner: Runner | None = None) -> Deps:
    def render(reply: Reply) -> SlackMessage:
        return to_slack(services.renderer.message(reply))

    return Deps(services, render, runner)


def caller_of(context: BoltContext, client: WebClient, deps: Deps, channel_id: str | None = None) -> Caller:
    """The person and channel of a request, from Bolt's context; admin rights and channel membership are asked of
    Slack only if a command needs them."""
    team, user = str(context.team_id or ""), str(context.user_id or "")
    channel = channel_id if channel_id is not None else str(context.channel_id or "")
    slack = SlackPoster(lambda _team: client)
    runner = deps.runner
    return Caller(
        team,
        channel,
        user,
        is_admin=lambda: slack.is_admin(team, user),
        can_post=lambda: slack.can_post(team, channel),
        post_now=None if runner is None else partial(runner.deliver_now, team, channel),
    )
