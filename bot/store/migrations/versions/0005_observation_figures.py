"""Observations keep the whole figure as the source states it (English scaling, qualifier, display wording), so a
series reads like the report in both languages.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = ("value_en", "qualifier", "display_zh", "display_en")


def upgrade() -> None:
    with op.batch_alter_table("observations") as batch:
        batch.add_column(sa.Column("value_en", sa.String(40)))
        batch.add_column(sa.Column("qualifier", sa.String(20)))
        batch.add_column(sa.Column("display_zh", sa.Text))
        batch.add_column(sa.Column("display_en", sa.Text))
    # Existing points: the metric's figure, where the point still says what the metric says.
    for column in COLUMNS:
        op.execute(
            f"UPDATE observations SET {column} = (SELECT m.{column} FROM metrics m WHERE m.id = observations.metric_id"  # noqa: S608
            " AND m.value = observations.value AND m.unit_zh = observations.unit_zh)"
        )


def downgrade() -> None:
    with op.batch_alter_table("observations") as batch:
        for column in COLUMNS:
            batch.drop_column(column)
