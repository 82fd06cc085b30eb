"""The Feishu handlers through the SDK's own dispatch (the path both the long connection and HTTP callbacks take),
against the stand-in: who is answered, with what, once; the chat's owner and managers as admins; buttons answered
in place or under the digest; the one error policy."""

from __future__ import annotations

import html
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from bot import platforms
from bot.core.errors import DatabaseBusy
from bot.lark import events
from bot.lark.events import Edge
from bot.services import Services
from bot.store.models import Channel
from tests.lark.fake_lark import GROUP, MANAGER, MEMBER, OWNER, FakeLark

TEAM = "lark:tk_test_tenant"


@pytest.fixture
def edge(services: Services) -> Iterator[Edge]:
    found = Edge(services, None, workers=1)  # one worker: work is done in order, and settle() waits for it
    yield found
    found.close()


def dispatch(edge: Edge, event: dict[str, Any]) -> Any:
    return edge.dispatcher()._do_without_validation(json.dumps(event, ensure_ascii=False).encode())


def settle(edge: Edge) -> None:
    edge.pool.submit(lambda: None).result(10)


def words(message: Any) -> str:
    """A sent card's words, as a person reads them."""
    body = message.body
    found = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("tag") in ("lark_md", "plain_text"):
                found.append(html.unescape(value["content"]))
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(body)
    return "\n".join(found) if found else str(body.get("text", ""))


def said(edge: Edge, fake: FakeLark, event: dict[str, Any], chat: str = GROUP) -> str:
    before = len(fake.messages_in(chat))
    dispatch(edge, event)
    assert fake.wait_for(lambda: len(fake.messages_in(chat)) > before), "no answer"
    return words(fake.messages_in(chat)[-1])


def test_a_mention_in_a_group_is_answered_in_reply(edge: Edge, fake: FakeLark) -> None:
    event = fake.message_event("直播销售额")
    assert dispatch(edge, event) is None  # handed to the pool: the SDK acknowledges at once
    assert fake.wait_for(lambda: fake.messages_in(GROUP))
    [reply] = fake.messages_in(GROUP)
    assert reply.parent_id == event["event"]["message"]["message_id"]
    assert reply.uuid == f"re-m{reply.parent_id}"
    assert "9.99万亿元" in words(reply)


def test_only_messages_to_the_bot_are_answered_in_a_group(edge: Edge, fake: FakeLark) -> None:
    dispatch(edge, fake.message_event("直播", mention_bot=False, others=(OWNER,)))
    dispatch(edge, fake.message_event("直播", mention_bot=False))
    settle(edge)
    assert fake.messages_in(GROUP) == []
    assert "9.99万亿元" in said(edge, fake, fake.message_event("直播", others=(OWNER,)))


def test_in_a_one_to_one_chat_every_message_is_a_command(edge: Edge, fake: FakeLark) -> None:
    chat = fake.p2p_chat(MEMBER)
    text = said(
        edge, fake, fake.message_event("/insights show 1", chat_id=chat, chat_type="p2p", mention_bot=False), chat
    )
    assert "Insight 1" in text
    post = fake.message_event("list", chat_id=chat, chat_type="p2p", mention_bot=False, message_type="post")
    assert "A test insight on computing power" in said(edge, fake, post, chat)
    image = fake.message_event("", chat_id=chat, chat_type="p2p", mention_bot=False, message_type="image")
    dispatch(edge, image)
    settle(edge)
    assert len(fake.messages_in(chat)) == 2


def test_a_message_delivered_again_is_answered_once(edge: Edge, fake: FakeLark) -> None:
    event = fake.message_event("list")
    for _ in range(3):  # Feishu redelivers an event it saw no acknowledgement for
        dispatch(edge, event)
    again = json.loads(json.dumps(event))
    again["header"]["event_id"] = "another-delivery"
    dispatch(edge, again)
    settle(edge)
    assert len(fake.messages_in(GROUP)) == 1


def test_subscribe_in_a_group_makes_the_chat_a_channel(edge: Edge, fake: FakeLark, services: Services) -> None:
    assert "Subscribed to compute" in said(edge, fake, fake.message_event("subscribe compute", sender=MEMBER))
    with services.session_factory() as session:
        channel = session.scalars(select(Channel)).one()
    assert (channel.team_id, channel.channel_id, channel.set_up_by, channel.workspace) == (TEAM, GROUP, MEMBER, TEAM)
    assert len(fake.calls_to("chats.get")) == 1  # subscribe asked whether the bot can post there
    chat = fake.p2p_chat(MEMBER)
    dm = fake.message_event("subscribe compute", chat_id=chat, chat_type="p2p", mention_bot=False)
    assert "channel" in said(edge, fake, dm, chat).lower()


def test_the_chats_owner_and_managers_are_its_admins(edge: Edge, fake: FakeLark) -> None:
    said(edge, fake, fake.message_event("subscribe compute"))
    assert "Only workspace admins" in said(edge, fake, fake.message_event("restrict on", sender=MEMBER))
    assert "Only admins may change" in said(edge, fake, fake.message_event("restrict on", sender=MANAGER))
    assert "Only workspace admins" in said(edge, fake, fake.message_event("subscribe ecommerce", sender=MEMBER))
    assert "Subscribed" in said(edge, fake, fake.message_event("subscribe ecommerce", sender=OWNER))


def test_when_feishu_cannot_say_who_is_admin_the_change_is_refused(edge: Edge, fake: FakeLark) -> None:
    said(edge, fake, fake.message_event("subscribe compute"))
    fake.fail("chats.get", status=500, code=1500, times=5)
    assert "could not verify" in said(edge, fake, fake.message_event("restrict on", sender=OWNER))


