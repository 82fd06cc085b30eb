"""The order of fresh digests: workspaces in turn."""

from __future__ import annotations

import datetime as dt

from bot.digest.due import Due, round_robin

AT = dt.datetime(2027, 3, 1, 1, 0, tzinfo=dt.UTC)


def test_workspaces_take_turns() -> None:
    due = [Due(pk, team, "2027-W09", AT) for pk, team in [(1, "T1"), (2, "T1"), (3, "T1"), (4, "T2"), (5, "T3")]]
    assert [d.channel_pk for d in round_robin(due)] == [1, 4, 5, 2, 3]
