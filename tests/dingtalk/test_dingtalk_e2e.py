"""End to end through the real process: `python -m bot run` with DingTalk's credentials connects to the stand-in's
Stream and answers there; `python -m bot digest run --at ...` (the same environment) posts the scheduled digests
through the robot API: once each, a throttled one retried and posted once, a long one split in order within the
15,000-byte limit, and a group the robot was removed from paused, with whoever set it up told one to one."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bot.store.models import Channel, Digest
from tests.conftest import MINI
from tests.dingtalk.fake_dingtalk import (
    CLIENT_ID,
    CLIENT_SECRET,
    CORP_ID,
    DIRECT,
    GROUP,
    OTHER_GROUP,
    STAFF,
    FakeDingTalk,
    Group,
)
from tests.processes import digest_run

THIRD_GROUP = "cidGroupThree003=="
OTHER_PLATFORMS = ("SLACK_", "FEISHU_", "DINGTALK_", "WECOM_", "TOKEN_ENCRYPTION_KEYS", "CLOCK_SHARD", "BOT_ADMINS")


def environment(tmp_path: Path, fake: FakeDingTalk) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(OTHER_PLATFORMS) and "proxy" not in key.lower()
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}",
        DATA_DIR=str(MINI),
        DINGTALK_CLIENT_ID=CLIENT_ID,
        DINGTALK_CLIENT_SECRET=CLIENT_SECRET,
        DINGTALK_API_URL=fake.api_url,
        LOG_LEVEL="INFO",
        NO_PROXY="127.0.0.1",
    )
    return env


@contextmanager
def bot_run(tmp_path: Path, fake: FakeDingTalk) -> Iterator[dict[str, str]]:
    """`python -m bot run`, connected to the stand-in's Stream; stopped (and its log checked) afterwards."""
    env = environment(tmp_path, fake)
    log_path = tmp_path / "run.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while not [c for c in fake.connections if not c.closed]:
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "bot run did not connect to the Stream"
            time.sleep(0.1)
        yield env
        assert process.poll() is None, log_path.read_text()
    finally:
        process.terminate()
        process.wait(20)
    output = log_path.read_text()
    assert "Traceback" not in output and "Logging error" not in output, output
    assert CLIENT_SECRET not in output


def next_digest_time(now: dt.datetime) -> dt.datetime:
    """Just after the default schedule's next Monday 09:00 (Asia/Shanghai) at least a day ahead, so that the clock
    inside `bot run` finds nothing due meanwhile: only `digest run --at` posts."""
    local = (now + dt.timedelta(days=1)).astimezone(ZoneInfo("Asia/Shanghai"))
    monday = (local + dt.timedelta(days=(7 - local.weekday()) % 7)).replace(hour=9, minute=5, second=0, microsecond=0)
    return monday.astimezone(dt.UTC)


def webhook_texts(fake: FakeDingTalk, conversation: str, count: int, timeout: float = 20) -> list[str]:
    assert fake.wait_for(lambda: len(fake.messages("webhook", conversation)) >= count, timeout), (
        fake.messages("webhook", conversation),
        fake.refused,
    )
    return [sent.text for sent in fake.messages("webhook", conversation)]


def test_commands_in_a_group_one_to_one_and_through_a_button(tmp_path: Path) -> None:
    with FakeDingTalk() as fake, bot_run(tmp_path, fake):
        ack = fake.wait_ack(fake.say("直播销售额"), timeout=10)  # "@insights 直播销售额" in a group
        assert ack.code == 200
        (answer,) = webhook_texts(fake, GROUP, 1)
        assert "9.99万亿元" in answer and "直播销售额" in answer

        fake.say("list", conversation=DIRECT, direct=True)
        (listing,) = fake.wait_for(lambda: fake.messages("webhook", DIRECT), 20)
        assert listing.msg_key == "actionCard" and [title for title, _ in listing.buttons] == ["Insight 1", "Insight 2"]

        # The button's link makes the person's client send "show 1"; one to one, the robot receives it.
        assert fake.click(listing.buttons[0][1], conversation=DIRECT, direct=True)
        show = webhook_texts(fake, DIRECT, 2)[1]
        assert "A test insight on computing power" in show
        assert fake.messages("group") == [] and fake.messages("direct") == []  # every reply went by its webhook


