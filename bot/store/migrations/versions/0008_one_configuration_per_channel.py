"""One configuration per channel: a channel shared between workspaces (Slack Connect) is one conversation with one
id, so it has one row, whichever workspace subscribed first; later rows for the same id are folded away.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Keep the oldest row of each channel; its subscriptions, digests and highlights stay, the later ones go with
    # their row (foreign keys cascade).
    op.execute("DELETE FROM channels WHERE id NOT IN (SELECT min(id) FROM channels GROUP BY channel_id)")
    op.create_index("uq_channels_channel_id", "channels", ["channel_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_channels_channel_id", "channels")
