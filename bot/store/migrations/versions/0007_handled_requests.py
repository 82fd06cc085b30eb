"""Requests already handled (an event Slack delivered again, a double click, a form submitted twice), so that each
is acted on once across processes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handled_requests",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_handled_requests_at", "handled_requests", ["at"])


def downgrade() -> None:
    op.drop_table("handled_requests")