def _note(fake: FakeDingTalk, item: str, n: int) -> None:
    before = len(fake.messages("webhook", DIRECT))
    fake.say(f"note {item} 第{n}条备注：" + "数字经济发展观察记录" * 17, conversation=DIRECT, direct=True)
    assert fake.wait_for(lambda: len(fake.messages("webhook", DIRECT)) > before, 20)


def test_subscriptions_and_scheduled_digests_exactly_once(tmp_path: Path) -> None:
    with FakeDingTalk() as fake, bot_run(tmp_path, fake) as env:
        fake.groups[THIRD_GROUP] = Group("第三个群")
        # Three groups subscribe, one after the other (the clock posts them in that order); the first wants both
        # languages, which with the notes below makes a long digest. The throttled group goes last: the runner
        # holds a whole workspace back for a throttled post's retry_after, here DingTalk's minute.
        fake.say("subscribe compute, consumption")
        fake.say("lang both")
        assert "Subscribed to" in webhook_texts(fake, GROUP, 2)[0]
        fake.say("subscribe consumption", conversation=THIRD_GROUP, sender="staff03")
        assert "Subscribed to" in webhook_texts(fake, THIRD_GROUP, 1)[0]
        fake.say("subscribe compute", conversation=OTHER_GROUP)
        assert "Subscribed to" in webhook_texts(fake, OTHER_GROUP, 1)[0]
        # People record notes one to one (their organisation's records): "What changed" in the digests.
        for item in ("test-compute-growth", "test-livestream-sales", "test-livestream-hosts", "test-data-bureau"):
            for n in range(4):
                _note(fake, item, n)
        fake.advance(61)  # DingTalk's minute windows start afresh

        engine = create_engine(env["DATABASE_URL"])
        with Session(engine) as session:
            channels = {c.channel_id: c for c in session.scalars(select(Channel))}
        assert {c.team_id for c in channels.values()} == {f"dingtalk:{CORP_ID}"}
        assert channels[THIRD_GROUP].set_up_by == "staff03" and channels[GROUP].set_up_by == STAFF

        fake.fill_window(OTHER_GROUP)  # 20 messages there in the last minute: the next is refused
        fake.groups[THIRD_GROUP].robot_in = False  # someone removed the robot from the third group
        at = next_digest_time(dt.datetime.now(dt.UTC))
        report = digest_run(env, at, secrets=[CLIENT_SECRET])
        assert "posted 1" in report and "retry 1" in report and "paused 1" in report, report

        # The long digest: two robot messages, in order, each within 15,000 bytes, the buttons on the last.
        parts = fake.messages("group", GROUP)
        assert len(parts) == 2
        params = [json.dumps(p.param, ensure_ascii=False) for p in parts]
        assert all(len(param.encode("utf-8")) <= 15_000 for param in params)
        assert parts[0].param["title"].endswith("(1/2)") and parts[1].text.startswith("(2/2)")
        assert "有什么变化" in parts[0].text and "What changed" in parts[1].text
        assert parts[0].msg_key == "sampleMarkdown" and parts[1].msg_key == "sampleActionCard3"
        assert "subscriptions" in parts[1].param["actionURL2"]

        # The throttled group: nothing posted yet; retried once its minute has passed, and posted once.
        assert fake.messages("group", OTHER_GROUP) == []
        assert ("/v1.0/robot/groupMessages/send", 400, "send.too.fast") in fake.refused

        # The group without the robot: paused, and the person who subscribed it told one to one.
        (told,) = fake.messages("direct", "staff03")
        assert THIRD_GROUP in told.text and "invalidParameter.robotCode.notExsit" in told.text
        with Session(engine) as session:
            paused = session.scalars(select(Channel).where(Channel.channel_id == THIRD_GROUP)).one()
            assert paused.paused_reason and paused.paused_reason.startswith("invalidParameter.robotCode.notExsit")

        fake.advance(61)
        report = digest_run(env, at + dt.timedelta(minutes=2), secrets=[CLIENT_SECRET])
        assert report == "posted 1", report
        (posted,) = fake.messages("group", OTHER_GROUP)
        assert "compute" in posted.text

        # Another tick, and another process's clock: nothing is posted twice.
        assert digest_run(env, at + dt.timedelta(minutes=5), secrets=[CLIENT_SECRET]) == "nothing due"
        time.sleep(1)
        assert len(fake.messages("group", GROUP)) == 2 and len(fake.messages("group", OTHER_GROUP)) == 1
        with Session(engine) as session:
            statuses = sorted(d.status for d in session.scalars(select(Digest)))
        assert statuses == ["failed", "posted", "posted"]
        engine.dispose()
