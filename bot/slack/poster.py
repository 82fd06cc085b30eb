"""The digest runner's way to Slack: post with a metadata marker, look for that marker, tell a person.

Slack's error codes stop here: each failure becomes a PostError that says whether it is permanent (the channel
is paused) and how long Slack asked us to wait."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.core.errors import ConfigurationError
from bot.core.message import Message
from bot.core.poster import PostError
from bot.digest.runner import Runner
from bot.services import Services
from bot.slack.blocks import SlackMessage, to_slack
from bot.slack.client import installation_store, split_workspace_key, web_client

log = logging.getLogger(__name__)
HISTORY_PAGES = 5  # the marker of a digest posted minutes ago is on the first page; a few more for busy channels
# What no retry will fix: the bot is out of the channel, the channel is gone, the workspace took the app back.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "is_archived",
        "not_in_channel",
        "account_inactive",
        "invalid_auth",
        "token_revoked",
        "missing_scope",
        "restricted_action",
        "team_access_not_granted",
        "no_permission",
    }
)


def slack_runner(services: Services) -> Runner:
    """The digest runner, posting through Slack (the clock, `digest now`, `bot digest run`)."""
    settings = services.settings
    if not (settings.slack_bot_token or (settings.slack_client_id and settings.slack_client_secret)):
        # Without a way to post, every channel would look uninstalled and be paused: refuse instead.
        raise ConfigurationError("posting digests needs SLACK_BOT_TOKEN, or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET")
    # Unique per process (a lease renewed by one process must never pass for another's); the host name is for people
    # and is cut so that the id fits digests.claimed_by (64 characters) whatever the host is called.
    clock_id = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    poster = SlackPoster(client_factory(services))
    return Runner(services.session_factory, services.renderer, poster, clock_id, shard=settings.shard)


def client_factory(services: Services) -> Callable[[str], WebClient]:
    """The Web API client for a workspace: the one bot token, or the workspace's installation (OAuth)."""
    settings = services.settings
    if settings.slack_bot_token and not settings.slack_client_id:
        client = web_client(services, settings.slack_bot_token)
        return lambda team_id: client
    store = installation_store(services)
    clients: dict[str, WebClient] = {}

    def for_team(workspace: str) -> WebClient:
        if workspace not in clients:
            enterprise_id, team_id = split_workspace_key(workspace)
            # As Bolt's authorize does: the workspace's own installation, else its org's org-wide installation.
            bot = store.find_bot(enterprise_id=enterprise_id, team_id=team_id)
            if bot is None and enterprise_id:
                bot = store.find_bot(enterprise_id=enterprise_id, team_id=None, is_enterprise_install=True)
            if bot is None or not bot.bot_token:
                raise PostError("invalid_auth", permanent=True)  # uninstalled: the channel is paused
            clients[workspace] = web_client(services, bot.bot_token)
        return clients[workspace]

    return for_team


class SlackPoster:
    def __init__(self, client_for_team: Callable[[str], WebClient]) -> None:
        self.client_for_team = client_for_team

    def render(self, message: Message) -> SlackMessage:
        return to_slack(message)

    def post(self, team_id: str, channel_id: str, payload: SlackMessage, metadata: dict[str, Any]) -> str:
        response = self._call(
            team_id,
            "chat_postMessage",
            channel=channel_id,
            **payload.payload(response_type=None),
            metadata=metadata,
            unfurl_links=False,
            unfurl_media=False,
        )
        return str(response["ts"])

    def find_marker(self, team_id: str, channel_id: str, metadata: dict[str, Any], oldest: float) -> str | None:
        cursor = None
        for _ in range(HISTORY_PAGES):
            response = self._call(
                team_id,
                "conversations_history",
                channel=channel_id,
                oldest=f"{oldest:.6f}",
                limit=200,
                include_all_metadata=True,
                cursor=cursor,
            )
            for message in response.get("messages", []):
                found = message.get("metadata") or {}
                if (found.get("event_type"), found.get("event_payload")) == (
                    metadata["event_type"],
                    metadata["event_payload"],
                ):
                    return str(message["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None

    def notify(self, team_id: str, user_id: str, message: Message) -> None:
        self._call(team_id, "chat_postMessage", channel=user_id, **to_slack(message).payload(response_type=None))

    def can_post(self, team_id: str, channel_id: str) -> bool | None:
        """Whether the bot is in the channel (None when Slack does not say, e.g. a DM)."""
        try:
            channel = self._call(team_id, "conversations_info", channel=channel_id)["channel"]
        except PostError as error:
            return False if error.error == "channel_not_found" else None
        if channel.get("is_im") or channel.get("is_mpim"):
            return None
        return bool(channel.get("is_member")) and not channel.get("is_archived")

    def is_admin(self, team_id: str, user_id: str) -> bool | None:
        """Whether the user is a workspace admin or owner; None when Slack did not say (an error, a timeout)."""
        try:
            user = self._call(team_id, "users_info", user=user_id)["user"]
        except PostError:
            return None
        return bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))

    def _call(self, team_id: str, method: str, **kwargs: Any) -> Any:
        client = self.client_for_team(team_id)
        try:
            return getattr(client, method)(**{k: v for k, v in kwargs.items() if v is not None})
        except SlackApiError as error:
            response = error.response
            retry_after = response.headers.get("Retry-After") or response.headers.get("retry-after")
            if response.status_code == 429:
                raise PostError("ratelimited", retry_after=float(retry_after or 1)) from error
            code = str(
                (response.get("error") if isinstance(response.data, dict) else None) or f"http_{response.status_code}"
            )
            raise PostError(code, permanent=code in PERMANENT_ERRORS) from error
        except (OSError, TimeoutError) as error:  # connection refused, reset, timed out: try again later
            raise PostError(f"connection: {type(error).__name__}") from error
