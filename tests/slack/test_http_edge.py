"""The HTTP edge against hostile and slow traffic, through the real `bot serve` (tests/slack/test_web.py's server):
unsigned or malformed requests, oversized bodies, slow clients, failing listeners, install-page floods."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from bot.services import create_services
from bot.slack.app import create_app
from bot.slack.web import MAX_BODY
from bot.store import db
from tests.slack.conftest import BOT_TOKEN, SECRET
from tests.slack.fake_slack import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, FakeSlack
from tests.slack.requests import (
    FORM_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    block_actions_body,
    command_body,
    post,
    sign,
    signed_headers,
)
from tests.slack.test_web import bot_server, send


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[FakeSlack, str]]:
    with FakeSlack() as fake, bot_server(tmp_path, fake, SLACK_BOT_TOKEN=BOT_TOKEN) as base:
        yield fake, base


def raw(base: str, data: bytes, *, read_timeout: float = 5) -> bytes:
    """Send bytes as they are and return what the server says before it closes (or the timeout)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=read_timeout) as conn:
        conn.sendall(data)
        received = b""
        try:
            while chunk := conn.recv(65536):
                received += chunk
                if b"\r\n\r\n" in received and b"Connection: close" not in received:
                    break
        except (TimeoutError, ConnectionResetError):
            pass
    return received


def not_auth_test(fake: FakeSlack) -> list[object]:
    """Calls to Slack other than Bolt's own auth.test when the app starts."""
    return [call for call in fake.calls if call.method != "auth.test"]


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else 0


def request_bytes(body: bytes, headers: dict[str, str]) -> bytes:
    lines = ["POST /slack/events HTTP/1.1", "Host: test", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# ------------------------------------------------------------------- item 2: unauthenticated requests


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"[]", JSON_CONTENT_TYPE),
        (b"null", JSON_CONTENT_TYPE),
        (b"payload={bad", FORM_CONTENT_TYPE),
        (b"\xff\xfe\x00bad", FORM_CONTENT_TYPE),
        (b"", FORM_CONTENT_TYPE),
    ],
    ids=["list", "null", "bad-payload", "not-utf8", "empty"],
)
def test_unsigned_bodies_get_401_and_no_traceback(
    served: tuple[FakeSlack, str], body: bytes, content_type: str
) -> None:
    fake, base = served
    response = post(f"{base}/slack/events", body, {"Content-Type": content_type})
    assert response.status == 401
    assert not_auth_test(fake) == []


@pytest.mark.parametrize(
    "timestamp", ["abc", "", "12.5", "-1", "１２３", "9" * 5000, "0x10"], ids=lambda t: repr(t)[:12]
)
def test_a_malformed_timestamp_gets_401(served: tuple[FakeSlack, str], timestamp: str) -> None:
    fake, base = served
    body = command_body("list", response_url=fake.response_url("t"))
    headers = {**signed_headers(SECRET, body, FORM_CONTENT_TYPE), "X-Slack-Request-Timestamp": timestamp}
    assert status_of(raw(base, request_bytes(body, headers))) == 401
    assert fake.responses["t"] == [] and not_auth_test(fake) == []


def test_a_signature_with_strange_bytes_or_underscored_headers_gets_401(served: tuple[FakeSlack, str]) -> None:
    fake, base = served
    body = command_body("list", response_url=fake.response_url("u"))
    good = sign(SECRET, body)
    strange = {**good, "X-Slack-Signature": "v0=\xe9\xe9", "Content-Type": FORM_CONTENT_TYPE}
    assert status_of(raw(base, request_bytes(body, strange))) == 401
    # X_Slack_Signature must not stand in for X-Slack-Signature (a proxy may have checked the other one).
    underscored = {
        "X_Slack_Signature": good["X-Slack-Signature"],
        "X_Slack_Request_Timestamp": good["X-Slack-Request-Timestamp"],
        "Content-Type": FORM_CONTENT_TYPE,
    }
    assert status_of(raw(base, request_bytes(body, underscored))) == 401
    assert fake.responses["u"] == []


