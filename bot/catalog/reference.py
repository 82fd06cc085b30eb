"""What nearly every answer needs and only a data change alters (the report, insights, topics, glossary), read
once per process and per data version. The version is the newest event id: every change to the store is an event."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.search.query import Glossary, load_glossary
from bot.search.text import title_key
from bot.store import queries
from bot.store.models import Event, Insight, Report, Topic


@dataclass(frozen=True)
class Reference:
    version: int
    report: Report | None
    insights: dict[int, Insight]
    topics: list[Topic]
    glossary: Glossary

    @cached_property
    def topic_names(self) -> dict[str, Topic]:
        return {topic.slug: topic for topic in self.topics}

    def context(self) -> dict[str, Any]:
        """What templates citing items need: the report, the insights, the topics by slug."""
        return {"report": self.report, "insights": self.insights, "topic_names": self.topic_names}

    def find_topic(self, text: str) -> Topic | None:
        """A topic named by its slug, Chinese name or English name (case, spaces and punctuation ignored)."""
        key = title_key(text)
        for topic in self.topics if key else ():
            if key in {title_key(topic.slug), title_key(topic.name_zh), title_key(topic.name_en)}:
                return topic
        return None


# Keyed by database URL, so processes (and tests) that use several databases never mix them up.
_cache: dict[str, Reference] = {}


def reference(session: Session) -> Reference:
    # Once per session: an answer asks for it several times, and one question needs one look at the version.
    if "reference" in session.info:
        return session.info["reference"]  # type: ignore[no-any-return]
    version = session.scalar(select(func.max(Event.id))) or 0
    key = session.get_bind().engine.url.render_as_string(hide_password=True)
    cached = _cache.get(key)
    if cached is not None and cached.version == version:
        session.info["reference"] = cached
        return cached
    loaded = Reference(
        version=version,
        report=queries.report(session=session),
        insights={insight.number: insight for insight in queries.insights(session=session)},
        topics=queries.topics(session=session),
        glossary=load_glossary(session),
    )
    # Detached from this session, the rows stay readable (no lazy attributes) after it closes.
    for row in (loaded.report, *loaded.insights.values(), *loaded.topics):
        if row is not None:
            session.expunge(row)
    _cache[key] = loaded
    session.info["reference"] = loaded
    return loaded
