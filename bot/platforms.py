"""Every chat platform whose credentials are set, composed: the digest runner that posts to all of them in one tick,
and the receivers that `bot run` starts beside Slack (Feishu's long connection, DingTalk's Stream).

Each platform is an edge package (bot/slack, bot/lark, bot/dingtalk, bot/wecom) imported only when it is configured,
so a process never loads an SDK it does not use."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from typing import Any

from bot.core.errors import ConfigurationError
from bot.core.platforms import Platform, platform_of
from bot.core.poster import Poster, Posters
from bot.digest.runner import Runner
from bot.services import Services

__all__ = ["platform_of", "posters", "runner", "start_receivers"]

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Any]

NOTHING_TO_POST_WITH = (
    "posting digests needs SLACK_BOT_TOKEN, or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (Slack); FEISHU_APP_ID and "
    "FEISHU_APP_SECRET (Feishu/Lark); DINGTALK_CLIENT_ID and DINGTALK_CLIENT_SECRET (DingTalk); or "
    "TOKEN_ENCRYPTION_KEYS for WeCom robot webhooks"
)


def posters(services: Services) -> dict[Platform, Poster]:
    """A Poster for each platform this process can post to."""
    settings = services.settings
    found: dict[Platform, Poster] = {}
    if settings.slack_bot_token or settings.oauth:
        from bot.slack.poster import SlackPoster, client_factory

        found["slack"] = SlackPoster(client_factory(services))
    if settings.has_feishu_credentials:
        from bot.lark.poster import lark_poster

        found["lark"] = lark_poster(services)
    if settings.has_dingtalk_credentials:
        from bot.dingtalk.poster import dingtalk_poster

        found["dingtalk"] = dingtalk_poster(services)
    # Each WeCom channel carries its own (encrypted) webhook: the key is all it takes (and WECOM_WEBHOOK_URL without
    # one is refused with a clear message, never ignored).
    if settings.token_keys or settings.wecom_webhook_url:
        from bot.wecom.poster import wecom_poster

        found["wecom"] = wecom_poster(services)
    return found


def clock_id() -> str:
    # Unique per process (a lease renewed by one process must never pass for another's); the host name is for people
    # and is cut so that the id fits digests.claimed_by (64 characters) whatever the host is called.
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def runner(services: Services, connected: dict[Platform, Poster] | None = None) -> Runner:
    """The digest runner over every connected platform (the clock, `bot digest run`, `digest now` off Slack).
    `connected`: posters() already made, so that the runners of one process share them (and their pacing)."""
    connected = posters(services) if connected is None else connected
    if not connected:
        # Without a way to post, every channel would look uninstalled and be paused: refuse instead.
        raise ConfigurationError(NOTHING_TO_POST_WITH)
    settings = services.settings
    return Runner(services.session_factory, services.renderer, Posters(connected), clock_id(), shard=settings.shard)


def http_routes(services: Services) -> dict[str, WsgiApp]:
    """The paths `bot serve` answers besides Slack's: Feishu's HTTP callbacks (/lark/events) when set up for them."""
    settings = services.settings
    if settings.has_feishu_credentials and settings.feishu_events == "http":
        from bot.lark.http import routes

        return routes(services)
    return {}


def web_app() -> WsgiApp:
    """What each `bot serve` worker runs (made after the fork: no shared connections)."""
    from bot.services import create_services
    from bot.slack.web import create_wsgi_app

    services = create_services()
    return create_wsgi_app(services, http_routes(services))


def start_receivers(services: Services, digest_runner: Runner | None) -> list[Callable[[], None]]:
    """Start, in background threads, the receivers that need no public URL besides Slack's: Feishu's long connection
    and DingTalk's Stream. Returns a way to stop each."""
    settings = services.settings
    stops: list[Callable[[], None]] = []
    if settings.has_feishu_credentials and settings.feishu_events == "long_connection":
        from bot.lark.events import start_long_connection

        stops.append(start_long_connection(services, digest_runner))
    if settings.has_dingtalk_credentials:
        from bot.dingtalk.stream import start_stream

        stops.append(start_stream(services, digest_runner))
    return stops
