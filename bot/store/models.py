"""The relational store: the report's items, the search index rows and the event log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Report(Base):
    __tablename__ = "reports"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    title_zh: Mapped[str] = mapped_column(Text)
    title_en: Mapped[str] = mapped_column(Text)
    subtitle_zh: Mapped[str | None] = mapped_column(Text)
    subtitle_en: Mapped[str | None] = mapped_column(Text)
    publisher_zh: Mapped[str] = mapped_column(Text)
    publisher_en: Mapped[str] = mapped_column(Text)
    year: Mapped[int] = mapped_column(Integer)
    conference_zh: Mapped[str | None] = mapped_column(Text)
    conference_en: Mapped[str | None] = mapped_column(Text)
    published: Mapped[str | None] = mapped_column(String(10))
    url: Mapped[str | None] = mapped_column(Text)


class Topic(Base):
    __tablename__ = "topics"

    slug: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    insight: Mapped[int | None] = mapped_column(Integer)
    description_en: Mapped[str | None] = mapped_column(Text)


class GlossaryTerm(Base):
    __tablename__ = "glossary"
    __table_args__ = (UniqueConstraint("en", "zh"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    en: Mapped[str] = mapped_column(String(200))
    zh: Mapped[str] = mapped_column(String(200))


class Insight(Base):
    __tablename__ = "insights"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id"))
    topic: Mapped[str] = mapped_column(ForeignKey("topics.slug"))
    title_zh: Mapped[str] = mapped_column(Text)
    title_en: Mapped[str] = mapped_column(Text)
    summary_zh: Mapped[str] = mapped_column(Text)
    summary_en: Mapped[str] = mapped_column(Text)


class Metric(Base):
    __tablename__ = "metrics"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id"))
    insight: Mapped[int] = mapped_column(ForeignKey("insights.number"))
    label_zh: Mapped[str] = mapped_column(Text)
    label_en: Mapped[str] = mapped_column(Text)
    # Decimal text, exactly as validated: portable across SQLite and PostgreSQL without float rounding.
    value: Mapped[str] = mapped_column(String(40))
    value_en: Mapped[str | None] = mapped_column(String(40))
    unit_zh: Mapped[str] = mapped_column(Text, default="")
    unit_en: Mapped[str] = mapped_column(Text, default="")
    qualifier: Mapped[str | None] = mapped_column(String(20))
    display_zh: Mapped[str | None] = mapped_column(Text)
    display_en: Mapped[str | None] = mapped_column(Text)
    measures_zh: Mapped[str] = mapped_column(Text)
    measures_en: Mapped[str] = mapped_column(Text)
    period_zh: Mapped[str] = mapped_column(Text)
    period_en: Mapped[str] = mapped_column(Text)
    quote: Mapped[str] = mapped_column(Text)


class PolicyItem(Base):
    __tablename__ = "policy_items"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("reports.id"))
    insight: Mapped[int] = mapped_column(ForeignKey("insights.number"))
    kind: Mapped[str] = mapped_column(String(30))
    title_zh: Mapped[str] = mapped_column(Text)
    title_en: Mapped[str] = mapped_column(Text)
    issuer_zh: Mapped[str | None] = mapped_column(Text)
    issuer_en: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(30))
    status_zh: Mapped[str] = mapped_column(Text)
    status_en: Mapped[str] = mapped_column(Text)
    date: Mapped[str | None] = mapped_column(String(10))
    summary_zh: Mapped[str] = mapped_column(Text)
    summary_en: Mapped[str] = mapped_column(Text)
    quote: Mapped[str] = mapped_column(Text)
    # Key dates, where a source states them (partial dates as in `date`).
    comment_deadline: Mapped[str | None] = mapped_column(String(10))
    effective_date: Mapped[str | None] = mapped_column(String(10))
    target_year: Mapped[int | None] = mapped_column(Integer)


class ItemTopic(Base):
    """Which topics a metric or policy item belongs to (kind is 'metric' or 'policy')."""

    __tablename__ = "item_topics"
    __table_args__ = (Index("ix_item_topics_topic", "topic", "kind"),)

    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    item_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    topic: Mapped[str] = mapped_column(ForeignKey("topics.slug"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class SearchDoc(Base):
    """One row per searchable item: CJK bigrams and Latin words, indexed by FTS5 (SQLite) or GIN (PostgreSQL)."""

    __tablename__ = "search_docs"
    __table_args__ = (
        UniqueConstraint("kind", "item_id"),
        Index("ix_search_docs_title_key_zh", "title_key_zh"),
        Index("ix_search_docs_title_key_en", "title_key_en"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(10))
    item_id: Mapped[str] = mapped_column(String(100))
    insight: Mapped[int] = mapped_column(Integer)
    # Titles normalised for exact comparison (lower case, no 《》 or spaces): an exact hit ranks first.
    title_key_zh: Mapped[str] = mapped_column(Text)
    title_key_en: Mapped[str] = mapped_column(Text)
    title_tokens: Mapped[str] = mapped_column(Text)
    body_tokens: Mapped[str] = mapped_column(Text)


class DataLoad(Base):
    __tablename__ = "data_loads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(Text)
    report_id: Mapped[str] = mapped_column(String(100))
    checksum: Mapped[str] = mapped_column(String(64))
    changes: Mapped[int] = mapped_column(Integer)
    loaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Event(Base):
    """An ever-growing log of changes; a digest remembers the last id it showed, so it never repeats itself."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_item", "kind", "item_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(10))
    item_id: Mapped[str] = mapped_column(String(100))
    field: Mapped[str] = mapped_column(String(40))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    # The workspace whose people recorded it from chat (seen only there); None: a published fact, seen everywhere.
    workspace: Mapped[str | None] = mapped_column(String(100))
    load_id: Mapped[int | None] = mapped_column(ForeignKey("data_loads.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


def _team_of_row(context: Any) -> Any:
    # A channel row written without a workspace belongs to the workspace that set it up.
    return context.get_current_parameters()["team_id"]


class Channel(Base):
    """A Slack channel's digest settings; created by its first subscription."""

    __tablename__ = "channels"
    # A channel id names one conversation, shared or not (Slack Connect): one configuration each.
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id"),
        Index("uq_channels_channel_id", "channel_id", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(100))
    channel_id: Mapped[str] = mapped_column(String(100))
    lang: Mapped[str] = mapped_column(String(4), default="en")
    schedule_kind: Mapped[str] = mapped_column(String(8), default="weekly")
    schedule_weekday: Mapped[int] = mapped_column(Integer, default=0)
    schedule_at: Mapped[str] = mapped_column(String(5), default="09:00")
    schedule_zone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    # A WeCom robot's webhook URL, encrypted (migration 0012); None for platforms with an API.
    address: Mapped[str | None] = mapped_column(Text)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    set_up_by: Mapped[str] = mapped_column(String(100))
    # Whose records its digests show besides the published facts (the workspace that set it up; see Caller.tenant).
    workspace: Mapped[str] = mapped_column(String(100), default=_team_of_row)
    last_event_id: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Subscription(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("channel_pk", "kind", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel_pk: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))  # "topic" or "keyword"
    value: Mapped[str] = mapped_column(String(200))
    added_by: Mapped[str] = mapped_column(String(100))
    added_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(100))
    channel_id: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Digest(Base):
    """One delivery: claimed once per channel and period (the unique constraint is the claim)."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("channel_pk", "period_key", name="uq_digests_channel_period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel_pk: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    period_key: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(10))  # claimed, posted, failed
    claimed_by: Mapped[str] = mapped_column(String(64))
    claimed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # Until when the claim is held (the database's clock); renewed while its clock posts (migration 0009).
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # The platform's id of the posted message (Slack's ts, Feishu's message id, DingTalk's processQueryKey).
    posted_ts: Mapped[str | None] = mapped_column(String(100))
    posted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    event_id: Mapped[int] = mapped_column(Integer, default=0)


class DigestHighlight(Base):
    __tablename__ = "digest_highlights"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel_pk: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    digest_id: Mapped[int] = mapped_column(ForeignKey("digests.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    item_id: Mapped[str] = mapped_column(String(100))


class Observation(Base):
    """One value of a metric, as an edition (or an update) states it; changes are derived, never typed in."""

    __tablename__ = "observations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    metric_id: Mapped[str] = mapped_column(ForeignKey("metrics.id"))
    # The figure as the source states it (see bot.core.figures).
    value: Mapped[str] = mapped_column(String(40))
    value_en: Mapped[str | None] = mapped_column(String(40))
    qualifier: Mapped[str | None] = mapped_column(String(20))
    display_zh: Mapped[str | None] = mapped_column(Text)
    display_en: Mapped[str | None] = mapped_column(Text)
    unit_zh: Mapped[str] = mapped_column(Text)
    unit_en: Mapped[str] = mapped_column(Text)
    period_zh: Mapped[str] = mapped_column(Text)
    period_en: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class StatusEntry(Base):
    """A policy item's status at a point of its life-cycle, with where that came from and who recorded it."""

    __tablename__ = "status_history"
    __table_args__ = (Index("ix_status_history_workspace", "workspace", "policy_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    policy_id: Mapped[str] = mapped_column(ForeignKey("policy_items.id"))
    status: Mapped[str] = mapped_column(String(30))
    status_zh: Mapped[str] = mapped_column(Text)
    status_en: Mapped[str] = mapped_column(Text)
    date: Mapped[str | None] = mapped_column(String(10))
    note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(64))
    # The workspace that recorded it from chat; None: published in a data edition.
    workspace: Mapped[str | None] = mapped_column(String(100))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(10))
    item_id: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    team_id: Mapped[str] = mapped_column(String(100))
    workspace: Mapped[str] = mapped_column(String(100))  # where it is seen
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Follow(Base):
    __tablename__ = "follows"
    __table_args__ = (UniqueConstraint("team_id", "user_id", "kind", "item_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[str] = mapped_column(String(100))
    workspace: Mapped[str] = mapped_column(String(100))  # whose records its messages include
    kind: Mapped[str] = mapped_column(String(10))
    item_id: Mapped[str] = mapped_column(String(100))
    last_event_id: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class HandledRequest(Base):
    """A request acted on already: its key (an event id, a click, a form), and when (old rows are cleared)."""

    __tablename__ = "handled_requests"
    __table_args__ = (Index("ix_handled_requests_at", "at"),)

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class WorkspaceSettings(Base):
    """What a workspace's admins decide for the whole workspace (see `restrict dms`)."""

    __tablename__ = "workspace_settings"

    workspace: Mapped[str] = mapped_column(String(100), primary_key=True)
    # Who may record tracking changes (track, note) in direct messages with the bot: "anyone" or "admins".
    dm_edits: Mapped[str] = mapped_column(String(8), default="anyone")
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
