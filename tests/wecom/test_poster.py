"""The WeCom poster against the stand-in: parts in order, WeCom's error codes classified, 20 messages a minute per
robot, and a digest that failed half-way finished by its retry without a part posted twice, in this process or
another."""

from __future__ import annotations

import datetime as dt
import logging
import re
import socket
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.core.message import Header, Message, Rich, Section, Span
from bot.core.poster import PostError, Posters
from bot.digest.runner import Runner, metadata_for
from bot.services import Services
from bot.store.models import Channel, Digest
from bot.store.secrets import require_cipher
from bot.wecom import poster as poster_module
from bot.wecom.poster import WecomPoster
from bot.wecom.robots import add_robot
from bot.wecom.webhook import RobotPacer
from tests.wecom.fake_wecom import FakeWeCom

METADATA = {
    "event_type": "insights_digest",
    "event_payload": {"team": "wecom:ops", "channel": "wecom-ops", "period": "P"},
}


def make_poster(services: Services, **kwargs: Any) -> WecomPoster:
    return WecomPoster(services.session_factory, require_cipher(services.settings.token_keys), **kwargs)


@pytest.fixture
def ops(services: Services, fake_wecom: FakeWeCom) -> Services:
    add_robot(services, "ops", fake_wecom.url("K1"), topics="compute")
    return services


def post(poster: WecomPoster, parts: list[str], metadata: dict[str, Any] = METADATA) -> str:
    return poster.post("wecom:ops", "wecom-ops", parts, metadata)


def test_parts_are_posted_in_order(ops: Services, fake_wecom: FakeWeCom) -> None:
    poster = make_poster(ops)
    posted = post(poster, ["one", "(2/3)\n\ntwo", "(3/3)\n\nthree"])
    assert fake_wecom.contents("K1") == ["one", "(2/3)\n\ntwo", "(3/3)\n\nthree"]
    assert re.fullmatch(r"wecom:3:\d{13}", posted) and len(posted) <= 32  # digests.posted_ts
    assert fake_wecom.received[0].msgtype == "markdown"
    # A robot cannot read its group: only what this process posted is known after a crash of the runner.
    assert poster.find_marker("wecom:ops", "wecom-ops", METADATA, 0) == posted
    assert make_poster(ops).find_marker("wecom:ops", "wecom-ops", METADATA, 0) is None


def test_render_fits_wecom(ops: Services) -> None:
    long = Message([Header("摘要"), *[Section(Rich((Span(f"第{i}条 " + "数字经济" * 100),))) for i in range(40)]])
    parts = make_poster(ops).render(long)
    assert len(parts) > 5 and all(len(part.encode()) <= 4096 for part in parts)
    assert parts[0].startswith("### 摘要") and parts[1].startswith(f"(2/{len(parts)})\n\n")


@pytest.mark.parametrize(
    ("errcode", "error", "permanent", "retry_after"),
    [
        (45009, "wecom_rate_limited", False, 60.0),
        (93000, "wecom_invalid_webhook", True, None),
        (40058, "wecom_content_too_long", True, None),
        (40008, "wecom_invalid_message_type", True, None),
        (60020, "wecom_errcode_60020", False, None),
        (500, "wecom_http_500", False, None),
        (503, "wecom_http_503", False, None),
    ],
)
def test_errors_are_classified(
    ops: Services, fake_wecom: FakeWeCom, errcode: int, error: str, permanent: bool, retry_after: float | None
) -> None:
    fake_wecom.fail("K1", errcode)
    with pytest.raises(PostError) as raised:
        post(make_poster(ops), ["one"])
    assert (raised.value.error, raised.value.permanent, raised.value.retry_after) == (error, permanent, retry_after)
    assert fake_wecom.contents("K1") == []


def test_a_removed_robot_and_a_content_too_long(ops: Services, fake_wecom: FakeWeCom, caplog: Any) -> None:
    with pytest.raises(PostError, match="wecom_content_too_long") as raised:
        post(make_poster(ops), ["算" * 1400])  # 4200 bytes: never produced by render(); a bug if it were
    assert raised.value.permanent
    assert "WeCom refused a message of 4200 bytes (errcode 40058" in caplog.text and "a bug" in caplog.text
    fake_wecom.remove("K1")
    with pytest.raises(PostError, match="wecom_invalid_webhook") as raised:
        post(make_poster(ops), ["one"])
    assert raised.value.permanent
    assert "key=" not in caplog.text