def test_a_signed_body_that_is_not_utf8_gets_400(served: tuple[FakeSlack, str]) -> None:
    _, base = served
    body = b"text=\xff\xfe&command=/insights"
    assert send(base, body, FORM_CONTENT_TYPE).status == 400


def test_garbage_requests_get_400_or_are_dropped(served: tuple[FakeSlack, str]) -> None:
    _, base = served
    assert status_of(raw(base, b"NONSENSE\r\n\r\n")) == 400
    assert status_of(raw(base, b"POST /slack/events HTTP/1.1\r\nContent-Length: x\r\n\r\n")) == 400
    smuggled = b"POST /slack/events HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    assert status_of(raw(base, smuggled)) == 400
    assert status_of(raw(base, b"GET / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n")) == 431
    assert raw(base, b"GET / HTTP/1.1\r\nHost") == b""  # cut off: nothing to answer


# ------------------------------------------------------------------- item 3: request size


def test_an_oversized_body_gets_413_before_it_is_read(served: tuple[FakeSlack, str]) -> None:
    fake, base = served
    head = b"POST /slack/events HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
    # 300 MB announced, a few bytes sent: the answer comes at once, without waiting for (or reading) the rest.
    started = time.monotonic()
    assert status_of(raw(base, head + b"Content-Length: 300000000\r\n\r\n{")) == 413
    assert time.monotonic() - started < 2
    # Chunked: refused as soon as the chunks pass the cap, while they are read in bounded pieces.
    chunk = b"%x\r\n" % (256 * 1024) + b"a" * (256 * 1024) + b"\r\n"
    assert status_of(raw(base, head + b"Transfer-Encoding: chunked\r\n\r\n" + chunk * 5)) == 413
    # Just under the cap is read (and, unsigned, refused with 401); a signed chunked command is answered.
    assert status_of(raw(base, request_bytes(b"a" * MAX_BODY, {"Content-Type": JSON_CONTENT_TYPE}))) == 401
    body = command_body("直播销售额", response_url=fake.response_url("c"))
    headers = "".join(f"{k}: {v}\r\n" for k, v in signed_headers(SECRET, body, FORM_CONTENT_TYPE).items())
    signed_head = b"POST /slack/events HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
    answer = raw(base, signed_head + headers.encode() + b"\r\n" + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    assert status_of(answer) == 200 and "9.99万亿元" in json.loads(answer.split(b"\r\n\r\n", 1)[1])["text"]
    assert post(f"{base}/healthz", b"", {}).status in (200, 405)  # still serving


# ------------------------------------------------------------------- item 4: slow clients


def test_slow_clients_do_not_hold_up_slacks_requests(served: tuple[FakeSlack, str]) -> None:
    """bot_server runs one worker: ten clients trickling a byte at a time, headers or body, and commands are
    answered beside them in well under Slack's 3 seconds."""
    fake, base = served
    host, port = base.removeprefix("http://").split(":")
    stop = threading.Event()
    head = b"POST /slack/events HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"

    def trickle(body: bool) -> None:
        with socket.create_connection((host, int(port)), timeout=5) as conn:
            if body:
                conn.sendall(head + b"Content-Length: 1000\r\n\r\n")
            while not stop.wait(0.2):
                try:
                    conn.sendall(b"a" if body else b"X")
                except OSError:
                    return

    threads = [threading.Thread(target=trickle, args=(i % 2 == 1,), daemon=True) for i in range(10)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        for _ in range(10):
            started = time.monotonic()
            answer = send(base, command_body("list", response_url=fake.response_url()), FORM_CONTENT_TYPE)
            assert answer.status == 200 and time.monotonic() - started < 1.0
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)


def test_keep_alive_serves_several_requests_on_one_connection(served: tuple[FakeSlack, str]) -> None:
    _, base = served
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        for _ in range(3):
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            received = b""
            while not received.endswith(b"}"):
                received += conn.recv(4096)
            assert received.startswith(b"HTTP/1.1 200") and b'"ok": true' in received


# ------------------------------------------------------------------- item 1: failing listeners


def test_a_failing_button_answers_200_once_the_user_is_told(tmp_path: Path) -> None:
    # Nothing from outside makes a listener fail, so the server's `ask` is swapped for a failing one at start-up
    # (sitecustomize runs in every Python process that has it on its path, gunicorn's workers included).
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "from bot.slack.listeners import buttons\n"
        "def broken(*args, **kwargs):\n"
        "    raise RuntimeError('test failure in a listener')\n"
        "buttons.ask = broken\n"
    )
    with (
        FakeSlack() as fake,
        bot_server(tmp_path, fake, SLACK_BOT_TOKEN=BOT_TOKEN, PYTHONPATH=f"{hook}{os.pathsep}{Path.cwd()}") as base,
    ):
        click = block_actions_body("more", '{"t": "list", "o": 0, "l": "en"}', response_url=fake.response_url("e"))
        assert send(base, click, FORM_CONTENT_TYPE).status == 200
        assert fake.wait_for(lambda: len(fake.responses["e"]) == 1)
        (apology,) = fake.responses["e"]
        assert "error id" in apology["text"] and "test failure" not in apology["text"]


