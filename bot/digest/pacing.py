"""Pacing posts per workspace, shared by the runner's posting threads."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable


class TeamPacer:
    """At most `per_second` posts a second for each workspace (Slack's unpublished workspace-wide limit)."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / per_second
        self.clock = clock
        self._next: dict[str, float] = defaultdict(float)
        self._lock = threading.Lock()

    def wait(self, team_id: str) -> None:
        with self._lock:
            now = self.clock()
            slot = max(now, self._next[team_id])
            self._next[team_id] = slot + self.interval
        if slot > now:
            time.sleep(slot - now)

    def hold(self, team_id: str, seconds: float) -> None:
        """Slack said 429 with Retry-After: nothing more for this workspace until then."""
        with self._lock:
            self._next[team_id] = max(self._next[team_id], self.clock() + seconds)
