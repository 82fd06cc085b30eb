"""The kinds of item the report is made of. A StrEnum, so a Kind is also the string stored in the database."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    METRIC = "metric"
    POLICY = "policy"
    INSIGHT = "insight"


# The kinds that carry figures or statuses, and so have history, follows and digests.
TRACKED: tuple[Kind, ...] = (Kind.METRIC, Kind.POLICY)
