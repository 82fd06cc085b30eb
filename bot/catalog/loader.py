"""Reading, validating and loading a data bundle: all or nothing, idempotent, every real change an event."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.catalog import schema
from bot.catalog.problems import DataError, Problem
from bot.search import index
from bot.store import history, models

FILES: dict[str, type[BaseModel]] = {
    "report.yaml": schema.ReportFile,
    "topics.yaml": schema.TopicsFile,
    "glossary.yaml": schema.GlossaryFile,
    "insights.yaml": schema.InsightsFile,
    "metrics.yaml": schema.MetricsFile,
    "policies.yaml": schema.PoliciesFile,
}
# The most a data file may hold. Parsing YAML takes about 100 MB of memory and 4 s per MB (a 21 MB file took 2 GB and
# 85 s); the bundled files are at most 0.1 MB (a report of ten insights), so 1 MB leaves room for ten times as much.
MAX_FILE_BYTES = 1_000_000


class DuplicateKeyError(yaml.YAMLError):
    pass


class UniqueKeyLoader(yaml.SafeLoader):
    """yaml.safe_load, except that a key repeated in a mapping is an error: YAML would keep the last value silently."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        lines: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`, YAML's own merging of mappings
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                repeated = key in lines
            except TypeError:  # an unhashable key, which SafeLoader refuses below
                continue
            line = key_node.start_mark.line + 1
            if repeated:
                raise DuplicateKeyError(f"key {key!r} on line {line} repeats the one on line {lines[key]}")
            lines[key] = line
        return super().construct_mapping(node, deep=deep)


@dataclass
class Bundle:
    path: Path
    checksum: str
    report: schema.ReportFile
    topics: list[schema.Topic] = field(default_factory=list)
    glossary: list[schema.GlossaryTerm] = field(default_factory=list)
    insights: list[schema.Insight] = field(default_factory=list)
    metrics: list[schema.Metric] = field(default_factory=list)
    policies: list[schema.PolicyItem] = field(default_factory=list)


@dataclass
class LoadResult:
    source: str
    created: int = 0
    changed: int = 0
    unchanged: int = 0
    glossary: int = 0  # English phrases new or mapped to other Chinese terms
    events: list[models.Event] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return len(self.events)


M = TypeVar("M", bound=BaseModel)
STATUS_FIELDS = ("status", "status_zh", "status_en")


def read_bundle(path: Path) -> Bundle:
    """Parse and validate every file of the bundle at `path`; raise DataError listing every problem found."""
    if not path.is_dir():
        raise DataError([Problem(str(path), None, None, "not a directory of data files")])
    problems: list[Problem] = []
    parsed: dict[str, BaseModel] = {}
    digest = hashlib.sha256()
    for name, model in FILES.items():
        file = path / name
        if not file.exists():
            if name == "report.yaml":
                problems.append(Problem(str(file), None, None, "missing: every bundle needs its report.yaml"))
            continue
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            problems.append(
                Problem(str(file), None, None, f"{size:,} bytes, over the {MAX_FILE_BYTES:,} a data file may hold")
            )
            continue
        raw_bytes = file.read_bytes()
        digest.update(name.encode() + b"\0" + raw_bytes)
        try:
            raw = yaml.load(raw_bytes.decode("utf-8"), Loader=UniqueKeyLoader)  # noqa: S506 - SafeLoader's subclass
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            problems.append(Problem(str(file), None, None, f"not valid YAML: {error}"))
            continue
        try:
            parsed[name] = model.model_validate(raw)
        except ValidationError as error:
            problems.extend(_problems(str(file), raw, error))
    if problems:
        raise DataError(problems)
    report = parsed["report.yaml"]
    assert isinstance(report, schema.ReportFile)
    bundle = Bundle(path=path, checksum=digest.hexdigest(), report=report)
    for name, attribute in (
        ("topics.yaml", "topics"),
        ("glossary.yaml", "glossary"),
        ("insights.yaml", "insights"),
        ("metrics.yaml", "metrics"),
        ("policies.yaml", "policies"),
    ):
        if name in parsed:
            setattr(bundle, attribute, getattr(parsed[name], attribute))
    problems = _duplicates(bundle)
    if problems:
        raise DataError(problems)
    return bundle


