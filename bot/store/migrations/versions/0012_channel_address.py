"""Other chat platforms (issue 13). Where a channel on a platform without an API is posted to: a WeCom group robot's
webhook URL (encrypted with TOKEN_ENCRYPTION_KEYS, since its key lets anyone post there; other platforms leave it
empty). Ids are longer on other platforms (a Feishu chat or user id has 35 characters, DingTalk's processQueryKey 44,
a workspace key such as "lark:<tenant_key>" more than Slack's): the columns that hold them take 100.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


# Columns of ids that were sized for Slack's (32 characters).
WIDENED = {
    "channels": ("team_id", "channel_id", "set_up_by"),
    "subscriptions": ("added_by",),
    "audit_log": ("team_id", "channel_id", "user_id"),
    "notes": ("team_id", "recorded_by"),
    "follows": ("team_id", "user_id"),
    "workspace_settings": ("updated_by",),
    "digests": ("posted_ts",),
}


def _resize(old: int, new: int) -> None:
    for table, columns in WIDENED.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, type_=sa.String(new), existing_type=sa.String(old))


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("address", sa.Text))
    _resize(32, 100)


def downgrade() -> None:
    _resize(100, 32)
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("address")
