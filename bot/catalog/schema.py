"""The format of the bundled data files (see data/README.md), validated with pydantic.

A bundle is a directory holding some of: report.yaml, topics.yaml, glossary.yaml, insights.yaml, metrics.yaml,
policies.yaml. Every item has a stable id that subscriptions, history and follows refer to.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

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


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class ReportFile(Strict):
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
    slug: str = Field(pattern=TOPIC_SLUG_PATTERN)
    name_zh: str
    name_en: str
    insight: int | None = Field(default=None, ge=1, le=10)
    description_en: str | None = None


class GlossaryTerm(Strict):
    en: str
    zh: list[str] = Field(min_length=1)

    @field_validator("en")
    @classmethod
    def _lower(cls, value: str) -> str:
        return re.sub(r"\s+", " ", value.lower())


class Insight(Strict):
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
    label_zh: str
    label_en: str
    value: Decimal
    unit_zh: str = ""
    unit_en: str = ""
    # When the English figure is scaled differently (7300万 -> 73 million).
    value_en: Decimal | None = None
    qualifier: Qualifier | None = None
    # A wording that reads better than value + unit ("全球第二" / "2nd in the world").
    display_zh: str | None = None
    display_en: str | None = None
    measures_zh: str
    measures_en: str
    period_zh: str
    period_en: str


class PolicyItem(Item):
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
