"""The report store, the search index and the event log.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("title_zh", sa.Text, nullable=False),
        sa.Column("title_en", sa.Text, nullable=False),
        sa.Column("subtitle_zh", sa.Text),
        sa.Column("subtitle_en", sa.Text),
        sa.Column("publisher_zh", sa.Text, nullable=False),
        sa.Column("publisher_en", sa.Text, nullable=False),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("conference_zh", sa.Text),
        sa.Column("conference_en", sa.Text),
        sa.Column("published", sa.String(10)),
        sa.Column("url", sa.Text),
    )
    op.create_table(
        "topics",
        sa.Column("slug", sa.String(40), primary_key=True),
        sa.Column("name_zh", sa.Text, nullable=False),
        sa.Column("name_en", sa.Text, nullable=False),
        sa.Column("insight", sa.Integer),
        sa.Column("description_en", sa.Text),
    )
    op.create_table(
        "glossary",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("en", sa.String(200), nullable=False),
        sa.Column("zh", sa.String(200), nullable=False),
        sa.UniqueConstraint("en", "zh"),
    )
    op.create_table(
        "insights",
        sa.Column("number", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("report_id", sa.String(100), sa.ForeignKey("reports.id"), nullable=False),
        sa.Column("topic", sa.String(40), sa.ForeignKey("topics.slug"), nullable=False),
        sa.Column("title_zh", sa.Text, nullable=False),
        sa.Column("title_en", sa.Text, nullable=False),
        sa.Column("summary_zh", sa.Text, nullable=False),
        sa.Column("summary_en", sa.Text, nullable=False),
    )
    op.create_table(
        "metrics",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("report_id", sa.String(100), sa.ForeignKey("reports.id"), nullable=False),
        sa.Column("insight", sa.Integer, sa.ForeignKey("insights.number"), nullable=False),
        sa.Column("label_zh", sa.Text, nullable=False),
        sa.Column("label_en", sa.Text, nullable=False),
        sa.Column("value", sa.String(40), nullable=False),
        sa.Column("value_en", sa.String(40)),
        sa.Column("unit_zh", sa.Text, nullable=False),
        sa.Column("unit_en", sa.Text, nullable=False),
        sa.Column("qualifier", sa.String(20)),
        sa.Column("display_zh", sa.Text),
        sa.Column("display_en", sa.Text),
        sa.Column("measures_zh", sa.Text, nullable=False),
        sa.Column("measures_en", sa.Text, nullable=False),
        sa.Column("period_zh", sa.Text, nullable=False),
        sa.Column("period_en", sa.Text, nullable=False),
        sa.Column("quote", sa.Text, nullable=False),
    )
    op.create_table(
        "policy_items",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("report_id", sa.String(100), sa.ForeignKey("reports.id"), nullable=False),
        sa.Column("insight", sa.Integer, sa.ForeignKey("insights.number"), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("title_zh", sa.Text, nullable=False),
        sa.Column("title_en", sa.Text, nullable=False),
        sa.Column("issuer_zh", sa.Text),
        sa.Column("issuer_en", sa.Text),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("status_zh", sa.Text, nullable=False),
        sa.Column("status_en", sa.Text, nullable=False),
        sa.Column("date", sa.String(10)),
        sa.Column("summary_zh", sa.Text, nullable=False),
        sa.Column("summary_en", sa.Text, nullable=False),
        sa.Column("quote", sa.Text, nullable=False),
    )
    op.create_table(
        "item_topics",
        sa.Column("kind", sa.String(10), primary_key=True),
        sa.Column("item_id", sa.String(100), primary_key=True),
        sa.Column("topic", sa.String(40), sa.ForeignKey("topics.slug"), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_index("ix_item_topics_topic", "item_topics", ["topic", "kind"])
    op.create_table(
        "search_docs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("item_id", sa.String(100), nullable=False),
        sa.Column("insight", sa.Integer, nullable=False),
        sa.Column("title_key_zh", sa.Text, nullable=False),
        sa.Column("title_key_en", sa.Text, nullable=False),
        sa.Column("title_tokens", sa.Text, nullable=False),
        sa.Column("body_tokens", sa.Text, nullable=False),
        sa.UniqueConstraint("kind", "item_id"),
    )
    # An exact title hit is looked up by these, whatever the size of the corpus.
    op.create_index("ix_search_docs_title_key_zh", "search_docs", ["title_key_zh"])
    op.create_index("ix_search_docs_title_key_en", "search_docs", ["title_key_en"])
    op.create_table(
        "data_loads",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("report_id", sa.String(100), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("changes", sa.Integer, nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("item_id", sa.String(100), nullable=False),
        sa.Column("field", sa.String(40), nullable=False),
        sa.Column("old_value", sa.Text),
        sa.Column("new_value", sa.Text),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("load_id", sa.Integer, sa.ForeignKey("data_loads.id")),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index("ix_events_item", "events", ["kind", "item_id"])
    _create_search_index()


def _create_search_index() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # External-content FTS5 table kept in step with search_docs by triggers; bm25 ranks within a tier.
        op.execute(
            "CREATE VIRTUAL TABLE search_fts USING fts5(title_tokens, body_tokens, "
            "content='search_docs', content_rowid='id', tokenize='unicode61 remove_diacritics 0')"
        )
        op.execute(
            "CREATE TRIGGER search_docs_ai AFTER INSERT ON search_docs BEGIN "
            "INSERT INTO search_fts(rowid, title_tokens, body_tokens) "
            "VALUES (new.id, new.title_tokens, new.body_tokens); END"
        )
        op.execute(
            "CREATE TRIGGER search_docs_ad AFTER DELETE ON search_docs BEGIN "
            "INSERT INTO search_fts(search_fts, rowid, title_tokens, body_tokens) "
            "VALUES ('delete', old.id, old.title_tokens, old.body_tokens); END"
        )
        op.execute(
            "CREATE TRIGGER search_docs_au AFTER UPDATE ON search_docs BEGIN "
            "INSERT INTO search_fts(search_fts, rowid, title_tokens, body_tokens) "
            "VALUES ('delete', old.id, old.title_tokens, old.body_tokens); "
            "INSERT INTO search_fts(rowid, title_tokens, body_tokens) "
            "VALUES (new.id, new.title_tokens, new.body_tokens); END"
        )
    elif dialect == "postgresql":
        # Two generated vectors, each with its GIN index: the title alone (small, never TOASTed, so title hits are
        # found and ranked cheaply) and the whole document, whose title lexemes weigh more (A) than the body (D).
        op.execute(
            "ALTER TABLE search_docs ADD COLUMN title_vector tsvector GENERATED ALWAYS AS ("
            "to_tsvector('simple', title_tokens)) STORED"
        )
        op.execute(
            "ALTER TABLE search_docs ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
            "setweight(to_tsvector('simple', title_tokens), 'A') || "
            "setweight(to_tsvector('simple', body_tokens), 'D')) STORED"
        )
        op.execute("CREATE INDEX ix_search_docs_title_vector ON search_docs USING gin (title_vector)")
        op.execute("CREATE INDEX ix_search_docs_vector ON search_docs USING gin (search_vector)")
    else:
        raise NotImplementedError(f"search index for {dialect}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS search_fts")
    for table in (
        "events",
        "data_loads",
        "search_docs",
        "item_topics",
        "policy_items",
        "metrics",
        "insights",
        "glossary",
        "topics",
        "reports",
    ):
        op.drop_table(table)
