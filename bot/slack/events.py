"""Events: the App Home tab, and forgetting a workspace that uninstalls the app or revokes its tokens."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.commands.answers import home
from bot.digest.store import pause_team
from bot.services import Services

log = logging.getLogger(__name__)


def channels_of(client: WebClient, user_id: str, pages: int = 5) -> list[str]:
    """The channels `user_id` is in (as far as the bot can see); none when Slack will not say."""
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
    return found


def register(app: App, services: Services) -> None:
    def app_home_opened(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        if event.get("tab", "home") != "home":
            return
        channel_ids = channels_of(client, event["user"])
        with services.session_factory() as session:
            rendered = services.renderer.render(home(session, str(context.team_id), channel_ids))
        client.views_publish(user_id=event["user"], view={"type": "home", "blocks": rendered.blocks})

    def app_uninstalled(context: BoltContext) -> None:
        log.info("app uninstalled from team %s", context.team_id)
        with services.session_factory.begin() as session:
            pause_team(session, str(context.team_id), "app_uninstalled")
        if app.installation_store is not None:
            app.installation_store.delete_all(enterprise_id=context.enterprise_id, team_id=context.team_id)

    def tokens_revoked(event: dict[str, Any], context: BoltContext) -> None:
        store = app.installation_store
        tokens = event.get("tokens", {})
        log.info("tokens revoked in team %s: %s", context.team_id, tokens)
        if store is None:
            return
        for user_id in tokens.get("oauth", []):
            store.delete_installation(enterprise_id=context.enterprise_id, team_id=context.team_id, user_id=user_id)
        if tokens.get("bot"):
            store.delete_bot(enterprise_id=context.enterprise_id, team_id=context.team_id)
            with services.session_factory.begin() as session:
                pause_team(session, str(context.team_id), "tokens_revoked")

    app.event("app_home_opened")(app_home_opened)
    app.event("app_uninstalled")(app_uninstalled)
    app.event("tokens_revoked")(tokens_revoked)
