from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet

from bot.catalog.loader import load_bundle, read_bundle
from bot.services import Services, create_services
from bot.store import db
from tests.conftest import MINI
from tests.wecom.fake_wecom import FakeWeCom

KEY = Fernet.generate_key().decode()


def wecom_services(url: str, keys: str | None = KEY, **overrides: object) -> Services:
    """The miniature edition, loaded, and TOKEN_ENCRYPTION_KEYS (which WeCom's webhook URLs need)."""
    services = create_services(database_url=url, data_dir=MINI, token_encryption_keys=keys, **overrides)
    db.upgrade(services.engine)
    with services.session_factory.begin() as session:
        load_bundle(session, read_bundle(MINI))
    return services


@pytest.fixture
def fake_wecom() -> Iterator[FakeWeCom]:
    with FakeWeCom(keys=("K1", "K2", "K3", "K4")) as fake:
        yield fake


@pytest.fixture
def services(sqlite_url: str) -> Iterator[Services]:
    services = wecom_services(sqlite_url)
    yield services
    services.close()
