"""End to end through real processes: `python -m bot run` with Feishu's credentials (the long connection), and the
`bot serve` server (gunicorn and its front worker) with FEISHU_EVENTS=http, both against the stand-in on 127.0.0.1
with the real lark-oapi SDK inside; digests through `python -m bot digest run --at ...` (one tick of the clock, as of
that time) with the same environment."""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from tests.conftest import MINI
from tests.lark.conftest import ENCRYPT_KEY, VERIFICATION_TOKEN
from tests.lark.fake_lark import GROUP, GROUP2, MEMBER, OWNER, Chat, FakeLark, encrypt, signed_headers
from tests.processes import digest_run, free_port, wait_healthy

DUE = dt.datetime(2027, 3, 1, 1, 0, tzinfo=dt.UTC)  # Monday 09:00 in Shanghai: the default schedule
GROUP3 = "oc_group000000000000000000000000003"
STARTUP = 90.0  # seconds for a process to migrate, load the data and connect (lark-oapi alone imports in ~5)


def environment(tmp_path: Path, fake: FakeLark, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "FEISHU_", "DINGTALK_", "WECOM_")) and "proxy" not in key.lower()
    }
    env.pop("TOKEN_ENCRYPTION_KEYS", None)
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'lark.db'}",
        DATA_DIR=str(MINI),
        NO_PROXY="127.0.0.1,localhost",
        LOG_LEVEL="INFO",
        **fake.env(),
        **extra,
    )
    return env


@contextmanager
def bot_process(tmp_path: Path, env: dict[str, str], name: str, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """`python ARGS` (its output in NAME.log, which must hold no traceback), stopped at the end."""
    log_path = tmp_path / f"{name}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([sys.executable, *args], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.terminate()
            process.wait(20)
    output = log_path.read_text()
    assert "Traceback" not in output, output


def make_due(env: dict[str, str], chat: str) -> None:
    engine = create_engine(env["DATABASE_URL"])
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE channels SET created_at = :at WHERE channel_id = :chat"),
            {"at": DUE - dt.timedelta(days=1), "chat": chat},
        )
    engine.dispose()


def paused_reason(env: dict[str, str], chat: str) -> str | None:
    engine = create_engine(env["DATABASE_URL"])
    with engine.connect() as connection:
        found = connection.execute(
            text("SELECT paused_reason FROM channels WHERE channel_id = :chat"), {"chat": chat}
        ).scalar()
    engine.dispose()
    return None if found is None else str(found)


def words(message: Any) -> str:
    return html.unescape(message.content)


def answer_to(fake: FakeLark, event: dict[str, Any], chat: str = GROUP) -> Any:
    """Push a message event down the long connection; the bot's reply to it."""
    message_id = event["event"]["message"]["message_id"]
    ack = fake.wait_ack(fake.push(event))
    assert ack["code"] == 200
    assert fake.wait_for(lambda: any(m.parent_id == message_id for m in fake.messages_in(chat)), timeout=15)
    return next(m for m in fake.messages_in(chat) if m.parent_id == message_id)


def digests(fake: FakeLark, chat: str) -> list[Any]:
    return [m for m in fake.messages_in(chat) if m.uuid and m.uuid.startswith("dg-")]


