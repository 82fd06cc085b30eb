"""A local stand-in for Feishu / Lark: the open API this bot calls, and the long connection, served on 127.0.0.1.

Built from Feishu's documentation and lark-oapi 1.7.5's own code (see /tmp/platforms_research.md, LARK 0-6, whose
facts were checked by running the SDK against local servers), so that the real SDK runs unchanged against it with
only the domain changed (`FEISHU_DOMAIN=http://127.0.0.1:PORT`; the SDK allows plain http for loopback only).

Open API (JSON always, as Feishu answers; errors as {"code", "msg", "error": {"log_id"}}):

* POST /open-apis/auth/v3/tenant_access_token/internal {"app_id", "app_secret"} -> {"code": 0,
  "tenant_access_token", "expire": 7200} (top-level fields, no "data"); a wrong secret -> HTTP 200 code 10014.
* Every other call needs `Authorization: Bearer <an issued token>`: else HTTP 400 code 99991663 (expire_tokens()
  forgets them all, as when a token expires early).
* POST /open-apis/im/v1/messages?receive_id_type=chat_id|open_id {"receive_id", "msg_type", "content", "uuid"}:
  - a uuid seen within the last hour answers the first message again (code 0) and sends nothing (docs: "at most
    once within 1 hour"; what Feishu answers to the repeat is not documented: the original message is the answer);
  - an interactive card must be a card (card_schema.py): else 230099; a request body over 30 KB: 230025;
  - the bot must be in the chat: 230002 (removed), 232009 (chat dissolved);
  - limits: 5 messages a second per chat or user -> HTTP 400 code 230020; 50 a second for the app -> HTTP 429
    code 99991400 with x-ogw-ratelimit-limit and x-ogw-ratelimit-reset (seconds).
* POST /open-apis/im/v1/messages/:message_id/reply: as above, in the parent's chat; a parent that is not there: 230011.
* PATCH /open-apis/im/v1/messages/:message_id {"content"}: only a card this app sent with config.update_multi.
* GET /open-apis/im/v1/chats/:chat_id?user_id_type=open_id -> data {owner_id, owner_id_type, user_manager_id_list,
  chat_mode, chat_status, ...}; the bot out of the chat: 232011 (unverified code), dissolved: 232009.
* GET /open-apis/bot/v3/info -> {"code": 0, "bot": {"open_id", "app_name", ...}} ("bot" at the top level).
* fail(api, ...) queues faults: an HTTP status and code, headers, a delay, an HTML error page.

Long connection:

* POST /callback/ws/endpoint {"AppID", "AppSecret"} -> {"code": 0, "data": {"URL": "ws://127.0.0.1:<p>/ws/v2?...
  &device_id=..&service_id=<int>&ticket=<one use>", "ClientConfig": {small intervals, so reconnects are quick}}}.
* The WebSocket speaks lark-oapi's protobuf Frame (lark_oapi/ws/pb/pbbp2_pb2.py), binary messages only: push()
  sends an event as data frame(s) (method 1, headers type/message_id/sum/seq/trace_id; split in `parts`), the
  client's ack (the same frame back, payload {"code": 200[, "data": base64(JSON)]}) is kept in acks; pings
  (method 0, type ping) are answered with a pong carrying the ClientConfig. A ticket used twice, or unknown, is
  refused at the upgrade with 403 and Feishu's handshake-* headers.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import json
import os
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lark_oapi.ws.pb.pbbp2_pb2 import Frame
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from tests.lark.card_schema import card_errors

JSON_TYPE = "application/json; charset=utf-8"
MAX_CARD_BODY = 30 * 1024
MAX_TEXT_BODY = 150 * 1024
UUID_WINDOW = 3600.0
PER_CHAT, PER_APP = 5, 50
SERVICE_ID = 33554678
CLIENT_CONFIG = {"ReconnectCount": 3, "ReconnectInterval": 1, "ReconnectNonce": 0, "PingInterval": 2}

DEFAULT_TENANT = "tk_test_tenant"
BOT_OPEN_ID = "ou_bot00000000000000000000000000001"
OWNER = "ou_owner000000000000000000000000001"
MANAGER = "ou_manager0000000000000000000000001"
MEMBER = "ou_member00000000000000000000000001"
GROUP = "oc_group000000000000000000000000001"
GROUP2 = "oc_group000000000000000000000000002"


@dataclass
class Chat:
    owner_id: str
    managers: list[str] = field(default_factory=list)
    members: set[str] = field(default_factory=set)
    bot_in: bool = True
    dissolved: bool = False
    chat_mode: str = "group"
    name: str = "test group"


@dataclass
class Sent:
    """A message the app sent, as Feishu keeps it."""

    message_id: str
    chat_id: str
    msg_type: str
    content: str
    uuid: str | None
    parent_id: str | None
    receive_id_type: str
    receive_id: str
    at: float
    updates: list[str] = field(default_factory=list)

    @property
    def body(self) -> Any:
        """The message's content now (after any update), parsed."""
        return json.loads(self.updates[-1] if self.updates else self.content)


