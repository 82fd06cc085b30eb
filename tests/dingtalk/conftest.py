"""DingTalk tests: the real SDK and edge against the stand-in (tests/dingtalk/fake_dingtalk.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.catalog.loader import load_bundle, read_bundle
from bot.services import Services, create_services
from bot.store import db
from tests.conftest import MINI
from tests.dingtalk.fake_dingtalk import CLIENT_ID, CLIENT_SECRET, FakeDingTalk


@pytest.fixture
def fake() -> Iterator[FakeDingTalk]:
    with FakeDingTalk() as stand_in:
        yield stand_in


def dingtalk_services(url: str, fake: FakeDingTalk, **settings: object) -> Services:
    services = create_services(
        database_url=url,
        data_dir=MINI,
        dingtalk_client_id=CLIENT_ID,
        dingtalk_client_secret=CLIENT_SECRET,
        dingtalk_api_url=fake.api_url,
        **settings,
    )
    db.upgrade(services.engine)
    with services.session_factory.begin() as session:
        load_bundle(session, read_bundle(MINI))
    return services


@pytest.fixture
def services(sqlite_url: str, fake: FakeDingTalk) -> Iterator[Services]:
    made = dingtalk_services(sqlite_url, fake)
    yield made
    made.close()


@pytest.fixture
def services_on_both(database_url: str, fake: FakeDingTalk) -> Iterator[Services]:
    """Like `services`, once on SQLite and once on PostgreSQL."""
    made = dingtalk_services(database_url, fake)
    yield made
    made.close()
