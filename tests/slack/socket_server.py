"""A local stand-in for Slack's Socket Mode: `apps.connections.open` on FakeSlack and a WebSocket server behind it.

What it does follows Slack's documentation and slack_sdk's own mock server (tests/slack_sdk/socket_mode/ in
python-slack-sdk), not guesses:

* `apps.connections.open` takes the app-level token (xapp-...) in `Authorization: Bearer` and answers
  {"ok": true, "url": "ws://127.0.0.1:PORT/link/?ticket=...&app_id=A1"}; each ticket opens one connection.
  A bot token gets `not_allowed_token_type`.
* On connect the server sends {"type": "hello", "num_connections", "debug_info", "connection_info"}.
* Envelopes are {"envelope_id", "type": "slash_commands" | "interactive" | "events_api", "payload",
  "accepts_response_payload"} (events also carry retry_attempt and retry_reason); the app acknowledges each with
  {"envelope_id"} plus, for commands and interactions that accept one, {"payload": ...}.
* A routine refresh is {"type": "disconnect", "reason": "refresh_requested", "debug_info"} on the old connection,
  which stays open (Slack keeps delivering on it for a while) until the app closes it.

Frames are RFC 6455, written here with the standard library: text, ping/pong and close, masked from the client.
Everything binds 127.0.0.1 and every wait is bounded.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import secrets
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.slack.fake_slack import DEFAULT_APP_ID, FakeSlack, SlackError

APP_TOKEN = "xapp-1-A1-1234-test"
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


@dataclass
class Ack:
    envelope_id: str
    payload: dict[str, Any] | None
    at: float  # time.monotonic() when it arrived
    connection: int


@dataclass
class Envelope:
    envelope_id: str
    type: str
    sent_at: float
    connection: int


@dataclass
class Connection:
    number: int
    sock: socket.socket
    opened_at: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    closed: bool = False
    client_closed: bool = False  # the app sent a close frame (as opposed to the server dropping it)

    def send(self, opcode: int, data: bytes) -> None:
        header = bytes([0x80 | opcode])
        size = len(data)
        if size < 126:
            header += bytes([size])
        elif size < 1 << 16:
            header += bytes([126]) + struct.pack("!H", size)
        else:
            header += bytes([127]) + struct.pack("!Q", size)
        with self.lock:
            self.sock.sendall(header + data)

    def send_json(self, message: dict[str, Any]) -> None:
        self.send(TEXT, json.dumps(message, ensure_ascii=False).encode())


def _read_exact(sock: socket.socket, size: int) -> bytes:
    chunks = b""
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("peer closed")
        chunks += chunk
    return chunks


def _read_frame(sock: socket.socket) -> tuple[int, bool, bytes]:
    first, second = _read_exact(sock, 2)
    size = second & 0x7F
    if size == 126:
        size = struct.unpack("!H", _read_exact(sock, 2))[0]
    elif size == 127:
        size = struct.unpack("!Q", _read_exact(sock, 8))[0]
    mask = _read_exact(sock, 4) if second & 0x80 else b""
    data = _read_exact(sock, size)
    if mask:
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    return first & 0x0F, bool(first & 0x80), data


class SocketModeServer:
    """Slack's side of Socket Mode. Tests send envelopes, ask for refreshes and abrupt drops, and read the acks."""

    def __init__(self, fake: FakeSlack, *, app_id: str = DEFAULT_APP_ID, app_token: str = APP_TOKEN) -> None:
        self.fake = fake
        self.app_id = app_id
        self.acks: list[Ack] = []
        self.envelopes: dict[str, Envelope] = {}
        self.connections: list[Connection] = []
        self.received: list[dict[str, Any]] = []  # every text message from the app
        self._tickets: set[str] = set()
        self._cond = threading.Condition()
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._port = 0
        fake.add_token(app_token, team_id="T1", app_level=True)
        fake.add_method("apps.connections.open", self._open)

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> SocketModeServer:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self._port))  # the same port again after a restart, like Slack's host name
        listener.listen(16)
        listener.settimeout(0.05)
        self._port = listener.getsockname()[1]
        self._listener = listener
        self._spawn(self._accept, listener)
        return self

    def stop(self) -> None:
        """Close the listener and drop every connection without a close frame, as a crashed server would."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._cond:
            for connection in self.connections:
                self._drop(connection)
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = [t for t in self._threads if t.is_alive()]

    def restart(self, down_for: float = 0.5) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()

    def __enter__(self) -> SocketModeServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- what tests do

    def send(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool | None = None,
        connection: Connection | None = None,
        timeout: float = 5.0,
    ) -> str:
        """Deliver an envelope on `connection` (default: the newest open one, waiting for one); its envelope_id."""
        target = connection or self.wait_connection(timeout=timeout)
        envelope_id = str(uuid.uuid4())
        message: dict[str, Any] = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": kind,
            "accepts_response_payload": kind != "events_api"
            if accepts_response_payload is None
            else accepts_response_payload,
        }
        if kind == "events_api":
            message.update(retry_attempt=0, retry_reason="")
        with self._cond:
            self.envelopes[envelope_id] = Envelope(envelope_id, kind, time.monotonic(), target.number)
        target.send_json(message)
        return envelope_id

    def refresh(self, connection: Connection | None = None) -> Connection:
        """Slack's routine refresh: a disconnect message; the connection stays open until the app closes it."""
        target = connection or self.wait_connection()
        target.send_json(
            {
                "type": "disconnect",
                "reason": "refresh_requested",
                "debug_info": {"host": f"applink-{target.number}"},
            }
        )
        return target

    def drop(self, connection: Connection | None = None) -> Connection:
        """Close the TCP connection without a disconnect message or close frame (a network cut, a crashed host)."""
        target = connection or self.wait_connection()
        with self._cond:
            self._drop(target)
        return target

    def open_connections(self) -> list[Connection]:
        with self._cond:
            return [c for c in self.connections if not c.closed]

    def wait_connection(self, after: int = 0, timeout: float = 5.0) -> Connection:
        """The newest open connection numbered above `after`, waiting up to `timeout` seconds for one."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                fresh = [c for c in self.connections if not c.closed and c.number > after]
                if fresh:
                    return fresh[-1]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no Socket Mode connection after #{after} within {timeout} s")
                self._cond.wait(left)

    def wait_closed(self, connection: Connection, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not connection.closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def wait_ack(self, envelope_id: str, timeout: float = 5.0) -> Ack:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [a for a in self.acks if a.envelope_id == envelope_id]
                if found:
                    return found[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"envelope {envelope_id} was not acknowledged within {timeout} s")
                self._cond.wait(left)

    def acks_of(self, envelope_id: str) -> list[Ack]:
        with self._cond:
            return [a for a in self.acks if a.envelope_id == envelope_id]

    def latency(self, envelope_id: str, timeout: float = 5.0) -> float:
        """Seconds from sending the envelope to its acknowledgement."""
        return self.wait_ack(envelope_id, timeout).at - self.envelopes[envelope_id].sent_at

    # ----------------------------------------------------------------- Slack's side

    def _open(self, params: dict[str, Any], who: dict[str, Any] | None) -> dict[str, Any]:
        if not who or not who.get("app_level"):
            raise SlackError("not_allowed_token_type")
        # Even while the WebSocket side is down (a restart), as Slack's API hands out URLs on other hosts.
        ticket = secrets.token_hex(8)
        with self._cond:
            self._tickets.add(ticket)
        return {"url": f"ws://127.0.0.1:{self._port}/link/?ticket={ticket}&app_id={self.app_id}"}

    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name="socket-mode-server", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(None)
            self._spawn(self._serve, sock)

    def _handshake(self, sock: socket.socket) -> bool:
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = sock.recv(4096)
            if not chunk or len(request) > 65536:
                return False
            request += chunk
        lines = request.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
        target = lines[0].split(" ")[1]
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        ticket = parse_qs(urlsplit(target).query).get("ticket", [""])[0]
        with self._cond:
            valid = ticket in self._tickets
            self._tickets.discard(ticket)
        if not valid or headers.get("upgrade", "").lower() != "websocket":
            sock.sendall(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return False
        accept = base64.b64encode(hashlib.sha1((headers["sec-websocket-key"] + GUID).encode()).digest()).decode()
        sock.sendall(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
            ).encode()
        )
        return True

    def _serve(self, sock: socket.socket) -> None:
        try:
            if not self._handshake(sock):
                sock.close()
                return
        except (OSError, IndexError, KeyError):
            sock.close()
            return
        with self._cond:
            connection = Connection(len(self.connections) + 1, sock, time.monotonic())
            self.connections.append(connection)
            open_count = sum(1 for c in self.connections if not c.closed)
        with contextlib.suppress(OSError):
            connection.send_json(
                {
                    "type": "hello",
                    "num_connections": open_count,
                    "debug_info": {"host": f"applink-{connection.number}", "build_number": 1},
                    "connection_info": {"app_id": self.app_id},
                }
            )
        # Waiters see the connection only once its hello has gone out, so nothing is sent before it.
        with self._cond:
            self._cond.notify_all()
        self._read(connection)

    def _read(self, connection: Connection) -> None:
        buffer = b""
        try:
            while True:
                opcode, final, data = _read_frame(connection.sock)
                if opcode == PING:
                    connection.send(PONG, data)
                elif opcode == CLOSE:
                    connection.client_closed = True
                    with contextlib.suppress(OSError):
                        connection.send(CLOSE, data[:2])
                    break
                elif opcode in (TEXT, 0x0):
                    buffer += data
                    if final:
                        self._on_text(connection, buffer.decode())
                        buffer = b""
        except (OSError, ConnectionError, struct.error, ValueError):
            pass
        with self._cond:
            self._drop(connection)

    def _on_text(self, connection: Connection, text: str) -> None:
        at = time.monotonic()
        message = json.loads(text)
        with self._cond:
            self.received.append(message)
            if "envelope_id" in message:
                self.acks.append(Ack(message["envelope_id"], message.get("payload"), at, connection.number))
            self._cond.notify_all()

    def _drop(self, connection: Connection) -> None:
        """Close without ceremony (called with the condition held)."""
        if not connection.closed:
            connection.closed = True
            with contextlib.suppress(OSError):
                connection.sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                connection.sock.close()
        self._cond.notify_all()
