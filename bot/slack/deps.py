"""What listeners need beyond Slack's payload, made part of their signature: each listener takes `deps`, bound
when it is registered (bot.slack.listeners.register), next to the arguments Bolt passes by name. (A middleware
putting them in Bolt's context would cost every request a pass through Bolt's middleware chain.)"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from threading import Lock

from slack_bolt import BoltContext
from slack_sdk import WebClient

from bot.core.caller import Caller
from bot.core.reply import Reply
from bot.digest.runner import Runner
from bot.services import Services
from bot.slack.blocks import SlackMessage, to_slack
from bot.slack.client import workspace_key
from bot.slack.poster import SlackPoster

Render = Callable[[Reply], SlackMessage]


# Questions asked of Slack before an answer must come back inside Slack's 3 seconds: each gets a second at most and
# no retries (a 429 says Retry-After 20); an unanswered one is reported honestly instead of waited for.
QUICK_TIMEOUT = 1
ADMIN_TTL = 60.0  # seconds an admin check is remembered per person


class AdminCache:
    """Who is an admin, per workspace and user, for a minute: a burst of commands asks Slack once."""

    def __init__(self, ttl: float = ADMIN_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.clock = ttl, clock
        self._known: dict[tuple[str, str], tuple[float, bool]] = {}
        self._lock = Lock()

    def get(self, team_id: str, user_id: str, ask: Callable[[], bool | None]) -> bool | None:
        with self._lock:
            known = self._known.get((team_id, user_id))
        if known is not None and self.clock() - known[0] < self.ttl:
            return known[1]
        answer = ask()
        if answer is not None:  # "could not say" is not remembered: the next command asks again
            with self._lock:
                self._known[(team_id, user_id)] = (self.clock(), answer)
        return answer


@dataclass(frozen=True)
class Deps:
    services: Services
    # Reply -> the message document -> Block Kit. One function per app: it is part of the answer cache's key.
    render: Render
    # Posts `digest now` like the clock would; None where nothing can post.
    runner: Runner | None = None
    admins: AdminCache = field(default_factory=lambda: AdminCache())


def make_deps(services: Services, runner: Runner | None = None) -> Deps:
    def render(reply: Reply) -> SlackMessage:
        return to_slack(services.renderer.message(reply))

    return Deps(services, render, runner)


def quick(client: WebClient) -> WebClient:
    """The request's client, for a question that must not hold up the acknowledgement."""
    return WebClient(token=client.token, base_url=client.base_url, timeout=QUICK_TIMEOUT, logger=client.logger)


def caller_of(context: BoltContext, client: WebClient, deps: Deps, channel_id: str | None = None) -> Caller:
    """The person and channel of a request, from Bolt's context; admin rights and channel membership are asked of
    Slack only if a command needs them, and briefly (QUICK_TIMEOUT)."""
    team, user = workspace_key(context.enterprise_id, context.team_id), str(context.user_id or "")
    channel = channel_id if channel_id is not None else str(context.channel_id or "")
    slack = SlackPoster(lambda _workspace: quick(client))
    runner = deps.runner
    return Caller(
        team,
        channel,
        user,
        is_admin=lambda: deps.admins.get(team, user, lambda: slack.is_admin(team, user)),
        can_post=lambda: slack.can_post(team, channel),
        post_now=None if runner is None else partial(runner.deliver_now, channel),
        direct=channel.startswith("D"),
        # TRACKING_SCOPE=org: a Grid org's workspaces share what their people record.
        tenant=(context.enterprise_id or "") if deps.services.settings.tracking_scope == "org" else "",
    )
