"""The Stream edge in this process: the real dingtalk-stream SDK connected to the stand-in, robot messages answered
through their sessionWebhook, acknowledged at once, acted on once; failures told with an id."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from bot import platforms
from bot.core.errors import DatabaseBusy
from bot.dingtalk import stream as stream_module
from bot.dingtalk.stream import InOrder, command_text, start_stream, text_of
from bot.services import Services
from bot.store.models import Channel
from tests.dingtalk.fake_dingtalk import CORP_ID, DIRECT, GROUP, STAFF, FakeDingTalk


@pytest.fixture
def connected(services: Services, fake: FakeDingTalk) -> Iterator[FakeDingTalk]:
    stop = start_stream(services, platforms.runner(services))
    fake.wait_connection()
    try:
        yield fake
    finally:
        stop()


def replies(fake: FakeDingTalk, conversation: str, count: int = 1, timeout: float = 10) -> list[str]:
    assert fake.wait_for(lambda: len(fake.messages("webhook", conversation)) >= count, timeout), fake.refused
    return [sent.text for sent in fake.messages("webhook", conversation)]


def test_an_at_message_in_a_group_is_answered_through_its_session_webhook(connected: FakeDingTalk) -> None:
    fake = connected
    frame = fake.say("直播销售额")
    ack = fake.wait_ack(frame, timeout=5)
    assert ack.code == 200 and ack.data == {"response": "OK"}
    (answer,) = replies(fake, GROUP)
    assert "9.99万亿元" in answer
    (request,) = fake.open_requests
    assert request["subscriptions"] == [{"type": "CALLBACK", "topic": "/v1.0/im/bot/messages/get"}]

    fake.say("@张三 livestream sales")  # another person mentioned first: still the command
    assert "9.99" in replies(fake, GROUP, 2)[1]


def test_one_to_one_messages_and_button_clicks(connected: FakeDingTalk) -> None:
    fake = connected
    fake.say("列表", conversation=DIRECT, direct=True)
    (listing,) = fake.wait_for(lambda: fake.messages("webhook", DIRECT))
    assert listing.msg_key == "actionCard" and "测试算力洞察" in listing.text
    title, url = listing.buttons[1]
    assert title == "洞察 2"

    assert fake.click(url, conversation=DIRECT, direct=True)  # the client sends "show 2 --lang zh" as the person
    answer = replies(fake, DIRECT, 2)[1]
    assert "测试消费洞察" in answer  # insight 2, in Chinese

    before = len(fake.messages("webhook"))
    assert fake.click(url, conversation=GROUP, direct=False) is None  # in a group the text is no @mention
    time.sleep(0.5)
    assert len(fake.messages("webhook")) == before


def test_a_message_delivered_twice_is_answered_once(services_on_both: Services, fake: FakeDingTalk) -> None:
    stop = start_stream(services_on_both, None)
    try:
        _delivered_twice(fake)
    finally:
        stop()


def _delivered_twice(fake: FakeDingTalk) -> None:
    data = fake.bot_message("list", msg_id="msgSameId0001==")
    fake.callback(data)
    fake.callback(data)
    replies(fake, GROUP)
    time.sleep(0.5)
    assert len(fake.messages("webhook")) == 1


def test_subscribing_a_group_then_digest_now(services_on_both: Services, fake: FakeDingTalk) -> None:
    stop = start_stream(services_on_both, platforms.runner(services_on_both))
    try:
        _subscribe_then_digest_now(services_on_both, fake)
    finally:
        stop()


def _subscribe_then_digest_now(services: Services, fake: FakeDingTalk) -> None:
    fake.say("subscribe compute")
    assert "compute" in replies(fake, GROUP)[0]
    with services.session_factory() as session:
        channel = session.scalars(select(Channel)).one()
        assert (channel.team_id, channel.channel_id, channel.set_up_by) == (f"dingtalk:{CORP_ID}", GROUP, STAFF)

    fake.say("digest now")
    texts = replies(fake, GROUP, 3)
    assert "Posting the digest" in texts[1] and "posted in this channel" in texts[2]
    (digest,) = fake.messages("group", GROUP)
    assert digest.buttons and "subscriptions" in " ".join(url for _, url in digest.buttons)

    fake.say("subscribe compute", conversation=DIRECT, direct=True)  # channel settings belong to groups
    assert "channel" in replies(fake, DIRECT)[0]


def test_a_failure_is_told_with_an_id_and_logged(
    connected: FakeDingTalk, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake = connected

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(stream_module, "ask", broken)
    with caplog.at_level(logging.ERROR, logger="bot.dingtalk.stream"):
        fake.say("list")
        (apology,) = replies(fake, GROUP)
    assert "error id" in apology and "Traceback" not in apology and "boom" not in apology
    error_id = apology.split("error id ")[1].split(")")[0].strip("`ˋ ")
    assert any(error_id in record.getMessage() for record in caplog.records)

    def busy(*args: object, **kwargs: object) -> object:
        raise DatabaseBusy("locked")

    monkeypatch.setattr(stream_module, "ask", busy)
    fake.say("list")
    assert "try again in a minute" in replies(fake, GROUP, 2)[1]


def test_an_expired_or_refused_webhook_is_replaced_by_the_robot_api(connected: FakeDingTalk) -> None:
    fake = connected
    fake.say("list", webhook_minutes=0)  # its sessionWebhook has expired
    assert fake.wait_for(lambda: fake.messages("group", GROUP))
    fake.say("list", conversation=DIRECT, direct=True, webhook_minutes=0)
    assert fake.wait_for(lambda: fake.messages("direct", STAFF))

    fake.fill_window(GROUP, kind="webhook")  # 130101: send too fast
    fake.say("list")
    assert fake.wait_for(lambda: len(fake.messages("group", GROUP)) == 2)
    assert ("/robot/sendBySession", 200, "130101") in fake.refused
    assert fake.messages("webhook") == []


def test_what_is_not_text_gets_the_help(connected: FakeDingTalk) -> None:
    fake = connected
    data = fake.bot_message("", conversation=DIRECT, direct=True)
    data.update(msgtype="picture", content={"downloadCode": "x", "pictureDownloadCode": "y"})
    del data["text"]
    fake.callback(data)
    assert "list" in replies(fake, DIRECT)[0]


def test_ping_disconnect_and_stop(services: Services, fake: FakeDingTalk) -> None:
    stop = start_stream(services, None)
    first = fake.wait_connection()
    ack = fake.wait_ack(fake.ping("opaque-42"))
    assert ack.data == {"opaque": "opaque-42"} and ack.message == "OK"

    fake.disconnect()  # the SDK closes the socket itself and opens a new connection with a new ticket
    second = fake.wait_connection(after=first.number)
    assert second.ticket != first.ticket and len(fake.open_requests) == 2
    assert fake.wait_for(lambda: first.closed, 5)

    fake.say("list")
    assert replies(fake, GROUP)

    started = time.monotonic()
    stop()
    assert time.monotonic() - started < 5
    assert fake.wait_for(lambda: second.closed, 5)
    time.sleep(0.5)
    assert len(fake.connections) == 2  # and it does not come back


def test_reading_messages() -> None:
    assert command_text(" 直播销售额") == "直播销售额"
    assert command_text("@insights @张三  show 3") == "show 3"
    assert (
        text_of(
            {"msgtype": "richText", "content": {"richText": [{"text": "show"}, {"downloadCode": "p"}, {"text": "3"}]}}
        )
        == "show 3"
    )
    assert text_of({"msgtype": "audio", "content": {"recognition": "直播销售额"}}) == "直播销售额"
    assert text_of({"msgtype": "file", "content": {}}) is None


def test_each_conversation_in_order_conversations_side_by_side() -> None:
    done: dict[str, list[int]] = {"a": [], "b": [], "c": []}
    running: set[str] = set()
    overlapped = threading.Event()
    lock = threading.Lock()

    def work(key: str, n: int) -> None:
        with lock:
            assert key not in running  # never two at once for one conversation
            running.add(key)
            if len(running) > 1:
                overlapped.set()
        time.sleep(random.uniform(0, 0.003))
        with lock:
            running.discard(key)
            done[key].append(n)

    with ThreadPoolExecutor(4) as pool:
        queue = InOrder(pool)
        for n in range(60):
            for key in done:
                queue.submit(key, lambda key=key, n=n: work(key, n))
        deadline = time.monotonic() + 10
        while any(len(v) < 60 for v in done.values()) and time.monotonic() < deadline:
            time.sleep(0.01)
    assert all(v == list(range(60)) for v in done.values())
    assert overlapped.is_set()
