"""All configuration, from the environment (and an optional .env file), in one typed object."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot import PROJECT_ROOT
from bot.core.errors import ConfigurationError

DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'bot.db'}"


def normalise_database_url(url: str) -> str:
    """Hosts hand out postgres:// URLs, which SQLAlchemy 1.4+ rejects; we also pin the psycopg 3 driver."""
    url = url.strip()
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    data_dir: Path = PROJECT_ROOT / "data"
    default_lang: Literal["zh", "en"] | None = None
    log_level: str = "WARNING"
    # "i/n": this digest clock serves one share of the workspaces, so n clocks split a large run between them.
    clock_shard: str | None = Field(default=None, pattern=r"^\d+/[1-9]\d*$")
    # Whose records (statuses, notes, follows recorded from chat) people see: their workspace's, or, in an
    # Enterprise Grid org, the whole org's ("org"). Published facts are shared by all.
    tracking_scope: Literal["workspace", "org"] = "workspace"
    # Rendered answers remembered per process (0 turns the cache off).
    reply_cache_size: int = Field(default=1024, ge=0)

    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_client_id: str | None = None
    slack_client_secret: str | None = None
    slack_api_url: str | None = None
    # Seconds to wait for one Slack Web API call before counting it as a (retryable) failure.
    slack_timeout: int = Field(default=10, ge=1)
    # Fernet keys, comma-separated, that encrypt the stored Slack tokens (required in OAuth mode): the first encrypts,
    # every one decrypts, so a new key goes first and an old one stays until `bot secrets rotate` has run.
    token_encryption_keys: SecretStr | None = None
    # Feishu / Lark (a self-built app): events over the long connection (no public URL) or HTTP callbacks on
    # `bot serve` (/lark/events), which need the encrypt key and the verification token. FEISHU_DOMAIN:
    # https://open.feishu.cn (Feishu) or https://open.larksuite.com (Lark); tests point it at a local stand-in.
    feishu_app_id: str | None = None
    feishu_app_secret: SecretStr | None = None
    feishu_encrypt_key: SecretStr | None = None
    feishu_verification_token: SecretStr | None = None
    feishu_domain: str = "https://open.feishu.cn"
    feishu_events: Literal["long_connection", "http"] = "long_connection"
    # DingTalk (an internal app with a robot, Stream mode): the app's Client ID (AppKey) and Client Secret; the
    # robot code defaults to the Client ID. DINGTALK_API_URL: tests point it at a local stand-in.
    dingtalk_client_id: str | None = None
    dingtalk_client_secret: SecretStr | None = None
    dingtalk_robot_code: str | None = None
    dingtalk_api_url: str = "https://api.dingtalk.com"
    # WeCom group robot: a webhook subscribed by configuration (`bot wecom add` adds more); kept encrypted with
    # TOKEN_ENCRYPTION_KEYS once stored.
    wecom_webhook_url: SecretStr | None = None
    # A comma-separated list in the environment (U123,U456), not JSON.
    bot_admins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("bot_admins", mode="before")
    @classmethod
    def _split_admins(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def shard(self) -> tuple[int, int] | None:
        if not self.clock_shard:
            return None
        index, count = (int(part) for part in self.clock_shard.split("/"))
        if index >= count:
            raise ConfigurationError(f"CLOCK_SHARD {self.clock_shard}: the index must be below the count")
        return index, count

    @property
    def token_keys(self) -> list[str]:
        """TOKEN_ENCRYPTION_KEYS as a list, the primary key first; empty when unset."""
        if self.token_encryption_keys is None:
            return []
        return [key.strip() for key in self.token_encryption_keys.get_secret_value().split(",") if key.strip()]

    @property
    def oauth(self) -> bool:
        """Many workspaces, each installing through OAuth and stored in our database (bot/slack/app.py)."""
        return bool(self.slack_client_id and self.slack_client_secret)

    @property
    def has_feishu_credentials(self) -> bool:
        # An empty value (FEISHU_APP_SECRET= copied from .env.example) is no credential.
        return bool(self.feishu_app_id and self.feishu_app_secret and self.feishu_app_secret.get_secret_value())

    @property
    def has_dingtalk_credentials(self) -> bool:
        secret = self.dingtalk_client_secret
        return bool(self.dingtalk_client_id and secret and secret.get_secret_value())

    @property
    def has_slack_credentials(self) -> bool:
        return bool(self.slack_app_token or (self.slack_bot_token and self.slack_signing_secret)) or bool(
            self.slack_client_id and self.slack_client_secret and self.slack_signing_secret
        )
