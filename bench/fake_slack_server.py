"""The Slack stand-in in processes of its own, for the digest benchmark (so it does not share the clocks' CPU, and
one Python HTTP server is not the bottleneck of a run that Slack itself would serve at 1,000 posts a second).

Serves until SIGTERM, then writes {channel: digest messages} to the path given, and exits."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time

from tests.slack.fake_slack import FakeSlack


def main() -> None:
    teams, channels_per_team, per_team, per_channel, stats, shard, shards = (
        int(sys.argv[1]),
        int(sys.argv[2]),
        float(sys.argv[3]),
        float(sys.argv[4]),
        sys.argv[5],
        int(sys.argv[6]),
        int(sys.argv[7]),
    )
    fake = FakeSlack().start()
    # This process plays Slack for every shards-th workspace: limits are per workspace and channel, so
    # workspaces split across processes keep their limits exactly.
    for t in range(shard, teams, shards):
        fake.add_token(f"xoxb-bench-T{t:02d}", team_id=f"T{t:02d}")
        for c in range(channels_per_team):
            fake.add_channel(f"C{t:02d}{c:04d}")
    fake.rate_limit("chat.postMessage", per_channel_per_second=per_channel, per_team_per_second=per_team)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print(fake.api_url, flush=True)
    done.wait()
    counts = {
        channel: sum(1 for m in messages if (m.get("metadata") or {}).get("event_type"))
        for channel, messages in fake.messages.items()
    }
    with open(stats, "w") as out:
        json.dump(
            {"digests": counts, "calls": len(fake.calls_to("chat.postMessage")), "cpu_s": time.process_time()}, out
        )
    fake.stop()


if __name__ == "__main__":
    main()
