"""Bot and user tokens encrypted at rest: an encrypted token is longer than the 200 characters the columns allowed.

With TOKEN_ENCRYPTION_KEYS in the environment (or .env), the tokens already stored are encrypted here with its first
key; without it they stay as they are, and the bot encrypts them at its next start with the key (which OAuth mode
requires). Downgrading decrypts them again, and so needs the key when there are encrypted tokens. The format is
bot/slack/secrets.py's (Fernet; an encrypted value begins with "gAAAAA"), written out here so that a migration
never depends on the code of a later version.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

import logging
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op
from cryptography.fernet import Fernet, MultiFernet

from bot.core.errors import ConfigurationError

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

log = logging.getLogger("bot.store.migrations")

TOKEN_COLUMNS = {
    "slack_installations": ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token"),
    "slack_bots": ("bot_token", "bot_refresh_token"),
}
ENCRYPTED_PREFIX = "gAAAAA"


def upgrade() -> None:
    for table, columns in TOKEN_COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, type_=sa.Text, existing_type=sa.String(200))
    keys = _keys()
    if keys is None:
        left = _rewrite(lambda value: None)  # no earlier revision stores an encrypted token: all are plaintext
        if left:
            log.warning(
                "%d Slack token(s) are stored in plaintext: set TOKEN_ENCRYPTION_KEYS and start the bot, or run "
                "`bot secrets rotate`, to encrypt them",
                left,
            )
        return
    _rewrite(lambda value: None if value.startswith(ENCRYPTED_PREFIX) else keys.encrypt(value.encode()).decode())


def downgrade() -> None:
    keys = _keys()

    def plaintext(value: str) -> str | None:
        if not value.startswith(ENCRYPTED_PREFIX):
            return None
        if keys is None:
            raise ConfigurationError(
                "below revision 0010 the Slack tokens are stored in plaintext: downgrading needs TOKEN_ENCRYPTION_KEYS "
                "to decrypt them"
            )
        return str(keys.decrypt(value.encode()).decode())

    _rewrite(plaintext)
    for table, columns in TOKEN_COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, type_=sa.String(200), existing_type=sa.Text)


def _keys() -> MultiFernet | None:
    """TOKEN_ENCRYPTION_KEYS as the bot reads it, or None."""
    from bot.settings import Settings

    keys = Settings().token_keys
    if not keys:
        return None
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError:
        raise ConfigurationError(
            "TOKEN_ENCRYPTION_KEYS holds a value that is not a Fernet key (32 url-safe base64-encoded bytes). Generate "
            'one with\n  python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
        ) from None


def _rewrite(change: Callable[[str], str | None]) -> int:
    """Each stored token through `change` (the new value, or None to keep it); the number of tokens kept."""
    connection = op.get_bind()
    kept = 0
    for name, columns in TOKEN_COLUMNS.items():
        tokens = sa.table(name, sa.column("id"), *map(sa.column, columns))
        for row in connection.execute(sa.select(tokens)).mappings().all():
            values = {}
            for column in columns:
                if row[column] is None:
                    continue
                new = change(row[column])
                if new is None:
                    kept += 1
                else:
                    values[column] = new
            if values:
                connection.execute(sa.update(tokens).where(tokens.c.id == row["id"]).values(values))
    return kept
