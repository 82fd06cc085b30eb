import pytest

from bot.settings import Settings, normalise_database_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u:p@db.example:5432/app", "postgresql+psycopg://u:p@db.example:5432/app"),
        ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        ("sqlite:///var/bot.db", "sqlite:///var/bot.db"),
        ("  postgres://h/d  ", "postgresql+psycopg://h/d"),
    ],
)
def test_database_url_is_normalised(url: str, expected: str) -> None:
    assert normalise_database_url(url) == expected


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/d")
    monkeypatch.setenv("BOT_ADMINS", "U1, U2,,")
    settings = Settings(_env_file=None)
    assert settings.database_url == "postgresql+psycopg://u@h/d"
    assert settings.bot_admins == ["U1", "U2"]
    assert not settings.has_slack_credentials


def test_default_database_is_a_sqlite_file_under_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert Settings(_env_file=None).database_url.endswith("/var/bot.db")


def test_clock_shard(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from bot.core.errors import ConfigurationError

    assert Settings(_env_file=None, clock_shard="1/3").shard == (1, 3)
    assert Settings(_env_file=None).shard is None
    with pytest.raises(ValidationError):
        Settings(_env_file=None, clock_shard="half")
    with pytest.raises(ConfigurationError):
        _ = Settings(_env_file=None, clock_shard="3/3").shard


def test_token_encryption_keys_are_a_secret_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEYS", " first-key-value , second-key-value,")
    settings = Settings(_env_file=None)
    assert settings.token_keys == ["first-key-value", "second-key-value"]
    assert "first-key-value" not in repr(settings) and "first-key-value" not in str(settings.model_dump())
    monkeypatch.delenv("TOKEN_ENCRYPTION_KEYS")
    assert Settings(_env_file=None).token_keys == []
    assert Settings(_env_file=None, token_encryption_keys="").token_keys == []


def test_oauth_mode_needs_both_client_id_and_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert not Settings(_env_file=None, slack_client_id="1.2").oauth
    assert Settings(_env_file=None, slack_client_id="1.2", slack_client_secret="s").oauth


def test_empty_platform_credentials_connect_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """.env.example's empty lines (FEISHU_APP_SECRET=) leave a platform unconfigured, not half-configured."""
    monkeypatch.setenv("FEISHU_APP_ID", "cli_x")
    monkeypatch.setenv("FEISHU_APP_SECRET", "")
    monkeypatch.setenv("DINGTALK_CLIENT_ID", "dingx")
    monkeypatch.setenv("DINGTALK_CLIENT_SECRET", "")
    settings = Settings()
    assert not settings.has_feishu_credentials and not settings.has_dingtalk_credentials
    monkeypatch.setenv("FEISHU_APP_SECRET", "s3cret")
    assert Settings().has_feishu_credentials
