"""A local stand-in for DingTalk: the OpenAPI host (api.dingtalk.com), sessionWebhook URLs, and the Stream gateway's
WebSocket, for tests that run the real dingtalk-stream SDK and the real bot process against it.

What it does follows DingTalk's documentation, the SDK's code (dingtalk-stream 0.24.3: stream.py, frames.py,
handlers.py, chatbot.py) and runs of the SDK against a local server (/tmp/platforms_research.md §7-8), not guesses.
Where DingTalk's exact answer is not documented, the choice is marked "unverified".

HTTP (JSON bodies; errors of the new-style APIs are non-2xx with {"code", "message", "requestid"}):

* POST /v1.0/gateway/connections/open {clientId, clientSecret, subscriptions, ua, localIp}
  -> {"endpoint": "ws://127.0.0.1:P/connect", "ticket"}; a ticket opens one connection within 90 s. Wrong
  credentials: 401 {"code": "authFailed", "message": "鉴权失败"}.
* POST /v1.0/oauth2/accessToken {appKey, appSecret} -> {"accessToken", "expireIn": 7200}. Wrong credentials:
  400 {"code": "invalidClientIdOrSecret"} (the status is unverified).
* POST /v1.0/robot/groupMessages/send (header x-acs-dingtalk-access-token) {msgParam: JSON string of at most 15000
  bytes, msgKey, openConversationId, robotCode} -> {"processQueryKey"}. Errors: 401 InvalidAuthentication (a token
  unknown or expired), 400 invalidParameter.robotCode.notExsit (the robot is not in the group), 400 group.disbanded,
  400 invalid.openConversationId, 400 invalidParameter.msgKey.invalid / msgParam.invalid / msgParam.tooLong,
  403 Forbidden.AccessDenied.QpsLimitForApi (more than `qps` calls a second from the app), and for more than 20
  messages a minute from the robot to one group 400 send.too.fast (the code is unverified: DingTalk publishes the
  rule for robots, 130101 for webhooks, but not the robot API's code for it).
* POST /v1.0/robot/oToMessages/batchSend {robotCode, userIds, msgKey, msgParam} -> {"processQueryKey",
  "invalidStaffIdList", "flowControlledStaffIdList"} (a person not in the organisation is listed, not refused).
* POST /robot/sendBySession?session=S (a message's sessionWebhook, no token) -> 200 {"errcode": 0, "errmsg": "ok"};
  refusals are also 200: 130101 "send too fast, exceed 20 times per minute", 460101 "message too long, exceed
  20000 bytes", and for an unknown or expired session 300005 (unverified).

Stream (JSON text frames on a WebSocket, ws://127.0.0.1:P/connect?ticket=T):

* server -> client {"specVersion": "1.0", "type": "SYSTEM" | "CALLBACK" | "EVENT", "headers": {"appId",
  "connectionId", "contentType", "messageId", "time", "topic"}, "data": "<JSON string>"}; SYSTEM topics `ping`
  (data {"opaque"}, to be echoed in the ack) and `disconnect` (no messageId; the connection is dropped 10 s later).
* client -> server acks {"code": 200, "headers": {"contentType", "messageId"}, "message", "data": "<JSON string>"}.
* A robot message (CALLBACK, topic /v1.0/im/bot/messages/get) carries conversationId, conversationType ("1" one to
  one, "2" group), chatbotCorpId, msgId, senderStaffId, isAdmin, text.content (the robot's @mention removed, a space
  left), sessionWebhook and sessionWebhookExpiredTime (ms, 90 minutes on). In a group only messages that @-mention
  the robot are delivered; an ActionCard's dtmd://dingtalkclient/sendMessage link sends its text as the clicker's
  message, which reaches the robot only in a one-to-one chat (`click`).

Everything binds 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import base64
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
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request

CLIENT_ID = "dingtestclientid01"
CLIENT_SECRET = "fixture-client-secret-not-real"  # a fixture value, not a credential
CORP_ID = "dingcorp0001"
GROUP = "cidGroupOne0001=="
OTHER_GROUP = "cidGroupTwo0002=="
DIRECT = "cidDirectStaff01=="
STAFF = "staff01"
BOT_TOPIC = "/v1.0/im/bot/messages/get"
MSG_PARAM_LIMIT = 15_000
WEBHOOK_TEXT_LIMIT = 20_000
MSG_KEYS = {
    "sampleText": ("content",),
    "sampleMarkdown": ("title", "text"),
    "sampleActionCard": ("title", "text", "singleTitle", "singleURL"),
    **{
        f"sampleActionCard{n}": ("title", "text", *(f"action{k}{i}" for i in range(1, n + 1) for k in ("Title", "URL")))
        for n in range(2, 6)
    },
}
SEND_MESSAGE = "dtmd://dingtalkclient/sendMessage?content="


def process_query_key() -> str:
    """Like DingTalk's: 44 characters of base64 ("lGLr2W0bJgmujHSZP9+uWl...ER8=")."""
    return base64.b64encode(os.urandom(32)).decode()


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


