"""A local stand-in for Slack's Web API and response_url endpoints, for end-to-end tests.

The real bot process is started with its WebClient pointed at `FakeSlack.api_url`; the fake records every call and
answers the way Slack does, checked against slack_sdk 3.4x's client code rather than guessed:

* WebClient always POSTs. Methods slack_sdk sends with `json=` (chat.postMessage, chat.postEphemeral, chat.update,
  views.open, views.publish, ...) arrive as `application/json;charset=utf-8`; everything else (auth.test,
  conversations.*, users.info, apps.uninstall, oauth.v2.access, and raw `api_call(params=...)`) arrives form-encoded
  in the body, even the methods slack_sdk labels `http_verb="GET"`.
* The token travels in `Authorization: Bearer ...`. Slack also reads a `token` form field, but never a `token` key
  in a JSON body, so neither does this fake.
* oauth.v2.access authenticates the app with `Authorization: Basic base64(client_id:client_secret)`.
* Errors come back as HTTP 200 `{"ok": false, "error": ...}` (SlackApiError in slack_sdk); rate limits as 429 with an
  integer `Retry-After` (RateLimitErrorRetryHandler does `int(header)`, so a fractional value would crash it).

Only 127.0.0.1 is bound and nothing here talks to the network.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

log = logging.getLogger(__name__)

JSON_CONTENT_TYPE = "application/json; charset=utf-8"

DEFAULT_TOKEN = "xoxb-test-T1"
DEFAULT_TEAM_ID = "T1"
DEFAULT_BOT_USER_ID = "UBOT"
DEFAULT_BOT_ID = "B1"
DEFAULT_APP_ID = "A1"
DEFAULT_CLIENT_ID = "1111.2222"
DEFAULT_CLIENT_SECRET = "test-client-secret"  # a fixture value, not a credential
DEFAULT_SCOPES = "chat:write,commands,channels:read,channels:history,groups:read,im:write,users:read"

# Mirrors of what the request builders in tests/slack/requests.py put in payloads, so both sides agree.
DEFAULT_CHANNELS: dict[str, dict[str, Any]] = {
    "C1": {"name": "general", "is_member": True, "is_archived": False, "is_general": True},
    "C2": {"name": "random", "is_member": True, "is_archived": False},
}
DEFAULT_USERS: dict[str, dict[str, Any]] = {
    "U1": {"name": "alice", "real_name": "Alice Example", "is_admin": False, "is_owner": False},
    "U2": {"name": "bob", "real_name": "Bob Example", "is_admin": False, "is_owner": False},
}

# Arguments Slack documents as JSON-typed. Sent form-encoded they are JSON strings; decoding them here means tests
# assert on the same Python objects whichever encoding the bot's client picked.
JSON_PARAMS = frozenset({"attachments", "blocks", "chunks", "metadata", "unfurls", "user_auth_blocks", "view"})

# Slack rejects message text longer than this with msg_too_long, and more than 50 blocks with invalid_blocks.
MAX_TEXT_LENGTH = 40_000
MAX_BLOCKS = 50

# Methods that authenticate the app (client id and secret) rather than a workspace token.
NO_TOKEN_METHODS = frozenset({"oauth.v2.access"})

# Handlers take the request's params and the caller's token identity (None for NO_TOKEN_METHODS) and return the
# response fields to add to {"ok": true}; they raise SlackError for {"ok": false}.
MethodHandler = Callable[[dict[str, Any], dict[str, Any] | None], dict[str, Any]]


@dataclass(frozen=True)
class Call:
    """One Web API request as the fake received it."""

    method: str
    params: dict[str, Any]
    token: str | None
    headers: dict[str, str]
    at: float


class SlackError(Exception):
    """Raised by method handlers to answer {"ok": false, "error": code} (HTTP 200, as Slack does)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class _Fault:
    error: str | None
    status: int
    retry_after: int | None
    delay: float
    remaining: int


class _Server(ThreadingHTTPServer):
    # A listen backlog for bursts (the digest benchmark opens hundreds of connections a second); the default 5
    # turns a burst into connection resets that a real Slack would not produce.
    request_queue_size = 256


@dataclass
class _Bucket:
    """Token bucket: lets bursts of up to `rate` calls through, then one call every 1/rate seconds."""

    rate: float
    tokens: float = 0.0
    last: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = max(1.0, self.rate)

    def wait(self) -> float:
        """Refill for the time passed; return 0 if a call may go now, else the seconds until it may."""
        now = time.monotonic()
        self.tokens = min(max(1.0, self.rate), self.tokens + (now - self.last) * self.rate)
        self.last = now
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate


