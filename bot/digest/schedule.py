"""When a channel's digest is due, in the channel's own time zone, daylight saving included.

A schedule names a wall-clock time ("Monday 09:00 Asia/Shanghai"). Each occurrence belongs to a period with a key
that does not depend on the clock's offset: a weekly digest's ISO week ("2026-W48"), a daily digest's date
("2026-11-26"), both in the channel's zone. A delivery is claimed once per (channel, period key), so a period is
posted exactly once even when its wall-clock time happens twice (the autumn repeated hour) or never (the spring gap).

Rules at the transitions: a time that does not exist that day (02:30 when clocks jump from 02:00 to 03:00) is due
at the same offset past the jump (03:30); a time that exists twice is due at its first occurrence.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

Kind = Literal["weekly", "daily", "off"]
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAY_ALIASES = {
    **{name: i for i, name in enumerate(WEEKDAYS)},
    **{name[:3]: i for i, name in enumerate(WEEKDAYS)},
    **{f"周{c}": i for i, c in enumerate("一二三四五六日")},
    **{f"星期{c}": i for i, c in enumerate("一二三四五六日")},
    "周天": 6,
    "星期天": 6,
}
TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
DEFAULT_ZONE = "Asia/Shanghai"


class ScheduleError(ValueError):
    """A schedule that cannot be understood: `problem` names what was wrong (worded by templates/_notices.j2)."""

    def __init__(self, problem: str, zone: str = "") -> None:
        super().__init__(problem)
        self.problem, self.zone = problem, zone


@dataclass(frozen=True)
class Schedule:
    kind: Kind = "weekly"
    weekday: int = 0  # Monday; only for weekly
    at: dt.time = dt.time(9, 0)
    zone: str = DEFAULT_ZONE

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    def period_key(self, local_date: dt.date) -> str:
        if self.kind == "weekly":
            year, week, _ = local_date.isocalendar()
            return f"{year}-W{week:02d}"
        return local_date.isoformat()

    def occurrence(self, local_date: dt.date) -> dt.datetime:
        """The UTC instant of the occurrence on `local_date` (which must be a scheduled day)."""
        naive = dt.datetime.combine(local_date, self.at)
        first = naive.replace(tzinfo=self.tz, fold=0)
        # A wall time in a spring-forward gap does not survive a round trip through UTC: it comes back shifted
        # past the jump, which is the instant we want. A repeated time keeps fold=0, its first occurrence.
        return first.astimezone(dt.UTC)

    def latest_due(self, now: dt.datetime) -> tuple[str, dt.datetime] | None:
        """The most recent occurrence at or before `now` (aware), as (period key, UTC instant); None when off."""
        if self.kind == "off":
            return None
        local_today = now.astimezone(self.tz).date()
        # Look back far enough to find the previous occurrence whatever the weekday and offset changes.
        for days_back in range(0, 9):
            day = local_today - dt.timedelta(days=days_back)
            if self.kind == "weekly" and day.weekday() != self.weekday:
                continue
            instant = self.occurrence(day)
            if instant <= now:
                return self.period_key(day), instant
        return None

    def next_due(self, now: dt.datetime) -> tuple[str, dt.datetime] | None:
        """The first occurrence strictly after `now`; None when off."""
        if self.kind == "off":
            return None
        local_today = now.astimezone(self.tz).date()
        for days_ahead in range(0, 9):
            day = local_today + dt.timedelta(days=days_ahead)
            if self.kind == "weekly" and day.weekday() != self.weekday:
                continue
            instant = self.occurrence(day)
            if instant > now:
                return self.period_key(day), instant
        return None

    def spec(self) -> str:
        """The schedule as the `schedule` command writes it (the audit trail); people read templates/_schedule.j2."""
        if self.kind == "off":
            return "off"
        day = f" {WEEKDAYS[self.weekday]}" if self.kind == "weekly" else ""
        return f"{self.kind}{day} {self.at:%H:%M} {self.zone}"


def parse_schedule(text: str) -> Schedule:
    """`weekly DAY HH:MM [zone]`, `daily HH:MM [zone]` or `off`; the zone defaults to Asia/Shanghai."""
    words = text.split()
    if not words:
        raise ScheduleError("kind")
    kind, rest = words[0].lower(), words[1:]
    if kind in {"off", "关闭"} and not rest:
        return Schedule(kind="off")
    if kind in {"weekly", "每周"}:
        if not rest or rest[0].lower() not in WEEKDAY_ALIASES:
            raise ScheduleError("day")
        weekday, rest = WEEKDAY_ALIASES[rest[0].lower()], rest[1:]
    elif kind in {"daily", "每天"}:
        weekday = 0
    else:
        raise ScheduleError("kind")
    if not rest or not TIME.match(rest[0]):
        raise ScheduleError("time")
    hour, minute = (int(part) for part in rest[0].split(":"))
    zone = rest[1] if len(rest) > 1 else DEFAULT_ZONE
    if len(rest) > 2:
        raise ScheduleError("words")
    return Schedule(
        kind="weekly" if kind in {"weekly", "每周"} else "daily",
        weekday=weekday,
        at=dt.time(hour, minute),
        zone=valid_zone(zone),
    )


def valid_zone(name: str) -> str:
    """An IANA zone name, matched case-insensitively ("asia/shanghai" -> "Asia/Shanghai")."""
    try:
        ZoneInfo(name)
        if "/" in name or name == "UTC":
            return name
    except (ZoneInfoNotFoundError, ValueError):
        pass
    matches = [zone for zone in available_timezones() if zone.lower() == name.lower()]
    if matches:
        return matches[0]
    raise ScheduleError("zone", zone=name[:60])
