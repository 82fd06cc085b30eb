"""Claim leases: a claim is held until lease_until, by the database's clock, and renewed while its clock posts.

A live clock's claim is never taken over (its lease keeps moving), and the time that decides it is the database's,
so clocks whose own clocks disagree still agree on who holds what.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("digests") as batch:
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("digests") as batch:
        batch.drop_column("lease_until")
