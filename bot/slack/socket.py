"""Socket Mode: the same app over a WebSocket that the app opens, for workspaces behind a firewall.

Three things differ from Bolt's stock set-up, each for how Slack really behaves:

* The client is slack_sdk's websocket-client one (`websocket-client` package). The built-in client reads a new
  connection only after the old socket's 3 s receive has timed out, so after each routine `refresh_requested` the
  first command waited ~3 s for its acknowledgement; websocket-client notices a closed socket at once.
* Replacing a connection does not stall. slack_sdk closes the old session with a close handshake run on another
  thread than the session's reader; when Slack's close reply lands there, the reader sleeps in select() on a closed
  socket until the next 10 s ping, and the new session, run by that same thread, waits with it (1 refresh in 7 here).
  `Client` retires the old session itself: a close frame, then a shutdown that wakes its reader at once.
* Every envelope is acknowledged. Bolt's adapter acknowledges only when Bolt answers 200, so an event nobody
  listens for (404) or a listener that raised (500) went unacknowledged: Slack redelivers such events and shows an
  interaction as failed, although the error handler has already told the user what happened.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode.base_handler import BaseSocketModeHandler
from slack_bolt.adapter.socket_mode.internals import run_bolt_app, send_response
from slack_bolt.response import BoltResponse
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.websocket_client import SocketModeClient

from bot.core.errors import ConfigurationError
from bot.services import Services
from bot.slack.app import create_app

log = logging.getLogger(__name__)


class Client(SocketModeClient):
    """slack_sdk's websocket-client Socket Mode client, replacing a connection without waiting on the old one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.closed = False  # before super().__init__, which starts the thread that reads `closed`
        super().__init__(*args, **kwargs)

    def connect(self) -> None:
        old, self.current_session = self.current_session, None  # so that slack_sdk does not close it its way
        super().connect()
        if old is not None:
            self._retire(old)

    def disconnect(self) -> None:
        if self.current_session is not None:
            self._retire(self.current_session)

    def close(self) -> None:
        self.closed = True
        self.message_queue.put(None)  # wakes the message thread now rather than at its 1 s poll
        super().close()

    def _retire(self, session: Any) -> None:
        ws = session.sock
        live = ws is not None and ws.sock is not None
        # A live session replaced on purpose: its reader goes straight on to the new one (see below).
        session.retired = live
        # Its closing must not start yet another connection, nor log an error.
        session.on_close = session.on_error = None
        session.keep_running = False
        if live:
            with contextlib.suppress(Exception):
                ws.send_close()  # tell Slack, as the protocol asks
            with contextlib.suppress(OSError):
                ws.sock.shutdown(socket.SHUT_RDWR)  # and wake the session's reader now, whatever Slack does

    def _run_current_session(self) -> None:
        # slack_sdk runs one session at a time and looks for the next every 0.5 s; after a refresh, go straight on
        # with the new session. A session that ended by itself (dropped, refused) still waits the 0.5 s, so that a
        # Slack that is down is not asked for a new URL in a tight loop.
        while not self.closed:
            session = self.current_session
            super()._run_current_session()  # type: ignore[no-untyped-call]
            if not getattr(session, "retired", False) or self.current_session is session:
                return


class Handler(BaseSocketModeHandler):
    """Bolt's Socket Mode adapter over `Client`, acknowledging every envelope whatever Bolt made of it."""

    def __init__(self, app: App, app_token: str) -> None:
        self.app = app
        self.client = Client(app_token=app_token, logger=app.logger, web_client=app.client)
        self.client.socket_mode_request_listeners.append(self.handle)

    def handle(self, client: BaseSocketModeClient, req: SocketModeRequest) -> None:
        start = time.time()
        try:
            response: BoltResponse = run_bolt_app(self.app, req)
        except Exception:  # Bolt itself failed (listener errors are already handled by the app's error handler)
            log.exception("Socket Mode envelope %s (%s) failed", req.envelope_id, req.type)
            response = BoltResponse(status=500, body="")
        if response.status != 200:
            log.info("acknowledging %s envelope %s that Bolt answered %s", req.type, req.envelope_id, response.status)
            response = BoltResponse(status=200, body="")
        send_response(client, req, response, start)


def socket_mode_handler(services: Services, app: App | None = None) -> Handler:
    app_token = services.settings.slack_app_token
    if not app_token:
        raise ConfigurationError(
            "SLACK_APP_TOKEN (xapp-..., Basic Information > App-Level Tokens) is required for Socket Mode"
        )
    # socket_mode: no SLACK_SIGNING_SECRET, which Socket Mode does not use.
    return Handler(app or create_app(services, socket_mode=True), app_token)


def run_socket_mode(services: Services) -> None:
    socket_mode_handler(services).start()  # type: ignore[no-untyped-call]
