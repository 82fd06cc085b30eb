"""End to end: the real `bot serve` process (gunicorn, Bolt's WSGI adapter) and the Slack stand-in, both on
127.0.0.1, driven with requests built and signed exactly as Slack does."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from bot.services import create_services
from bot.slack.web import healthz
from tests.conftest import MINI
from tests.processes import free_port, wait_healthy
from tests.slack.conftest import BOT_TOKEN, SECRET, TOKEN_KEY
from tests.slack.fake_slack import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, FakeSlack
from tests.slack.requests import (
    FORM_CONTENT_TYPE,
    JSON_CONTENT_TYPE,
    app_home_opened,
    app_uninstalled,
    block_actions_body,
    command_body,
    event_body,
    post,
    signed_headers,
)


@contextmanager
def bot_server(tmp_path: Path, fake: FakeSlack, **env: str) -> Iterator[str]:
    port = free_port()
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("SLACK_") and "proxy" not in key.lower()
    }
    environment.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'web.db'}",
        DATA_DIR=str(MINI),
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=fake.api_url,
        NO_PROXY="127.0.0.1",
        **env,
    )
    log = (tmp_path / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(process, base, tmp_path / "server.log", 60)
        yield base
    finally:
        process.terminate()
        process.wait(20)
        log.close()
        output = (tmp_path / "server.log").read_text()
        assert "Traceback" not in output or "RuntimeError" in output, output


def send(base: str, body: bytes, content_type: str, secret: str = SECRET, timestamp: int | None = None):
    return post(f"{base}/slack/events", body, signed_headers(secret, body, content_type, timestamp))


def test_single_workspace_end_to_end(tmp_path: Path) -> None:
    with FakeSlack() as fake, bot_server(tmp_path, fake, SLACK_BOT_TOKEN=BOT_TOKEN) as base:
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
            assert json.loads(response.read()) == {"ok": True, "database": "ok"}

        # A command and its answer, in the acknowledgement.
        answer = send(base, command_body("直播销售额", response_url=fake.response_url("c")), FORM_CONTENT_TYPE)
        assert answer.status == 200 and answer.body["response_type"] == "ephemeral"
        assert "9.99万亿元" in answer.body["text"]
        share = next(b for b in answer.body["blocks"] if b["type"] == "actions")["elements"][0]

        # Its "Share in channel" button, as Slack sends the click.
        click = block_actions_body(
            share["action_id"], share["value"], user_id="U2", response_url=fake.response_url("s")
        )
        assert send(base, click, FORM_CONTENT_TYPE).status == 200
        assert fake.wait_for(lambda: len(fake.responses.get("s", [])) == 2)
        posted = fake.responses["s"][0]
        assert posted["response_type"] == "in_channel" and "9.99万亿元" in posted["text"]

        # App Home.
        assert send(base, event_body(app_home_opened(user="U1")), JSON_CONTENT_TYPE).status == 200
        assert fake.wait_for(lambda: fake.calls_to("views.publish"))  # published after the acknowledgement
        (publish,) = fake.calls_to("views.publish")
        assert publish.params["view"]["type"] == "home" and publish.token == BOT_TOKEN

        # A forged request and a replayed one: 401, and nothing happens.
        before = len(fake.calls)
        forged = send(base, command_body("list", response_url=fake.response_url("f")), FORM_CONTENT_TYPE, "forged")
        stale = send(base, click, FORM_CONTENT_TYPE, timestamp=int(time.time()) - 10 * 60)
        assert forged.status == 401 and stale.status == 401
        assert len(fake.calls) == before and fake.responses["f"] == [] and len(fake.responses["s"]) == 2

        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{base}/nowhere", timeout=5)
        assert missing.value.code == 404


def test_oauth_install_with_state_then_uninstall(tmp_path: Path) -> None:
    with (
        FakeSlack() as fake,
        bot_server(
            tmp_path,
            fake,
            SLACK_CLIENT_ID=DEFAULT_CLIENT_ID,
            SLACK_CLIENT_SECRET=DEFAULT_CLIENT_SECRET,
            LOG_LEVEL="DEBUG",  # the most the log ever says, and still no secret in it
        ) as base,
    ):
        # The install page: our own, with an "Add to Slack" link carrying a fresh state, and the state in a
        # cookie (Secure, as Bolt sets it: a browser sends it back over https only, so here we send it by hand).
        with urllib.request.urlopen(f"{base}/slack/install", timeout=5) as response:
            page = response.read().decode()
            cookie = response.headers["Set-Cookie"].split(";")[0]
        assert "Add to Slack" in page and "数字经济洞察" in page
        authorize = re.search(r'href="([^"]+)"', page.split('class="add"')[1]).group(1).replace("&amp;", "&")
        state = re.search(r"state=([^&]+)", authorize).group(1)
        assert f"client_id={DEFAULT_CLIENT_ID}" in authorize and "scope=commands" in authorize and state in cookie

        def callback(query: str, cookie_header: str) -> int:
            request = urllib.request.Request(f"{base}/slack/oauth_redirect?{query}", headers={"Cookie": cookie_header})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return int(response.status)
            except urllib.error.HTTPError as error:
                return error.code

        # A callback whose state we did not issue, or without the browser's cookie, is refused and installs nothing.
        token = fake.add_oauth_code("code-1", team_id="T9")
        assert callback("code=code-1&state=forged", "slack-app-oauth-state=forged") >= 400
        assert callback(f"code=code-1&state={state}", "") >= 400
        assert fake.calls_to("oauth.v2.access") == []

        # Slack redirects back with a code; the app exchanges it and stores the installation.
        assert callback(f"code=code-1&state={state}", cookie) == 200
        assert fake.calls_to("oauth.v2.access")
        engine = create_engine(f"sqlite:///{tmp_path / 'web.db'}")
        with engine.connect() as connection:
            bots = connection.execute(text("SELECT team_id, bot_token FROM slack_bots")).all()
            installations = connection.execute(text("SELECT bot_token FROM slack_installations")).all()
        # Encrypted at rest with TOKEN_ENCRYPTION_KEYS (issue 12): the table holds no token, the key reads it.
        assert [row.team_id for row in bots] == ["T9"]
        for (stored,) in [(bots[0].bot_token,), *installations]:
            assert token not in stored and "xox" not in stored
            assert Fernet(TOKEN_KEY).decrypt(stored.encode()).decode() == token

        # The new workspace is served with its own token.
        assert send(base, event_body(app_home_opened(user="U1"), team_id="T9"), JSON_CONTENT_TYPE).status == 200
        assert fake.wait_for(lambda: fake.calls_to("views.publish"))
        assert fake.calls_to("views.publish")[-1].token == token
        answer = send(base, command_body("list", team_id="T9", response_url=fake.response_url()), FORM_CONTENT_TYPE)
        assert "Insight" in answer.body["text"] or "insight" in answer.body["text"]

        # Uninstalling forgets it.
        assert send(base, event_body(app_uninstalled(), team_id="T9"), JSON_CONTENT_TYPE).status == 200
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM slack_bots")).scalar() == 0
            assert connection.execute(text("SELECT count(*) FROM slack_installations")).scalar() == 0
        engine.dispose()
        gone = send(base, command_body("list", team_id="T9", response_url=fake.response_url()), FORM_CONTENT_TYPE)
        assert "Insight 1" not in json.dumps(gone.body)

        # No token or secret in the log, though at DEBUG it records the whole OAuth exchange (issue 12).
        log = (tmp_path / "server.log").read_text()
        assert "oauth.v2.access" in log and "xoxb-[redacted]" in log
        assert token not in log and not re.search(r"xox[a-z]-(?!\[redacted\])", log)
        assert DEFAULT_CLIENT_SECRET not in log and SECRET not in log and TOKEN_KEY not in log


def test_healthz_reports_an_unreachable_database_as_503() -> None:
    services = create_services(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    statuses: list[str] = []
    body = b"".join(healthz(services, lambda status, headers: statuses.append(status)))
    assert statuses == ["503 Service Unavailable"]
    assert json.loads(body)["ok"] is False
    services.close()
