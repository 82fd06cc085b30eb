"""Slack tokens encrypted at rest with the keys of TOKEN_ENCRYPTION_KEYS (Fernet, from `cryptography`).

The first key encrypts and every key decrypts (MultiFernet): a key is rotated by putting a new one first, running
`bot secrets rotate` (every stored token re-encrypted with it), and then dropping the old one. A Fernet token always
begins with "gAAAAA" (its version byte and the high bytes of its timestamp), a Slack token with "xox": a stored value
that does not look encrypted is one written before encryption, read as it is until the next start (or `bot secrets
rotate`) encrypts it. Neither a token nor a key is ever logged or put into an error message."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Dialect, Engine, Text, column, select, table, update
from sqlalchemy.types import TypeDecorator

from bot.core.errors import ConfigurationError

log = logging.getLogger(__name__)

TOKEN_COLUMNS: dict[str, tuple[str, ...]] = {
    "slack_installations": ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token"),
    "slack_bots": ("bot_token", "bot_refresh_token"),
}
ENCRYPTED_PREFIX = "gAAAAA"
GENERATE_KEY = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
MISSING_KEY = (
    "TOKEN_ENCRYPTION_KEYS is not set. In OAuth mode (SLACK_CLIENT_ID and SLACK_CLIENT_SECRET) the workspaces' Slack "
    f"tokens are stored encrypted with it. Generate a key with\n  {GENERATE_KEY}\nand set TOKEN_ENCRYPTION_KEYS to it "
    "(keep it secret and keep it safe: tokens encrypted with a lost key cannot be read). Tokens already stored in "
    "plaintext are encrypted at the next start, or by `bot secrets rotate`."
)


def cipher(keys: Sequence[str]) -> MultiFernet | None:
    """The keys of TOKEN_ENCRYPTION_KEYS (settings.token_keys), the first one encrypting; None when it is not set."""
    return _cipher(tuple(keys)) if keys else None


def require_cipher(keys: Sequence[str]) -> MultiFernet:
    found = cipher(keys)
    if found is None:
        raise ConfigurationError(MISSING_KEY)
    return found


@functools.lru_cache(maxsize=8)
def _cipher(keys: tuple[str, ...]) -> MultiFernet:
    """One object per key list, so that the statements of every store built from the same settings share SQLAlchemy's
    statement cache (the cipher is part of the column type, and so of the cache key)."""
    fernets = []
    for number, key in enumerate(keys, 1):
        try:
            fernets.append(Fernet(key))
        except ValueError:  # the key itself is not repeated: an error message may end up in a log
            raise ConfigurationError(
                f"TOKEN_ENCRYPTION_KEYS: key {number} of {len(keys)} is not a Fernet key (32 url-safe base64-encoded "
                f"bytes). Generate one with\n  {GENERATE_KEY}"
            ) from None
    return MultiFernet(fernets)


def check_at_start_up(keys: Sequence[str], oauth: bool, engine: Engine) -> None:
    """Refuse to start in OAuth mode without a key, or with an invalid one, or with one that cannot read the stored
    tokens; encrypt whatever is still stored in plaintext. Without OAuth and without a key, nothing is stored."""
    found = cipher(keys)
    if found is None:
        if oauth:
            raise ConfigurationError(MISSING_KEY)
        return
    encrypt_stored_tokens(engine, found)


def is_encrypted(value: str) -> bool:
    return value.startswith(ENCRYPTED_PREFIX)


def encrypt(keys: MultiFernet, token: str) -> str:
    return keys.encrypt(token.encode()).decode()


def decrypt(keys: MultiFernet, value: str, where: str = "a stored Slack token") -> str:
    """The token; a value stored before encryption as it is."""
    if not is_encrypted(value):
        return value
    try:
        return keys.decrypt(value.encode()).decode()
    except InvalidToken:
        raise ConfigurationError(_undecryptable(where)) from None


def _undecryptable(where: str) -> str:
    return (
        f"{where} cannot be decrypted with any key in TOKEN_ENCRYPTION_KEYS: the key that encrypted it is missing. "
        "Put it back (after the new key, comma-separated) and run `bot secrets rotate` before removing it."
    )


class EncryptedToken(TypeDecorator[str]):
    """A token column: encrypted with the first key as it is written, decrypted as it is read."""

    impl = Text
    cache_ok = True

    def __init__(self, keys: MultiFernet) -> None:
        super().__init__()
        self.keys = keys

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else encrypt(self.keys, value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else decrypt(self.keys, value)


def encrypt_stored_tokens(engine: Engine, keys: MultiFernet) -> int:
    """At start-up: encrypt the tokens still stored in plaintext, and check that every encrypted one can be read, so
    that a wrong or missing key stops the bot here rather than at a workspace's next request. The number encrypted."""

    def change(value: str, where: str) -> str | None:
        if is_encrypted(value):
            decrypt(keys, value, where)
            return None
        return encrypt(keys, value)

    return _rewrite(engine, change)


def rotate_stored_tokens(engine: Engine, keys: MultiFernet) -> int:
    """`bot secrets rotate`: every stored token (re-)encrypted with the first key, in one transaction, so that the
    other keys can be removed. The number of values written."""

    def change(value: str, where: str) -> str:
        if not is_encrypted(value):
            return encrypt(keys, value)
        try:
            return keys.rotate(value.encode()).decode()
        except InvalidToken:
            raise ConfigurationError(_undecryptable(where)) from None

    return _rewrite(engine, change)


def _rewrite(engine: Engine, change: Callable[[str, str], str | None]) -> int:
    """Each stored token through `change` (value, where -> new value or None to keep it), in one transaction. A row
    written meanwhile by a running app (a new token) is left as that app wrote it, encrypted."""
    written = 0
    with engine.begin() as connection:
        for name, columns in TOKEN_COLUMNS.items():
            tokens = table(name, column("id"), column("enterprise_id"), column("team_id"), *map(column, columns))
            for row in connection.execute(select(tokens)).mappings().all():
                where = f"a token of team {row['team_id'] or '-'} (org {row['enterprise_id'] or '-'}) in {name}"
                values = {}
                for name_of_column in columns:
                    value = row[name_of_column]
                    if value is not None and (new := change(value, where)) is not None:
                        values[name_of_column] = new
                if values:
                    unchanged = [tokens.c[key] == row[key] for key in values]
                    connection.execute(update(tokens).where(tokens.c.id == row["id"], *unchanged).values(values))
                    written += len(values)
    if written:
        log.info("%d stored Slack token(s) written encrypted", written)
    return written
