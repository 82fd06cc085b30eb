"""Forgetting a workspace that uninstalls the app or revokes its tokens, and pausing its digests."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import BoltContext
from slack_sdk.oauth.installation_store import InstallationStore
from sqlalchemy.orm import Session

from bot.digest.store import pause_org, pause_team
from bot.services import Services
from bot.slack.client import installation_store, workspace_key
from bot.slack.deps import Deps

log = logging.getLogger(__name__)


def installations(services: Services) -> InstallationStore | None:
    """The installations of an OAuth install (the app's own store); a single-token app keeps none."""
    return installation_store(services) if services.settings.slack_client_id else None


def pause_workspaces(session: Session, context: BoltContext, reason: str) -> None:
    """The digests of the workspace the event is about; of every workspace of the org when an org-wide install
    goes (Enterprise Grid: the event names the org and no team)."""
    if context.enterprise_id and not context.team_id:
        pause_org(session, context.enterprise_id, reason)
    else:
        pause_team(session, workspace_key(context.enterprise_id, context.team_id), reason)


def app_uninstalled(context: BoltContext, deps: Deps) -> None:
    log.info("app uninstalled from team %s (org %s)", context.team_id, context.enterprise_id)
    with deps.services.session_factory.begin() as session:
        pause_workspaces(session, context, "app_uninstalled")
    store = installations(deps.services)
    if store is not None:
        store.delete_all(enterprise_id=context.enterprise_id, team_id=context.team_id)


def tokens_revoked(event: dict[str, Any], context: BoltContext, deps: Deps) -> None:
    store = installations(deps.services)
    tokens = event.get("tokens", {})
    log.info(
        "tokens revoked in team %s: %s user token(s), bot: %s",
        context.team_id,
        len(tokens.get("oauth", [])),
        bool(tokens.get("bot")),
    )
    if store is None:
        return
    for user_id in tokens.get("oauth", []):
        store.delete_installation(enterprise_id=context.enterprise_id, team_id=context.team_id, user_id=user_id)
    if tokens.get("bot"):
        store.delete_bot(enterprise_id=context.enterprise_id, team_id=context.team_id)
        with deps.services.session_factory.begin() as session:
            pause_workspaces(session, context, "tokens_revoked")