@dataclass
class Sent:
    """A message the robot sent (a group message, a one-to-one message or a webhook reply)."""

    kind: str  # "group" | "direct" | "webhook"
    conversation: str  # openConversationId, or the staff id for "direct"
    msg_key: str
    param: dict[str, Any]  # msgParam decoded; for a webhook, the markdown/actionCard object
    at: float

    @property
    def text(self) -> str:
        return str(self.param.get("text") or self.param.get("content") or "")

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """(title, url) of the ActionCard's buttons, whichever way they were written."""
        if "btns" in self.param:
            return [(b["title"], b["actionURL"]) for b in self.param["btns"]]
        if "singleURL" in self.param:
            return [(self.param["singleTitle"], self.param["singleURL"])]
        found = []
        for i in range(1, 6):
            if f"actionURL{i}" in self.param:
                found.append((self.param[f"actionTitle{i}"], self.param[f"actionURL{i}"]))
        return found


@dataclass
class Group:
    title: str
    robot_in: bool = True
    dissolved: bool = False


@dataclass
class Session:
    conversation: str
    direct: bool
    expires: float  # epoch seconds


@dataclass
class Ack:
    message_id: str
    code: int
    data: Any
    message: str
    connection: int


@dataclass
class Connection:
    number: int
    ws: ServerConnection
    ticket: str
    closed: bool = False
    frames: list[dict[str, Any]] = field(default_factory=list)


