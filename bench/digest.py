"""Digest benchmark: one weekly run to 10,000 subscribed channels across 50 workspaces, against the Slack stand-in
(in its own process) enforcing 1 message per second per channel and 20 per second per workspace.

Reports the wall time against the floor those limits allow (target within 1.2x), CPU milliseconds per digest,
peak RSS (target under 200 MB), and the counts of duplicate and lost digests (target 0 and 0); a second run at the
same moment must post nothing. Writes bench/results/digest.json.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bot import PROJECT_ROOT
from bot.catalog.loader import load_bundle, read_bundle
from bot.digest.deliver import Runner, TeamPacer
from bot.services import create_services
from bot.slack.client import web_client
from bot.slack.poster import SlackPoster
from bot.store import db
from bot.store.models import Channel, Subscription

TEAMS = int(os.environ.get("BENCH_TEAMS", "50"))
CHANNELS_PER_TEAM = int(os.environ.get("BENCH_CHANNELS_PER_TEAM", "200"))
PER_TEAM = float(os.environ.get("BENCH_PER_TEAM", "20"))
PER_CHANNEL = 1.0
TOPICS = ["compute", "data", "industry", "transformation", "consumption", "government", "regional", "governance",
          "security", "opening", "ai", "ecommerce", "trade"]
RESULTS = PROJECT_ROOT / "bench" / "results"
DUE = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)  # Monday 09:00 Asia/Shanghai


def populate(services: Any) -> None:
    """Channels as `subscribe` leaves them: "what changed" starts at the newest event when they subscribed."""
    with services.engine.connect() as connection:
        newest = connection.exec_driver_sql("SELECT max(id) FROM events").scalar() or 0
    rng = random.Random(7)
    channels, subscriptions = [], []
    pk = 0
    for t in range(TEAMS):
        for c in range(CHANNELS_PER_TEAM):
            pk += 1
            channels.append({"id": pk, "team_id": f"T{t:02d}", "channel_id": f"C{t:02d}{c:04d}", "set_up_by": "U1",
                             "created_at": DUE - dt.timedelta(days=3), "lang": rng.choice(["en", "zh", "both"]),
                             "last_event_id": newest})
            for topic in rng.sample(TOPICS, rng.randint(1, 3)):
                subscriptions.append({"channel_pk": pk, "kind": "topic", "value": topic, "added_by": "U1"})
    with services.engine.begin() as connection:
        connection.execute(insert(Channel), channels)
        connection.execute(insert(Subscription), subscriptions)


def main() -> None:
    report: dict[str, Any] = {"teams": TEAMS, "channels": TEAMS * CHANNELS_PER_TEAM, "per_team_per_second": PER_TEAM}
    with tempfile.TemporaryDirectory() as tmp:
        stats = Path(tmp) / "stats.json"
        fake = subprocess.Popen(
            [sys.executable, "-m", "bench.fake_slack_server", str(TEAMS), str(CHANNELS_PER_TEAM), str(PER_TEAM),
             str(PER_CHANNEL), str(stats)],
            stdout=subprocess.PIPE, text=True,
        )
        try:
            api_url = fake.stdout.readline().strip()  # type: ignore[union-attr]
            services = create_services(database_url=f"sqlite:///{tmp}/digest.db", slack_api_url=api_url)
            db.upgrade(services.engine)
            with services.session_factory.begin() as session:
                load_bundle(session, read_bundle(PROJECT_ROOT / "data"))
            populate(services)
            clients = {f"T{t:02d}": web_client(services, f"xoxb-bench-T{t:02d}") for t in range(TEAMS)}
            runner = Runner(services.session_factory, services.renderer, SlackPoster(clients.__getitem__),
                            "bench-clock", TeamPacer(PER_TEAM), workers=TEAMS)
            cpu, wall = time.process_time(), time.perf_counter()
            first = runner.run_due(DUE)
            report["wall_s"] = time.perf_counter() - wall
            report["cpu_ms_per_digest"] = (time.process_time() - cpu) * 1000 / max(1, report["channels"])
            second = runner.run_due(DUE + dt.timedelta(minutes=1))
            report["first_run"], report["second_run"] = dict(first.outcomes), dict(second.outcomes)
            report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        finally:
            fake.send_signal(signal.SIGTERM)
            fake.wait(60)
        counts = json.loads(stats.read_text())
    digests = counts["digests"]
    expected = [f"C{t:02d}{c:04d}" for t in range(TEAMS) for c in range(CHANNELS_PER_TEAM)]
    report["duplicates"] = sum(max(0, digests.get(ch, 0) - 1) for ch in expected)
    report["lost"] = sum(1 for ch in expected if digests.get(ch, 0) == 0)
    report["post_calls"] = counts["calls"]
    report["floor_s"] = CHANNELS_PER_TEAM / PER_TEAM  # the workspaces post side by side, each at its limit
    report["ratio"] = report["wall_s"] / report["floor_s"]
    print_report(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "digest.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print("written to bench/results/digest.json")


def print_report(r: dict[str, Any]) -> None:
    print(f"\nweekly digest to {r['channels']:,} channels in {r['teams']} workspaces "
          f"(limits: 1/s per channel, {r['per_team_per_second']:.0f}/s per workspace)")
    print(f"wall {r['wall_s']:.1f} s against a floor of {r['floor_s']:.1f} s: {r['ratio']:.2f}x (target <= 1.2): "
          f"{'ok' if r['ratio'] <= 1.2 else 'MISSED'}")
    print(f"CPU {r['cpu_ms_per_digest']:.2f} ms per digest; peak RSS {r['peak_rss_mb']:.0f} MB (target < 200): "
          f"{'ok' if r['peak_rss_mb'] < 200 else 'MISSED'}")
    print(f"duplicates {r['duplicates']}, lost {r['lost']} (target 0 and 0): "
          f"{'ok' if r['duplicates'] == 0 and r['lost'] == 0 else 'MISSED'}; "
          f"first run {r['first_run']}, second run {r['second_run'] or 'nothing'}; chat.postMessage calls "
          f"{r['post_calls']}")
