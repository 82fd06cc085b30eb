"""OAuth states are looked up by `state` (each install's callback) and cleared by `expire_at` (each new install
deletes the expired ones): both columns indexed, so neither is a scan of the table.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("slack_oauth_states_state_idx", "slack_oauth_states", ["state"])
    op.create_index("slack_oauth_states_expire_at_idx", "slack_oauth_states", ["expire_at"])


def downgrade() -> None:
    op.drop_index("slack_oauth_states_expire_at_idx", "slack_oauth_states")
    op.drop_index("slack_oauth_states_state_idx", "slack_oauth_states")
