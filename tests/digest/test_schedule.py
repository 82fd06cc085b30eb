import datetime as dt

import pytest

from bot.digest.schedule import Schedule, ScheduleError, parse_schedule

UTC = dt.UTC


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("weekly monday 09:00", Schedule("weekly", 0, dt.time(9, 0), "Asia/Shanghai")),
        ("weekly Fri 17:30 Europe/Berlin", Schedule("weekly", 4, dt.time(17, 30), "Europe/Berlin")),
        ("daily 7:05 america/new_york", Schedule("daily", 0, dt.time(7, 5), "America/New_York")),
        ("每周 周三 08:00", Schedule("weekly", 2, dt.time(8, 0), "Asia/Shanghai")),
        ("每天 21:00 UTC", Schedule("daily", 0, dt.time(21, 0), "UTC")),
        ("off", Schedule("off")),
    ],
)
def test_parse(text: str, expected: Schedule) -> None:
    assert parse_schedule(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hourly 09:00",
        "weekly 09:00",
        "weekly funday 09:00",
        "daily 25:00",
        "daily 9am",
        "daily 09:00 Mars/Base",
        "weekly mon 09:00 UTC extra",
        "off now",
    ],
)
def test_parse_errors_say_what_is_wrong(text: str) -> None:
    with pytest.raises(ScheduleError):
        parse_schedule(text)


def test_weekly_period_and_instants_in_the_channel_zone() -> None:
    schedule = parse_schedule("weekly monday 09:00")  # Asia/Shanghai, UTC+8
    assert schedule.latest_due(at(2026, 11, 30, 0, 59)) == ("2026-W48", at(2026, 11, 23, 1, 0))
    assert schedule.latest_due(at(2026, 11, 30, 1, 0)) == ("2026-W49", at(2026, 11, 30, 1, 0))
    assert schedule.next_due(at(2026, 11, 30, 1, 0)) == ("2026-W50", at(2026, 12, 7, 1, 0))
    assert parse_schedule("off").latest_due(at(2026, 11, 30)) is None


def test_a_time_in_the_spring_gap_is_due_just_after_the_jump() -> None:
    # New York, 2026-03-08: 02:00 EST becomes 03:00 EDT, so 02:30 does not exist that day.
    schedule = parse_schedule("weekly sunday 02:30 America/New_York")
    key, instant = schedule.latest_due(at(2026, 3, 8, 12))
    assert key == "2026-W10" and instant == at(2026, 3, 8, 7, 30)  # 03:30 EDT
    assert instant.astimezone(schedule.tz).strftime("%H:%M %Z") == "03:30 EDT"


def test_a_time_in_the_repeated_hour_is_due_at_its_first_occurrence_only() -> None:
    # New York, 2026-11-01: 02:00 EDT falls back to 01:00 EST, so 01:30 happens twice.
    schedule = parse_schedule("weekly sunday 01:30 America/New_York")
    first = at(2026, 11, 1, 5, 30)  # 01:30 EDT
    assert schedule.latest_due(at(2026, 11, 1, 6, 45)) == ("2026-W44", first)  # after the second 01:30: same
    assert schedule.next_due(first) == ("2026-W45", at(2026, 11, 8, 6, 30))  # 01:30 EST a week later


@pytest.mark.parametrize(
    "text",
    [
        "weekly sunday 02:30 America/New_York",
        "weekly sunday 01:30 America/New_York",
        "daily 02:30 Europe/London",
        "daily 01:30 Europe/London",
        "weekly monday 09:00",
        "daily 00:00 Australia/Lord_Howe",  # a half-hour daylight saving shift
    ],
)
@pytest.mark.parametrize("start", [at(2026, 2, 20), at(2026, 10, 2)], ids=["spring", "autumn"])
def test_time_travel_every_period_due_exactly_once(text: str, start: dt.datetime) -> None:
    """Ticks every 5 minutes for 8 weeks across a DST change; a claim per period key, as delivery makes it."""
    schedule = parse_schedule(text)
    claimed: dict[str, dt.datetime] = {}
    tick = start
    while tick < start + dt.timedelta(weeks=8):
        due = schedule.latest_due(tick)
        if due and due[0] not in claimed and due[1] > start:
            claimed[due[0]] = tick
            assert dt.timedelta(0) <= tick - due[1] < dt.timedelta(minutes=5)  # posted at its time, not later
        tick += dt.timedelta(minutes=5)
    assert len(claimed) == (8 if schedule.kind == "weekly" else 56)
