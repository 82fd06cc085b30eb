"""The real bot processes end-to-end tests start (`bot serve`, `bot digest run`), shared by every platform's tests."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(process: subprocess.Popen[bytes], base: str, log: Path, timeout: float) -> None:
    """Until `bot serve` at `base` answers /healthz; fails with its log if it exits or does not start in time."""
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "server did not start"
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)


def digest_run(env: dict[str, str], at: dt.datetime, *, timeout: float = 180, secrets: Iterable[str] = ()) -> str:
    """`bot digest run --at AT` (one tick of the clock, as of AT): its report, after checking that it succeeded
    without a traceback and that none of `secrets` reached its output."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", "digest", "run", "--at", at.isoformat()],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    for secret in secrets:
        assert secret not in done.stderr, done.stderr
    return done.stdout.strip()