class FakeDingTalk:
    def __init__(
        self,
        *,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        robot_code: str | None = None,
        corp_id: str = CORP_ID,
        per_minute: int = 20,
        qps: int = 20,
        token_lifetime: int = 7200,
    ) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.robot_code = robot_code or client_id
        self.corp_id = corp_id
        self.per_minute, self.qps, self.token_lifetime = per_minute, qps, token_lifetime
        self.groups: dict[str, Group] = {GROUP: Group("测试群"), OTHER_GROUP: Group("第二个群")}
        self.staff: set[str] = {STAFF, "staff02", "staff03"}
        self.sent: list[Sent] = []
        self.calls: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.refused: list[tuple[str, int, str]] = []  # (path, status, code) of every refusal
        self.acks: list[Ack] = []
        self.connections: list[Connection] = []
        self.user_messages: list[tuple[str, str, bool]] = []  # (conversation, text, delivered to the robot)
        self.open_requests: list[dict[str, Any]] = []
        self._tokens: dict[str, float] = {}
        self._tickets: dict[str, float] = {}
        self._sessions: dict[str, Session] = {}
        self._windows: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._calls_per_second: deque[float] = deque()
        self._failures: dict[str, list[tuple[int, dict[str, Any]] | None]] = defaultdict(list)
        self._offset = 0.0  # advance(): the stand-in's minute windows move on without waiting
        self._cond = threading.Condition()
        self._http: ThreadingHTTPServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ws_server: Any = None
        self.ws_port = 0

    # ------------------------------------------------------------------------------------------ lifecycle

    @property
    def api_url(self) -> str:
        assert self._http is not None
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def start(self) -> FakeDingTalk:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, body = fake._http_post(self.path, {k.lower(): v for k, v in self.headers.items()}, raw)
                data = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        threading.Thread(target=self._http.serve_forever, name="fake-dingtalk-http", daemon=True).start()
        self._loop = asyncio.new_event_loop()
        started = threading.Event()

        async def run_ws() -> None:
            self._ws_server = await serve(self._ws_handler, "127.0.0.1", 0, process_request=self._check_ticket)
            self.ws_port = self._ws_server.sockets[0].getsockname()[1]
            started.set()
            await self._ws_server.wait_closed()

        threading.Thread(
            target=lambda: self._loop.run_until_complete(run_ws()),  # type: ignore[union-attr]
            name="fake-dingtalk-ws",
            daemon=True,
        ).start()
        assert started.wait(5), "the Stream stand-in did not start"
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._loop is not None and self._ws_server is not None:
            self._loop.call_soon_threadsafe(self._ws_server.close)

    def __enter__(self) -> FakeDingTalk:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------------ what tests do

    def now(self) -> float:
        return time.monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        """DingTalk's minute windows (and token lifetimes) move on by `seconds`."""
        with self._cond:
            self._offset += seconds

    def fill_window(self, conversation: str, count: int | None = None, kind: str = "group") -> None:
        """As if the robot had just sent `count` (default: the limit) messages to the group."""
        with self._cond:
            self._windows[(kind, conversation)].extend([self.now()] * (count or self.per_minute))

    def fail(self, path: str, status: int, body: dict[str, Any], times: int = 1, after: int = 0) -> None:
        """After `after` more calls to `path` that are answered as usual, the next `times` get this answer (after
        the token check). For the sessionWebhook path the body's "code" is the errcode."""
        with self._cond:
            self._failures[path].extend([None] * after + [(status, body)] * times)

    def expire_tokens(self) -> None:
        with self._cond:
            self._tokens.clear()

    def messages(self, kind: str | None = None, conversation: str | None = None) -> list[Sent]:
        with self._cond:
            return [
                s
                for s in self.sent
                if (kind is None or s.kind == kind) and (conversation is None or s.conversation == conversation)
            ]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = predicate()
            if found:
                return found
            time.sleep(0.05)
        return predicate()

    def wait_connection(self, after: int = 0, timeout: float = 15.0) -> Connection:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                fresh = [c for c in self.connections if not c.closed and c.number > after]
                if fresh:
                    return fresh[-1]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no Stream connection after #{after} within {timeout} s")
                self._cond.wait(left)

    def wait_ack(self, message_id: str, timeout: float = 10.0) -> Ack:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [a for a in self.acks if a.message_id == message_id]
                if found:
                    return found[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"frame {message_id} was not acknowledged within {timeout} s")
                self._cond.wait(left)

    def ping(self, opaque: str = "op-1") -> str:
        return self._send_frame("SYSTEM", "ping", {"opaque": opaque})

    def disconnect(self, drop_after: float = 10.0) -> Connection:
        """DingTalk's SYSTEM disconnect (no messageId): the connection goes silent and is dropped after
        `drop_after` seconds unless the client closes it first."""
        connection = self.wait_connection()
        self._send_frame("SYSTEM", "disconnect", {"reason": "connection is expired"}, with_id=False)
        assert self._loop is not None

        async def drop() -> None:
            await asyncio.sleep(drop_after)
            await connection.ws.close()

        asyncio.run_coroutine_threadsafe(drop(), self._loop)
        return connection

    def bot_message(
        self,
        text: str,
        *,
        conversation: str = GROUP,
        direct: bool = False,
        sender: str = STAFF,
        is_admin: bool = False,
        msg_id: str | None = None,
        webhook_minutes: float = 90,
    ) -> dict[str, Any]:
        """A robot message as DingTalk's callback carries it, with a fresh sessionWebhook."""
        session = uuid.uuid4().hex
        expires = time.time() + webhook_minutes * 60
        with self._cond:
            self._sessions[session] = Session(conversation, direct, expires)
        data: dict[str, Any] = {
            "conversationId": conversation,
            "chatbotCorpId": self.corp_id,
            "chatbotUserId": "$:LWCP_v1:$robot",
            "msgId": msg_id or f"msg{uuid.uuid4().hex[:16]}==",
            "senderNick": "张三",
            "isAdmin": is_admin,
            "senderStaffId": sender,
            "sessionWebhookExpiredTime": int(expires * 1000),
            "createAt": int(time.time() * 1000),
            "senderCorpId": self.corp_id,
            "conversationType": "1" if direct else "2",
            "senderId": f"$:LWCP_v1:${sender}",
            "sessionWebhook": f"{self.api_url}/robot/sendBySession?session={session}",
            "text": {"content": text if direct else " " + text},  # the @mention removed, its space left
            "robotCode": self.robot_code,
            "msgtype": "text",
        }
        if not direct:
            data.update(
                conversationTitle=self.groups.get(conversation, Group("?")).title,
                isInAtList=True,
                atUsers=[{"dingtalkId": "$:LWCP_v1:$robot"}],
            )
        return data

    def say(self, text: str, **kwargs: Any) -> str:
        """A person @-mentions the robot in a group (or writes to it one to one): the frame's messageId (for
        wait_ack)."""
        return self.callback(self.bot_message(text, **kwargs))

    def callback(self, data: dict[str, Any], topic: str = BOT_TOPIC) -> str:
        """A CALLBACK frame on the newest connection; its messageId."""
        return self._send_frame("CALLBACK", topic, data)

    def click(self, url: str, *, conversation: str = DIRECT, direct: bool = True, sender: str = STAFF) -> str | None:
        """A person clicks an ActionCard button: DingTalk's client sends its text as that person's message. The
        robot gets it only in a one-to-one chat (in a group it is no @mention); the frame's messageId then, else
        None."""
        assert url.startswith(SEND_MESSAGE), url
        text = unquote(url[len(SEND_MESSAGE) :])
        with self._cond:
            self.user_messages.append((conversation, text, direct))
        if not direct:
            return None
        return self.say(text, conversation=conversation, direct=True, sender=sender)

    # ------------------------------------------------------------------------------------------ HTTP

    def _http_post(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        try:
            body = json.loads(raw.decode("utf-8")) if raw else {}
        except ValueError:
            return 400, {"code": "InvalidParameter", "message": "body is not JSON", "requestid": "r"}
        route = urlsplit(path).path
        with self._cond:
            self.calls.append((route, headers, body))
        try:
            answer = self._route(route, path, headers, body)
        except ApiError as error:
            with self._cond:
                self.refused.append((route, error.status, error.code))
            if route == "/robot/sendBySession":
                return 200, {"errcode": int(error.code), "errmsg": error.message}
            return error.status, {"code": error.code, "message": error.message, "requestid": uuid.uuid4().hex}
        return 200, answer

    def _route(self, route: str, path: str, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        if route == "/v1.0/gateway/connections/open":
            return self._open_connection(body)
        if route == "/v1.0/oauth2/accessToken":
            return self._access_token(body)
        if route == "/robot/sendBySession":
            return self._session_webhook(path, body)
        if route in ("/v1.0/robot/groupMessages/send", "/v1.0/robot/oToMessages/batchSend"):
            self._check_token(headers)
            self._injected(route)
            self._check_qps()
            if route.endswith("groupMessages/send"):
                return self._group_send(body)
            return self._batch_send(body)
        raise ApiError(404, "NotFound", f"no such API: {route}")

    def _open_connection(self, body: dict[str, Any]) -> dict[str, Any]:
        if (body.get("clientId"), body.get("clientSecret")) != (self.client_id, self.client_secret):
            raise ApiError(401, "authFailed", "鉴权失败")
        ticket = uuid.uuid4().hex
        with self._cond:
            self.open_requests.append(body)
            self._tickets[ticket] = time.monotonic() + 90
        return {"endpoint": f"ws://127.0.0.1:{self.ws_port}/connect", "ticket": ticket}

    def _access_token(self, body: dict[str, Any]) -> dict[str, Any]:
        if (body.get("appKey"), body.get("appSecret")) != (self.client_id, self.client_secret):
            raise ApiError(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
        token = "at-" + uuid.uuid4().hex
        with self._cond:
            self._tokens[token] = self.now() + self.token_lifetime
        return {"accessToken": token, "expireIn": self.token_lifetime}

    def _check_token(self, headers: dict[str, str]) -> None:
        token = headers.get("x-acs-dingtalk-access-token", "")
        with self._cond:
            expires = self._tokens.get(token)
        if expires is None or expires <= self.now():
            raise ApiError(401, "InvalidAuthentication", "不合法的access_token")

    def _injected(self, route: str) -> None:
        with self._cond:
            failures = self._failures.get(route)
            failure = failures.pop(0) if failures else None
        if failure is not None:
            status, body = failure
            raise ApiError(status, str(body.get("code")), str(body.get("message", "")))

    def _check_qps(self) -> None:
        with self._cond:
            now = self.now()
            while self._calls_per_second and self._calls_per_second[0] <= now - 1:
                self._calls_per_second.popleft()
            if len(self._calls_per_second) >= self.qps:
                raise ApiError(403, "Forbidden.AccessDenied.QpsLimitForApi", "请求已被流控")
            self._calls_per_second.append(now)

    def _within_minute(self, kind: str, conversation: str) -> bool:
        """Counts a message against the conversation's minute; False when the limit is reached."""
        with self._cond:
            window = self._windows[(kind, conversation)]
            now = self.now()
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= self.per_minute:
                return False
            window.append(now)
            return True

    def _message(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        key, raw = body.get("msgKey"), body.get("msgParam")
        if key not in MSG_KEYS:
            raise ApiError(400, "invalidParameter.msgKey.invalid", "msgKey无效")
        if not isinstance(raw, str):
            raise ApiError(400, "invalidParameter.msgParam.invalid", "msgParam必须是json格式")
        if len(raw.encode("utf-8")) > MSG_PARAM_LIMIT:
            raise ApiError(400, "invalidParameter.msgParam.tooLong", "msgParam超过长度限制")
        try:
            param = json.loads(raw)
        except ValueError:
            raise ApiError(400, "invalidParameter.msgParam.invalid", "msgParam必须是json格式") from None
        if not isinstance(param, dict) or any(not param.get(name) for name in MSG_KEYS[key]):
            raise ApiError(400, "invalidParameter.msgParam.invalid", "msgParam缺少参数")
        return key, param

    def _group_send(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("robotCode") != self.robot_code:
            raise ApiError(400, "invalidParameter.robotCode.notExsit", "机器人不存在")
        conversation = str(body.get("openConversationId") or "")
        group = self.groups.get(conversation)
        if group is None:
            raise ApiError(400, "invalid.openConversationId", "无效的openConversationId")
        if group.dissolved:
            raise ApiError(400, "group.disbanded", "群已解散")
        if not group.robot_in:
            raise ApiError(400, "invalidParameter.robotCode.notExsit", "机器人不存在")
        key, param = self._message(body)
        if not self._within_minute("group", conversation):
            raise ApiError(400, "send.too.fast", "send too fast, exceed 20 times per minute")
        with self._cond:
            self.sent.append(Sent("group", conversation, key, param, time.monotonic()))
        return {"processQueryKey": process_query_key()}

    def _batch_send(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("robotCode") != self.robot_code:
            raise ApiError(400, "invalidParameter.robotCode.notExsit", "机器人不存在")
        users = body.get("userIds") or []
        if not users:
            raise ApiError(400, "invalidParameter.userIds.empty", "userIds为空")
        key, param = self._message(body)
        invalid = [u for u in users if u not in self.staff]
        with self._cond:
            for user in users:
                if user not in invalid:
                    self.sent.append(Sent("direct", user, key, param, time.monotonic()))
        return {
            "processQueryKey": process_query_key(),
            "invalidStaffIdList": invalid,
            "flowControlledStaffIdList": [],
        }

    def _session_webhook(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        session_id = (parse_qs(urlsplit(path).query).get("session") or [""])[0]
        with self._cond:
            session = self._sessions.get(session_id)
        if session is None or session.expires <= time.time():
            raise ApiError(200, "300005", "session not found or expired")
        self._injected("/robot/sendBySession")
        kind = body.get("msgtype")
        content = body.get(kind) if isinstance(kind, str) else None
        if kind not in ("text", "markdown", "actionCard") or not isinstance(content, dict):
            raise ApiError(200, "40035", "缺少参数 json")
        if len(str(content.get("text") or content.get("content") or "").encode("utf-8")) > WEBHOOK_TEXT_LIMIT:
            raise ApiError(200, "460101", "message too long, exceed 20000 bytes")
        if not self._within_minute("webhook", session.conversation):
            raise ApiError(200, "130101", "send too fast, exceed 20 times per minute")
        with self._cond:
            self.sent.append(Sent("webhook", session.conversation, str(kind), content, time.monotonic()))
        return {"errcode": 0, "errmsg": "ok"}

    # ------------------------------------------------------------------------------------------ Stream

    def _check_ticket(self, connection: ServerConnection, request: Request) -> Any:
        query = parse_qs(urlsplit(request.path).query)
        ticket = (query.get("ticket") or [""])[0]
        with self._cond:
            expires = self._tickets.pop(ticket, None)  # single use
        if urlsplit(request.path).path != "/connect" or expires is None or expires < time.monotonic():
            return connection.respond(HTTPStatus.UNAUTHORIZED, "invalid ticket\n")
        return None

    async def _ws_handler(self, ws: ServerConnection) -> None:
        ticket = (parse_qs(urlsplit(ws.request.path).query).get("ticket") or [""])[0] if ws.request else ""
        with self._cond:
            connection = Connection(len(self.connections) + 1, ws, ticket)
            self.connections.append(connection)
            self._cond.notify_all()
        try:
            async for raw in ws:
                frame = json.loads(raw)
                with self._cond:
                    connection.frames.append(frame)
                    headers = frame.get("headers") or {}
                    if "code" in frame and headers.get("messageId"):
                        data = frame.get("data")
                        self.acks.append(
                            Ack(
                                headers["messageId"],
                                int(frame["code"]),
                                json.loads(data) if isinstance(data, str) and data else data,
                                str(frame.get("message", "")),
                                connection.number,
                            )
                        )
                    self._cond.notify_all()
        except Exception:  # a dropped connection ends like a closed one
            pass
        finally:
            with self._cond:
                connection.closed = True
                self._cond.notify_all()

    def _send_frame(self, kind: str, topic: str, data: dict[str, Any], *, with_id: bool = True) -> str:
        connection = self.wait_connection()
        message_id = f"{uuid.uuid4().hex[:8]}_{uuid.uuid4().hex[:6]}" if with_id else ""
        headers = {
            "appId": "app-" + self.client_id,
            "connectionId": f"conn-{connection.number}",
            "contentType": "application/json",
            "time": str(int(time.time() * 1000)),
            "topic": topic,
        }
        if with_id:
            headers["messageId"] = message_id
        frame = {"specVersion": "1.0", "type": kind, "headers": headers, "data": json.dumps(data, ensure_ascii=False)}
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(connection.ws.send(json.dumps(frame, ensure_ascii=False)), self._loop).result(
            5
        )
        return message_id
