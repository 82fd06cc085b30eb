"""Serve benchmark: signed /insights requests against `bot serve` under concurrent load (wrk, 16 and 64
connections), compared in the same run with a bare Bolt app (handler only acks) under the same server (gunicorn's
arbiter, bot.slack.web's asyncio front as its workers).
Reports requests/s, p50/p99 latency and peak RSS per worker; writes bench/results/serve.json.
Targets (issue 4): p99 < 25 ms at 16 connections, throughput >= half the bare app's, RSS per worker < 150 MB.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot import PROJECT_ROOT
from tests.slack.fake_slack import FakeSlack
from tests.slack.requests import command_body, sign

SECRET = "bench-signing-secret"
TOKEN = "xoxb-test-T1"
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
DURATION = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = (16, 64)
QUERIES = ["直播销售额", "livestream sales", "list", "3", "metric compute", "数据", "policy 数据局", "help"]
RESULTS = PROJECT_ROOT / "bench" / "results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(command: list[str], env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(process.stderr.read().decode() if process.stderr else "server died") from None
                time.sleep(0.2)
        time.sleep(1.0)  # let every worker finish booting
        yield process
    finally:
        process.terminate()
        process.wait(20)


def lua_script(port: int) -> str:
    """wrk rotates through pre-signed requests (a signature stays valid for five minutes)."""
    requests = []
    for i, text in enumerate(QUERIES):
        body = command_body(text, user_id=f"U{i}", response_url=f"http://127.0.0.1:{port}/unused").decode()
        headers = {**sign(SECRET, body.encode()), "Content-Type": "application/x-www-form-urlencoded"}
        requests.append((body, headers))
    lines = ["local requests = {}"]
    for i, (body, headers) in enumerate(requests, start=1):
        header_table = ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items())
        lines.append(f'requests[{i}] = wrk.format("POST", "/slack/events", {{{header_table}}}, {json.dumps(body)})')
    lines += [
        "local i = 0",
        "request = function() i = i % #requests + 1; return requests[i] end",
        "done = function(summary, latency, requests)",
        '  io.write(string.format("JSON {\\"p50\\": %f, \\"p99\\": %f, \\"requests\\": %d, \\"errors\\": %d, '
        '\\"non2xx\\": %d}\\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.requests, '
        "summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, "
        "summary.errors.status))",
        "end",
    ]
    return "\n".join(lines)


def load(port: int, connections: int, seconds: int, script: Path) -> dict[str, Any]:
    out = subprocess.run(
        [
            "wrk",
            f"-t{min(connections, 4)}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    figures = json.loads(re.search(r"^JSON (.*)$", out, re.M).group(1))  # type: ignore[union-attr]
    figures["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return figures


def worker_rss_mb(master: int) -> list[float]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    peaks = []
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        peaks.append(int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024)  # type: ignore[union-attr]
    return peaks


def check_answer(port: int) -> None:
    """One request by hand first: the server must really answer, or the figures would mean nothing."""
    body = command_body("直播销售额", response_url="http://127.0.0.1/unused")
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/slack/events",
        data=body,
        method="POST",
        headers={**sign(SECRET, body), "Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        reply = response.read().decode()
    assert "1.27" in reply or "ok" in reply, reply[:200]


def bot_environment(fake: FakeSlack, tmp: str) -> dict[str, str]:
    """The environment of a `bot serve` talking to `fake`, its database under `tmp` migrated and loaded."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp}/bench.db",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_API_URL": fake.api_url,
        "LOG_LEVEL": "WARNING",
    }
    env.pop("SLACK_APP_TOKEN", None)
    subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "bot", "data", "load"], env=env, check=True, capture_output=True)
    return env


def main() -> None:
    if shutil.which("wrk") is None:
        print("wrk is not installed (make bench installs it); skipping the serve benchmark")
        return
    report: dict[str, Any] = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "workers": WORKERS, "seconds": DURATION}
    with FakeSlack() as fake, tempfile.TemporaryDirectory() as tmp:
        env = bot_environment(fake, tmp)
        bot = [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--workers", str(WORKERS), "--port"]
        # (command, extra environment): the bot as deployed (answers remembered per data version), the bot with
        # that cache off (every request answered from the database and rendered), and the bare Bolt app.
        targets = {
            "bot": (bot, {}),
            "bot-nocache": (bot, {"REPLY_CACHE_SIZE": "0"}),
            "bare": ([sys.executable, "-m", "bench.bare_app", "127.0.0.1"], {}),
        }
        for name, (command, extra) in targets.items():
            port = free_port()
            args = [*command, str(port)] + ([str(WORKERS)] if name == "bare" else [])
            script = Path(tmp) / f"{name}.lua"
            script.write_text(lua_script(port))
            with server(args, {**env, **extra}, port) as process:
                if name != "bare":
                    check_answer(port)
                load(port, 16, 2, script)  # warm-up
                report[name] = {str(c): load(port, c, DURATION, script) for c in CONNECTIONS}
                report[name]["rss_mb"] = worker_rss_mb(process.pid)
    print_table(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "serve.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print("written to bench/results/serve.json")


def print_table(report: dict[str, Any]) -> None:
    print(f"\n/insights over HTTP: bot serve, {report['workers']} workers, {report['seconds']} s per run")
    print(f"{'app':<12}{'conns':>6}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'non-2xx':>9}")
    for name in ("bot", "bot-nocache", "bare"):
        for c in CONNECTIONS:
            row = report[name][str(c)]
            print(
                f"{name:<6}{c:>6}{row['rps']:>9.0f}{row['p50']:>9.1f}{row['p99']:>9.1f}{row['errors']:>8}{row['non2xx']:>9}"
            )
    bare16 = report["bare"]["16"]
    for name in ("bot", "bot-nocache"):
        row = report[name]["16"]
        ratio = row["rps"] / bare16["rps"]
        rss = max(report[name]["rss_mb"])
        print(
            f"{name}: p99 at 16 connections {row['p99']:.1f} ms (target < 25): {'ok' if row['p99'] < 25 else 'MISSED'};"
            f" throughput {ratio:.2f}x the bare app's (target >= 0.5): {'ok' if ratio >= 0.5 else 'MISSED'};"
            f" peak RSS per worker {rss:.0f} MB (target < 150): {'ok' if rss < 150 else 'MISSED'}"
        )
    print(f"bare: peak RSS per worker {max(report['bare']['rss_mb']):.0f} MB")
