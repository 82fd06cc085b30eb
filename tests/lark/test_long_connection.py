"""The long connection: lark-oapi's own ws.Client, started by start_long_connection, against the stand-in's
endpoint and its protobuf WebSocket. Every event is acknowledged at once whatever Feishu's API does, a card button's
answer travels back in the acknowledgement, the connection comes back when dropped, and stop() stops it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from bot.lark.events import start_long_connection
from bot.services import Services
from tests.lark.conftest import lark_services
from tests.lark.fake_lark import GROUP, FakeLark

ACK_BUDGET = 1.0  # seconds from push to acknowledgement (Feishu waits 3)


@pytest.fixture
def connected(services: Services, fake: FakeLark) -> Iterator[Callable[[], None]]:
    stop = start_long_connection(services, None)
    assert fake.wait_connected(20)
    yield stop
    stop()


def test_an_event_is_acknowledged_before_feishu_is_called(fake: FakeLark, connected: object) -> None:
    fake.fail("messages.reply", status=200, delay=3.0)  # Feishu's API answers slowly
    started = time.monotonic()
    ack = fake.wait_ack(fake.push(fake.message_event("直播销售额")))
    assert time.monotonic() - started < ACK_BUDGET
    assert ack["code"] == 200 and ack["data"] is None and "biz_rt" in ack["headers"]
    assert fake.messages_in(GROUP) == []
    assert fake.wait_for(lambda: fake.messages_in(GROUP), timeout=10)


def test_a_card_button_is_answered_in_the_acknowledgement(fake: FakeLark, connected: object) -> None:
    fake.wait_ack(fake.push(fake.message_event("list")))
    assert fake.wait_for(lambda: fake.messages_in(GROUP))
    card = fake.messages_in(GROUP)[0]
    value = next(b["value"] for e in card.body["elements"] if e["tag"] == "action" for b in e["actions"])
    ack = fake.wait_ack(fake.push(fake.card_action_event(value, message_id=card.message_id), parts=2))
    assert ack["code"] == 200
    assert ack["data"]["card"]["type"] == "raw"
    assert "Insight 1" in ack["data"]["card"]["data"]["header"]["title"]["content"]


# The SDK's ping loop says "ping failed" with logger.warn (deprecated) while the connection is down.
@pytest.mark.filterwarnings("ignore:The 'warn' method is deprecated:DeprecationWarning")
def test_the_connection_comes_back_when_dropped(fake: FakeLark, connected: object) -> None:
    fake.drop()
    assert fake.wait_for(lambda: fake.connections == 2, timeout=20)
    assert len(fake.calls_to("ws.endpoint")) == 2  # a new endpoint and ticket for each connection
    fake.wait_ack(fake.push(fake.message_event("list")))
    assert fake.wait_for(lambda: fake.messages_in(GROUP))


def test_stop_ends_the_thread(services: Services, fake: FakeLark) -> None:
    stop = start_long_connection(services, None)
    assert fake.wait_connected(20)
    stop()
    assert not [t for t in threading.enumerate() if t.name == "lark-long-connection"]
    assert fake.wait_for(lambda: not fake.wait_connected(0), timeout=5)


def test_wrong_credentials_are_said_once(sqlite_url: str, fake: FakeLark, caplog: pytest.LogCaptureFixture) -> None:
    services = lark_services(sqlite_url, fake, feishu_app_secret="wrong")
    stop = start_long_connection(services, None)
    try:
        assert fake.wait_for(
            lambda: any("could not start" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
        )
        assert fake.connections == 0
    finally:
        stop()
        services.close()
