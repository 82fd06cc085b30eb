"""Keeping search_docs in step with the items they describe."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.search.text import title_key, token_text
from bot.store.models import Insight, Metric, PolicyItem, SearchDoc

Indexable = Insight | Metric | PolicyItem


def document(item: Indexable) -> tuple[str, str, int, str, str, str, str]:
    """(kind, item id, insight, title key zh, title key en, title tokens, body tokens) for one item."""
    if isinstance(item, Metric):
        title = (item.label_zh, item.label_en)
        body = token_text(
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
        return ("metric", item.id, item.insight, *map(title_key, title), token_text(*title), body)
    if isinstance(item, PolicyItem):
        title = (item.title_zh, item.title_en)
        body = token_text(
            item.summary_zh,
            item.summary_en,
            item.issuer_zh,
            item.issuer_en,
            item.status_zh,
            item.status_en,
            item.quote,
        )
        return ("policy", item.id, item.insight, *map(title_key, title), token_text(*title), body)
    title = (item.title_zh, item.title_en)
    body = token_text(item.summary_zh, item.summary_en)
    return ("insight", str(item.number), item.number, *map(title_key, title), token_text(*title), body)


def refresh(session: Session, item: Indexable) -> None:
    kind, item_id, insight, key_zh, key_en, title_tokens, body_tokens = document(item)
    doc = session.scalar(select(SearchDoc).where(SearchDoc.kind == kind, SearchDoc.item_id == item_id))
    if doc is None:
        doc = SearchDoc(kind=kind, item_id=item_id)
        session.add(doc)
    doc.insight = insight
    doc.title_key_zh, doc.title_key_en = key_zh, key_en
    doc.title_tokens, doc.body_tokens = title_tokens, body_tokens