@dataclass
class _Reply:
    status: int
    body: bytes
    headers: dict[str, str]


def _json_reply(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(status, json.dumps(payload).encode(), {"Content-Type": JSON_CONTENT_TYPE, **(headers or {})})


def _truthy(value: Any) -> bool:
    # JSON bodies carry real booleans, form bodies "1"/"0" (slack_sdk's convert_bool_to_0_or_1) or "true"/"false".
    return value is True or str(value).lower() in {"1", "true"}


def _ts_key(ts: str) -> Decimal:
    # Message timestamps have 16 significant digits, one more than a float keeps; compare them exactly.
    return Decimal(ts)


def _dm_id(user_id: str) -> str:
    return "D" + user_id[1:]


class FakeSlack:
    """Slack's Web API, response_url receiver and a little workspace state, served on 127.0.0.1.

    Use as a context manager (`with FakeSlack() as slack:`) or call start()/stop(). Tests configure `tokens`,
    `channels`, `users`, queue faults with fail(), and assert on `calls`, `messages` and `responses`.
    """

    def __init__(
        self,
        *,
        tokens: dict[str, dict[str, Any]] | None = None,
        channels: dict[str, dict[str, Any]] | None = None,
        users: dict[str, dict[str, Any]] | None = None,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        ts_start: str = "1700000000.000100",
    ) -> None:
        # Valid bot tokens -> identity (team_id, team, user_id, bot_id, app_id, enterprise_id; optionally user,
        # domain, scope). Missing keys get defaults at use time so tests may add partial identities directly.
        self.tokens: dict[str, dict[str, Any]] = (
            {k: dict(v) for k, v in tokens.items()}
            if tokens is not None
            else {DEFAULT_TOKEN: {"team_id": DEFAULT_TEAM_ID, "team": "Test Team"}}
        )
        self.revoked: set[str] = set()
        self.channels: dict[str, dict[str, Any]] = {
            k: dict(v) for k, v in (channels if channels is not None else DEFAULT_CHANNELS).items()
        }
        self.users: dict[str, dict[str, Any]] = {
            k: dict(v) for k, v in (users if users is not None else DEFAULT_USERS).items()
        }
        self.client_id = client_id
        self.client_secret = client_secret

        self.calls: list[Call] = []
        self.responses: dict[str, list[dict[str, Any]]] = {}
        # Posted messages per channel, oldest first, as conversations.history would return them (with metadata).
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.ephemeral: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}  # view id -> view
        self.home_views: dict[str, str] = {}  # user id -> id of the published home view

        self._oauth_codes: dict[str, dict[str, Any]] = {}
        self._used_triggers: set[str] = set()
        self._faults: dict[str, list[_Fault]] = {}
        self._limits: dict[str, tuple[float | None, float | None]] = {}
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}
        # Integer microseconds so generated timestamps are exact and strictly increasing.
        seconds, _, micros = ts_start.partition(".")
        self._next_ts = int(seconds) * 1_000_000 + int(micros.ljust(6, "0"))
        self._ids = 0
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

        self.methods: dict[str, MethodHandler] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "views.publish": self._views_publish,
            "views.open": self._views_open,
            "conversations.history": self._conversations_history,
            "conversations.info": self._conversations_info,
            "users.conversations": self._users_conversations,
            "users.info": self._users_info,
            "oauth.v2.access": self._oauth_v2_access,
            "apps.uninstall": self._apps_uninstall,
        }

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> FakeSlack:
        server = _Server(("127.0.0.1", 0), _Handler)
        # Daemon handler threads: a request parked in a `delay` fault must not hold up stop() or interpreter exit.
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-slack", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeSlack is not started")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def api_url(self) -> str:
        """What WebClient(base_url=...) takes; it joins the method name on, so requests arrive at /api/<method>."""
        return f"{self.url}api/"

    # ----------------------------------------------------------------- configuration

    def add_token(self, token: str, *, team_id: str, **identity: Any) -> None:
        with self._lock:
            self.tokens[token] = {"team_id": team_id, **identity}
            self.revoked.discard(token)

    def revoke(self, token: str) -> None:
        """Later calls with this token get token_revoked, as after an uninstall or tokens_revoked event."""
        with self._lock:
            self.revoked.add(token)

    def add_channel(self, channel_id: str, **flags: Any) -> dict[str, Any]:
        """Add or update a channel; flags are name, is_member, is_archived, is_private, ..."""
        with self._lock:
            record = self.channels.setdefault(
                channel_id, {"name": channel_id.lower(), "is_member": True, "is_archived": False}
            )
            record.update(flags)
            return record

    def add_user(self, user_id: str, **flags: Any) -> dict[str, Any]:
        """Add or update a user; flags are name, real_name, is_admin, is_owner, is_bot, deleted, tz, ..."""
        with self._lock:
            record = self.users.setdefault(user_id, {"name": user_id.lower()})
            record.update(flags)
            return record

    def add_oauth_code(
        self,
        code: str,
        *,
        team_id: str = DEFAULT_TEAM_ID,
        team_name: str | None = None,
        bot_token: str | None = None,
        bot_user_id: str = DEFAULT_BOT_USER_ID,
        bot_id: str = DEFAULT_BOT_ID,
        app_id: str = DEFAULT_APP_ID,
        user_id: str = "U1",
        scope: str = DEFAULT_SCOPES,
        enterprise_id: str | None = None,
        redirect_uri: str | None = None,
    ) -> str:
        """Register a one-time code for oauth.v2.access; returns the bot token the exchange will issue.

        The token becomes valid (for auth.test etc.) only once the code is exchanged, as in Slack.
        """
        token = bot_token or f"xoxb-oauth-{team_id}-{code}"
        with self._lock:
            self._oauth_codes[code] = {
                "token": token,
                "redirect_uri": redirect_uri,
                "identity": {
                    "team_id": team_id,
                    "team": team_name or f"Team {team_id}",
                    "user_id": bot_user_id,
                    "bot_id": bot_id,
                    "app_id": app_id,
                    "enterprise_id": enterprise_id,
                    "scope": scope,
                },
                "installer": user_id,
            }
        return token

    def add_method(self, method: str, handler: MethodHandler) -> None:
        """Serve another Web API method; everything not registered answers unknown_method."""
        with self._lock:
            self.methods[method] = handler

    def fail(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        retry_after: int | None = None,
        delay: float = 0.0,
        times: int = 1,
    ) -> None:
        """Make the next `times` calls to `method` fail (use method "response_url" for the response_url receiver).

        status 429: {"ok": false, "error": "ratelimited"} with Retry-After (default 1 s, Slack always sends one).
        status >= 500: an HTML error page like Slack's edge returns, or JSON {"ok": false, "error": error} if given.
        status 200 with error: {"ok": false, "error": error}.
        delay: sleep this long first (for client timeouts); with no error/status the real answer follows the delay.
        """
        with self._lock:
            self._faults.setdefault(method, []).append(_Fault(error, status, retry_after, delay, times))

    def rate_limit(
        self,
        method: str,
        per_channel_per_second: float | None = None,
        per_team_per_second: float | None = None,
    ) -> None:
        """Enforce Slack-style limits on `method`; excess calls get 429 with an integer Retry-After."""
        with self._lock:
            self._limits[method] = (per_channel_per_second, per_team_per_second)
            self._buckets = {k: v for k, v in self._buckets.items() if k[0] != method}

    # ----------------------------------------------------------------- inspection

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def clear(self) -> None:
        """Forget recorded calls and response_url posts (workspace state such as messages is kept)."""
        with self._lock:
            self.calls.clear()
            for posts in self.responses.values():
                posts.clear()

    def response_url(self, key: str | None = None) -> str:
        """A response_url to put in command/action payloads; POSTs to it are collected in responses[key]."""
        key = key or uuid.uuid4().hex
        with self._lock:
            self.responses.setdefault(key, [])
        return f"{self.url}response/{quote(key, safe='')}"

    def messages_in(self, channel: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(m) for m in self.messages.get(channel, [])]

    @staticmethod
    def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01) -> bool:
        """Poll until predicate() is truthy; False after `timeout` seconds. For effects the bot produces async."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)

    # ----------------------------------------------------------------- request handling

    def _take_fault(self, key: str) -> _Fault | None:
        queue = self._faults.get(key)
        if not queue:
            return None
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            queue.pop(0)
        return fault

    @staticmethod
    def _fault_reply(fault: _Fault) -> _Reply | None:
        if fault.status == 429:
            retry_after = fault.retry_after if fault.retry_after is not None else 1
            return _json_reply(
                429, {"ok": False, "error": fault.error or "ratelimited"}, {"Retry-After": str(retry_after)}
            )
        if fault.status >= 500 and fault.error is None:
            page = f"<html><head><title>{fault.status}</title></head><body>Slack is having trouble</body></html>"
            return _Reply(fault.status, page.encode(), {"Content-Type": "text/html; charset=utf-8"})
        if fault.status != 200 or fault.error is not None:
            return _json_reply(fault.status, {"ok": False, "error": fault.error or "fatal_error"})
        return None  # delay only

    def _parse(self, query: str, body: bytes, headers: dict[str, str]) -> tuple[dict[str, Any], str | None]:
        """Merge query string and body into params; returns (params, parse error code or None)."""
        params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if body and content_type == "application/json":
            try:
                document = json.loads(body)
            except ValueError:
                return params, "invalid_json"
            if not isinstance(document, dict):
                return params, "json_not_object"
            document.pop("token", None)  # Slack ignores tokens inside JSON bodies; only the header counts
            params.update(document)
        elif body and content_type in ("", "application/x-www-form-urlencoded"):
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        # multipart/form-data (file uploads) is not parsed; only the query string is recorded for it.
        for name in JSON_PARAMS & params.keys():
            value = params[name]
            if isinstance(value, str) and value[:1] in ("[", "{"):
                # Invalid JSON stays a string; the method's own validation then reports it, as Slack would.
                with contextlib.suppress(ValueError):
                    params[name] = json.loads(value)
        return params, None

    def handle_api(self, method: str, query: str, body: bytes, raw_headers: dict[str, str]) -> _Reply:
        headers = {k.lower(): v for k, v in raw_headers.items()}
        params, parse_error = self._parse(query, body, headers)
        authorization = headers.get("authorization", "")
        token: str | None = None
        basic: tuple[str, str] | None = None
        if authorization.startswith("Bearer "):
            token = authorization[len("Bearer ") :].strip() or None
        elif authorization.startswith("Basic "):
            try:
                client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
                basic = (client_id, secret)
            except (binascii.Error, UnicodeDecodeError):
                basic = None
        form_token = params.pop("token", None)
        token = token or form_token

        with self._lock:
            # A copy, so the record stays exactly what arrived whatever the handler does with params.
            self.calls.append(Call(method, dict(params), token, dict(raw_headers), time.time()))
            fault = self._take_fault(method)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            reply = self._fault_reply(fault)
            if reply is not None:
                return reply

        with self._lock:
            if parse_error:
                return _json_reply(200, {"ok": False, "error": parse_error})
            handler = self.methods.get(method)
            if handler is None:
                return _json_reply(404, {"ok": False, "error": "unknown_method"})
            who: dict[str, Any] | None = None
            if method not in NO_TOKEN_METHODS:
                if not token:
                    return _json_reply(200, {"ok": False, "error": "not_authed"})
                if token in self.revoked:
                    return _json_reply(200, {"ok": False, "error": "token_revoked"})
                if token not in self.tokens:
                    return _json_reply(200, {"ok": False, "error": "invalid_auth"})
                who = self._identity(token)
                wait = self._rate_limited(method, who["team_id"], params.get("channel"))
                if wait is not None:
                    return _json_reply(
                        429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(max(1, math.ceil(wait)))}
                    )
            elif basic is not None:
                # Slack takes the app's credentials from HTTP Basic auth (slack_sdk's way) or from the body.
                params = {"client_id": basic[0], "client_secret": basic[1], **params}
            try:
                data = handler(params, who)
            except SlackError as e:
                return _json_reply(200, {"ok": False, "error": e.code}, self._scope_header(who))
        return _json_reply(200, {"ok": True, **data}, self._scope_header(who))

    def handle_response_url(self, key: str, body: bytes) -> _Reply:
        with self._lock:
            fault = self._take_fault("response_url")
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            reply = self._fault_reply(fault)
            if reply is not None:
                return reply
        try:
            message = json.loads(body)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            return _json_reply(400, {"ok": False, "error": "invalid_payload"})
        with self._lock:
            self.responses.setdefault(key, []).append(message)
        return _json_reply(200, {"ok": True})

    @staticmethod
    def _scope_header(who: dict[str, Any] | None) -> dict[str, str]:
        # Lower-case on purpose: Bolt reads auth.test's `headers.get("x-oauth-scopes")` from a plain dict, and
        # Slack (HTTP/2) sends lower-case names. x-slack-req-id is on every real response.
        headers = {"x-slack-req-id": uuid.uuid4().hex}
        if who is not None:
            headers["x-oauth-scopes"] = who["scope"]
        return headers

    def _rate_limited(self, method: str, team_id: str, channel: Any) -> float | None:
        per_channel, per_team = self._limits.get(method, (None, None))
        checks = []
        if per_team:
            checks.append((("team", team_id), per_team))
        if per_channel and channel:
            checks.append((("channel", f"{team_id}/{channel}"), per_channel))
        buckets = [self._buckets.setdefault((method, scope, key), _Bucket(rate)) for (scope, key), rate in checks]
        # A refused call spends nothing, in any bucket: Slack counts only the calls it serves.
        wait = max((b.wait() for b in buckets), default=0.0)
        if wait > 0:
            return wait
        for bucket in buckets:
            bucket.tokens -= 1.0
        return None

    # ----------------------------------------------------------------- workspace helpers (called under the lock)

    def _identity(self, token: str) -> dict[str, Any]:
        raw = self.tokens[token]
        team_id = raw.get("team_id", DEFAULT_TEAM_ID)
        who = {
            "team_id": team_id,
            "team": f"Team {team_id}",
            "user_id": DEFAULT_BOT_USER_ID,
            "bot_id": DEFAULT_BOT_ID,
            "app_id": DEFAULT_APP_ID,
            "enterprise_id": None,
            "user": "insights",
            "domain": team_id.lower(),
            "scope": DEFAULT_SCOPES,
        }
        who.update(raw)
        return who

    def _new_ts(self) -> str:
        value = self._next_ts
        self._next_ts += 100
        return f"{value // 1_000_000}.{value % 1_000_000:06d}"

    def _new_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}{self._ids:08d}"

    def _lookup(self, channel: Any) -> tuple[str, dict[str, Any]]:
        """Resolve a channel argument: an ID, #name or name, or a user ID / D-id meaning that user's DM with the bot."""
        if not channel or not isinstance(channel, str):
            raise SlackError("channel_not_found")
        if channel[0] in "UW" and channel in self.users:
            channel = _dm_id(channel)
        if channel not in self.channels:
            dm_user = next((u for u in self.users if _dm_id(u) == channel), None)
            if dm_user is not None:
                # A bot can always open a DM with a workspace member; create it on first use.
                self.channels[channel] = {"name": dm_user, "is_im": True, "user": dm_user, "is_member": True}
            else:
                name = channel.removeprefix("#")
                channel = next((cid for cid, c in self.channels.items() if c.get("name") == name), channel)
        record = self.channels.get(channel)
        if record is None:
            raise SlackError("channel_not_found")
        return channel, record

    def _channel(self, channel: Any, *, member_required: bool) -> tuple[str, dict[str, Any]]:
        """Resolve a channel the bot wants to write to or read from, with Slack's access errors."""
        channel_id, record = self._lookup(channel)
        if record.get("is_archived"):
            raise SlackError("is_archived")
        if member_required and not record.get("is_member", True):
            raise SlackError("not_in_channel")
        return channel_id, record

    @staticmethod
    def _check_content(params: dict[str, Any]) -> None:
        text = params.get("text")
        if not (text or params.get("blocks") or params.get("attachments") or params.get("markdown_text")):
            raise SlackError("no_text")
        if isinstance(text, str) and len(text) > MAX_TEXT_LENGTH:
            raise SlackError("msg_too_long")
        if "blocks" in params:
            blocks = params["blocks"]
            if not isinstance(blocks, list):
                raise SlackError("invalid_blocks_format")
            if len(blocks) > MAX_BLOCKS or not all(isinstance(b, dict) and b.get("type") for b in blocks):
                raise SlackError("invalid_blocks")
        if "metadata" in params:
            metadata = params["metadata"]
            if not (isinstance(metadata, dict) and metadata.get("event_type") and "event_payload" in metadata):
                raise SlackError("invalid_metadata_format")

    def _message(self, params: dict[str, Any], who: dict[str, Any], ts: str) -> dict[str, Any]:
        """The message object Slack stores and echoes back for a bot post."""
        message: dict[str, Any] = {
            "user": who["user_id"],
            "type": "message",
            "ts": ts,
            "bot_id": who["bot_id"],
            "app_id": who["app_id"],
            "text": params.get("text", params.get("markdown_text", "")),
            "team": who["team_id"],
            "bot_profile": {
                "id": who["bot_id"],
                "app_id": who["app_id"],
                "name": who["user"],
                "icons": {"image_36": "https://a.slack-edge.com/80588/img/plugins/app/bot_36.png"},
                "deleted": False,
                "updated": 1700000000,
                "team_id": who["team_id"],
            },
        }
        for name in ("blocks", "attachments", "metadata"):
            if name in params:
                message[name] = params[name]
        if params.get("thread_ts"):
            message["thread_ts"] = params["thread_ts"]
            if _truthy(params.get("reply_broadcast")):
                message["subtype"] = "thread_broadcast"
        return message

    def _view(self, view: Any, who: dict[str, Any], view_id: str, expected_type: str) -> dict[str, Any]:
        if not isinstance(view, dict) or view.get("type") != expected_type or not isinstance(view.get("blocks"), list):
            raise SlackError("invalid_arguments")
        if expected_type == "modal" and not view.get("title"):
            raise SlackError("invalid_arguments")
        return {
            "id": view_id,
            "team_id": who["team_id"],
            "type": expected_type,
            "blocks": view["blocks"],
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
            "title": view.get("title"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": who["app_id"],
            "external_id": view.get("external_id", ""),
            "app_installed_team_id": who["team_id"],
            "bot_id": who["bot_id"],
        }

    # ----------------------------------------------------------------- Web API methods

    def _auth_test(self, params: dict[str, Any], who: dict[str, Any] | None) -> dict[str, Any]:
        assert who is not None
        response = {
            "url": f"https://{who['domain']}.slack.com/",
            "team": who["team"],
            "user": who["user"],
            "team_id": who["team_id"],
            "user_id": who["user_id"],
            "bot_id": who["bot_id"],
            "is_enterprise_install": False,
        }
        if who["enterprise_id"]:
            response["enterprise_id"] = who["enterprise_id"]
        return response

    def _chat_post_message(self, params: dict[str, Any], who: dict[str, Any] | None) -> dict[str, Any]:
        assert who is not None
        channel, _ = self._channel(params.get("channel"), member_required=True)
        self._check_content(params)
        message = self._message(params, who, self._new_ts())
        self.messages.setdefault(channel, []).append(message)
        return {"channel": channel, "ts": message["ts"], "message": dict(message)}

    def _chat_post_ephemeral(self, params: dict[str, Any], who: dict[str, Any] | None) -> dict[str, Any]:
        assert who is not None
        channel, _ = self._channel(params.get("channel"), member_required=True)
        user = params.get("user")
        if not user or user not in self.users:
            raise SlackError("user_not_found")
        self._check_content(params)
        ts = self._new_ts()
        self.ephemeral.append({"channel": channel, "user": user, **self._message(params, who, ts)})
        return {"message_ts": ts}

    def _chat_update(self, params: dict[str, Any], who: dict[str, Any] | None) -> dict[str, Any]:
        assert who is not None
        channel, _ = self._channel(params.get("channel"), member_required=False)
        ts = params.get("ts")
        message = next((m for m in self.messages.get(channel, []) if m["ts"] == ts), None)
        if message is None:
            raise SlackError("message_not_found")
        if message.get("bot_id") != who["bot_id"]:
            raise SlackError("cant_update_message")
        self._check_content(params)
        for name in ("text", "blocks", "attachments", "metadata"):
            if name in params:
                message[name] = params[name]
        message["edited"] = {"user": who["user_id"], "ts": self._new_ts()}
        return {"channel": channel, "ts": ts, "text": message.get("text", ""), "message": dict(message)}

    def _views_publish(self, params: dict[str, Any], who: dict[str, Any] | None) -> dict[str, Any]:
        assert who is not None
        user_id = params.get("user_id")
        if not user_id:
            raise SlackError("invalid_arguments")
        if user_id not in self.users:
            raise SlackError("user_not_found")
        view_id = self.home_views.get(user_id) or self._new_id("V")
        current = self.views.get(view_id)
        if params.get("hash") and current is not None and params["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        view = self._view(params.get("view"), who, view_id, "home")
        self.views[view_id] = view
        self.home_views[user_id] = view_id
        return {"view": view}

    def _views_open(self, params: dict[str, Any], who: dict[str, Any] | None) -> dict[str, Any]:
        assert who is not None
        trigger_id = params.get("trigger_id")
        if not trigger_id:
            raise SlackError("invalid_arguments")
        if trigger_id in self._used_triggers:
            raise SlackError("exchanged_trigger_id")
        view = self._view(params.get("view"), who, self._new_id("V"), "modal")
        self._used_triggers.add(trigger_id)
        self.views[view["id"]] = view
        return {"view": view}

    def _conversations_history(self, params: dict[str, Any], who: dict[str, Any] | None) -> dict[str, Any]:
        channel, _ = self._channel(params.get("channel"), member_required=True)
        try:
            limit = min(max(int(params.get("limit", 100)), 1), 999)
        except ValueError:
            raise SlackError("invalid_limit") from None
        inclusive = _truthy(params.get("inclusive"))
        oldest = _ts_key(str(params.get("oldest") or "0"))
        latest = _ts_key(str(params["latest"])) if params.get("latest") else None
        cursor = params.get("cursor")
        if cursor:
            try:
                latest = _ts_key(base64.b64decode(cursor).decode().removeprefix("next_ts:"))
            except (binascii.Error, ValueError, ArithmeticError):
                raise SlackError("invalid_cursor") from None
            inclusive = True

        def in_window(ts: Decimal) -> bool:
            above = ts >= oldest if inclusive else ts > oldest
            below = latest is None or (ts <= latest if inclusive else ts < latest)
            return above and below

        # History holds channel-level messages: thread replies appear only when also sent to the channel.
        visible = [
            m
            for m in self.messages.get(channel, [])
            if (m.get("thread_ts") in (None, m["ts"]) or m.get("subtype") == "thread_broadcast")
            and in_window(_ts_key(m["ts"]))
        ]
        visible.reverse()  # newest first
        page, rest = visible[:limit], visible[limit:]
        include_metadata = _truthy(params.get("include_all_metadata"))
        messages = [{k: v for k, v in m.items() if include_metadata or k != "metadata"} for m in page]
        response: dict[str, Any] = {
            "messages": messages,
            "has_more": bool(rest),
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
        }
        if rest:
            next_cursor = base64.b64encode(f"next_ts:{rest[0]['ts']}".encode()).decode()
            response["response_metadata"] = {"next_cursor": next_cursor}
        return response

    def _users_conversations(self, params: dict[str, Any], who: dict[str, Any] | None) -> dict[str, Any]:
        """The channels a user is in: a channel's optional "members" list, or everyone when it has none."""
        user = params.get("user") or (who or {}).get("user_id")
        channels = [
            {
                "id": channel_id,
                "name": record.get("name", channel_id.lower()),
                "is_channel": True,
                "is_private": bool(record.get("is_private")),
                "is_archived": bool(record.get("is_archived")),
            }
            for channel_id, record in self.channels.items()
            if not record.get("is_im")
            and user in record.get("members", [user])
            and not (_truthy(params.get("exclude_archived")) and record.get("is_archived"))
        ]
        return {"channels": channels, "response_metadata": {"next_cursor": ""}}

    def _conversations_info(self, params: dict[str, Any], who: dict[str, Any] | None) -> dict[str, Any]:
        assert who is not None
        # Unlike posting, reading channel info needs neither membership nor an unarchived channel.
        channel_id, record = self._lookup(params.get("channel"))
        is_im = bool(record.get("is_im"))
        name = record.get("name", channel_id.lower())
        channel: dict[str, Any] = {
            "id": channel_id,
            "created": 1600000000,
            "is_archived": bool(record.get("is_archived", False)),
            "is_im": is_im,
            "is_org_shared": False,
            "context_team_id": who["team_id"],
            "updated": 1600000000000,
        }
        if is_im:
            channel.update({"user": record.get("user"), "is_user_deleted": False, "priority": 0})
        else:
            private = bool(record.get("is_private", False))
            channel.update(
                {
                    "name": name,
                    "is_channel": not private,
                    "is_group": private,
                    "is_mpim": False,
                    "is_private": private,
                    "is_general": bool(record.get("is_general", False)),
                    "unlinked": 0,
                    "name_normalized": name,
                    "is_shared": False,
                    "is_ext_shared": False,
                    "is_pending_ext_shared": False,
                    "pending_shared": [],
                    "parent_conversation": None,
                    "creator": "U1",
                    "is_member": bool(record.get("is_member", True)),
                    "topic": {"value": record.get("topic", ""), "creator": "", "last_set": 0},
                    "purpose": {"value": record.get("purpose", ""), "creator": "", "last_set": 0},
                    "previous_names": [],
                }
            )
        return {"channel": channel}

    def _users_info(self, params: dict[str, Any], who: dict[str, Any] | None) -> dict[str, Any]:
        assert who is not None
        user_id = params.get("user")
        record = self.users.get(user_id) if isinstance(user_id, str) else None
        if record is None:
            # The app's own bot user is a workspace member too.
            bot = next((i for i in map(self._identity, self.tokens) if i["user_id"] == user_id), None)
            if bot is not None:
                record = {"name": bot["user"], "real_name": bot["user"], "is_bot": True, "team_id": bot["team_id"]}
        if record is None:
            raise SlackError("user_not_found")
        name = record.get("name", str(user_id).lower())
        real_name = record.get("real_name", name)
        display_name = record.get("display_name", name)
        user = {
            "id": user_id,
            "team_id": record.get("team_id", who["team_id"]),
            "name": name,
            "deleted": bool(record.get("deleted", False)),
            "color": "9f69e7",
            "real_name": real_name,
            "tz": record.get("tz", "Europe/London"),
            "tz_label": record.get("tz_label", "Greenwich Mean Time"),
            "tz_offset": record.get("tz_offset", 0),
            "profile": {
                "real_name": real_name,
                "display_name": display_name,
                "real_name_normalized": real_name,
                "display_name_normalized": display_name,
                "image_24": "https://a.slack-edge.com/df10d/img/avatars/ava_0001-24.png",
                "image_48": "https://a.slack-edge.com/df10d/img/avatars/ava_0001-48.png",
                "team": record.get("team_id", who["team_id"]),
            },
            "is_admin": bool(record.get("is_admin", False)),
            "is_owner": bool(record.get("is_owner", False)),
            "is_primary_owner": bool(record.get("is_primary_owner", False)),
            "is_restricted": bool(record.get("is_restricted", False)),
            "is_ultra_restricted": bool(record.get("is_ultra_restricted", False)),
            "is_bot": bool(record.get("is_bot", False)),
            "is_app_user": False,
            "updated": 1700000000,
            "is_email_confirmed": True,
            "who_can_share_contact_card": "EVERYONE",
        }
        if _truthy(params.get("include_locale")):
            user["locale"] = record.get("locale", "en-US")
        return {"user": user}

    def _check_client(self, params: dict[str, Any]) -> None:
        if params.get("client_id") != self.client_id:
            raise SlackError("invalid_client_id")
        if params.get("client_secret") != self.client_secret:
            raise SlackError("bad_client_secret")

    def _oauth_v2_access(self, params: dict[str, Any], who: dict[str, Any] | None) -> dict[str, Any]:
        self._check_client(params)
        grant = self._oauth_codes.get(params.get("code") or "")
        if grant is None:
            raise SlackError("invalid_code")
        if grant["redirect_uri"] and params.get("redirect_uri") != grant["redirect_uri"]:
            raise SlackError("bad_redirect_uri")
        del self._oauth_codes[params["code"]]  # codes are single-use
        identity = grant["identity"]
        self.tokens[grant["token"]] = dict(identity)
        self.revoked.discard(grant["token"])
        enterprise = (
            {"id": identity["enterprise_id"], "name": f"Enterprise {identity['enterprise_id']}"}
            if identity["enterprise_id"]
            else None
        )
        return {
            "access_token": grant["token"],
            "token_type": "bot",
            "scope": identity["scope"],
            "bot_user_id": identity["user_id"],
            "app_id": identity["app_id"],
            "team": {"name": identity["team"], "id": identity["team_id"]},
            "enterprise": enterprise,
            "authed_user": {"id": grant["installer"]},
            "is_enterprise_install": False,
        }

    def _apps_uninstall(self, params: dict[str, Any], who: dict[str, Any] | None) -> dict[str, Any]:
        assert who is not None
        self._check_client(params)
        # Uninstalling revokes every token the app holds in that workspace.
        for token in list(self.tokens):
            if self.tokens[token].get("team_id", DEFAULT_TEAM_ID) == who["team_id"]:
                self.revoked.add(token)
        return {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive needs Content-Length on every reply, which _send always sets

    def do_POST(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        # Slack accepts GET with a query string for most methods; WebClient itself always POSTs.
        self._dispatch()

    def _dispatch(self) -> None:
        fake: FakeSlack = self.server.fake  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            if parts.path.startswith("/api/"):
                reply = fake.handle_api(parts.path[len("/api/") :], parts.query, body, dict(self.headers.items()))
            elif parts.path.startswith("/response/"):
                reply = fake.handle_response_url(unquote(parts.path[len("/response/") :]), body)
            else:
                reply = _Reply(404, b"Not Found", {"Content-Type": "text/plain; charset=utf-8"})
        except Exception:
            log.exception("FakeSlack failed on %s", self.path)
            reply = _Reply(500, b"FakeSlack internal error", {"Content-Type": "text/plain; charset=utf-8"})
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nothing to answer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("FakeSlack: " + format, *args)
