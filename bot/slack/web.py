"""HTTP mode: Bolt's WSGI adapter behind gunicorn, plus /healthz. Routes: /slack/events (commands,
interactivity, events), /slack/install and /slack/oauth_redirect (OAuth mode), /healthz."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import text

from bot.services import Services, create_services

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]


def create_wsgi_app(services: Services | None = None) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    from bot.slack.app import create_app

    services = services or create_services()
    slack = SlackRequestHandler(create_app(services))

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            return healthz(services, start_response)
        return slack(environ, start_response)

    return application


def healthz(services: Services, start_response: StartResponse) -> Iterable[bytes]:
    try:
        with services.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        status, body = "200 OK", {"ok": True, "database": "ok"}
    except Exception as error:  # any database failure is "unhealthy", said plainly to the load balancer
        log.warning("health check failed: %s", error)
        status, body = "503 Service Unavailable", {"ok": False, "database": type(error).__name__}
    start_response(status, [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def serve(host: str, port: int, workers: int, factory: Callable[[], WsgiApp] | None = None) -> None:
    """gunicorn with sync workers, each building its own app after the fork (no shared connections).
    `factory` defaults to this bot; the benchmark passes a bare app to compare under the same server."""
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "sync")
            self.cfg.set("accesslog", None)
            self.cfg.set("timeout", 30)

        def load(self) -> Callable[..., Any]:
            return (factory or create_wsgi_app)()

    Server().run()
