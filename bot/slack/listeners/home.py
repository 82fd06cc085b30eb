"""The App Home tab: what the bot does, the ten insights, and what the channels the user is in follow."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.digest.home import home
from bot.slack.blocks import home_view
from bot.slack.deps import Deps

log = logging.getLogger(__name__)


def channels_of(client: WebClient, user_id: str, pages: int = 5) -> list[str]:
    """The channels `user_id` is in (as far as the bot can see); none when Slack will not say, or not in time (the
    Home tab is then published without them rather than not at all)."""
    found: list[str] = []
    cursor = None
    try:
        for _ in range(pages):
            response = client.users_conversations(
                user=user_id, types="public_channel,private_channel", exclude_archived=True, limit=200, cursor=cursor
            )
            listed: list[dict[str, Any]] = response.get("channels", [])
            found += [str(channel["id"]) for channel in listed]
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
    except SlackApiError as error:
        log.info("could not list %s's channels: %s", user_id, error.response.get("error"))
    except OSError as error:  # timed out, refused, reset
        log.info("could not list %s's channels: %s", user_id, type(error).__name__)
    return found


def publish(event: dict[str, Any], context: BoltContext, client: WebClient, deps: Deps) -> None:
    """After the acknowledgement: listing the user's channels and publishing the view take Slack calls."""
    if event.get("tab", "home") != "home":
        return
    channel_ids = channels_of(client, event["user"])
    with deps.services.request_session_factory() as session:
        message = deps.services.renderer.message(home(session, channel_ids))
    client.views_publish(user_id=event["user"], view=home_view(message))
