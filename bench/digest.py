"""Digest benchmark: one weekly run to 10,000 subscribed channels across 50 workspaces, against the Slack stand-in
(in its own process) enforcing 1 message per second per channel and 20 per second per workspace.

Reports the wall time against the floor those limits allow (target within 1.2x), CPU milliseconds per digest,
peak RSS (target under 200 MB), and the counts of duplicate and lost digests (target 0 and 0); a second run at the
same moment must post nothing. Writes bench/results/digest.json.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bot import PROJECT_ROOT
from bot.catalog.loader import load_bundle, read_bundle
from bot.digest.pacing import TeamPacer
from bot.digest.runner import Runner
from bot.services import create_services
from bot.slack.client import web_client
from bot.slack.poster import SlackPoster
from bot.store import db
from bot.store.models import Channel, Subscription

TEAMS = int(os.environ.get("BENCH_TEAMS", "50"))
CLOCKS = int(os.environ.get("BENCH_CLOCKS", "2"))  # clock processes, each with its share (CLOCK_SHARD) of workspaces
FAKES = int(os.environ.get("BENCH_FAKES", "2"))  # Slack stand-in processes, each serving a share of workspaces
CHANNELS_PER_TEAM = int(os.environ.get("BENCH_CHANNELS_PER_TEAM", "200"))
PER_TEAM = float(os.environ.get("BENCH_PER_TEAM", "20"))
PER_CHANNEL = 1.0
# The report's topics: the ten insights and the cross-cutting ones (read from data/, as the bot does).
TOPICS = [topic.slug for topic in read_bundle(PROJECT_ROOT / "data").topics]
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
            channels.append(
                {
                    "id": pk,
                    "team_id": f"T{t:02d}",
                    "channel_id": f"C{t:02d}{c:04d}",
                    "set_up_by": "U1",
                    "created_at": DUE - dt.timedelta(days=3),
                    "lang": rng.choice(["en", "zh", "both"]),
                    "last_event_id": newest,
                }
            )
            for topic in rng.sample(TOPICS, rng.randint(1, 3)):
                subscriptions.append({"channel_pk": pk, "kind": "topic", "value": topic, "added_by": "U1"})
    with services.engine.begin() as connection:
        connection.execute(insert(Channel), channels)
        connection.execute(insert(Subscription), subscriptions)


def clock_process(url: str, api_urls: dict[str, str], shard: tuple[int, int], at: dt.datetime, out: Any) -> None:
    services = create_services(database_url=url)
    clients = {
        team: web_client(
            replace(services, settings=services.settings.model_copy(update={"slack_api_url": api})),
            f"xoxb-bench-{team}",
        )
        for team, api in api_urls.items()
    }
    runner = Runner(
        services.session_factory,
        services.renderer,
        SlackPoster(clients.__getitem__),
        f"bench-clock-{shard[0]}",
        TeamPacer(PER_TEAM),
        workers=TEAMS,
        shard=shard,
    )
    start, cpu = time.time(), time.process_time()
    outcomes = dict(runner.run_due(at).outcomes)
    # This process's own figures (a parent's RUSAGE_CHILDREN would mix in every other child it ever had).
    out.put(
        (
            outcomes,
            start,
            time.time(),
            time.process_time() - cpu,
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        )
    )


def run_clocks(url: str, api_urls: dict[str, str], at: dt.datetime) -> tuple[dict[str, int], float, float, float]:
    """CLOCKS processes, as `bot clock` with CLOCK_SHARD=i/n would run: their outcomes added up, and the run's wall
    time from the first clock's start to the last one's end (a clock is a long-lived process: its start-up, a
    second or so of imports, is not part of a weekly run)."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    processes = [
        context.Process(target=clock_process, args=(url, api_urls, (i, CLOCKS), at, results)) for i in range(CLOCKS)
    ]
    for process in processes:
        process.start()
    totals: dict[str, int] = {}
    starts, ends, cpu, rss = [], [], 0.0, 0.0
    for _ in processes:
        outcomes, start, end, used, peak = results.get(timeout=600)
        starts.append(start)
        ends.append(end)
        cpu, rss = cpu + used, max(rss, peak)
        for outcome, count in outcomes.items():
            totals[outcome] = totals.get(outcome, 0) + count
    for process in processes:
        process.join(60)
    return totals, max(ends) - min(starts), cpu, rss


