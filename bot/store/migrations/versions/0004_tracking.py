"""Tracking: metric series (one observation per edition or update), policy status history, notes, key dates,
and people following items.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("policy_items") as batch:
        batch.add_column(sa.Column("comment_deadline", sa.String(10)))
        batch.add_column(sa.Column("effective_date", sa.String(10)))
        batch.add_column(sa.Column("target_year", sa.Integer))
    op.create_table(
        "observations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("metric_id", sa.String(100), sa.ForeignKey("metrics.id"), nullable=False),
        sa.Column("value", sa.String(40), nullable=False),
        sa.Column("unit_zh", sa.Text, nullable=False),
        sa.Column("unit_en", sa.Text, nullable=False),
        sa.Column("period_zh", sa.Text, nullable=False),
        sa.Column("period_en", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_observations_metric", "observations", ["metric_id", "id"])
    op.create_table(
        "status_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("policy_id", sa.String(100), sa.ForeignKey("policy_items.id"), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("status_zh", sa.Text, nullable=False),
        sa.Column("status_en", sa.Text, nullable=False),
        sa.Column("date", sa.String(10)),
        sa.Column("note", sa.Text),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("recorded_by", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_status_history_policy", "status_history", ["policy_id", "id"])
    op.create_table(
        "notes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("item_id", sa.String(100), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("recorded_by", sa.String(32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_notes_item", "notes", ["kind", "item_id", "id"])
    op.create_table(
        "follows",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("item_id", sa.String(100), nullable=False),
        # The newest event of this item the person has been told about.
        sa.Column("last_event_id", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("team_id", "user_id", "kind", "item_id"),
    )
    op.create_index("ix_follows_item", "follows", ["kind", "item_id"])


def downgrade() -> None:
    for table in ("follows", "notes", "status_history", "observations"):
        op.drop_table(table)
    with op.batch_alter_table("policy_items") as batch:
        batch.drop_column("target_year")
        batch.drop_column("effective_date")
        batch.drop_column("comment_deadline")
