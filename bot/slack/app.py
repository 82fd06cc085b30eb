"""The one factory for the Bolt app: single-workspace (bot token) or multi-workspace OAuth, from settings."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.oauth import OAuthFlow
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import delete

from bot.core.errors import ConfigurationError
from bot.services import Services
from bot.slack import errors, listeners
from bot.slack.client import installation_store, web_client
from bot.slack.deps import make_deps
from bot.slack.poster import slack_runner

log = logging.getLogger(__name__)

# The smallest set that works: commands; chat:write to post digests (and tell whoever set one up that it paused);
# channels:read/groups:read to check the bot can post before a channel subscribes; channels:history/groups:history
# to find a digest's own marker after a crash; users:read to recognise workspace admins. manifest.yml says the same.
BOT_SCOPES = [
    "commands",
    "chat:write",
    "channels:read",
    "groups:read",
    "channels:history",
    "groups:history",
    "users:read",
]
STATES_TABLE = "slack_oauth_states"


class _TokenInClientIsIntended(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN by itself and warns that the client's token wins; here that is the design."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


_TOKEN_FILTER = _TokenInClientIsIntended()


STATE_SECONDS = 600  # an install started more than ten minutes ago has to start again
# Each visit of /slack/install writes a state row, and anyone may visit: per process, a burst of 20 and then one
# a second, which a team installing by hand never meets, and which bounds the table at about 600 rows a process.
INSTALL_BURST, INSTALLS_PER_SECOND = 20, 1.0


class TokenBucket:
    def __init__(self, burst: int, per_second: float) -> None:
        self.burst, self.per_second = burst, per_second
        self.tokens, self.updated = float(burst), time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.per_second)
            self.updated = now
            if self.tokens < 1:
                return False
            self.tokens -= 1
            return True


class StateStore(SQLAlchemyOAuthStateStore):
    """slack_sdk's store, which deletes a state only when it is used: here each new one also clears expired ones."""

    def issue(self, *args: Any, **kwargs: Any) -> str:
        now = datetime.now(UTC).replace(tzinfo=None)  # the column is naive UTC, as slack_sdk writes it
        with self.engine.begin() as connection:
            connection.execute(delete(self.oauth_states).where(self.oauth_states.c.expire_at < now))
        return str(super().issue(*args, **kwargs))


class InstallFlow(OAuthFlow):
    """Bolt's OAuth flow with an install page of our own (templates/install.html.j2) and a bounded rate of new
    installs (each writes a state row)."""

    services: Services
    bucket: TokenBucket

    def handle_installation(self, request: BoltRequest) -> BoltResponse:
        if not self.bucket.take():
            return BoltResponse(
                status=429,
                body="Too many installs started; please try again in a minute.",
                headers={"content-type": ["text/plain; charset=utf-8"], "retry-after": ["60"]},
            )
        return super().handle_installation(request)

    def build_install_page_html(self, url: str, request: BoltRequest) -> str:
        return self.services.renderer.page("install.html.j2", url=url, lang="en")


def create_app(services: Services, *, client: WebClient | None = None, socket_mode: bool = False) -> App:
    """The app; `socket_mode` for Socket Mode, which gets its requests over the app's own WebSocket and so has no
    signatures to check (only HTTP needs SLACK_SIGNING_SECRET)."""
    settings = services.settings
    if not settings.slack_signing_secret and not socket_mode:
        raise ConfigurationError("SLACK_SIGNING_SECRET is required (Slack app settings, Basic Information)")
    # The token travels in the client, which also carries the retry handlers and SLACK_API_URL.
    client = client or web_client(services, settings.slack_bot_token)
    bolt_logger = logging.getLogger("bot.slack.bolt")
    bolt_logger.addFilter(_TOKEN_FILTER)
    common: dict[str, Any] = {
        "signing_secret": settings.slack_signing_secret or "",  # "": Bolt would read the environment itself
        "client": client,
        # Answer in the acknowledgement itself: our answers take milliseconds, and Bolt's ack polling costs ~10 ms.
        "process_before_response": True,
        "logger": bolt_logger,
    }
    if settings.slack_client_id and settings.slack_client_secret:
        store = installation_store(services)
        flow = InstallFlow(
            client=client,
            settings=OAuthSettings(
                client_id=settings.slack_client_id,
                client_secret=settings.slack_client_secret,
                scopes=BOT_SCOPES,
                installation_store=store,
                state_store=StateStore(
                    expiration_seconds=STATE_SECONDS, engine=services.engine, table_name=STATES_TABLE
                ),
            ),
        )
        flow.services = services
        flow.bucket = TokenBucket(INSTALL_BURST, INSTALLS_PER_SECOND)
        app = App(oauth_flow=flow, installation_store=store, **common)
    elif settings.slack_bot_token:
        app = App(**common)
    else:
        raise ConfigurationError(
            "set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (OAuth)"
        )
    # `digest now` posts through the digest runner, like the clock.
    errors.register(app, services)
    listeners.register(app, make_deps(services, slack_runner(services)))
    return app