def test_an_error_is_logged_with_an_id_and_told(
    edge: Edge, fake: FakeLark, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(events, "ask", broken)
    text = said(edge, fake, fake.message_event("list"))
    [record] = [r for r in caplog.records if r.getMessage().startswith("error ")]
    error_id = record.getMessage().split()[1]
    assert error_id in text and "Traceback" not in text and record.exc_info is not None

    def busy(*args: Any, **kwargs: Any) -> Any:
        raise DatabaseBusy("a data load")

    monkeypatch.setattr(events, "ask", busy)
    assert "try again in a minute" in said(edge, fake, fake.message_event("list"))


def card_of(edge: Edge, fake: FakeLark, text: str) -> tuple[str, dict[str, Any]]:
    said(edge, fake, fake.message_event(text))
    message = fake.messages_in(GROUP)[-1]
    return message.message_id, message.body


def buttons(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for e in card["elements"] if e["tag"] == "action" for b in e["actions"]]


def test_an_insight_button_answers_in_place(edge: Edge, fake: FakeLark) -> None:
    message_id, card = card_of(edge, fake, "list")
    value = buttons(card)[1]["value"]
    assert value == {"h": "open", "t": "show 2", "o": 0, "l": "en"}
    click = fake.card_action_event(value, message_id=message_id)
    response = dispatch(edge, click)
    assert response.card.type == "raw"
    assert "Insight 2" in response.card.data["header"]["title"]["content"]
    assert json.loads(json.dumps(response.card.data)) == response.card.data
    assert vars(dispatch(edge, click)) == {"toast": None, "card": None}  # the same click again: nothing changes
    settle(edge)
    assert len(fake.messages_in(GROUP)) == 1  # no new message


def test_a_slow_answer_updates_the_card_afterwards(edge: Edge, fake: FakeLark, monkeypatch: pytest.MonkeyPatch) -> None:
    message_id, card = card_of(edge, fake, "list")
    real = events.ask

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(events.INLINE_SECONDS + 0.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(events, "ask", slow)
    started = time.monotonic()
    response = dispatch(edge, fake.card_action_event(buttons(card)[0]["value"], message_id=message_id))
    assert time.monotonic() - started < events.INLINE_SECONDS + 0.3 and response.card is None
    [message] = fake.messages_in(GROUP)
    assert fake.wait_for(lambda: message.updates)
    assert "Insight 1" in json.loads(message.updates[-1])["header"]["title"]["content"]


def test_a_button_that_is_not_ours_gets_a_toast(edge: Edge, fake: FakeLark) -> None:
    response = dispatch(edge, fake.card_action_event({"h": "more", "t": "x", "o": -5, "l": "en"}, message_id="om_x"))
    assert response.toast.type == "warning" and response.toast.i18n["zh_cn"]
    assert response.card is None


def test_digest_buttons_answer_under_the_digest(
    edge: Edge, fake: FakeLark, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    said(edge, fake, fake.message_event("subscribe compute"))
    digest = fake.messages_in(GROUP)[-1].message_id  # any card of ours stands for the digest here
    more = fake.card_action_event({"h": "reply", "t": "metric compute", "o": 0, "l": "en"}, message_id=digest)
    assert vars(dispatch(edge, more)) == {"toast": None, "card": None}
    assert fake.wait_for(lambda: len(fake.messages_in(GROUP)) == 2)
    assert fake.messages_in(GROUP)[-1].parent_id == digest
    manage = fake.card_action_event({"c": "manage"}, message_id=digest, operator=MEMBER)
    assert "compute" in said(edge, fake, manage)
    dispatch(edge, fake.card_action_event({"c": "unsubscribe"}, message_id=digest, operator=OWNER))
    assert fake.wait_for(lambda: len(fake.messages_in(GROUP)) == 4)
    assert "Unsubscribed from compute" in words(fake.messages_in(GROUP)[-1])


def test_digest_now_posts_through_the_runner(services: Services, fake: FakeLark) -> None:
    edge = Edge(services, platforms.runner(services), workers=1)
    try:
        said(edge, fake, fake.message_event("subscribe compute", sender=OWNER))
        dispatch(edge, fake.message_event("digest now", sender=OWNER))
        assert fake.wait_for(lambda: any(m.uuid and m.uuid.startswith("dg-") for m in fake.messages_in(GROUP)))
    finally:
        edge.close()


def test_a_reply_whose_message_is_gone_goes_to_the_chat(edge: Edge, fake: FakeLark) -> None:
    fake.fail("messages.reply", code=230011, msg="The message was withdrawn.")
    said(edge, fake, fake.message_event("list"))
    assert fake.messages_in(GROUP)[-1].parent_id is None


def test_a_card_feishu_refuses_is_sent_as_text(edge: Edge, fake: FakeLark, caplog: pytest.LogCaptureFixture) -> None:
    fake.fail("messages.reply", code=230099, msg="Failed to create card content")
    text = said(edge, fake, fake.message_event("list"))
    message = fake.messages_in(GROUP)[-1]
    assert message.msg_type == "text" and "A test insight on computing power" in text
    assert any(r.levelno == logging.ERROR and "refused a card" in r.getMessage() for r in caplog.records)


def test_a_short_rate_limit_on_a_reply_is_waited_out(edge: Edge, fake: FakeLark) -> None:
    fake.fail("messages.reply", code=230020, msg="This operation triggers the frequency limit.")
    said(edge, fake, fake.message_event("list"))
    assert len(fake.calls_to("messages.reply")) == 2