def test_the_bot_on_feishu_from_command_to_digest(tmp_path: Path) -> None:
    with FakeLark() as fake:
        env = environment(tmp_path, fake)
        with bot_process(tmp_path, env, "run", "-m", "bot", "run") as process:
            assert fake.wait_connected(STARTUP), (tmp_path / "run.log").read_text()
            assert process.poll() is None

            # A command by @-mention in a group, answered in reply with a card.
            reply = answer_to(fake, fake.message_event("直播销售额"))
            assert reply.msg_type == "interactive" and "9.99万亿元" in words(reply)

            # In a one-to-one chat, no mention needed.
            p2p = fake.p2p_chat(MEMBER)
            reply = answer_to(fake, fake.message_event("show 1", chat_id=p2p, chat_type="p2p", mention_bot=False), p2p)
            assert "Insight 1" in words(reply)

            # A card button: the answer comes back in the callback's acknowledgement.
            listing = answer_to(fake, fake.message_event("list"))
            value = next(b["value"] for e in listing.body["elements"] if e["tag"] == "action" for b in e["actions"])
            ack = fake.wait_ack(fake.push(fake.card_action_event(value, message_id=listing.message_id)))
            assert "Insight 1" in ack["data"]["card"]["data"]["header"]["title"]["content"]

            # Subscriptions in a group chat, then its scheduled digest, posted once.
            assert "Subscribed to compute" in words(
                answer_to(fake, fake.message_event("subscribe compute", sender=OWNER))
            )
            make_due(env, GROUP)
            assert digest_run(env, DUE, timeout=120) == "posted 1"
            assert digest_run(env, DUE + dt.timedelta(minutes=1), timeout=120) == "nothing due"
            [digest] = digests(fake, GROUP)
            assert digest.body["header"]["title"]["content"].startswith("Digital economy digest")
            assert [b["value"] for e in digest.body["elements"] if e["tag"] == "action" for b in e["actions"]][1:] == [
                {"c": "manage"},
                {"c": "unsubscribe"},
            ]

            # Feishu says 429: the digest waits for x-ogw-ratelimit-reset and is posted once.
            answer_to(fake, fake.message_event("subscribe compute", chat_id=GROUP2, sender=OWNER), GROUP2)
            make_due(env, GROUP2)
            fake.fail("messages.create", status=429, headers={"x-ogw-ratelimit-reset": "2"})
            assert digest_run(env, DUE, timeout=120) == "retry 1"
            assert digest_run(env, DUE + dt.timedelta(seconds=3), timeout=120) == "posted 1"
            assert len(digests(fake, GROUP2)) == 1

            # The bot removed from a chat: its channel is paused and whoever set it up is told.
            fake.chats[GROUP3] = Chat(OWNER, [], {OWNER, MEMBER})
            answer_to(fake, fake.message_event("subscribe compute", chat_id=GROUP3, sender=OWNER), GROUP3)
            make_due(env, GROUP3)
            fake.chats[GROUP3].bot_in = False
            assert digest_run(env, DUE, timeout=120) == "paused 1"
            assert (paused_reason(env, GROUP3) or "").startswith("bot_not_in_chat:230002")
            [note] = fake.messages_in(fake.p2p_chat(OWNER))
            assert note.receive_id == OWNER and "bot_not_in_chat" in words(note)
            assert digests(fake, GROUP3) == []
            assert process.poll() is None


# ---- HTTP callbacks on the server ----------------------------------------------------------------------------------


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_http_callbacks_on_the_server(tmp_path: Path) -> None:
    port = free_port()
    with FakeLark() as fake:
        env = environment(
            tmp_path,
            fake,
            FEISHU_EVENTS="http",
            FEISHU_ENCRYPT_KEY=ENCRYPT_KEY,
            FEISHU_VERIFICATION_TOKEN=VERIFICATION_TOKEN,
        )
        serve = ("-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1")
        with bot_process(tmp_path, env, "serve", *serve) as process:
            base = f"http://127.0.0.1:{port}"
            wait_healthy(process, base, tmp_path / "serve.log", STARTUP)
            url = f"{base}/lark/events"

            check = {"challenge": "ch-e2e", "token": VERIFICATION_TOKEN, "type": "url_verification"}
            body = json.dumps({"encrypt": encrypt(json.dumps(check), ENCRYPT_KEY)}).encode()
            assert post(url, body, {"Content-Type": "application/json"}) == (200, {"challenge": "ch-e2e"})

            event = fake.message_event("直播销售额", token=VERIFICATION_TOKEN)
            body = json.dumps({"encrypt": encrypt(json.dumps(event, ensure_ascii=False), ENCRYPT_KEY)}).encode()
            forged = {**signed_headers(body, ENCRYPT_KEY), "X-Lark-Signature": "0" * 64}
            assert post(url, body, forged)[0] == 401
            time.sleep(0.5)
            assert fake.messages_in(GROUP) == []  # refused before anything was done

            assert post(url, body, signed_headers(body, ENCRYPT_KEY)) == (200, {"msg": "success"})
            assert fake.wait_for(lambda: fake.messages_in(GROUP), timeout=15)
            [reply] = fake.messages_in(GROUP)
            assert reply.parent_id == event["event"]["message"]["message_id"] and "9.99万亿元" in words(reply)
            assert post(url, body, signed_headers(body, ENCRYPT_KEY))[0] == 200  # delivered again: answered once
            time.sleep(0.5)
            assert len(fake.messages_in(GROUP)) == 1
