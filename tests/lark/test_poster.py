"""Digests to Feishu chats through the real runner (bot.platforms: every platform's Poster behind one), against the
stand-in: posted once per period with a uuid, Feishu's rate limits waited out, a removed bot or a dissolved chat
pausing the channel and telling whoever set it up; and each Feishu error code classified."""

from __future__ import annotations

import datetime as dt
import html
import time
from typing import Any

import pytest
from sqlalchemy import select, update

from bot import platforms
from bot.commands.router import ask
from bot.core.caller import Caller
from bot.core.message import Message, Rich, Section, Span
from bot.core.poster import PostError
from bot.digest.runner import metadata_for
from bot.lark.api import LarkApi, LarkError
from bot.lark.cards import to_card
from bot.lark.poster import LarkPoster, lark_poster, post_uuid
from bot.services import Services
from bot.store.models import AuditEntry, Channel, Digest
from tests.lark.conftest import lark_services
from tests.lark.fake_lark import GROUP, GROUP2, OWNER, FakeLark

DUE = dt.datetime(2027, 3, 1, 1, 0, tzinfo=dt.UTC)  # Monday 09:00 in Shanghai
TEAM = "lark:tk_test_tenant"


def subscribe(services: Services, chat: str = GROUP, user: str = OWNER, text: str = "subscribe compute") -> str:
    caller = Caller(TEAM, chat, user, is_admin=lambda: True, can_post=lambda: True)
    card = ask(services, text, lambda reply: to_card(services.renderer.message(reply)), caller=caller)
    return card.text


def make_due(services: Services) -> None:
    with services.session_factory.begin() as session:
        session.execute(update(Channel).values(created_at=DUE - dt.timedelta(days=1)))


def digests_in(fake: FakeLark, chat: str) -> list[Any]:
    return [m for m in fake.messages_in(chat) if m.uuid and m.uuid.startswith("dg-")]


def test_a_scheduled_digest_is_posted_once_as_a_card(services: Services, fake: FakeLark) -> None:
    assert "compute" in subscribe(services)
    make_due(services)
    runner = platforms.runner(services)
    assert runner.poster.serves(TEAM)  # type: ignore[attr-defined]
    assert runner.run_due(DUE).outcomes == {"posted": 1}
    assert runner.run_due(DUE + dt.timedelta(minutes=1)).outcomes == {}
    [digest] = digests_in(fake, GROUP)
    assert digest.receive_id_type == "chat_id" and digest.msg_type == "interactive"
    assert digest.body["header"]["title"]["content"].startswith("Digital economy digest")
    with services.session_factory() as session:
        row = session.scalars(select(Digest)).one()
        channel = session.scalars(select(Channel)).one()
    assert row.status == "posted" and row.posted_ts == digest.message_id
    assert (channel.team_id, channel.channel_id, channel.set_up_by) == (TEAM, GROUP, OWNER)
    # A post repeated after a crash (the same marker) is the same message: Feishu's uuid makes it once.
    poster = lark_poster(services)
    again = poster.post(TEAM, GROUP, poster.render(Message([])), metadata_for(channel, row.period_key))
    assert again == digest.message_id and len(digests_in(fake, GROUP)) == 1
    assert poster.find_marker(TEAM, GROUP, metadata_for(channel, row.period_key), 0) is None


def test_the_uuid_is_stable_and_fits(services: Services) -> None:
    with services.session_factory.begin() as session:
        channel = Channel(team_id=TEAM, channel_id=GROUP, set_up_by=OWNER)
        session.add(channel)
        session.flush()
        first, second = metadata_for(channel, "2027-W09"), metadata_for(channel, "2027-W10")
    assert post_uuid(first) == post_uuid(dict(first)) != post_uuid(second)
    assert len(post_uuid(first)) <= 50


def test_a_rate_limited_digest_waits_as_told_and_posts_once(services: Services, fake: FakeLark) -> None:
    subscribe(services)
    make_due(services)
    runner = platforms.runner(services)
    fake.fail("messages.create", status=429, headers={"x-ogw-ratelimit-reset": "7"})
    assert runner.run_due(DUE).outcomes == {"retry": 1}
    with services.session_factory() as session:
        row = session.scalars(select(Digest)).one()
    assert row.last_error == "ratelimited" and row.next_attempt_at is not None
    assert row.next_attempt_at.replace(tzinfo=dt.UTC) == DUE + dt.timedelta(seconds=7)
    assert "posted" not in runner.run_due(DUE + dt.timedelta(seconds=3)).outcomes  # not before Feishu's reset
    assert digests_in(fake, GROUP) == []
    assert runner.run_due(DUE + dt.timedelta(seconds=8)).outcomes == {"posted": 1}
    assert len(digests_in(fake, GROUP)) == 1 and len(fake.calls_to("messages.create")) == 2


