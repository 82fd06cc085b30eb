"""Migration 0011 on a database written before tenancy: records made from chat go to the workspace their source
names, and a policy item's shared status, moved from chat by the old code, is back to the published one."""

from __future__ import annotations

from sqlalchemy import text

from bot.catalog.loader import load_bundle, read_bundle
from bot.services import create_services
from bot.store import db
from tests.conftest import MINI


def test_records_from_chat_before_tenancy_belong_to_their_workspace(database_url: str) -> None:
    services = create_services(database_url=database_url, data_dir=MINI)
    try:
        # The load writes through today's models, so it runs at the head; then the database goes back to 0010
        # and gets what the old code wrote for `track` and `note` from chat.
        db.upgrade(services.engine)
        with services.session_factory.begin() as session:
            load_bundle(session, read_bundle(MINI))
        db.downgrade(services.engine, "0010")
        with services.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO status_history (policy_id, status, status_zh, status_en, source, recorded_by) "
                    "VALUES ('test-data-bureau', 'stalled', '停滞', 'stalled', 'Slack T1', 'U1')"
                )
            )
            connection.execute(
                text("UPDATE policy_items SET status = 'stalled', status_zh = '停滞', status_en = 'stalled'")
            )
            connection.execute(
                text(
                    "INSERT INTO events (kind, item_id, field, old_value, new_value, source) VALUES "
                    "('policy', 'test-data-bureau', 'status_en', 'formally established', 'stalled', "
                    "'Slack T1 by U1: cut'), ('policy', 'test-data-bureau', 'note', NULL, 'hi', 'Slack E1/T9 by U9')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO notes (kind, item_id, text, team_id, recorded_by) "
                    "VALUES ('policy', 'test-data-bureau', 'hi', 'E1/T9', 'U9')"
                )
            )
        db.upgrade(services.engine)
        assert db.is_migrated(services.engine)
        with services.engine.connect() as connection:
            status = connection.execute(text("SELECT status FROM policy_items WHERE id = 'test-data-bureau'"))
            assert status.scalar() == "in_effect"
            events = connection.execute(
                text("SELECT source, workspace FROM events WHERE source LIKE 'Slack %' ORDER BY id")
            ).all()
            assert [tuple(row) for row in events] == [("Slack T1 by U1: cut", "T1"), ("Slack E1/T9 by U9", "E1/T9")]
            loaded = connection.execute(text("SELECT count(*) FROM events WHERE workspace IS NOT NULL")).scalar()
            assert loaded == 2  # what the data load recorded stays published
            entries = connection.execute(text("SELECT status, workspace FROM status_history ORDER BY id")).all()
            assert ("stalled", "T1") in [tuple(row) for row in entries]
            assert all(workspace is None for status, workspace in entries if status != "stalled")
            assert connection.execute(text("SELECT workspace FROM notes")).scalar() == "E1/T9"
    finally:
        services.close()
