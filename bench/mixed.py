"""Mixed digest benchmark (issue 13): one tick of one clock posting to Slack, Feishu and DingTalk channels at once,
through the same runner, claims and Posters as production, against the three stand-ins (each enforcing its
platform's published limits: Slack 1 post a second per channel and 20 a second per workspace; Feishu 50 messages a
second per app and 5 per chat; DingTalk 20 calls a second per app and 20 messages a minute per group).

Reports the wall time against the floor those limits allow (the platforms post side by side, so the floor is the
slowest platform's), CPU milliseconds per digest, and duplicates and lost digests per platform (targets 0 and 0);
a second tick at the same moment must post nothing. Writes bench/results/mixed.json.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bot import PROJECT_ROOT
from bot.catalog.loader import load_bundle, read_bundle
from bot.platforms import runner
from bot.services import create_services
from bot.store import db
from bot.store.models import Channel, Subscription
from tests.dingtalk.fake_dingtalk import FakeDingTalk, Group
from tests.lark.fake_lark import OWNER, Chat, FakeLark
from tests.slack.fake_slack import FakeSlack

PER_PLATFORM = int(os.environ.get("BENCH_MIXED_CHANNELS", "200"))  # channels on each platform
RESULTS = PROJECT_ROOT / "bench" / "results"
DUE = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)  # Monday 09:00 Asia/Shanghai
SLACK_TOKEN = "xoxb-bench-mixed"


def floors() -> dict[str, float]:
    """Seconds each platform's published limits allow for its share of one tick (one digest per channel)."""
    return {
        "slack": PER_PLATFORM / 20,  # 20 a second per workspace (one workspace, one bot token)
        "lark": PER_PLATFORM / 50,  # 50 a second per app (5 per chat is not reached: one message per chat)
        "dingtalk": PER_PLATFORM / 20,  # 20 calls a second per app and API (20 a minute per group: one each)
    }


def populate(services: Any, slack: FakeSlack, lark: FakeLark, dingtalk: FakeDingTalk) -> dict[str, list[str]]:
    """Channels of the three platforms as `subscribe` leaves them; returns platform -> channel ids."""
    with services.engine.connect() as connection:
        newest = connection.exec_driver_sql("SELECT max(id) FROM events").scalar() or 0
    ids: dict[str, list[tuple[str, str]]] = {
        "slack": [("T0", f"C{i:05d}") for i in range(PER_PLATFORM)],
        "lark": [(f"lark:{lark.tenant_key}", f"oc_bench{i:027d}") for i in range(PER_PLATFORM)],
        "dingtalk": [(f"dingtalk:{dingtalk.corp_id}", f"cidBench{i:08d}==") for i in range(PER_PLATFORM)],
    }
    for _, channel in ids["slack"]:
        slack.add_channel(channel)
    for _, chat in ids["lark"]:
        lark.chats[chat] = Chat(OWNER, [], {OWNER})
    for _, group in ids["dingtalk"]:
        dingtalk.groups[group] = Group("bench")
    channels, subscriptions, pk = [], [], 0
    for pairs in ids.values():
        for team, channel in pairs:
            pk += 1
            channels.append(
                {
                    "id": pk,
                    "team_id": team,
                    "channel_id": channel,
                    "workspace": team,
                    "set_up_by": "U1",
                    "last_event_id": newest,
                    "lang": "zh" if pk % 2 else "en",
                    "created_at": DUE - dt.timedelta(days=7),
                }
            )
            subscriptions.append({"channel_pk": pk, "kind": "topic", "value": "compute", "added_by": "U1"})
    with services.session_factory.begin() as session:
        session.execute(insert(Channel), channels)
        session.execute(insert(Subscription), subscriptions)
    return {platform: [channel for _, channel in pairs] for platform, pairs in ids.items()}


def counts(posted: list[str], expected: list[str]) -> dict[str, int]:
    seen: dict[str, int] = {}
    for channel in posted:
        seen[channel] = seen.get(channel, 0) + 1
    return {
        "posted": sum(seen.values()),
        "duplicates": sum(n - 1 for n in seen.values() if n > 1),
        "lost": sum(1 for channel in expected if channel not in seen),
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as slack, FakeLark() as lark, FakeDingTalk() as dingtalk:
        slack.add_token(SLACK_TOKEN, team_id="T0")
        services = create_services(
            database_url=f"sqlite:///{Path(tmp) / 'mixed.db'}",
            slack_bot_token=SLACK_TOKEN,
            slack_api_url=slack.api_url,
            feishu_app_id=lark.app_id,
            feishu_app_secret=lark.app_secret,
            feishu_domain=lark.url,
            dingtalk_client_id=dingtalk.client_id,
            dingtalk_client_secret=dingtalk.client_secret,
            dingtalk_api_url=dingtalk.api_url,
        )
        db.upgrade(services.engine)
        with services.session_factory.begin() as session:
            load_bundle(session, read_bundle(PROJECT_ROOT / "data"))
        expected = populate(services, slack, lark, dingtalk)
        clock = runner(services)
        cpu, started = time.process_time(), time.monotonic()
        report = clock.run_due(DUE)
        wall, cpu = time.monotonic() - started, time.process_time() - cpu
        # The same moment again (a second clock, a restart): everything is claimed and posted, nothing is due.
        again = clock.run_due(DUE)
        posted = {
            "slack": [call.params["channel"] for call in slack.calls_to("chat.postMessage")],
            "lark": [sent.chat_id for sent in lark.sent],
            "dingtalk": [sent.conversation for sent in dingtalk.messages("group")],
        }
        services.close()
    total = sum(len(channels) for channels in expected.values())
    floor = max(floors().values())
    result: dict[str, Any] = {
        "channels": {platform: len(channels) for platform, channels in expected.items()},
        "outcomes": dict(report.outcomes),
        "second_tick": dict(again.outcomes),
        "platforms": {platform: counts(posted[platform], expected[platform]) for platform in expected},
        "wall_s": wall,
        "floor_s": floor,
        "floors_s": floors(),
        "ratio": wall / floor,
        "cpu_ms_per_digest": 1000 * cpu / total,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "mixed.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print_report(result)


def print_report(r: dict[str, Any]) -> None:
    print(f"\nmixed digest run: {r['channels']} channels in one tick")
    for platform, c in r["platforms"].items():
        print(
            f"  {platform:<9} posted {c['posted']:>5}  duplicates {c['duplicates']} (target 0)  lost {c['lost']} "
            f"(target 0)  floor {r['floors_s'][platform]:.1f} s"
        )
    print(
        f"  wall {r['wall_s']:.1f} s against a floor of {r['floor_s']:.1f} s: {r['ratio']:.2f}x; "
        f"CPU {r['cpu_ms_per_digest']:.2f} ms per digest; peak RSS {r['peak_rss_mb']:.0f} MB"
    )
    print(f"  second tick at the same moment: {r['second_tick'] or 'nothing due'} (target: nothing posted)")


if __name__ == "__main__":
    main()