@pytest.mark.parametrize(
    ("change", "error"),
    [("removed", "bot_not_in_chat:230002"), ("dissolved", "chat_dissolved:232009")],
)
def test_a_removed_bot_or_a_dissolved_chat_pauses_and_tells_the_owner(
    services: Services, fake: FakeLark, change: str, error: str
) -> None:
    subscribe(services, GROUP2)
    make_due(services)
    if change == "removed":
        fake.chats[GROUP2].bot_in = False
    else:
        fake.chats[GROUP2].dissolved = True
    assert platforms.runner(services).run_due(DUE).outcomes == {"paused": 1}
    with services.session_factory() as session:
        channel = session.scalars(select(Channel)).one()
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "pause")).one()
    assert channel.paused_reason is not None and channel.paused_reason.startswith(error)
    assert audit.detail == error
    [note] = fake.messages_in(fake.p2p_chat(OWNER))
    assert (note.receive_id_type, note.receive_id) == ("open_id", OWNER)
    assert error in html.unescape(note.content) and GROUP2 in html.unescape(note.content)
    assert digests_in(fake, GROUP2) == []


def test_followers_are_told_by_direct_message(services: Services, fake: FakeLark) -> None:
    from bot.catalog.loader import load_bundle, read_bundle
    from bot.tracking.notify import notify_followers
    from tests.render.replies import EDITION2

    caller = Caller(TEAM, fake.p2p_chat(OWNER), OWNER, direct=True)
    ask(services, "follow test-livestream-sales", lambda reply: reply, caller=caller)
    with services.session_factory.begin() as session:
        load_bundle(session, read_bundle(EDITION2))
    runner = platforms.runner(services)
    assert notify_followers(runner.session_factory, runner.renderer, runner.poster) == 1
    [note] = fake.messages_in(fake.p2p_chat(OWNER))
    assert note.receive_id == OWNER and "12.5" in note.content


def api(fake: FakeLark, timeout: float = 5.0) -> LarkApi:
    return LarkApi(fake.app_id, fake.app_secret, fake.url, timeout)


CARD = to_card(Message([Section(Rich((Span("hello"),)))])).content()


@pytest.mark.parametrize(
    ("fault", "error", "permanent", "retry_after"),
    [
        (
            {"status": 400, "code": 230020, "msg": "This operation triggers the frequency limit."},
            "chat_ratelimited",
            False,
            1.0,
        ),
        ({"status": 429}, "ratelimited", False, 1.0),
        ({"status": 400, "code": 230002}, "bot_not_in_chat:230002", True, None),
        ({"status": 400, "code": 230027}, "no_permission:230027", True, None),
        ({"status": 403, "code": 99991672}, "missing_scope:99991672", True, None),
        ({"status": 400, "code": 230099}, "invalid_card:230099", True, None),
        ({"status": 500, "code": 1500}, "http_500:1500", False, None),
        ({"status": 502, "html": True}, "bad_response", False, None),
    ],
)
def test_feishu_errors_become_post_errors(
    fake: FakeLark, fault: dict[str, Any], error: str, permanent: bool, retry_after: float | None
) -> None:
    fake.fail("messages.create", **fault)
    with pytest.raises(PostError) as raised:
        api(fake).send("chat_id", GROUP, CARD, "interactive")
    assert (raised.value.error, raised.value.permanent, raised.value.retry_after) == (error, permanent, retry_after)


def test_a_slow_feishu_is_a_transient_failure(fake: FakeLark) -> None:
    fake.fail("messages.create", status=200, delay=2.0)
    started = time.monotonic()
    with pytest.raises(LarkError) as raised:
        api(fake, timeout=0.5).send("chat_id", GROUP, CARD, "interactive")
    assert raised.value.error == "connection: ReadTimeout" and not raised.value.permanent
    assert time.monotonic() - started < 1.5


def test_an_expired_token_is_fetched_again_once(fake: FakeLark) -> None:
    client = api(fake)
    client.send("chat_id", GROUP, CARD, "interactive")
    fake.expire_tokens()
    client.send("chat_id", GROUP, CARD, "interactive")
    assert len(fake.calls_to("token")) == 2 and len(fake.messages_in(GROUP)) == 2


def test_a_wrong_app_secret_is_said_plainly(fake: FakeLark) -> None:
    with pytest.raises(LarkError) as raised:
        LarkApi(fake.app_id, "wrong", fake.url, 5).send("chat_id", GROUP, CARD, "interactive")
    assert raised.value.error == "token_refused:10014" and not raised.value.permanent


def test_posts_to_one_chat_keep_to_five_a_second(fake: FakeLark) -> None:
    client = api(fake)
    started = time.monotonic()
    for _ in range(8):  # the stand-in answers 230020 to a sixth message within a second
        client.send("chat_id", GROUP, CARD, "interactive")
    assert time.monotonic() - started >= 1.2
    assert len(fake.messages_in(GROUP)) == 8


def test_notify_is_a_direct_message(services: Services, fake: FakeLark) -> None:
    poster = lark_poster(services)
    assert isinstance(poster, LarkPoster)
    poster.notify(TEAM, OWNER, Message([Section(Rich((Span("paused"),)))]))
    [note] = fake.messages_in(fake.p2p_chat(OWNER))
    assert note.body["elements"][0]["text"]["content"] == "paused"


def test_a_digest_on_postgresql(pg_url: str, fake: FakeLark) -> None:
    services = lark_services(pg_url, fake)
    try:
        subscribe(services)
        make_due(services)
        assert platforms.runner(services).run_due(DUE).outcomes == {"posted": 1}
    finally:
        services.close()
