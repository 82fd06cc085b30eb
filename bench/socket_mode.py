"""Socket Mode benchmark over the local Socket Mode server (tests/slack/socket_server.py), real WebSockets on
127.0.0.1: the acknowledgement latency of /insights in steady state and of the first command after Slack's routine
`refresh_requested`, the time to a new connection after an abrupt close, and how many of four envelopes Slack would
see acknowledged (a command, an unknown event, an unknown button, a listener that raises). Our handler
(bot.slack.socket, websocket-client) against Bolt's stock built-in handler in the same run; writes
bench/results/socket_mode.json. Target (issue 11): first command after a refresh acknowledged in < 1 s.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt.adapter.socket_mode.builtin import SocketModeHandler as BuiltinHandler

from bot import PROJECT_ROOT
from bot.catalog.loader import load_bundle, read_bundle
from bot.services import create_services
from bot.slack.app import create_app
from bot.slack.socket import socket_mode_handler
from bot.store import db
from tests.slack.fake_slack import FakeSlack
from tests.slack.requests import block_actions_body, command_body, event_body
from tests.slack.socket_server import APP_TOKEN, SocketModeServer

TOKEN = "xoxb-test-T1"
STEADY = int(os.environ.get("BENCH_SOCKET_COMMANDS", "200"))
REFRESHES = int(os.environ.get("BENCH_SOCKET_REFRESHES", "6"))
QUERIES = ["help", "直播销售额", "livestream sales", "list", "3", "metric compute"]
RESULTS = PROJECT_ROOT / "bench" / "results"


def _command(fake: FakeSlack, text: str) -> dict[str, Any]:
    return dict(parse_qsl(command_body(text, response_url=fake.response_url()).decode()))


def _raising() -> None:
    raise RuntimeError("a listener that fails")


def _acked_of_four(server: SocketModeServer, fake: FakeSlack) -> int:
    """Envelopes that Slack would see acknowledged within 3 s, of four that Bolt answers 200, 404, 404 and 500."""
    action = json.loads(dict(parse_qsl(block_actions_body("no_such_button", "x").decode()))["payload"])
    unknown = {"type": "reaction_added", "user": "U1", "reaction": "+1", "event_ts": f"{time.time():.6f}"}
    joined = {"type": "member_joined_channel", "user": "U2", "channel": "C1", "event_ts": f"{time.time():.6f}"}
    sent = [
        server.send("slash_commands", _command(fake, "help")),
        server.send("events_api", json.loads(event_body(unknown))),
        server.send("interactive", action),
        server.send("events_api", json.loads(event_body(joined))),
    ]
    time.sleep(3.0)
    return sum(1 for envelope_id in sent if server.acks_of(envelope_id))


def _measure(name: str, start: Callable[[], Any], server: SocketModeServer, fake: FakeSlack) -> dict[str, Any]:
    handler = start()
    try:
        current = server.wait_connection(timeout=10)
        steady = []
        for i in range(STEADY):
            envelope_id = server.send("slash_commands", _command(fake, QUERIES[i % len(QUERIES)]), connection=current)
            steady.append(server.latency(envelope_id, timeout=10) * 1000)
        acked = _acked_of_four(server, fake)
        after_refresh, reconnect = [], []
        for _ in range(REFRESHES):
            refreshed = time.monotonic()
            old = server.refresh(current)
            current = server.wait_connection(after=old.number, timeout=15)
            reconnect.append((time.monotonic() - refreshed) * 1000)
            envelope_id = server.send("slash_commands", _command(fake, "help"), connection=current)
            after_refresh.append(server.latency(envelope_id, timeout=15) * 1000)
        dropped = time.monotonic()
        old = server.drop(current)
        try:
            current = server.wait_connection(after=old.number, timeout=15)
            after_drop: float | None = (time.monotonic() - dropped) * 1000
        except TimeoutError:
            after_drop = None
    finally:
        handler.close()
    steady.sort()
    return {
        "client": name,
        "steady_p50_ms": round(statistics.median(steady), 1),
        "steady_p99_ms": round(steady[int(len(steady) * 0.99) - 1], 1),
        "after_refresh_ms": [round(v, 1) for v in after_refresh],
        "refresh_to_new_connection_ms": [round(v, 1) for v in reconnect],
        "abrupt_close_to_new_connection_ms": None if after_drop is None else round(after_drop, 1),
        "acked_of_4": acked,
    }


def main() -> None:
    logging.basicConfig(level=logging.CRITICAL)  # the clients log every dropped socket; the table says enough
    logging.getLogger("websocket").setLevel(logging.CRITICAL)
    report: dict[str, Any] = {"commands": STEADY, "refreshes": REFRESHES, "runs": []}
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as fake:
        services = create_services(
            database_url=f"sqlite:///{Path(tmp) / 'bench.db'}",
            data_dir=PROJECT_ROOT / "data",
            slack_bot_token=TOKEN,
            slack_app_token=APP_TOKEN,
            slack_api_url=fake.api_url,
        )
        db.upgrade(services.engine)
        with services.session_factory.begin() as session:
            load_bundle(session, read_bundle(PROJECT_ROOT / "data"))
        app = create_app(services, socket_mode=True)
        app.event("member_joined_channel")(_raising)  # a listener that fails before it acknowledges

        def ours() -> Any:
            handler = socket_mode_handler(services, app)
            handler.connect()
            return handler

        def builtin() -> Any:
            handler = BuiltinHandler(app, APP_TOKEN)
            handler.connect()
            return handler

        for name, start in (("built-in (before)", builtin), ("websocket-client (ours)", ours)):
            with SocketModeServer(fake) as server:
                report["runs"].append(_measure(name, start, server, fake))
        services.close()
    print_table(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "socket_mode.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print("written to bench/results/socket_mode.json")


def print_table(report: dict[str, Any]) -> None:
    print(
        f"\n/insights over Socket Mode (local server): {report['commands']} commands, {report['refreshes']} refreshes"
    )
    print(f"{'client':<26}{'p50 ms':>8}{'p99 ms':>8}{'after refresh ms (max)':>24}{'drop->conn ms':>15}{'acked':>7}")
    for run in report["runs"]:
        drop = run["abrupt_close_to_new_connection_ms"]
        print(
            f"{run['client']:<26}{run['steady_p50_ms']:>8}{run['steady_p99_ms']:>8}"
            f"{statistics.median(run['after_refresh_ms']):>15.1f} ({max(run['after_refresh_ms']):.0f})"
            f"{'> 15000' if drop is None else f'{drop:.0f}':>15}{run['acked_of_4']:>5}/4"
        )


if __name__ == "__main__":
    main()
