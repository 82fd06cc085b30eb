"""Secrets stored in the database, encrypted with the keys of TOKEN_ENCRYPTION_KEYS (Fernet, from `cryptography`):
Slack's tokens (bot/slack/secrets.py names their columns) and the webhook URLs of WeCom group robots
(channels.address, whose key lets anyone post in the group).

The first key encrypts and every key decrypts (MultiFernet): a key is rotated by putting a new one first, running
`bot secrets rotate` (every stored secret re-encrypted with it), and then dropping the old one. A Fernet token always
begins with "gAAAAA" (its version byte and the high bytes of its timestamp), a Slack token with "xox" and a URL with
"http": a stored value that does not look encrypted is one written before encryption, read as it is until the next
start (or `bot secrets rotate`) encrypts it. Neither a secret nor a key is ever logged or put into an error
message."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Dialect, Engine, Text, column, select, table, update
from sqlalchemy.types import TypeDecorator

from bot.core.errors import ConfigurationError

log = logging.getLogger(__name__)

ENCRYPTED_PREFIX = "gAAAAA"
GENERATE_KEY = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
MISSING_KEY = (
    "TOKEN_ENCRYPTION_KEYS is not set: the secrets the bot stores (Slack tokens in OAuth mode, WeCom robot webhook "
    f"URLs) are encrypted with it. Generate a key with\n  {GENERATE_KEY}\nand set TOKEN_ENCRYPTION_KEYS to it (keep it "
    "secret and keep it safe: secrets encrypted with a lost key cannot be read)."
)


@dataclass(frozen=True)
class SecretColumns:
    """Encrypted columns of one table, and how to name a row of it in an error (never by its secret)."""

    table: str
    columns: tuple[str, ...]
    names: tuple[str, ...]  # the columns that identify a row to a person
    describe: Callable[[Mapping[Any, Any]], str]


# The secrets of tables that belong to no platform edge: a WeCom channel's webhook URL (migration 0012).
STORED_SECRETS: tuple[SecretColumns, ...] = (
    SecretColumns(
        "channels",
        ("address",),
        ("team_id", "channel_id"),
        lambda row: f"the webhook address of channel {row['channel_id']} (workspace {row['team_id']})",
    ),
)


def cipher(keys: Sequence[str]) -> MultiFernet | None:
    """The keys of TOKEN_ENCRYPTION_KEYS (settings.token_keys), the first one encrypting; None when it is not set."""
    return _cipher(tuple(keys)) if keys else None


def require_cipher(keys: Sequence[str], missing: str = MISSING_KEY) -> MultiFernet:
    """The keys, or a ConfigurationError saying `missing` (what needs them and how to make one)."""
    found = cipher(keys)
    if found is None:
        raise ConfigurationError(missing)
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


def is_encrypted(value: str) -> bool:
    return value.startswith(ENCRYPTED_PREFIX)


def encrypt(keys: MultiFernet, secret: str) -> str:
    return keys.encrypt(secret.encode()).decode()


def decrypt(keys: MultiFernet, value: str, where: str = "a stored secret") -> str:
    """The secret; a value stored before encryption as it is."""
    if not is_encrypted(value):
        return value
    try:
        return keys.decrypt(value.encode()).decode()
    except InvalidToken:
        raise ConfigurationError(undecryptable(where)) from None


def undecryptable(where: str) -> str:
    return (
        f"{where} cannot be decrypted with any key in TOKEN_ENCRYPTION_KEYS: the key that encrypted it is missing. "
        "Put it back (after the new key, comma-separated) and run `bot secrets rotate` before removing it."
    )


class Encrypted(TypeDecorator[str]):
    """A secret column: encrypted with the first key as it is written, decrypted as it is read."""

    impl = Text
    cache_ok = True

    def __init__(self, keys: MultiFernet, where: str = "a stored secret") -> None:
        super().__init__()
        self.keys = keys
        self.where = where

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else encrypt(self.keys, value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else decrypt(self.keys, value, self.where)


def encrypt_stored(engine: Engine, keys: MultiFernet, secrets: Sequence[SecretColumns] = STORED_SECRETS) -> int:
    """At start-up: encrypt the secrets still stored in plaintext, and check that every encrypted one can be read, so
    that a wrong or missing key stops the bot here rather than at the next use. The number encrypted."""

    def change(value: str, where: str) -> str | None:
        if is_encrypted(value):
            decrypt(keys, value, where)
            return None
        return encrypt(keys, value)

    return rewrite(engine, change, secrets)


def rotate_stored(engine: Engine, keys: MultiFernet, secrets: Sequence[SecretColumns] = STORED_SECRETS) -> int:
    """`bot secrets rotate`: every stored secret (re-)encrypted with the first key, in one transaction, so that the
    other keys can be removed. The number of values written."""

    def change(value: str, where: str) -> str:
        if not is_encrypted(value):
            return encrypt(keys, value)
        try:
            return keys.rotate(value.encode()).decode()
        except InvalidToken:
            raise ConfigurationError(undecryptable(where)) from None

    return rewrite(engine, change, secrets)


def rewrite(engine: Engine, change: Callable[[str, str], str | None], secrets: Sequence[SecretColumns]) -> int:
    """Each stored secret through `change` (value, where -> new value or None to keep it), in one transaction. A row
    written meanwhile by a running process (a new secret) is left as that process wrote it, encrypted."""
    written = 0
    with engine.begin() as connection:
        for spec in secrets:
            rows = table(spec.table, column("id"), *map(column, spec.names), *map(column, spec.columns))
            for row in connection.execute(select(rows)).mappings().all():
                where = spec.describe(row)
                values = {}
                for name in spec.columns:
                    value = row[name]
                    if value is not None and (new := change(value, where)) is not None:
                        values[name] = new
                if values:
                    unchanged = [rows.c[key] == row[key] for key in values]
                    connection.execute(update(rows).where(rows.c.id == row["id"], *unchanged).values(values))
                    written += len(values)
    return written
