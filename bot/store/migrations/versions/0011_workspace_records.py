"""Workspace tenancy: what people record from chat (statuses, notes, follows) belongs to their workspace.

Facts published in data editions stay shared (workspace NULL). Records made from chat before this revision are
given the workspace their source names ("Slack T123 by U456"), and a policy item whose shared status had been moved
from chat gets back the status its data edition published: that move now lives in its workspace's records only.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

FROM_CHAT = "Slack %"


def _workspace_of(source: str) -> str:
    # "Slack T123", "Slack T123 by U456: text", "Slack E1/T123 by U456" -> the workspace key after "Slack ".
    return source.split(" ")[1] if source.count(" ") else source


def _table(name: str) -> sa.TableClause:
    return sa.table(name, sa.column("id"), sa.column("source"), sa.column("team_id"), sa.column("workspace"))


def upgrade() -> None:
    for name in ("events", "status_history"):
        with op.batch_alter_table(name) as batch:
            batch.add_column(sa.Column("workspace", sa.String(100)))
    for name in ("notes", "follows", "channels"):
        with op.batch_alter_table(name) as batch:
            batch.add_column(sa.Column("workspace", sa.String(100)))
        table = _table(name)
        op.execute(table.update().values(workspace=table.c.team_id))
        with op.batch_alter_table(name) as batch:
            batch.alter_column("workspace", existing_type=sa.String(100), nullable=False)
    op.create_index("ix_status_history_workspace", "status_history", ["workspace", "policy_id"])
    op.create_table(
        "workspace_settings",
        sa.Column("workspace", sa.String(100), primary_key=True),
        sa.Column("dm_edits", sa.String(8), nullable=False, server_default="anyone"),
        sa.Column("updated_by", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    connection = op.get_bind()
    for name in ("events", "status_history"):
        table = _table(name)
        rows = connection.execute(sa.select(table.c.id, table.c.source).where(table.c.source.like(FROM_CHAT)))
        updates = [{"row": row.id, "key": _workspace_of(row.source)} for row in rows]
        if updates:
            connection.execute(
                table.update().where(table.c.id == sa.bindparam("row")).values(workspace=sa.bindparam("key")),
                updates,
            )
    # The shared status of each item is its latest published one.
    published = connection.execute(
        sa.text(
            "SELECT s.policy_id, s.status, s.status_zh, s.status_en FROM status_history s "
            "WHERE s.workspace IS NULL AND s.id = (SELECT max(id) FROM status_history "
            "WHERE policy_id = s.policy_id AND workspace IS NULL)"
        )
    ).all()
    if published:
        connection.execute(
            sa.text("UPDATE policy_items SET status = :status, status_zh = :zh, status_en = :en WHERE id = :id"),
            [{"id": r.policy_id, "status": r.status, "zh": r.status_zh, "en": r.status_en} for r in published],
        )


def downgrade() -> None:
    op.drop_table("workspace_settings")
    op.drop_index("ix_status_history_workspace", "status_history")
    for name in ("channels", "follows", "notes", "status_history", "events"):
        with op.batch_alter_table(name) as batch:
            batch.drop_column("workspace")
