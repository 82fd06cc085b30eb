"""Slack tokens encrypted at rest with the keys of TOKEN_ENCRYPTION_KEYS (Fernet, from `cryptography`).

The encryption itself is bot/store/secrets.py's, shared with every stored secret (a WeCom robot's webhook URL);
this module names Slack's token columns, says what OAuth mode needs, and checks the keys at start-up. A Slack token
begins with "xox": a stored value that does not look encrypted is one written before encryption, read as it is until
the next start (or `bot secrets rotate`) encrypts it. Neither a token nor a key is ever logged or put into an error
message."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cryptography.fernet import MultiFernet
from sqlalchemy import Engine

from bot.core.errors import ConfigurationError
from bot.store.secrets import (
    ENCRYPTED_PREFIX,
    GENERATE_KEY,
    STORED_SECRETS,
    Encrypted,
    SecretColumns,
    cipher,
    encrypt,
    encrypt_stored,
    is_encrypted,
    rotate_stored,
)
from bot.store.secrets import decrypt as _decrypt
from bot.store.secrets import require_cipher as _require_cipher

__all__ = [
    "ENCRYPTED_PREFIX",
    "GENERATE_KEY",
    "MISSING_KEY",
    "TOKEN_COLUMNS",
    "EncryptedToken",
    "check_at_start_up",
    "cipher",
    "decrypt",
    "encrypt",
    "encrypt_stored_tokens",
    "is_encrypted",
    "require_cipher",
    "rotate_stored_tokens",
]

log = logging.getLogger(__name__)

TOKEN_COLUMNS: dict[str, tuple[str, ...]] = {
    "slack_installations": ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token"),
    "slack_bots": ("bot_token", "bot_refresh_token"),
}


def _describe(name: str) -> Callable[[Mapping[Any, Any]], str]:
    return lambda row: f"a token of team {row['team_id'] or '-'} (org {row['enterprise_id'] or '-'}) in {name}"


SLACK_SECRETS = tuple(
    SecretColumns(table, columns, ("enterprise_id", "team_id"), _describe(table))
    for table, columns in TOKEN_COLUMNS.items()
)
MISSING_KEY = (
    "TOKEN_ENCRYPTION_KEYS is not set. In OAuth mode (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET) the workspaces' Slack "
    f"tokens are stored encrypted with it. Generate a key with\n  {GENERATE_KEY}\nand set TOKEN_ENCRYPTION_KEYS to it "
    "(keep it secret and keep it safe: tokens encrypted with a lost key cannot be read). Tokens already stored in "
    "plaintext are encrypted at the next start, or by `bot secrets rotate`."
)


def require_cipher(keys: Sequence[str]) -> MultiFernet:
    return _require_cipher(keys, MISSING_KEY)


def decrypt(keys: MultiFernet, value: str, where: str = "a stored Slack token") -> str:
    """The token; a value stored before encryption as it is."""
    return _decrypt(keys, value, where)


class EncryptedToken(Encrypted):
    """A token column: encrypted with the first key as it is written, decrypted as it is read."""

    cache_ok = True

    def __init__(self, keys: MultiFernet, where: str = "a stored Slack token") -> None:
        super().__init__(keys, where)


def check_at_start_up(keys: Sequence[str], oauth: bool, engine: Engine) -> None:
    """Refuse to start in OAuth mode without a key, or with an invalid one, or with one that cannot read the stored
    tokens; encrypt whatever is still stored in plaintext. Without OAuth and without a key, nothing is stored."""
    found = cipher(keys)
    if found is None:
        if oauth:
            raise ConfigurationError(MISSING_KEY)
        return
    encrypt_stored_tokens(engine, found)


def encrypt_stored_tokens(engine: Engine, keys: MultiFernet) -> int:
    """At start-up: encrypt the tokens (and the other stored secrets, bot.store.secrets) still stored in plaintext,
    and check that every encrypted one can be read, so that a wrong or missing key stops the bot here rather than at
    a workspace's next request. The number encrypted."""
    written = encrypt_stored(engine, keys, (*SLACK_SECRETS, *STORED_SECRETS))
    if written:
        log.info("%d stored secret(s) written encrypted", written)
    return written


def rotate_stored_tokens(engine: Engine, keys: MultiFernet) -> int:
    """`bot secrets rotate`: every stored token, and every other stored secret (a WeCom robot's webhook URL),
    (re-)encrypted with the first key, in one transaction, so that the other keys can be removed. The number of
    values written."""
    written = rotate_stored(engine, keys, (*SLACK_SECRETS, *STORED_SECRETS))
    if written:
        log.info("%d stored secret(s) written encrypted", written)
    return written
