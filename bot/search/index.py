"""Keeping search_docs in step with the items they describe."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.search.text import title_key, token_text
from bot.store.models import Insight, Metric, PolicyItem, SearchDoc

Indexable = Insight | Metric | PolicyItem


def document(item: Indexable) -> dict[str, str | int]:
    """The search_docs row for one item: its title (a metric's label) counts for more than its body."""
    body: tuple[str | None, ...]
    if isinstance(item, Metric):
        kind, item_id, insight, titles = "metric", item.id, item.insight, (item.label_zh, item.label_en)
        body = (
            item.measures_zh,
            item.measures_en,
            item.quote,
            item.period_zh,
            item.period_en,
            item.unit_zh,
            item.unit_en,
            item.display_zh,
            item.display_en,
            item.value,
        )
    elif isinstance(item, PolicyItem):
        kind, item_id, insight, titles = "policy", item.id, item.insight, (item.title_zh, item.title_en)
        body = (
            item.summary_zh,
            item.summary_en,
            item.issuer_zh,
            item.issuer_en,
            item.status_zh,
            item.status_en,
            item.quote,
        )
    else:
        kind, item_id, insight, titles = "insight", str(item.number), item.number, (item.title_zh, item.title_en)
        body = (item.summary_zh, item.summary_en)
    return {
        "kind": kind,
        "item_id": item_id,
        "insight": insight,
        "title_key_zh": title_key(titles[0]),
        "title_key_en": title_key(titles[1]),
        "title_tokens": token_text(*titles),
        "body_tokens": token_text(*body),
    }


def refresh(session: Session, item: Indexable) -> None:
    values = document(item)
    doc = session.scalar(
        select(SearchDoc).where(SearchDoc.kind == values["kind"], SearchDoc.item_id == values["item_id"])
    )
    if doc is None:
        session.add(SearchDoc(**values))
        return
    for name, value in values.items():
        setattr(doc, name, value)