def _duplicates(bundle: Bundle) -> list[Problem]:
    """Keys that the store holds once: one repeated in a bundle would be merged silently (the last one wins) or
    refused by a unique constraint, with a raw database error, halfway through a load."""
    problems: list[Problem] = []
    first: dict[tuple[str, str], str] = {}  # (key name, key) -> the file it first appears in
    for file, name, keys in (
        ("topics.yaml", "slug", [topic.slug for topic in bundle.topics]),
        ("glossary.yaml", "en", [term.en for term in bundle.glossary]),
        ("insights.yaml", "number", [str(insight.number) for insight in bundle.insights]),
        # One id names one item, metric or policy item.
        ("metrics.yaml", "id", [metric.id for metric in bundle.metrics]),
        ("policies.yaml", "id", [policy.id for policy in bundle.policies]),
    ):
        for key in keys:
            if (name, key) in first:
                problems.append(Problem(file, key, name, f"duplicate {name} (also in {first[name, key]})"))
            first[name, key] = file
    # Lists whose entries are rows of their own (unique per item).
    lists = [("glossary.yaml", term.en, "zh", term.zh) for term in bundle.glossary]
    for file, items in (("metrics.yaml", bundle.metrics), ("policies.yaml", bundle.policies)):
        lists += [(file, item.id, "topics", item.topics) for item in items]
    for file, item, name, values in lists:
        repeated = sorted({value for value in values if values.count(value) > 1})
        problems.extend(Problem(file, item, name, f"{value!r} listed twice") for value in repeated)
    return [Problem(str(bundle.path / p.file), p.item, p.field, p.message) for p in problems]


def _problems(file: str, raw: Any, error: ValidationError) -> Iterable[Problem]:
    for detail in error.errors():
        loc = list(detail["loc"])
        item = None
        # A list item's location is (list name, index, field...): name the item by its id rather than its index.
        if len(loc) >= 2 and isinstance(loc[1], int) and isinstance(raw, Mapping):
            entries = raw.get(str(loc[0])) or []
            entry = entries[loc[1]] if loc[1] < len(entries) else None
            keys = ("id", "number", "slug", "en")
            ident = next((entry[k] for k in keys if k in entry), None) if isinstance(entry, Mapping) else None
            item = str(ident) if ident is not None else f"#{loc[1] + 1}"
            loc = loc[2:]
        yield Problem(file, item, ".".join(map(str, loc)) or None, detail["msg"])


def check_references(session: Session, bundle: Bundle) -> None:
    """Topics and insights referenced exist, in the bundle or already in the store."""
    problems: list[Problem] = []
    topics = {t.slug for t in bundle.topics} | set(session.scalars(select(models.Topic.slug)))
    insights = {i.number for i in bundle.insights} | set(session.scalars(select(models.Insight.number)))
    for insight in bundle.insights:
        if insight.topic not in topics:
            problems.append(Problem("insights.yaml", str(insight.number), "topic", f"unknown topic {insight.topic!r}"))
    for file, items in (("metrics.yaml", bundle.metrics), ("policies.yaml", bundle.policies)):
        for item in items:
            if item.insight not in insights:
                problems.append(Problem(file, item.id, "insight", f"unknown insight {item.insight}"))
            problems.extend(
                Problem(file, item.id, "topics", f"unknown topic {slug!r}")
                for slug in item.topics
                if slug not in topics
            )
    if problems:
        raise DataError([Problem(str(bundle.path / p.file), p.item, p.field, p.message) for p in problems])


def load_bundle(session: Session, bundle: Bundle) -> LoadResult:
    """Merge the bundle into the store (the caller's transaction). Loading the same bundle again changes nothing."""
    check_references(session, bundle)
    source = bundle.report.id  # what users see as the source; data_loads keeps the path
    result = LoadResult(source=source)
    report_id = bundle.report.id
    _merge(session, result, "report", models.Report, report_id, _fields(bundle.report))
    for topic in bundle.topics:
        _merge(session, result, "topic", models.Topic, topic.slug, _fields(topic))
    _merge_glossary(session, result, bundle.glossary)
    session.flush()
    for insight in bundle.insights:
        insight_row = _merge(
            session, result, "insight", models.Insight, insight.number, {**_fields(insight), "report_id": report_id}
        )
        _merge_topics(session, result, "insight", str(insight.number), [insight.topic])
        index.refresh(session, insight_row)
    session.flush()
    for metric in bundle.metrics:
        values = {**_fields(metric, exclude={"topics"}), "report_id": report_id}
        metric_row = _merge(session, result, "metric", models.Metric, metric.id, values)
        _merge_topics(session, result, "metric", metric.id, metric.topics)
        index.refresh(session, metric_row)
        history.record_observation(metric_row, source=source, session=session)
    for policy in bundle.policies:
        values = {**_fields(policy, exclude={"topics"}), "report_id": report_id}
        # A status moves through the one writer of status history; a new item starts with it.
        status = tuple(values.pop(name) for name in STATUS_FIELDS)
        is_new = session.get(models.PolicyItem, policy.id) is None
        if is_new:
            values.update(zip(STATUS_FIELDS, status, strict=True))
        merged = len(result.events)
        policy_row = _merge(session, result, "policy", models.PolicyItem, policy.id, values)
        merged = len(result.events) - merged
        moved = history.record_status(
            policy_row,
            status,
            date=policy.date,
            note=None,
            source=source,
            recorded_by="data load",
            session=session,
        )
        result.events += moved
        if moved and not merged:  # only the status changed: _merge counted the item as unchanged
            result.unchanged, result.changed = result.unchanged - 1, result.changed + 1
        _merge_topics(session, result, "policy", policy.id, policy.topics)
        index.refresh(session, policy_row)
    session.flush()
    if result.events:
        load = models.DataLoad(
            source=str(bundle.path), report_id=report_id, checksum=bundle.checksum, changes=len(result.events)
        )
        session.add(load)
        session.flush()
        for event in result.events:
            event.load_id = load.id
        session.flush()
    return result