def test_connection_failures_and_timeouts_are_retried(ops: Services, fake_wecom: FakeWeCom) -> None:
    fake_wecom.slow(1.0)
    with pytest.raises(PostError, match="wecom_connection: ") as raised:
        post(make_poster(ops, timeout=0.2), ["one"])
    assert not raised.value.permanent
    fake_wecom.slow(0)
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    add_robot(ops, "ops", f"http://127.0.0.1:{port}/cgi-bin/webhook/send?key=K1")
    with pytest.raises(PostError, match="wecom_connection") as raised:
        post(make_poster(ops), ["one"])
    assert not raised.value.permanent


def test_a_channel_without_a_webhook_or_with_an_unreadable_one(ops: Services, caplog: Any) -> None:
    with pytest.raises(PostError, match="wecom_no_webhook") as raised:
        make_poster(ops).post("T1", "C1", ["x"], {})
    assert raised.value.permanent
    from cryptography.fernet import Fernet, MultiFernet

    other = WecomPoster(ops.session_factory, MultiFernet([Fernet(Fernet.generate_key())]))
    with pytest.raises(PostError, match="wecom_webhook_unreadable") as raised:
        post(other, ["x"])
    assert not raised.value.permanent  # the key may be put back
    assert "TOKEN_ENCRYPTION_KEYS" in caplog.text


def test_a_retry_posts_only_the_parts_not_yet_posted(ops: Services, fake_wecom: FakeWeCom) -> None:
    poster = make_poster(ops)
    parts = ["one", "(2/3)\n\ntwo", "(3/3)\n\nthree"]
    fake_wecom.fail("K1", 45009, after=1)
    with pytest.raises(PostError) as raised:
        post(poster, parts)
    assert re.fullmatch(r"wecom_rate_limited; sent 1/3 of [0-9a-f]{12}", raised.value.error)
    assert raised.value.retry_after == 60.0 and not raised.value.permanent
    fake_wecom.reset("K1")
    poster.pacer = RobotPacer()  # the minute is over
    post(poster, parts)
    assert fake_wecom.contents("K1") == parts


def test_a_digest_that_changed_meanwhile_is_posted_whole(ops: Services, fake_wecom: FakeWeCom) -> None:
    poster = make_poster(ops)
    fake_wecom.fail("K1", 60020, after=1)
    with pytest.raises(PostError):
        post(poster, ["one", "(2/2)\n\ntwo"])
    post(poster, ["one, changed", "(2/2)\n\ntwo"])
    assert fake_wecom.contents("K1") == ["one", "one, changed", "(2/2)\n\ntwo"]


def test_twenty_messages_a_minute_and_a_post_never_waits_past_its_budget(services: Services) -> None:
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    def clock() -> float:
        return now[0]

    with FakeWeCom(keys=("K1",), clock=clock) as fake:  # WeCom's minute and ours on the same clock
        add_robot(services, "ops", fake.url("K1"), topics="compute")
        poster = make_poster(services, pacer=RobotPacer(clock=clock, sleep=sleep), clock=clock, budget=40.0)
        post(poster, [f"m{i}" for i in range(20)], {})
        assert sleeps == []  # 20 at once: WeCom counts a minute, not a pace
        now[0] += 30.0
        post(poster, ["21st"], {})  # its slot is 30 s away, within the budget: it waits, and WeCom takes it
        assert sleeps == [30.0] and len(fake.contents("K1")) == 21

        poster = make_poster(services, pacer=RobotPacer(count=2, clock=clock, sleep=sleep), clock=clock, budget=40.0)
        with pytest.raises(PostError) as raised:
            post(poster, ["a", "b", "c"])  # the third part's slot is 60 s away: past the budget, a retry posts it
        assert re.fullmatch(r"wecom_paced; sent 2/3 of [0-9a-f]{12}", raised.value.error)
        assert raised.value.retry_after == 60.0 and not raised.value.permanent
        assert fake.contents("K1")[-2:] == ["a", "b"]