def main() -> None:
    report: dict[str, Any] = {"teams": TEAMS, "channels": TEAMS * CHANNELS_PER_TEAM, "per_team_per_second": PER_TEAM}
    with tempfile.TemporaryDirectory() as tmp:
        fakes = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.fake_slack_server",
                    str(TEAMS),
                    str(CHANNELS_PER_TEAM),
                    str(PER_TEAM),
                    str(PER_CHANNEL),
                    f"{tmp}/stats-{i}.json",
                    str(i),
                    str(FAKES),
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            for i in range(FAKES)
        ]
        try:
            urls = [fake.stdout.readline().strip() for fake in fakes]  # type: ignore[union-attr]
            api_urls = {f"T{t:02d}": urls[t % FAKES] for t in range(TEAMS)}
            services = create_services(database_url=f"sqlite:///{tmp}/digest.db")
            db.upgrade(services.engine)
            with services.session_factory.begin() as session:
                load_bundle(session, read_bundle(PROJECT_ROOT / "data"))
            populate(services)
            url = services.settings.database_url
            services.close()
            first, report["wall_s"], cpu, report["peak_rss_mb"] = run_clocks(url, api_urls, DUE)
            report["cpu_ms_per_digest"] = cpu * 1000 / max(1, report["channels"])
            report["clocks"], report["stand_ins"] = CLOCKS, FAKES
            second, *_ = run_clocks(url, api_urls, DUE + dt.timedelta(minutes=1))
            report["first_run"], report["second_run"] = first, second
        finally:
            for fake in fakes:
                fake.send_signal(signal.SIGTERM)
            for fake in fakes:
                fake.wait(60)
        counts: dict[str, Any] = {"digests": {}, "calls": 0, "cpu_s": 0.0}
        for i in range(FAKES):
            part = json.loads(Path(f"{tmp}/stats-{i}.json").read_text())
            counts["digests"].update(part["digests"])
            counts["calls"] += part["calls"]
            counts["cpu_s"] += part["cpu_s"]
    digests = counts["digests"]
    expected = [f"C{t:02d}{c:04d}" for t in range(TEAMS) for c in range(CHANNELS_PER_TEAM)]
    report["duplicates"] = sum(max(0, digests.get(ch, 0) - 1) for ch in expected)
    report["lost"] = sum(1 for ch in expected if digests.get(ch, 0) == 0)
    report["post_calls"] = counts["calls"]
    report["stand_in_cpu_s"] = counts["cpu_s"]  # on the same two cores as the clocks, for both runs
    report["floor_s"] = CHANNELS_PER_TEAM / PER_TEAM  # the workspaces post side by side, each at its limit
    report["ratio"] = report["wall_s"] / report["floor_s"]
    print_report(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "digest.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print("written to bench/results/digest.json")


def print_report(r: dict[str, Any]) -> None:
    print(
        f"\nweekly digest to {r['channels']:,} channels in {r['teams']} workspaces "
        f"(limits: 1/s per channel, {r['per_team_per_second']:.0f}/s per workspace)"
    )
    print(
        f"wall {r['wall_s']:.1f} s against a floor of {r['floor_s']:.1f} s: {r['ratio']:.2f}x (target <= 1.2): "
        f"{'ok' if r['ratio'] <= 1.2 else 'MISSED'}"
    )
    print(
        f"{r['clocks']} clock processes; CPU {r['cpu_ms_per_digest']:.2f} ms per digest; "
        f"peak RSS per process {r['peak_rss_mb']:.0f} MB (target < 200): "
        f"{'ok' if r['peak_rss_mb'] < 200 else 'MISSED'}"
    )
    print(
        f"duplicates {r['duplicates']}, lost {r['lost']} (target 0 and 0): "
        f"{'ok' if r['duplicates'] == 0 and r['lost'] == 0 else 'MISSED'}; "
        f"first run {r['first_run']}, second run {r['second_run'] or 'nothing'}; chat.postMessage calls "
        f"{r['post_calls']}; the stand-in's own CPU {r['stand_in_cpu_s']:.1f} s"
    )
