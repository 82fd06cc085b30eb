"""Metrics with their series and policy items with their history, for spreadsheets (CSV) or programs (JSON)."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.figures import base, figure
from bot.store import queries
from bot.store.models import ItemTopic, Metric, Note, Observation, PolicyItem, StatusEntry

CSV_COLUMNS = [
    "kind",
    "id",
    "title_zh",
    "title_en",
    "insight",
    "recorded_at",
    # A figure as the source states it, in each language, and as a number in base units to compute with.
    "figure_zh",
    "figure_en",
    "amount",
    "amount_unit_zh",
    "amount_unit_en",
    "value",
    "unit_zh",
    "unit_en",
    "period_zh",
    "period_en",
    "status",
    "status_zh",
    "status_en",
    "date",
    "note",
    "source",
    "workspace",  # empty for the published facts; the workspace's key for what it recorded from chat
]
# A spreadsheet reads a cell that starts with one of these as a formula (CSV injection): such text gets a leading
# apostrophe, which spreadsheets show as text. Numbers ("-3.5") are left as they are.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


def export(session: Session, fmt: str, topic: str | None = None, workspace: str | None = None) -> str:
    """The published facts, plus `workspace`'s own records (statuses and notes recorded from chat) when given."""
    metrics, policies = _items(session, Metric, topic), _items(session, PolicyItem, topic)
    series: dict[str, list[Observation]] = {}
    for point in session.scalars(select(Observation).order_by(Observation.id)):
        series.setdefault(point.metric_id, []).append(point)
    history: dict[str, list[StatusEntry]] = {}
    for entry in session.scalars(
        select(StatusEntry).where(queries.visible_to(StatusEntry.workspace, workspace)).order_by(StatusEntry.id)
    ):
        history.setdefault(entry.policy_id, []).append(entry)
    notes: dict[tuple[str, str], list[Note]] = {}
    for note in session.scalars(select(Note).where(Note.workspace == workspace).order_by(Note.id)):
        notes.setdefault((note.kind, note.item_id), []).append(note)
    if fmt == "json":
        return json.dumps(
            {
                "metrics": [
                    {
                        "id": m.id,
                        "label_zh": m.label_zh,
                        "label_en": m.label_en,
                        "insight": m.insight,
                        "series": [_point(p) for p in series.get(m.id, [])],
                        "notes": [_note(n) for n in notes.get(("metric", m.id), [])],
                    }
                    for m in metrics
                ],
                "policies": [
                    {
                        "id": p.id,
                        "title_zh": p.title_zh,
                        "title_en": p.title_en,
                        "insight": p.insight,
                        "status": p.status,
                        "comment_deadline": p.comment_deadline,
                        "effective_date": p.effective_date,
                        "history": [_entry(e) for e in history.get(p.id, [])],
                        "notes": [_note(n) for n in notes.get(("policy", p.id), [])],
                    }
                    for p in policies
                ],
            },
            ensure_ascii=False,
            indent=2,
        )
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()

    def row(kind: str, item: Any, title_zh: str, title_en: str, values: dict[str, Any]) -> None:
        cells = {"kind": kind, "id": item.id, "title_zh": title_zh, "title_en": title_en, "insight": item.insight}
        writer.writerow({name: _cell(value) for name, value in {**cells, **values}.items()})

    for m in metrics:
        for point in series.get(m.id, []):
            row("metric", m, m.label_zh, m.label_en, _point(point))
        for note in notes.get(("metric", m.id), []):
            row("note", m, m.label_zh, m.label_en, _note(note))
    for p in policies:
        for entry in history.get(p.id, []):
            row("policy", p, p.title_zh, p.title_en, _entry(entry))
        for note in notes.get(("policy", p.id), []):
            row("note", p, p.title_zh, p.title_en, _note(note))
    return out.getvalue()


def _cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet shows as written, never runs as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not NUMBER.match(value):
        return "'" + value
    return value


def _items(session: Session, model: Any, topic: str | None) -> list[Any]:
    query = select(model).order_by(model.insight, model.id)
    if topic:
        kind = "metric" if model is Metric else "policy"
        query = query.where(
            model.id.in_(select(ItemTopic.item_id).where(ItemTopic.kind == kind, ItemTopic.topic == topic))
        )
    return list(session.scalars(query))


def _point(point: Observation) -> dict[str, Any]:
    amount, unit_zh, unit_en = base(point)
    return {
        "recorded_at": point.recorded_at.isoformat(),
        "figure_zh": figure(point, "zh"),
        "figure_en": figure(point, "en"),
        "amount": None if amount is None else str(amount),
        "amount_unit_zh": unit_zh,
        "amount_unit_en": unit_en,
        "value": point.value,
        "unit_zh": point.unit_zh,
        "unit_en": point.unit_en,
        "period_zh": point.period_zh,
        "period_en": point.period_en,
        "source": point.source,
    }


def _entry(entry: StatusEntry) -> dict[str, Any]:
    return {
        "recorded_at": entry.recorded_at.isoformat(),
        "status": entry.status,
        "status_zh": entry.status_zh,
        "status_en": entry.status_en,
        # The date the source states for this status; None: it states none (recorded_at is when it was recorded).
        "date": entry.date,
        "note": entry.note,
        "source": entry.source,
        "workspace": entry.workspace,
    }


def _note(note: Note) -> dict[str, Any]:
    return {
        "recorded_at": note.recorded_at.isoformat(),
        "note": note.text,
        "source": f"Slack {note.team_id} by {note.recorded_by}",
        "workspace": note.workspace,
    }
