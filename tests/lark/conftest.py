"""Feishu tests: the real lark-oapi SDK against the stand-in (tests/lark/fake_lark.py), on 127.0.0.1 only."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest

from bot.catalog.loader import load_bundle, read_bundle
from bot.services import Services, create_services
from bot.store import db
from tests.conftest import MINI
from tests.lark.fake_lark import FakeLark

ENCRYPT_KEY = "test-encrypt-key-5b1e"  # fixture values, not credentials
VERIFICATION_TOKEN = "test-verification-token-77a0"


@pytest.fixture(autouse=True)
def _local_only(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """requests (inside lark-oapi) would send 127.0.0.1 through a proxy from the environment."""
    for name in [key for key in os.environ if "proxy" in key.lower()]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    caplog.set_level(logging.INFO, logger="bot")


@pytest.fixture
def fake() -> Iterator[FakeLark]:
    with FakeLark() as stand_in:
        yield stand_in


def lark_services(url: str, fake: FakeLark, **settings: object) -> Services:
    defaults: dict[str, object] = {
        "feishu_app_id": fake.app_id,
        "feishu_app_secret": fake.app_secret,
        "feishu_domain": fake.url,
    }
    services = create_services(database_url=url, data_dir=MINI, **{**defaults, **settings})
    db.upgrade(services.engine)
    with services.session_factory.begin() as session:
        load_bundle(session, read_bundle(MINI))
    return services


@pytest.fixture
def services(sqlite_url: str, fake: FakeLark) -> Iterator[Services]:
    found = lark_services(
        sqlite_url, fake, feishu_encrypt_key=ENCRYPT_KEY, feishu_verification_token=VERIFICATION_TOKEN
    )
    yield found
    found.close()
