"""Slack tokens encrypted at rest (issue 12): written encrypted, read back by Bolt's authorize, old rows migrated,
keys rotated, and a missing or wrong key a clear start-up error rather than a traceback."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from slack_sdk.oauth.installation_store import Bot, Installation
from sqlalchemy import Engine, column, insert, select, table, text

from bot.core.errors import ConfigurationError
from bot.services import Services, create_services
from bot.slack.app import create_app
from bot.slack.client import installation_store
from bot.slack.secrets import TOKEN_COLUMNS, check_at_start_up, cipher, rotate_stored_tokens
from bot.store import db
from tests.conftest import MINI
from tests.slack.conftest import dispatch, make_services
from tests.slack.fake_slack import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, FakeSlack
from tests.slack.requests import command_body
from tests.test_cli import bot

KEY_A, KEY_B = Fernet.generate_key().decode(), Fernet.generate_key().decode()
BOT, USER, REFRESH = "xoxb-secret-bot-T5", "xoxp-secret-user-U1", "xoxe-1-secret-refresh"
LATER = int(time.time()) + 12 * 3600  # with refresh tokens (token rotation on), an expiry: not due yet
OAUTH = {"slack_client_id": DEFAULT_CLIENT_ID, "slack_client_secret": DEFAULT_CLIENT_SECRET}
OAUTH_ENV = {
    "SLACK_CLIENT_ID": DEFAULT_CLIENT_ID,
    "SLACK_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
    "SLACK_SIGNING_SECRET": "s",
}


def services_with(url: str, keys: str | None) -> Services:
    return create_services(database_url=url, data_dir=MINI, token_encryption_keys=keys, **OAUTH)


def stored_values(engine: Engine) -> list[str]:
    """Every token column of every row, as the database holds it."""
    values = []
    with engine.connect() as connection:
        for name, columns in TOKEN_COLUMNS.items():
            for row in connection.execute(select(*map(column, columns)).select_from(table(name))):
                values += [value for value in row if value is not None]
    return values


def assert_no_plaintext(engine: Engine) -> None:
    with engine.connect() as connection:
        dump = " ".join(str(row) for name in TOKEN_COLUMNS for row in connection.execute(text(f"SELECT * FROM {name}")))
    assert dump and not any(prefix in dump for prefix in ("xoxb-", "xoxp-", "xoxe-")), dump


def installation(team: str = "T5") -> Installation:
    return Installation(
        app_id="A1",
        team_id=team,
        user_id="U1",
        bot_token=BOT,
        bot_id="B1",
        bot_user_id="UBOT",
        bot_scopes="commands,chat:write",
        bot_refresh_token=REFRESH,
        bot_token_expires_at=LATER,
        user_token=USER,
        user_refresh_token=REFRESH,
        user_token_expires_at=LATER,
        installed_at=1_700_000_000.0,
    )


def test_an_installation_is_stored_encrypted_and_bolt_finds_its_token(database_url: str, fake_slack: FakeSlack) -> None:
    services = make_services(database_url, fake_slack, **OAUTH)
    store = installation_store(services)
    store.save(installation())

    assert_no_plaintext(services.engine)
    assert len(stored_values(services.engine)) == 6  # four in the installation, two in its bot
    bot_row = store.find_bot(enterprise_id=None, team_id="T5")
    found = store.find_installation(enterprise_id=None, team_id="T5", user_id="U1")
    assert bot_row is not None and (bot_row.bot_token, bot_row.bot_refresh_token) == (BOT, REFRESH)
    assert found is not None and (found.bot_token, found.user_token, found.user_refresh_token) == (BOT, USER, REFRESH)

    # Bolt's authorize, through the whole request path: the workspace is served with its own token.
    fake_slack.add_token(BOT, team_id="T5")
    fake_slack.add_token(USER, team_id="T5", user_id="U1")
    response = dispatch(create_app(services), command_body("list", team_id="T5"), "application/x-www-form-urlencoded")
    assert response.status == 200 and "Insight 1" in response.body
    assert {call.token for call in fake_slack.calls_to("auth.test")} == {BOT, USER}
    services.close()


def _plaintext_rows_at_0009(url: str) -> Services:
    """A database as the bot left it before encryption: migrated to 0009, one installation stored in plaintext."""
    services = services_with(url, None)
    db.upgrade(services.engine, "0009")
    now = dt.datetime(2026, 11, 1, 12, 0)
    common = {"client_id": DEFAULT_CLIENT_ID, "app_id": "A1", "team_id": "T5", "is_enterprise_install": False}
    tokens = {"bot_token": BOT, "bot_refresh_token": REFRESH, "user_token": USER, "user_refresh_token": REFRESH}
    with services.engine.begin() as connection:
        connection.execute(
            insert(table("slack_installations", *map(column, [*common, "user_id", "installed_at", "bot_id", *tokens]))),
            {**common, "user_id": "U1", "installed_at": now, "bot_id": "B1", **tokens},
        )
        bot_tokens = {key: tokens[key] for key in TOKEN_COLUMNS["slack_bots"]}
        connection.execute(
            insert(table("slack_bots", *map(column, [*common, "installed_at", "bot_id", *bot_tokens]))),
            {**common, "installed_at": now, "bot_id": "B1", **bot_tokens},
        )
    return services


def test_the_migration_encrypts_the_tokens_already_stored(
    database_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    services = _plaintext_rows_at_0009(database_url)
    assert BOT in stored_values(services.engine)

    monkeypatch.setenv("TOKEN_ENCRYPTION_KEYS", KEY_A)
    db.upgrade(services.engine)
    assert_no_plaintext(services.engine)
    store = installation_store(services_with(database_url, KEY_A))
    found = store.find_installation(enterprise_id=None, team_id="T5", user_id="U1")
    assert found is not None and (found.bot_token, found.user_token, found.user_refresh_token) == (BOT, USER, REFRESH)

    # Downgrading (to the plaintext schema) decrypts them, and upgrading again encrypts them again.
    db.downgrade(services.engine, "0009")
    assert sorted(stored_values(services.engine)) == sorted([BOT, REFRESH, USER, REFRESH, BOT, REFRESH])
    db.upgrade(services.engine)
    assert_no_plaintext(services.engine)
    assert not any(secret in caplog.text for secret in (BOT, USER, REFRESH, KEY_A))
    services.close()


def test_without_the_key_the_tokens_wait_for_it_and_oauth_refuses_to_start(
    database_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("TOKEN_ENCRYPTION_KEYS")
    services = _plaintext_rows_at_0009(database_url)
    db.upgrade(services.engine)
    # Four in the installation, two in its bot; named by number only.
    assert "6 Slack token(s) are stored in plaintext" in caplog.text and BOT not in caplog.text

    with pytest.raises(ConfigurationError, match=r"TOKEN_ENCRYPTION_KEYS is not set(.|\n)*Fernet.generate_key"):
        check_at_start_up(services.settings.token_keys, services.settings.oauth, services.engine)
    with pytest.raises(ConfigurationError, match="TOKEN_ENCRYPTION_KEYS is not set"):
        installation_store(services)

    # With the key, the start-up encrypts them; the key reads them.
    keyed = services_with(database_url, KEY_A)
    check_at_start_up(keyed.settings.token_keys, keyed.settings.oauth, keyed.engine)
    assert_no_plaintext(services.engine)
    bot_row = installation_store(keyed).find_bot(enterprise_id=None, team_id="T5")
    assert bot_row is not None and bot_row.bot_token == BOT

    # Going back below 0010 writes them in plaintext again, which takes the key; without it nothing changes.
    with pytest.raises(ConfigurationError, match="downgrading needs TOKEN_ENCRYPTION_KEYS"):
        db.downgrade(services.engine, "0009")
    assert db.is_migrated(services.engine)
    assert_no_plaintext(services.engine)
    services.close()
    keyed.close()


def test_a_new_key_first_then_rotate_then_the_old_key_can_go(database_url: str) -> None:
    services = services_with(database_url, KEY_A)
    db.upgrade(services.engine)
    installation_store(services).save(installation())
    encrypted_with_a = stored_values(services.engine)

    both = services_with(database_url, f"{KEY_B}, {KEY_A}")
    bot_row = installation_store(both).find_bot(enterprise_id=None, team_id="T5")
    assert bot_row is not None and bot_row.bot_token == BOT  # B first: A still reads what A wrote
    keys = cipher(both.settings.token_keys)
    assert keys is not None
    assert rotate_stored_tokens(both.engine, keys) == 6
    rotated = stored_values(services.engine)
    assert set(rotated).isdisjoint(encrypted_with_a)
    assert all(Fernet(KEY_B).decrypt(value.encode()) for value in rotated)
    assert_no_plaintext(services.engine)

    only_b = services_with(database_url, KEY_B)
    found = installation_store(only_b).find_installation(enterprise_id=None, team_id="T5", user_id="U1")
    assert found is not None and (found.bot_token, found.user_token) == (BOT, USER)
    check_at_start_up(only_b.settings.token_keys, only_b.settings.oauth, only_b.engine)

    # The old key alone no longer reads them: a clear error naming the setting, not cryptography's InvalidToken.
    only_a = services_with(database_url, KEY_A)
    with pytest.raises(ConfigurationError, match="cannot be decrypted with any key in TOKEN_ENCRYPTION_KEYS"):
        installation_store(only_a).find_bot(enterprise_id=None, team_id="T5")
    with pytest.raises(ConfigurationError, match="team T5"):
        check_at_start_up(only_a.settings.token_keys, only_a.settings.oauth, only_a.engine)
    for each in (services, both, only_b, only_a):
        each.close()


@pytest.mark.parametrize("keys", ["not-a-key", f"{KEY_A},{KEY_A[:-4]}"])
def test_an_invalid_key_is_named_without_showing_it(sqlite_url: str, keys: str) -> None:
    services = services_with(sqlite_url, keys)
    with pytest.raises(ConfigurationError, match="is not a Fernet key") as error:
        installation_store(services)
    assert keys.split(",")[-1] not in str(error.value)
    assert "**" in repr(services.settings) and keys not in repr(services.settings)
    services.close()


# ---- the command line: what an operator sees ----


def test_oauth_without_a_key_is_a_clear_start_up_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOKEN_ENCRYPTION_KEYS")
    for key, value in OAUTH_ENV.items():
        monkeypatch.setenv(key, value)
    for command in ("serve", "clock"):
        result = bot(tmp_path, command, data_dir=MINI)
        assert result.returncode == 2, result.stderr
        assert "Configuration: TOKEN_ENCRYPTION_KEYS is not set" in result.stderr
        assert "Fernet.generate_key()" in result.stderr and "Traceback" not in result.stderr

    monkeypatch.setenv("TOKEN_ENCRYPTION_KEYS", "not-a-key")
    result = bot(tmp_path, "serve", data_dir=MINI)
    assert result.returncode == 2 and "not a Fernet key" in result.stderr and "not-a-key" not in result.stderr
    assert "Traceback" not in result.stderr


def test_wrong_key_then_rotate_from_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    services = services_with(url, KEY_A)
    db.upgrade(services.engine)
    installation_store(services).save_bot(installation().to_bot())
    for key, value in {**OAUTH_ENV, "LOG_LEVEL": "DEBUG"}.items():
        monkeypatch.setenv(key, value)

    monkeypatch.setenv("TOKEN_ENCRYPTION_KEYS", KEY_B)
    for args in (["ask", "list"], ["secrets", "rotate"]):
        wrong = bot(tmp_path, *args, data_dir=MINI)
        assert wrong.returncode == 2 and "cannot be decrypted with any key in TOKEN_ENCRYPTION_KEYS" in wrong.stderr
        assert "InvalidToken" not in wrong.stderr and "Traceback" not in wrong.stderr

    monkeypatch.setenv("TOKEN_ENCRYPTION_KEYS", f"{KEY_B},{KEY_A}")
    rotated = bot(tmp_path, "secrets", "rotate", data_dir=MINI)
    assert rotated.returncode == 0, rotated.stderr
    assert "2 stored secret(s) (Slack tokens, WeCom webhook URLs) encrypted with the first key" in rotated.stdout
    for secret in (KEY_A, KEY_B, BOT, REFRESH):
        assert secret not in rotated.stdout + rotated.stderr

    monkeypatch.setenv("TOKEN_ENCRYPTION_KEYS", KEY_B)
    assert bot(tmp_path, "ask", "list", data_dir=MINI).returncode == 0
    bot_row = installation_store(services_with(url, KEY_B)).find_bot(enterprise_id=None, team_id="T5")
    assert bot_row is not None and bot_row.bot_token == BOT
    services.close()


def test_a_bot_saved_without_a_refresh_token_keeps_its_nulls(sqlite_url: str) -> None:
    services = services_with(sqlite_url, KEY_A)
    db.upgrade(services.engine)
    store = installation_store(services)
    store.save_bot(Bot(app_id="A1", team_id="T6", bot_token=BOT, bot_id="B1", bot_user_id="U", installed_at=1.0))
    with services.engine.connect() as connection:
        (refresh,) = connection.execute(text("SELECT bot_refresh_token FROM slack_bots")).one()
    assert refresh is None
    bot_row = store.find_bot(enterprise_id=None, team_id="T6")
    assert bot_row is not None and (bot_row.bot_token, bot_row.bot_refresh_token) == (BOT, None)
    services.close()
