"""Channel settings, subscriptions, the audit trail, digest deliveries (one claim per channel and period) and the
highlights each channel has already been shown.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channels",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("lang", sa.String(4), nullable=False, server_default="en"),
        sa.Column("schedule_kind", sa.String(8), nullable=False, server_default="weekly"),
        sa.Column("schedule_weekday", sa.Integer, nullable=False, server_default="0"),
        sa.Column("schedule_at", sa.String(5), nullable=False, server_default="09:00"),
        sa.Column("schedule_zone", sa.String(64), nullable=False, server_default="Asia/Shanghai"),
        sa.Column("restricted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("paused_reason", sa.Text),
        sa.Column("set_up_by", sa.String(32), nullable=False),
        # The newest event a posted digest has shown: "what changed" starts after it.
        sa.Column("last_event_id", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("team_id", "channel_id"),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("channel_pk", sa.Integer, sa.ForeignKey("channels.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("added_by", sa.String(32), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("channel_pk", "kind", "value"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_audit_log_channel", "audit_log", ["team_id", "channel_id", "id"])
    op.create_table(
        "digests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("channel_pk", sa.Integer, sa.ForeignKey("channels.id", ondelete="CASCADE"), nullable=False),
        sa.Column("period_key", sa.String(16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("posted_ts", sa.String(32)),
        sa.Column("posted_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
        sa.Column("event_id", sa.Integer, nullable=False, server_default="0"),
        # The claim itself: a second clock, or a restarted one, cannot insert this row again.
        sa.UniqueConstraint("channel_pk", "period_key", name="uq_digests_channel_period"),
    )
    op.create_index("ix_digests_status", "digests", ["status", "next_attempt_at"])
    op.create_table(
        "digest_highlights",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("channel_pk", sa.Integer, sa.ForeignKey("channels.id", ondelete="CASCADE"), nullable=False),
        sa.Column("digest_id", sa.Integer, sa.ForeignKey("digests.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("item_id", sa.String(100), nullable=False),
    )
    op.create_index("ix_digest_highlights_channel", "digest_highlights", ["channel_pk", "kind", "item_id"])


def downgrade() -> None:
    for table in ("digest_highlights", "digests", "audit_log", "subscriptions", "channels"):
        op.drop_table(table)
