"""Web API clients: with retries, SLACK_API_URL, and the installations of an OAuth install."""

from __future__ import annotations

import logging
from typing import Any

from cryptography.fernet import MultiFernet
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from sqlalchemy import Column, Table

from bot.services import Services
from bot.slack.secrets import TOKEN_COLUMNS, EncryptedToken, require_cipher

INSTALLATIONS_TABLE = "slack_installations"
BOTS_TABLE = "slack_bots"


def web_client(services: Services, token: str | None = None) -> WebClient:
    """A client that honours Retry-After on 429 and retries 5xx and connection errors; SLACK_API_URL overrides."""
    kwargs: dict[str, Any] = {}
    if services.settings.slack_api_url:
        kwargs["base_url"] = services.settings.slack_api_url
    # slack_sdk formats every request and response body for its debug log whenever its logger's own level is unset
    # (level 0 <= DEBUG), whatever the handlers would print: give it a logger with the configured level.
    logger = logging.getLogger("bot.slack.webclient")
    logger.setLevel(
        services.settings.log_level.upper()
        if services.settings.log_level.upper() in logging.getLevelNamesMapping()
        else "WARNING"
    )
    return WebClient(
        token=token,
        logger=logger,
        retry_handlers=[
            RateLimitErrorRetryHandler(max_retry_count=2),
            ServerErrorRetryHandler(max_retry_count=2),
            ConnectionErrorRetryHandler(max_retry_count=2),
        ],
        timeout=services.settings.slack_timeout,
        **kwargs,
    )


class EncryptedInstallationStore(SQLAlchemyInstallationStore):
    """slack_sdk's store, whose every bot and user token (and refresh token) is encrypted in the database: the token
    columns of its tables are redefined as EncryptedToken, so every statement it runs writes and reads them through
    the keys, and slack_sdk's own code (save, find_bot, find_installation, token rotation) is used as it is."""

    def __init__(self, keys: MultiFernet, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for table in (self.installations, self.bots):
            columns: list[Column[str]] = [Column(name, EncryptedToken(keys)) for name in TOKEN_COLUMNS[table.name]]
            Table(table.name, self.metadata, *columns, extend_existing=True)


def installation_store(services: Services) -> SQLAlchemyInstallationStore:
    """Installations in our own database; the tables come from our migrations, never create_tables(). No key in
    TOKEN_ENCRYPTION_KEYS: a ConfigurationError that says how to make one."""
    return EncryptedInstallationStore(
        keys=require_cipher(services.settings.token_keys),
        client_id=services.settings.slack_client_id or "",
        engine=services.engine,
        installations_table_name=INSTALLATIONS_TABLE,
        bots_table_name=BOTS_TABLE,
    )


def workspace_key(enterprise_id: str | None, team_id: str | None) -> str:
    """How the bot names a Slack workspace: its team id, qualified by its Enterprise Grid org ("E1/T1") when it is
    in one, so that its installation (workspace-level or org-wide) can be found again as Bolt's authorize finds it."""
    return f"{enterprise_id}/{team_id or ''}" if enterprise_id else team_id or ""


def split_workspace_key(key: str) -> tuple[str | None, str | None]:
    """(enterprise id, team id) of a workspace_key."""
    enterprise_id, _, team_id = key.rpartition("/")
    return enterprise_id or None, team_id or None
