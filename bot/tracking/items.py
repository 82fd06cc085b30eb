"""Finding the item a command means: its id, or the best match of any text (a short choice when it is unclear)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from bot.catalog.reference import reference
from bot.catalog.schema import PARTIAL_DATE_PATTERN
from bot.search.query import parse_query, search
from bot.store import queries
from bot.store.models import Metric, PolicyItem

PARTIAL_DATE = re.compile(PARTIAL_DATE_PATTERN)


def is_date(text: str) -> bool:
    """A year, a month or a day that exists: 2027, 2027-03, 2027-03-15; not 2027-13 or 2027-02-30."""
    if not PARTIAL_DATE.match(text):
        return False
    year, month, day = (int(part) for part in (*text.split("-"), "1", "1")[:3])
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True


STATUS_NAMES: dict[str, tuple[str, str]] = {
    "proposed": ("提出", "proposed"),
    "announced": ("宣布", "announced"),
    "open_for_comment": ("征求意见", "open for comment"),
    "issued": ("发布", "issued"),
    "in_effect": ("生效", "in effect"),
    "in_progress": ("推进中", "in progress"),
    "completed": ("完成", "completed"),
    "stalled": ("停滞", "stalled"),
}


@dataclass(frozen=True)
class Found:
    kind: str  # "metric" or "policy"
    item: Any


@dataclass(frozen=True)
class Unclear:
    choices: list[Found]


def resolve(session: Session, text: str, kinds: tuple[str, ...] = ("metric", "policy")) -> Found | Unclear | None:
    text = text.strip()
    for kind in kinds:
        model = Metric if kind == "metric" else PolicyItem
        item = session.get(model, text)
        if item is not None:
            return Found(kind, item)
    result = search(session, parse_query(text, reference(session).glossary), kinds=kinds, limit=6, relax=False)
    if not result.hits:
        return None
    best = [hit for hit in result.hits if hit.tier == result.hits[0].tier]
    found = [
        Found(hit.kind, queries.items_by_ids(hit.kind, [hit.item_id], session=session)[hit.item_id])
        for hit in (best if len(best) > 1 else best[:1])
    ]
    return found[0] if len(found) == 1 else Unclear(found[:5])


def parse_status(text: str) -> str | None:
    """A status from its key ("in_effect"), English words ("in effect") or Chinese name (生效)."""
    key = text.strip().lower().replace(" ", "_").replace("-", "_")
    if key in STATUS_NAMES:
        return key
    for status, (zh, en) in STATUS_NAMES.items():
        if text.strip() in (zh, en):
            return status
    return None
