"""A clock killed with SIGKILL at random points of a run, then restarted: every channel gets its digest once."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, update

from bot.services import Services
from bot.store.models import Channel, Digest
from tests.conftest import MINI
from tests.digest.conftest import say
from tests.digest.test_runner import digests_in
from tests.slack.conftest import BOT_TOKEN, SECRET, make_services
from tests.slack.fake_slack import FakeSlack

CHANNELS = [f"C{i:03d}" for i in range(40)]


def run_clock(
    db: Path, fake: FakeSlack, at: dt.datetime, kill_after: float | None
) -> subprocess.CompletedProcess[str] | None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SLACK_")}
    env.update(
        DATABASE_URL=f"sqlite:///{db}",
        DATA_DIR=str(MINI),
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=fake.api_url,
        NO_PROXY="127.0.0.1",
    )
    command = [sys.executable, "-m", "bot", "digest", "run", "--at", at.isoformat()]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if kill_after is None:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        return subprocess.CompletedProcess(command, 0, out, err)
    time.sleep(kill_after)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    return None


def expire_leases(db: Path) -> None:
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as connection:
        connection.execute(update(Digest).values(lease_until=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
    engine.dispose()


def test_a_killed_clock_restarted_posts_every_digest_exactly_once(tmp_path: Path) -> None:
    rng = random.Random(20231)
    db = tmp_path / "crash.db"
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
    with FakeSlack(ts_start=f"{int(time.time()) - 60}.000100") as fake:
        services: Services = make_services(f"sqlite:///{db}", fake, slack_bot_token=BOT_TOKEN)
        for channel in CHANNELS:
            fake.add_channel(channel)
            say(services, "subscribe consumption", channel=channel)
            say(services, f"schedule daily {(now - dt.timedelta(minutes=5)):%H:%M} UTC", channel=channel)
        with services.session_factory.begin() as session:
            session.execute(update(Channel).values(created_at=now - dt.timedelta(days=1)))
        services.close()
        fake.fail("chat.postMessage", delay=0.05, times=10_000)  # each post takes a moment: room to be killed
        at = now
        for round_ in range(3):
            run_clock(db, fake, at, kill_after=rng.uniform(1.2, 2.0))  # somewhere in the middle of the run
            if round_ == 0:
                posted = sum(len(digests_in(fake, channel)) for channel in CHANNELS)
                assert 0 < posted < len(CHANNELS), "the kill should interrupt the first run"
            expire_leases(db)  # the killed clock renews nothing: its leases run out, the next clock may take over
            at += dt.timedelta(minutes=11)
        for _ in range(5):  # then let clocks finish, a bounded number of times
            result = run_clock(db, fake, at, kill_after=None)
            at += dt.timedelta(minutes=11)
            if "posted" not in result.stdout and "recovered" not in result.stdout:
                break
        counts = {channel: len(digests_in(fake, channel)) for channel in CHANNELS}
        assert counts == dict.fromkeys(CHANNELS, 1)