def test_robot_pacer() -> None:
    now = [100.0]
    pacer = RobotPacer(count=3, window=60.0, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert [pacer.take("A", 0) for _ in range(3)] == [None, None, None]
    assert pacer.take("A", 10) == 60.0  # not taken: too far
    assert pacer.take("B", 0) is None  # robots are paced apart
    assert pacer.take("A", 60) is None and now[0] == 160.0
    pacer.hold("B", 30)
    assert pacer.take("B", 5) == 30.0


def test_a_pause_notice_goes_to_the_group_unless_its_webhook_is_dead(
    ops: Services, fake_wecom: FakeWeCom, caplog: Any
) -> None:
    caplog.set_level(logging.WARNING)
    poster = make_poster(ops)
    notice = Message([Section(Rich((Span("I paused the insights digest"),)))])
    poster.notify("wecom:ops", "operator", notice)
    assert fake_wecom.contents("K1") == ["I paused the insights digest"]
    assert "cannot message a person" in caplog.text
    fake_wecom.remove("K1")
    with pytest.raises(PostError):
        post(poster, ["x"])
    poster.notify("wecom:ops", "operator", notice)  # WeCom said the robot is gone: nothing to post to
    assert fake_wecom.requests == 2
    assert "no longer works" in caplog.text


# ---- with the digest runner ----------------------------------------------------------------------------------------


def due_now(services: Services, now: dt.datetime) -> None:
    with services.session_factory.begin() as session:
        session.execute(update(Channel).values(created_at=now - dt.timedelta(days=8)))


def runner(services: Services, clock_id: str) -> Runner:
    return Runner(services.session_factory, services.renderer, Posters({"wecom": make_poster(services)}), clock_id)


def test_a_digest_stopped_half_way_is_finished_by_another_process(
    ops: Services, fake_wecom: FakeWeCom, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(poster_module, "PART_BYTES", 300)  # a digest of several parts
    now = dt.datetime.now(dt.UTC)
    due_now(ops, now)
    fake_wecom.fail("K1", 45009, after=2)
    first = runner(ops, "clock-a").run_due(now)
    assert first.outcomes == {"retry": 1}
    with ops.session_factory() as session:
        digest = session.scalar(select(Digest))
        assert digest is not None and digest.status == "retry"
        assert re.fullmatch(r"wecom_rate_limited; sent 2/\d+ of [0-9a-f]{12}", digest.last_error or "")
        total = int((digest.last_error or "").split("/")[1].split()[0])
    assert total > 2 and len(fake_wecom.contents("K1")) == 2

    # Another clock process (a poster that remembers nothing) retries after the minute: it posts the rest.
    fake_wecom.reset("K1")
    second = runner(ops, "clock-b").run_due(now + dt.timedelta(minutes=2))
    assert second.outcomes == {"posted": 1}
    parts = fake_wecom.contents("K1")
    assert len(parts) == total and len(set(parts)) == total
    assert parts[0].startswith("### ") and all(parts[i].startswith(f"({i + 1}/{total})") for i in range(1, total))
    assert all(len(part.encode()) <= 300 for part in parts)
    assert runner(ops, "clock-c").run_due(now + dt.timedelta(minutes=4)).outcomes == {}
    assert len(fake_wecom.contents("K1")) == total


def test_a_removed_robot_pauses_its_channel(ops: Services, fake_wecom: FakeWeCom, caplog: Any) -> None:
    now = dt.datetime.now(dt.UTC)
    due_now(ops, now)
    fake_wecom.remove("K1")
    assert runner(ops, "clock-a").run_due(now).outcomes == {"paused": 1}
    with ops.session_factory() as session:
        channel = session.scalar(select(Channel))
        assert channel is not None and (channel.paused_reason or "").startswith("wecom_invalid_webhook")
        assert metadata_for(channel, "P")["event_payload"]["channel"] == "wecom-ops"
    assert fake_wecom.requests == 1  # the digest; the pause notice had nowhere to go
