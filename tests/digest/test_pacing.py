"""The pace per workspace, on a clock the test moves."""

from __future__ import annotations

import pytest

from bot.digest import pacing
from bot.digest.pacing import TeamPacer


def test_each_workspace_is_paced_on_its_own_and_a_hold_pushes_its_next_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(pacing.time, "sleep", sleep)
    pacer = TeamPacer(4, clock=lambda: now[0])
    for _ in range(3):
        pacer.wait("T1")
    pacer.wait("T2")  # another workspace does not wait for T1's
    assert slept == [0.25, 0.25]
    pacer.hold("T1", 5)  # Slack said Retry-After: 5
    pacer.wait("T1")
    assert slept[-1] == 5