@dataclass(frozen=True)
class Call:
    method: str
    api: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    size: int
    at: float


@dataclass
class _Fault:
    status: int
    code: int
    msg: str
    headers: dict[str, str]
    delay: float
    html: bool
    remaining: int


class FeishuError(Exception):
    def __init__(self, status: int, code: int, msg: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg, self.headers = status, code, msg, headers or {}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


class FakeLark:
    """Use as a context manager. Tests set `chats`, queue faults with fail(), push events with push(), and read
    `calls`, `sent` and `acks`."""

    def __init__(
        self,
        *,
        app_id: str | None = None,
        app_secret: str = "test-app-secret",  # a fixture value, not a credential
        tenant_key: str = DEFAULT_TENANT,
        bot_open_id: str = BOT_OPEN_ID,
    ) -> None:
        # A new app id per stand-in: lark-oapi caches tenant tokens process-wide by app id.
        self.app_id = app_id or f"cli_test{uuid.uuid4().hex[:12]}"
        self.app_secret = app_secret
        self.tenant_key = tenant_key
        self.bot_open_id = bot_open_id
        self.chats: dict[str, Chat] = {
            GROUP: Chat(OWNER, [MANAGER], {OWNER, MANAGER, MEMBER}),
            GROUP2: Chat(OWNER, [], {OWNER, MEMBER}),
        }
        self.limits = True
        self.offset = 0.0  # seconds added to the stand-in's clock (the uuid window)
        self.calls: list[Call] = []
        self.sent: list[Sent] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self.pings = 0
        self.connections = 0
        self._tokens: set[str] = set()
        self._uuids: dict[str, tuple[float, Sent]] = {}
        self._faults: dict[str, list[_Fault]] = defaultdict(list)
        self._recent: dict[str, deque[float]] = defaultdict(deque)
        self._tickets: set[str] = set()
        self._received: dict[str, Sent] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._ws_loop = asyncio.new_event_loop()
        self._ws_port = 0
        self._ws: ServerConnection | None = None
        self._ws_ready = threading.Event()

    # ---- life ----------------------------------------------------------------------------------------------------

    def __enter__(self) -> FakeLark:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _do(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = fake._handle(self.command, self.path, dict(self.headers), body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout)
                    self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = _do

        self._server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        started = threading.Event()
        self._ws_stop = asyncio.Event()

        async def run_ws() -> None:
            async with serve(self._ws_handler, "127.0.0.1", 0, process_request=self._check_ticket) as server:
                self._ws_port = server.sockets[0].getsockname()[1]
                started.set()
                await self._ws_stop.wait()

        self._ws_thread = threading.Thread(target=lambda: self._ws_loop.run_until_complete(run_ws()), daemon=True)
        self._ws_thread.start()
        assert started.wait(5), "the WebSocket server did not start"
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        self._ws_loop.call_soon_threadsafe(self._ws_stop.set)
        self._ws_thread.join(10)
        self._ws_loop.close()

    @property
    def url(self) -> str:
        """FEISHU_DOMAIN for the bot."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def env(self) -> dict[str, str]:
        return {"FEISHU_APP_ID": self.app_id, "FEISHU_APP_SECRET": self.app_secret, "FEISHU_DOMAIN": self.url}

    # ---- what tests do -------------------------------------------------------------------------------------------

    def fail(
        self,
        api: str,
        *,
        status: int = 400,
        code: int = 0,
        msg: str = "",
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        html: bool = False,
        times: int = 1,
    ) -> None:
        """The next `times` calls to `api` ("token", "messages.create", "messages.reply", "messages.patch",
        "chats.get", "bot.info", "ws.endpoint") fail so. status 429 defaults to code 99991400 with Feishu's
        x-ogw-ratelimit-* headers (reset 1 s); html: a proxy's error page instead of JSON; code 0 with a delay: the
        real answer, late."""
        if status == 429:
            code = code or 99991400
            msg = msg or "request trigger frequency limit"
            headers = {"x-ogw-ratelimit-limit": "50", "x-ogw-ratelimit-reset": "1", **(headers or {})}
        with self._lock:
            self._faults[api].append(_Fault(status, code, msg or "error", headers or {}, delay, html, times))

    def expire_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def calls_to(self, api: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.api == api]

    def messages_in(self, chat_id: str) -> list[Sent]:
        with self._lock:
            return [m for m in self.sent if m.chat_id == chat_id]

    def cards_in(self, chat_id: str) -> list[dict[str, Any]]:
        return [m.body for m in self.messages_in(chat_id) if m.msg_type == "interactive"]

    def p2p_chat(self, open_id: str) -> str:
        return "oc_p2p_" + hashlib.sha1(open_id.encode()).hexdigest()[:24]

    @staticmethod
    def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)
        return True

    # ---- the open API --------------------------------------------------------------------------------------------

    def _handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(target)
        path, query = parts.path, parse_qs(parts.query)
        api = _api_of(method, path)
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        with self._lock:
            self.calls.append(Call(method, api, path, query, headers, parsed, len(body), time.monotonic()))
            fault = self._take_fault(api)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.code or fault.status != 200 or fault.html:
                if fault.html:
                    page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
                    return fault.status, {"Content-Type": "text/html", **fault.headers}, page
                return _error(FeishuError(fault.status, fault.code, fault.msg, fault.headers))
        try:
            if api == "token":
                return _json(200, self._token(parsed))
            if api == "ws.endpoint":
                return _json(200, self._endpoint(parsed))
            self._authorize(headers)
            with self._lock:
                if api == "messages.create":
                    return _json(200, self._create(query, parsed, len(body)))
                if api == "messages.reply":
                    return _json(200, self._reply(path.split("/")[-2], parsed, len(body)))
                if api == "messages.patch":
                    return _json(200, self._patch(path.split("/")[-1], parsed, len(body)))
                if api == "chats.get":
                    return _json(200, self._chat(path.split("/")[-1]))
                if api == "bot.info":
                    bot = {"activate_status": 2, "app_name": "insights", "avatar_url": "", "ip_white_list": []}
                    return _json(200, {"code": 0, "msg": "ok", "bot": {**bot, "open_id": self.bot_open_id}})
            raise FeishuError(404, 404, f"no such API: {method} {path}")
        except FeishuError as error:
            return _error(error)

    def _take_fault(self, api: str) -> _Fault | None:
        queue = self._faults.get(api)
        if not queue:
            return None
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            queue.pop(0)
        return fault

    def _token(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or body.get("app_id") != self.app_id:
            return {"code": 10014, "msg": "app id not exists"}
        if body.get("app_secret") != self.app_secret:
            return {"code": 10014, "msg": "app secret invalid"}
        token = f"t-{uuid.uuid4().hex}"
        with self._lock:
            self._tokens.add(token)
        return {"code": 0, "msg": "ok", "tenant_access_token": token, "expire": 7200}

    def _authorize(self, headers: dict[str, str]) -> None:
        given = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        with self._lock:
            ok = given.startswith("Bearer ") and given[7:] in self._tokens
        if not ok:
            raise FeishuError(
                400, 99991663, "Invalid access token for authorization. Please make a request with token attached."
            )

    def _now(self) -> float:
        return time.monotonic() + self.offset

    def _pace(self, key: str, limit: int) -> bool:
        window = self._recent[key]
        now = time.monotonic()
        while window and now - window[0] >= 1.0:
            window.popleft()
        if self.limits and len(window) >= limit:
            return False
        window.append(now)
        return True

    def _check_content(self, msg_type: Any, content: Any, size: int) -> None:
        if msg_type not in ("interactive", "text"):
            raise FeishuError(400, 230001, "invalid msg_type")
        if not isinstance(content, str):
            raise FeishuError(400, 230001, "content is not a string")
        try:
            parsed = json.loads(content)
        except ValueError:
            raise FeishuError(400, 230001, "content is not JSON") from None
        if msg_type == "interactive":
            if size > MAX_CARD_BODY:
                raise FeishuError(400, 230025, "The message exceeds the maximum length.")
            if card_errors(parsed):
                raise FeishuError(400, 230099, f"Failed to create card content: {card_errors(parsed)[:3]}")
        elif size > MAX_TEXT_BODY or not isinstance(parsed, dict) or not isinstance(parsed.get("text"), str):
            raise FeishuError(400, 230001 if size <= MAX_TEXT_BODY else 230025, "invalid text content")

    def _deliver(
        self, chat_id: str, receive_id_type: str, receive_id: str, body: Any, size: int, parent: str | None
    ) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise FeishuError(400, 230001, "invalid request body")
        message_uuid = body.get("uuid")
        if message_uuid is not None and (not isinstance(message_uuid, str) or len(message_uuid) > 50):
            raise FeishuError(400, 230001, "uuid: at most 50 characters")
        if message_uuid:
            seen = self._uuids.get(message_uuid)
            if seen is not None and self._now() - seen[0] < UUID_WINDOW:
                return _message_data(seen[1])
        self._check_content(body.get("msg_type"), body.get("content"), size)
        if not self._pace(f"chat:{chat_id}", PER_CHAT):
            raise FeishuError(400, 230020, "This operation triggers the frequency limit.")
        if not self._pace("app", PER_APP):
            raise FeishuError(
                429,
                99991400,
                "request trigger frequency limit",
                {"x-ogw-ratelimit-limit": "50", "x-ogw-ratelimit-reset": "1"},
            )
        sent = Sent(
            f"om_{uuid.uuid4().hex}",  # 35 characters, as Feishu's are
            chat_id,
            str(body["msg_type"]),
            str(body["content"]),
            message_uuid,
            parent,
            receive_id_type,
            receive_id,
            time.monotonic(),
        )
        self.sent.append(sent)
        if message_uuid:
            self._uuids[message_uuid] = (self._now(), sent)
        return _message_data(sent)

    def _in_chat(self, chat_id: str) -> Chat:
        chat = self.chats.get(chat_id)
        if chat is None or (not chat.bot_in and not chat.dissolved):
            raise FeishuError(400, 230002, "Bot can NOT be out of the chat.")
        if chat.dissolved:
            raise FeishuError(400, 232009, "Your request specifies a chat which has already been dissolved.")
        return chat

    def _create(self, query: dict[str, list[str]], body: Any, size: int) -> dict[str, Any]:
        kind = (query.get("receive_id_type") or [""])[0]
        receive_id = str((body or {}).get("receive_id", "")) if isinstance(body, dict) else ""
        if kind == "chat_id":
            self._in_chat(receive_id)
            chat_id = receive_id
        elif kind == "open_id":
            if not receive_id.startswith("ou_"):
                raise FeishuError(400, 230001, "invalid receive_id")
            chat_id = self.p2p_chat(receive_id)
        else:
            raise FeishuError(400, 230001, "invalid receive_id_type")
        return self._deliver(chat_id, kind, receive_id, body, size, None)

    def _find(self, message_id: str) -> Sent | None:
        return next((m for m in self.sent if m.message_id == message_id), None) or self._received.get(message_id)

    def _reply(self, message_id: str, body: Any, size: int) -> dict[str, Any]:
        parent = self._find(message_id)
        if parent is None:
            raise FeishuError(400, 230011, "The message was withdrawn.")
        if not parent.chat_id.startswith("oc_p2p_"):
            self._in_chat(parent.chat_id)
        return self._deliver(parent.chat_id, "chat_id", parent.chat_id, body, size, message_id)

    def _patch(self, message_id: str, body: Any, size: int) -> dict[str, Any]:
        message = next((m for m in self.sent if m.message_id == message_id), None)
        if message is None or message.msg_type != "interactive":
            raise FeishuError(400, 230001, "only a card this app sent can be updated")
        if not message.body.get("config", {}).get("update_multi"):
            raise FeishuError(400, 230001, "a shared card needs config.update_multi")
        content = (body or {}).get("content") if isinstance(body, dict) else None
        self._check_content("interactive", content, size)
        message.updates.append(str(content))
        return {"code": 0, "msg": "success", "data": {}}

    def _chat(self, chat_id: str) -> dict[str, Any]:
        chat = self.chats.get(chat_id)
        if chat is None or chat.dissolved:
            raise FeishuError(400, 232009, "Your request specifies a chat which has already been dissolved.")
        if not chat.bot_in:
            raise FeishuError(400, 232011, "Operator can NOT be out of the chat.")
        data = {
            "owner_id": chat.owner_id,
            "owner_id_type": "open_id",
            "user_manager_id_list": list(chat.managers),
            "bot_manager_id_list": [],
            "chat_mode": chat.chat_mode,
            "chat_type": "private",
            "chat_status": "normal",
            "external": False,
            "tenant_key": self.tenant_key,
            "name": chat.name,
            "user_count": str(len(chat.members)),
            "bot_count": "1",
        }
        return {"code": 0, "msg": "success", "data": data}

    # ---- incoming messages (for replies to them) ---------------------------------------------------------------

    def receive(self, chat_id: str, message_id: str) -> None:
        """A user's message the bot may reply to (events built by message_event() call this)."""
        with self._lock:
            self._received[message_id] = Sent(message_id, chat_id, "text", "{}", None, None, "", "", time.monotonic())

    # ---- the long connection -------------------------------------------------------------------------------------

    def _endpoint(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or body.get("AppID") != self.app_id or body.get("AppSecret") != self.app_secret:
            return {"code": 10014, "msg": "app secret invalid"}  # any code but 0, 1, 1000040343: the SDK gives up
        ticket = uuid.uuid4().hex
        with self._lock:
            self._tickets.add(ticket)
        url = (
            f"ws://127.0.0.1:{self._ws_port}/ws/v2?fpid=493&aid=552564&device_id={next(self._ids)}"
            f"&access_key=ak&service_id={SERVICE_ID}&ticket={ticket}"
        )
        return {"code": 0, "msg": "ok", "data": {"URL": url, "ClientConfig": CLIENT_CONFIG}}

    def _check_ticket(self, connection: ServerConnection, request: Request) -> Response | None:
        ticket = (parse_qs(urlsplit(request.path).query).get("ticket") or [""])[0]
        with self._lock:
            known = ticket in self._tickets
            self._tickets.discard(ticket)
        if known:
            return None
        headers = Headers({"handshake-status": "403", "handshake-msg": "invalid ticket"})
        return Response(HTTPStatus.FORBIDDEN.value, "Forbidden", headers, b"")

    async def _ws_handler(self, ws: ServerConnection) -> None:
        with self._lock:
            self._ws = ws
            self.connections += 1
        self._ws_ready.set()
        try:
            async for raw in ws:
                if not isinstance(raw, bytes):
                    continue  # the protocol is binary frames only
                frame = Frame()
                frame.ParseFromString(raw)
                headers = {h.key: h.value for h in frame.headers}
                if frame.method == 0 and headers.get("type") == "ping":
                    with self._lock:
                        self.pings += 1
                    await ws.send(_frame(0, frame.service, {"type": "pong"}, json.dumps(CLIENT_CONFIG).encode()))
                elif frame.method == 1:
                    payload = json.loads(frame.payload)
                    data = payload.get("data")
                    ack = {
                        "code": payload.get("code"),
                        "headers": headers,
                        "data": json.loads(base64.b64decode(data)) if data else None,
                    }
                    with self._lock:
                        self.acks[headers.get("message_id", "")] = ack
        finally:
            with self._lock:
                if self._ws is ws:
                    self._ws = None
                    self._ws_ready.clear()

    def wait_connected(self, timeout: float = 20.0) -> bool:
        return self._ws_ready.wait(timeout)

    def push(self, event: dict[str, Any], *, parts: int = 1) -> str:
        """An event down the long connection (as `parts` frames); returns the frame message_id its ack will carry."""
        assert self.wait_connected(), "no long connection"
        message_id = f"msg-{uuid.uuid4().hex[:12]}"
        payload = json.dumps(event, ensure_ascii=False).encode()
        size = -(-len(payload) // parts)
        frames = [
            _frame(
                1,
                SERVICE_ID,
                {
                    "type": "event",
                    "message_id": message_id,
                    "sum": str(parts),
                    "seq": str(i),
                    "trace_id": uuid.uuid4().hex,
                },
                payload[i * size : (i + 1) * size],
            )
            for i in range(parts)
        ]
        ws = self._ws
        assert ws is not None

        async def send() -> None:
            for frame in frames:
                await ws.send(frame)

        asyncio.run_coroutine_threadsafe(send(), self._ws_loop).result(5)
        return message_id

    def wait_ack(self, message_id: str, timeout: float = 10.0) -> dict[str, Any]:
        assert self.wait_for(lambda: message_id in self.acks, timeout), f"no ack for {message_id}"
        return self.acks[message_id]

    def drop(self) -> None:
        """Close the long connection from the server's side (the client reconnects through the endpoint)."""
        ws = self._ws
        if ws is not None:
            asyncio.run_coroutine_threadsafe(ws.close(), self._ws_loop).result(5)

    # ---- events, as Feishu sends them ----------------------------------------------------------------------------

    def envelope(self, event_type: str, event: dict[str, Any], token: str = "") -> dict[str, Any]:
        header = {
            "event_id": uuid.uuid4().hex,
            "token": token,
            "create_time": str(int(time.time() * 1000)),
            "event_type": event_type,
            "tenant_key": self.tenant_key,
            "app_id": self.app_id,
        }
        return {"schema": "2.0", "header": header, "event": event}

    def message_event(
        self,
        text: str,
        *,
        chat_id: str = GROUP,
        chat_type: str = "group",
        sender: str = MEMBER,
        mention_bot: bool = True,
        others: tuple[str, ...] = (),
        token: str = "",
        message_type: str = "text",
    ) -> dict[str, Any]:
        """im.message.receive_v1: `text` after the mention placeholders (@_user_1 the bot when mentioned, then
        `others`), as a Feishu client sends it."""
        mentions = []
        keys = []
        for open_id, name, kind in [
            *([(self.bot_open_id, "insights", "bot")] if mention_bot else []),
            *((o, "someone", "user") for o in others),
        ]:
            key = f"@_user_{len(mentions) + 1}"
            keys.append(key)
            mentions.append(
                {
                    "key": key,
                    "id": {"open_id": open_id, "union_id": "on_" + open_id[3:], "user_id": ""},
                    "name": name,
                    "tenant_key": self.tenant_key,
                    "mentioned_type": kind,
                }
            )
        words = " ".join([*keys, text]).strip()
        content = (
            {"text": words}
            if message_type == "text"
            else {
                "title": "",
                "content": [[{"tag": "at", "user_id": k} for k in keys] + [{"tag": "text", "text": " " + text}]],
            }
        )
        message_id = f"om_{uuid.uuid4().hex}"
        self.receive(chat_id, message_id)
        message = {
            "message_id": message_id,
            "create_time": str(int(time.time() * 1000)),
            "chat_id": chat_id,
            "chat_type": chat_type,
            "message_type": message_type,
            "content": json.dumps(content, ensure_ascii=False),
            "mentions": mentions or None,
        }
        sender_ = {
            "sender_id": {"open_id": sender, "union_id": "on_" + sender[3:], "user_id": ""},
            "sender_type": "user",
            "tenant_key": self.tenant_key,
        }
        return self.envelope(
            "im.message.receive_v1",
            {"sender": sender_, "message": {k: v for k, v in message.items() if v is not None}},
            token,
        )

    def card_action_event(
        self, value: Any, *, message_id: str, chat_id: str = GROUP, operator: str = MEMBER, token: str = ""
    ) -> dict[str, Any]:
        """card.action.trigger: a button of the card `message_id` clicked by `operator`."""
        event = {
            "operator": {
                "tenant_key": self.tenant_key,
                "user_id": "",
                "open_id": operator,
                "union_id": "on_" + operator[3:],
            },
            "token": f"c-{uuid.uuid4().hex}",
            "action": {"value": value, "tag": "button"},
            "host": "im_message",
            "context": {"open_message_id": message_id, "open_chat_id": chat_id},
        }
        return self.envelope("card.action.trigger", event, token)


def _api_of(method: str, path: str) -> str:
    if path == "/open-apis/auth/v3/tenant_access_token/internal":
        return "token"
    if path == "/callback/ws/endpoint":
        return "ws.endpoint"
    if path == "/open-apis/bot/v3/info":
        return "bot.info"
    if path == "/open-apis/im/v1/messages" and method == "POST":
        return "messages.create"
    if path.startswith("/open-apis/im/v1/messages/") and path.endswith("/reply") and method == "POST":
        return "messages.reply"
    if path.startswith("/open-apis/im/v1/messages/") and method == "PATCH":
        return "messages.patch"
    if path.startswith("/open-apis/im/v1/chats/") and method == "GET":
        return "chats.get"
    return f"{method} {path}"


def _message_data(sent: Sent) -> dict[str, Any]:
    data = {
        "message_id": sent.message_id,
        "root_id": sent.parent_id or "",
        "parent_id": sent.parent_id or "",
        "msg_type": sent.msg_type,
        "create_time": str(int(time.time() * 1000)),
        "update_time": str(int(time.time() * 1000)),
        "deleted": False,
        "updated": False,
        "chat_id": sent.chat_id,
        "sender": {"id": "cli_app", "id_type": "app_id", "sender_type": "app", "tenant_key": DEFAULT_TENANT},
        "body": {"content": sent.content},
    }
    return {"code": 0, "msg": "success", "data": data}


def _json(
    status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": JSON_TYPE, **(headers or {})}, json.dumps(payload, ensure_ascii=False).encode()


def _error(error: FeishuError) -> tuple[int, dict[str, str], bytes]:
    payload = {"code": error.code, "msg": error.msg, "error": {"log_id": uuid.uuid4().hex}}
    return _json(error.status, payload, error.headers)


def _frame(method: int, service: int, headers: dict[str, str], payload: bytes = b"") -> bytes:
    frame = Frame()
    frame.SeqID = 1
    frame.LogID = 0
    frame.service = service
    frame.method = method
    for key, value in headers.items():
        header = frame.headers.add()
        header.key, header.value = key, value
    if payload:
        frame.payload = payload
    return frame.SerializeToString()


# ---- HTTP callbacks, encrypted and signed as Feishu does ---------------------------------------------------------


def encrypt(plaintext: str, encrypt_key: str) -> str:
    """Feishu's callback encryption: AES-256-CBC, key sha256(encrypt_key), PKCS7, base64(iv + ciphertext)."""
    from Crypto.Cipher import AES

    key = hashlib.sha256(encrypt_key.encode()).digest()
    iv = os.urandom(16)
    data = plaintext.encode()
    pad = 16 - len(data) % 16
    return base64.b64encode(iv + AES.new(key, AES.MODE_CBC, iv).encrypt(data + bytes([pad]) * pad)).decode()


def signed_headers(
    body: bytes, encrypt_key: str, *, timestamp: str | None = None, nonce: str = "n0nce"
) -> dict[str, str]:
    timestamp = timestamp or str(int(time.time()))
    signature = hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()
    return {
        "Content-Type": "application/json; charset=utf-8",
        "X-Lark-Request-Timestamp": timestamp,
        "X-Lark-Request-Nonce": nonce,
        "X-Lark-Signature": signature,
    }