# ------------------------------------------------------------------- item 5: OAuth states


def test_install_page_states_expire_are_indexed_and_rate_limited(tmp_path: Path) -> None:
    with (
        FakeSlack() as fake,
        bot_server(
            tmp_path, fake, SLACK_CLIENT_ID=DEFAULT_CLIENT_ID, SLACK_CLIENT_SECRET=DEFAULT_CLIENT_SECRET
        ) as base,
    ):
        engine = create_engine(f"sqlite:///{tmp_path / 'web.db'}")
        with engine.begin() as connection:  # a state from an install abandoned long ago
            connection.execute(
                text("INSERT INTO slack_oauth_states (state, expire_at) VALUES ('old', '2000-01-01 00:00:00')")
            )
        statuses, retry_after = [], set()
        for _ in range(40):
            try:
                with urllib.request.urlopen(f"{base}/slack/install", timeout=5) as response:
                    statuses.append(response.status)
            except urllib.error.HTTPError as error:
                statuses.append(error.code)
                retry_after.add(error.headers["Retry-After"])
        assert retry_after == {"60"}
        # A burst of 20 (and perhaps one or two refilled), then 429.
        assert 20 <= statuses.count(200) <= 23 and statuses.count(429) == 40 - statuses.count(200)
        with engine.connect() as connection:
            states = [row[0] for row in connection.execute(text("SELECT state FROM slack_oauth_states"))]
        assert "old" not in states and len(states) == statuses.count(200)
        indexed = {tuple(index["column_names"]) for index in inspect(engine).get_indexes("slack_oauth_states")}
        assert {("state",), ("expire_at",)} <= indexed
        engine.dispose()


# ------------------------------------------------------------------- item 6: Socket Mode needs no signing secret


def test_socket_mode_app_needs_no_signing_secret(sqlite_url: str, fake_slack: FakeSlack) -> None:
    services = create_services(
        database_url=sqlite_url, slack_bot_token=BOT_TOKEN, slack_signing_secret=None, slack_api_url=fake_slack.api_url
    )
    db.upgrade(services.engine)
    try:
        assert create_app(services, socket_mode=True) is not None
        with pytest.raises(Exception, match="SLACK_SIGNING_SECRET"):
            create_app(services)
    finally:
        services.close()


def test_install_page_names_every_scope_and_what_it_is_for() -> None:
    from bot.slack.app import BOT_SCOPES

    page = create_services().renderer.page("install.html.j2", url="https://slack.com/oauth", lang="en")
    for scope in BOT_SCOPES:
        assert f"<code>{scope}</code>" in page
    assert "<strong>every\n    message</strong>" in page  # channels:history is said for what it is
