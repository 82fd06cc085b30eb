"""The format of the bundled data files (see data/README.md), validated with pydantic.

A bundle is a directory holding some of: report.yaml, topics.yaml, glossary.yaml, insights.yaml, metrics.yaml,
policies.yaml. Every item has a stable id that subscriptions, history and follows refer to.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import String
from sqlalchemy.orm import QueryableAttribute

from bot.store import models

ID_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
TOPIC_SLUG_PATTERN = r"^[a-z][a-z0-9]*$"
# A date as precise as the source states it: a year, a month or a day.
PARTIAL_DATE_PATTERN = r"^\d{4}(?:-\d{2}(?:-\d{2})?)?$"

Qualifier = Literal["about", "over", "nearly", "up_to", "at_least"]
PolicyKind = Literal[
    "institution",
    "plan",
    "law",
    "regulation",
    "opinion",
    "standard",
    "system",
    "program",
    "pilot",
    "list",
    "campaign",
    "agreement",
    "initiative",
    "mechanism",
    "platform",
    "project",
]
# The life-cycle a policy item moves through (issue 6 records its dated history).
PolicyStatus = Literal[
    "proposed",
    "announced",
    "open_for_comment",
    "issued",
    "in_effect",
    "in_progress",
    "completed",
    "stalled",
]

# A figure the renderer can show and compute with (bot.core.figures): finite and at most 15 digits, so below 10^15
# in its unit and below 10^27 in base units (a 万亿 or trillion unit scales by 10^12), inside Decimal's 28 digits.
MAX_FIGURE_DIGITS = 15


def _written_out(value: Decimal) -> Decimal:
    # Stored as its text (String(40)) and printed digit by digit: the text must be the plain number.
    if "E" in str(value):
        raise PydanticCustomError("figure", "write the number out (1000, not 1E+3), at least 0.000001")
    return value


FigureValue = Annotated[Decimal, Field(max_digits=MAX_FIGURE_DIGITS, allow_inf_nan=False), AfterValidator(_written_out)]


def column_limits(*tables: type[models.Base], **elsewhere: Sequence[QueryableAttribute[Any]]) -> dict[str, int]:
    """The most characters each field may hold: the String(n) of the column of the same name in `tables`, and of the
    columns in `elsewhere` (where a field is stored under another name too), whichever is shortest. Text is free."""
    columns = [(column.name, column.type) for table in tables for column in table.__table__.columns]
    columns += [(name, column.type) for name, stored in elsewhere.items() for column in stored]
    limits: dict[str, int] = {}
    for name, type_ in columns:
        if isinstance(type_, String) and type_.length:
            limits[name] = min(type_.length, limits.get(name, type_.length))
    return limits


# An item's id is also the key of its events, topics and search row.
ITEM_ID = (models.Event.item_id, models.ItemTopic.item_id, models.SearchDoc.item_id)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)
    # Field name -> most characters, read from the tables a model is stored in (column_limits): the sizes are the
    # database's, written down once, in bot/store/models.py.
    limits: ClassVar[dict[str, int]] = {}

    @field_validator("*")
    @classmethod
    def _storable(cls, value: Any, info: ValidationInfo) -> Any:
        """Text every database stores as it is: PostgreSQL refuses a NUL character and a string longer than its
        column, where SQLite takes both. (pydantic itself refuses a lone surrogate, which neither can encode.)"""
        limit = cls.limits.get(info.field_name or "")
        for text in value if isinstance(value, list) else [value]:
            if not isinstance(text, str):
                continue
            if "\x00" in text:
                raise PydanticCustomError("text", "contains a NUL character (\\x00), which the database cannot store")
            if limit is not None and len(text) > limit:
                raise PydanticCustomError(
                    "text",
                    "{length} characters, over the {limit} the database holds",
                    {"length": len(text), "limit": limit},
                )
        return value


class ReportFile(Strict):
    limits = column_limits(models.Report, id=(*ITEM_ID, models.DataLoad.report_id))
    id: str = Field(pattern=ID_PATTERN)
    title_zh: str
    title_en: str
    subtitle_zh: str | None = None
    subtitle_en: str | None = None
    publisher_zh: str
    publisher_en: str
    year: int = Field(ge=1990, le=2100)
    conference_zh: str | None = None
    conference_en: str | None = None
    published: str | None = Field(default=None, pattern=PARTIAL_DATE_PATTERN)
    url: str | None = None


class Topic(Strict):
    limits = column_limits(models.Topic, slug=(models.ItemTopic.topic, *ITEM_ID))
    slug: str = Field(pattern=TOPIC_SLUG_PATTERN)
    name_zh: str
    name_en: str
    insight: int | None = Field(default=None, ge=1, le=10)
    description_en: str | None = None


class GlossaryTerm(Strict):
    # A phrase is also the key of the events that record its changes.
    limits = column_limits(models.GlossaryTerm, en=ITEM_ID)
    en: str
    zh: list[str] = Field(min_length=1)

    @field_validator("en")
    @classmethod
    def _lower(cls, value: str) -> str:
        return re.sub(r"\s+", " ", value.lower())


class Insight(Strict):
    limits = column_limits(models.Insight)
    number: int = Field(ge=1, le=10)
    topic: str = Field(pattern=TOPIC_SLUG_PATTERN)
    title_zh: str
    title_en: str
    summary_zh: str
    summary_en: str


class Item(Strict):
    """What metrics and policy items share: a stable id, the insight, topics and a citation."""

    id: str = Field(pattern=ID_PATTERN)
    insight: int = Field(ge=1, le=10)
    topics: list[str] = Field(min_length=1)
    quote: str = Field(min_length=2, max_length=300)


class Metric(Item):
    limits = column_limits(models.Metric, models.Observation, id=ITEM_ID, topics=(models.ItemTopic.topic,))
    label_zh: str
    label_en: str
    value: FigureValue
    unit_zh: str = ""
    unit_en: str = ""
    # When the English figure is scaled differently (7300万 -> 73 million).
    value_en: FigureValue | None = None
    qualifier: Qualifier | None = None
    # A wording that reads better than value + unit ("全球第二" / "2nd in the world").
    display_zh: str | None = None
    display_en: str | None = None
    measures_zh: str
    measures_en: str
    period_zh: str
    period_en: str


class PolicyItem(Item):
    limits = column_limits(models.PolicyItem, models.StatusEntry, id=ITEM_ID, topics=(models.ItemTopic.topic,))
    kind: PolicyKind
    title_zh: str
    title_en: str
    issuer_zh: str | None = None
    issuer_en: str | None = None
    status: PolicyStatus
    status_zh: str
    status_en: str
    date: str | None = Field(default=None, pattern=PARTIAL_DATE_PATTERN)
    summary_zh: str
    summary_en: str
    # Key dates, only where a source states them.
    comment_deadline: str | None = Field(default=None, pattern=PARTIAL_DATE_PATTERN)
    effective_date: str | None = Field(default=None, pattern=PARTIAL_DATE_PATTERN)
    target_year: int | None = Field(default=None, ge=1990, le=2100)


class InsightsFile(Strict):
    insights: list[Insight]


class MetricsFile(Strict):
    metrics: list[Metric]


class PoliciesFile(Strict):
    policies: list[PolicyItem]


class TopicsFile(Strict):
    topics: list[Topic]


class GlossaryFile(Strict):
    glossary: list[GlossaryTerm]
