"""HTTP mode: Bolt's WSGI adapter behind a small asyncio front in gunicorn's worker processes, plus /healthz.
Routes: /slack/events (commands, interactivity, events), /slack/install and /slack/oauth_redirect (OAuth mode),
/healthz.

The front reads each request whole (headers and body, within REQUEST_SECONDS and MAX_BODY) on the event loop, where
a slow or idle client costs a socket and a little memory, and only then hands it to a thread that runs the app: a
client trickling its request a byte a second never holds a thread, so Slack's requests are answered beside it.
Before Bolt parses anything, a POST to /slack/events must carry Slack's signature (v0 HMAC-SHA256 of the raw body,
timestamp within five minutes): everything else gets 401 and costs one HMAC."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import logging
import os
import re
import socket
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote

from gunicorn.workers.base import Worker
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import text

from bot.services import Services, create_services

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# Slack's requests are a few kilobytes (the largest, a modal's view_submission with its blocks, some tens): 1 MB
# leaves room for any of them and caps what a stranger can make a worker hold.
MAX_BODY = 1 << 20
MAX_HEAD = 16 * 1024  # request line and headers
# A whole request must arrive within this, counted from when the connection was accepted or its previous answer
# sent (so it is also the keep-alive idle time). Slack's arrive in milliseconds.
REQUEST_SECONDS = 10.0
SIGNATURE_MAX_AGE = 5 * 60  # Slack: refuse timestamps more than five minutes away (replays)


def create_wsgi_app(services: Services | None = None, routes: Mapping[str, WsgiApp] | None = None) -> WsgiApp:
    """`routes`: other platforms' callbacks by path (Feishu's /lark/events, bot.lark.http.wsgi_app), handed in by
    whoever composes the platforms, so that this edge imports no other; with them alone, no Slack app is built."""
    from bot.slack.app import create_app

    services = services or create_services()
    routes = dict(routes or {})
    slack = SlackRequestHandler(create_app(services)) if services.settings.has_slack_credentials or not routes else None
    secret = (services.settings.slack_signing_secret or "").encode()

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        if path == "/healthz":
            return healthz(services, start_response)
        if path in routes:
            return routes[path](environ, start_response)
        if slack is None:  # another platform alone: no Slack app to answer
            return plain(start_response, "404 Not Found")
        if path == "/slack/events" and environ.get("REQUEST_METHOD") == "POST":
            body = read_body(environ)
            if body is None:
                return plain(start_response, "413 Content Too Large")
            if not signed_by_slack(secret, environ, body, time.time()):
                return plain(start_response, "401 Unauthorized")
            try:
                body.decode()
            except UnicodeDecodeError:  # Slack sends UTF-8; Bolt would fail decoding anything else
                return plain(start_response, "400 Bad Request")
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
        return slack(environ, start_response)

    return application


def read_body(environ: dict[str, Any]) -> bytes | None:
    """The body, read in one bounded piece; None when it is over MAX_BODY (told by Content-Length, or found)."""
    length = str(environ.get("CONTENT_LENGTH") or "")
    if length.isascii() and length.isdigit():
        if int(length) > MAX_BODY:
            return None
        return bytes(environ["wsgi.input"].read(int(length)))
    body = bytes(environ["wsgi.input"].read(MAX_BODY + 1))  # no length: read to the end, never past the cap
    return None if len(body) > MAX_BODY else body


def signed_by_slack(secret: bytes, environ: dict[str, Any], body: bytes, now: float) -> bool:
    """Slack's v0 signature: HMAC-SHA256(secret, "v0:{timestamp}:{body}") in hex, the timestamp within 5 minutes."""
    timestamp = str(environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", ""))
    signature = str(environ.get("HTTP_X_SLACK_SIGNATURE", ""))
    # Ten or so digits: anything else is not Slack's (and int() of thousands of digits would raise).
    if not secret or not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return False
    if abs(now - int(timestamp)) > SIGNATURE_MAX_AGE:
        return False
    expected = "v0=" + hmac.new(secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode("latin-1", "replace"))


def plain(start_response: StartResponse, status: str) -> Iterable[bytes]:
    body = json.dumps({"error": status.split(" ", 1)[1]}).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


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


# ------------------------------------------------------------------- the front


class Refusal(Exception):
    """A request we answer with `status` and then close the connection on, unread."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,8}")


async def read_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> dict[str, Any] | None:
    """One HTTP/1.x request as a WSGI environ (its body read whole, at most MAX_BODY); None at a clean end."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as end:
        if not end.partial.strip():
            return None
        raise
    except asyncio.LimitOverrunError:
        raise Refusal("431 Request Header Fields Too Large") from None
    request_line, *lines = head[:-4].decode("latin-1").split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or parts[2] not in ("HTTP/1.0", "HTTP/1.1"):
        raise Refusal("400 Bad Request")
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        name = name.lower()
        # No folded lines, no space before the colon, one framing header of each kind: nothing to smuggle.
        if not colon or not name or name != name.strip() or (name in headers and name in _SINGLE):
            raise Refusal("400 Bad Request")
        headers[name] = f"{headers[name]}, {value.strip()}" if name in headers else value.strip()
    if "transfer-encoding" in headers:
        if headers["transfer-encoding"].lower() != "chunked" or "content-length" in headers:
            raise Refusal("400 Bad Request")
        go_on_if_expected(headers, writer)
        body = await read_chunked(reader)
    else:
        length = headers.get("content-length", "0")
        if not (length.isascii() and length.isdigit()):
            raise Refusal("400 Bad Request")
        if int(length) > MAX_BODY:
            raise Refusal("413 Content Too Large")  # said before a byte of the body is read
        go_on_if_expected(headers, writer)
        body = await reader.readexactly(int(length))
    method, target, version = parts
    path, _, query = target.partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote(path, "latin-1"),
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": version,
        "CONTENT_TYPE": headers.pop("content-type", ""),
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in headers.items():
        if "_" not in name:  # X_Slack_Signature would read as X-Slack-Signature: such names are dropped
            environ["HTTP_" + name.upper().replace("-", "_")] = value
    keep = headers.get("connection", "").lower()
    environ["front.keep_alive"] = "close" not in keep if version == "HTTP/1.1" else "keep-alive" in keep
    return environ


_SINGLE = {"content-length", "transfer-encoding", "host"}


def go_on_if_expected(headers: dict[str, str], writer: asyncio.StreamWriter) -> None:
    """A client that asked first (Expect: 100-continue, as curl does for big bodies) is told to send the body; one
    refused with 413 above never sends it. A client that sends a big body unasked gets the 413 and then a reset."""
    if headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    """A chunked body, chunk by chunk, refused with 413 as soon as it passes MAX_BODY."""
    chunks: list[bytes] = []
    total = 0
    while True:
        size_line = (await reader.readuntil(b"\r\n"))[:-2].split(b";")[0].strip()
        if not _CHUNK_SIZE.fullmatch(size_line):
            raise Refusal("400 Bad Request")
        size = int(size_line, 16)
        total += size
        if total > MAX_BODY:
            raise Refusal("413 Content Too Large")
        if size == 0:
            break
        chunks.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise Refusal("400 Bad Request")
    while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, ignored
        pass
    return b"".join(chunks)


def call_app(app: WsgiApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
        started[:] = [status, headers]

    chunks = app(environ, start_response)
    try:
        body = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return started[0], started[1], body


def encode_response(status: str, headers: list[tuple[str, str]], body: bytes, keep_alive: bool) -> bytes:
    lines = [f"HTTP/1.1 {status}"]
    lines += [f"{name}: {value}" for name, value in headers if name.lower() not in _FRAMING]
    lines.append(f"Content-Length: {len(body)}")
    if not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


_FRAMING = {"content-length", "connection", "transfer-encoding"}


class FrontWorker(Worker):  # type: ignore[misc]
    """A gunicorn worker: an asyncio server on the shared listening sockets, the app on `threads` threads."""

    def run(self) -> None:
        asyncio.run(self.serve())

    async def serve(self) -> None:
        self.pool = ThreadPoolExecutor(self.cfg.threads, thread_name_prefix="app")
        self.connections = 0
        self.busy = 0
        servers = [
            await asyncio.start_server(self.connection, sock=listener.sock, limit=MAX_HEAD) for listener in self.sockets
        ]
        while self.alive and os.getppid() == self.ppid:
            self.notify()  # the arbiter's heartbeat: a loop stuck for `timeout` seconds gets the worker restarted
            await asyncio.sleep(1.0)
        for server in servers:
            server.close()
        deadline = time.monotonic() + self.cfg.graceful_timeout
        while self.busy and time.monotonic() < deadline:  # answers being computed still go out
            self.notify()
            await asyncio.sleep(0.1)
        self.pool.shutdown(wait=False)

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # asyncio turns Nagle off only on sockets it created itself; gunicorn's would delay small answers by 40 ms.
        sock = writer.get_extra_info("socket")
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connections += 1
        try:
            if self.connections <= self.cfg.worker_connections:
                await self.requests(reader, writer)
        except Refusal as refusal:
            writer.write(encode_response(refusal.status, [], b"", keep_alive=False))
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass  # too slow, gone, or a line without end: nothing to answer
        except Exception:  # a bug of ours: logged, and this connection alone is dropped
            log.exception("error serving a connection")
        finally:
            self.connections -= 1
            writer.close()

    async def requests(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        peer = writer.get_extra_info("peername") or ("", 0)
        while self.alive:
            async with asyncio.timeout(REQUEST_SECONDS):
                environ = await read_request(reader, writer)
            if environ is None:
                return
            environ["REMOTE_ADDR"], environ["SERVER_NAME"], environ["SERVER_PORT"] = peer[0], "", ""
            self.busy += 1
            try:
                status, headers, body = await loop.run_in_executor(self.pool, call_app, self.wsgi, environ)
            except Exception:  # the app's own error handling failed: say 500, log it, keep serving
                log.exception("unhandled error answering %s %s", environ["REQUEST_METHOD"], environ["PATH_INFO"])
                status, headers, body = "500 Internal Server Error", [], b""
            finally:
                self.busy -= 1
            keep_alive = environ["front.keep_alive"] and self.alive
            writer.write(
                encode_response(status, headers, b"" if environ["REQUEST_METHOD"] == "HEAD" else body, keep_alive)
            )
            async with asyncio.timeout(REQUEST_SECONDS):
                await writer.drain()
            if not keep_alive:
                return


def serve(host: str, port: int, workers: int, factory: Callable[[], WsgiApp] | None = None, threads: int = 2) -> None:
    """gunicorn's arbiter (forks, restarts, signals) with our front as its worker, each building its own app after
    the fork (no shared connections). `factory` defaults to this bot; the benchmark passes a bare app to compare
    under the same server. `threads` run the app in each worker: answers that wait on the database or on Slack
    do not hold up the others."""
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "bot.slack.web.FrontWorker")
            self.cfg.set("threads", threads)
            self.cfg.set("accesslog", None)
            self.cfg.set("timeout", 30)

        def load(self) -> Callable[..., Any]:
            return (factory or create_wsgi_app)()

    Server().run()
