"""Slack tests: the real Bolt app and request path, the faithful stand-in (tests/slack/fake_slack.py) for Slack."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from slack_bolt import App, BoltRequest, BoltResponse

from bot.catalog.loader import load_bundle, read_bundle
from bot.services import Services, create_services
from bot.slack.app import create_app
from bot.store import db
from tests.conftest import MINI
from tests.slack.fake_slack import FakeSlack
from tests.slack.requests import sign

SECRET = "test-signing-secret-8f3c1a"
BOT_TOKEN = "xoxb-test-T1"
# OAuth mode needs TOKEN_ENCRYPTION_KEYS: every Slack test (and every `bot serve` it starts) has this one.
TOKEN_KEY = Fernet.generate_key().decode()


@pytest.fixture(autouse=True)
def _token_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEYS", TOKEN_KEY)


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def make_services(url: str, fake: FakeSlack, **settings: object) -> Services:
    services = create_services(
        database_url=url, data_dir=MINI, slack_signing_secret=SECRET, slack_api_url=fake.api_url, **settings
    )
    db.upgrade(services.engine)
    with services.session_factory.begin() as session:
        load_bundle(session, read_bundle(MINI))
    return services


@pytest.fixture
def slack_services(sqlite_url: str, fake_slack: FakeSlack) -> Iterator[Services]:
    services = make_services(sqlite_url, fake_slack, slack_bot_token=BOT_TOKEN)
    yield services
    services.close()


@pytest.fixture
def app(slack_services: Services) -> App:
    return create_app(slack_services)


def dispatch(
    app: App, body: bytes, content_type: str, *, secret: str = SECRET, timestamp: int | None = None
) -> BoltResponse:
    """Through Bolt's whole request path (signature check, parsing, middleware, listener), as its adapters do."""
    headers = {**sign(secret, body, timestamp), "Content-Type": content_type}
    return app.dispatch(BoltRequest(body=body.decode("utf-8"), headers={k.lower(): [v] for k, v in headers.items()}))


@pytest.fixture(autouse=True)
def _quiet_bolt(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot")