def _fields(model: BaseModel, exclude: set[str] | None = None) -> dict[str, Any]:
    values = model.model_dump(exclude=exclude)
    # Decimals are stored as their exact text, so 1.27 stays 1.27 on every database.
    return {
        key: (str(value) if key in {"value", "value_en"} and value is not None else value)
        for key, value in values.items()
    }


R = TypeVar("R", bound=models.Base)


def _merge(session: Session, result: LoadResult, kind: str, model: type[R], key: object, values: dict[str, Any]) -> R:
    row = session.get(model, key)
    item_id = str(key)
    if row is None:
        row = model(**values)
        session.add(row)
        result.created += 1
        _event(session, result, kind, item_id, "created", None, _label(values))
        return row
    events = history.set_fields(row, kind, item_id, values, source=result.source, session=session)
    result.events += events
    if events:
        result.changed += 1
    else:
        result.unchanged += 1
    return row


def _label(values: Mapping[str, Any]) -> str | None:
    for name in ("title_zh", "label_zh", "name_zh"):
        if values.get(name):
            return str(values[name])
    return None


def _event(session: Session, result: LoadResult, kind: str, item_id: str, name: str, old: Any, new: Any) -> None:
    result.events.append(history.record_event(kind, item_id, name, old, new, source=result.source, session=session))


def _merge_topics(session: Session, result: LoadResult, kind: str, item_id: str, topics: Sequence[str]) -> None:
    rows = session.scalars(
        select(models.ItemTopic)
        .where(models.ItemTopic.kind == kind, models.ItemTopic.item_id == item_id)
        .order_by(models.ItemTopic.position)
    ).all()
    old = [row.topic for row in rows]
    if old == list(topics):
        return
    for row in rows:
        session.delete(row)
    session.flush()
    session.add_all(models.ItemTopic(kind=kind, item_id=item_id, topic=t, position=i) for i, t in enumerate(topics))
    if old:  # a new item's topics are part of its creation event
        _event(session, result, kind, item_id, "topics", ",".join(old), ",".join(topics))


def _merge_glossary(session: Session, result: LoadResult, terms: Sequence[schema.GlossaryTerm]) -> None:
    """Each English phrase of the bundle maps to the Chinese terms it lists, in its order; phrases it does not list
    stay, like items. A change is an event like any other: a recorded load, and a new data version, on which every
    process reads the glossary again (bot.catalog.reference)."""
    stored: dict[str, list[models.GlossaryTerm]] = {}
    for row in session.scalars(select(models.GlossaryTerm).order_by(models.GlossaryTerm.id)):
        stored.setdefault(row.en, []).append(row)
    for term in terms:
        rows = stored.get(term.en, [])
        old = [row.zh for row in rows]
        if old == term.zh:
            continue
        for row in rows:
            session.delete(row)
        session.flush()  # before the same (en, zh) is inserted again in the new order
        session.add_all(models.GlossaryTerm(en=term.en, zh=zh) for zh in term.zh)
        name, old_value = ("zh", ",".join(old)) if old else ("created", None)
        _event(session, result, "glossary", term.en, name, old_value, ",".join(term.zh))
        result.glossary += 1


def summary(result: LoadResult) -> str:
    if not result.events:
        return f"{result.source}: no changes ({result.unchanged} items already up to date)"
    return (
        f"{result.source}: {result.created} created, {result.changed} changed, {result.unchanged} unchanged, "
        f"{result.glossary} glossary phrases new or changed; {result.changes} change events recorded"
    )
