"""A local stand-in for WeCom's group robot webhook, for end-to-end tests.

`POST /cgi-bin/webhook/send?key=KEY` with a JSON body, as WeCom documents it (and /tmp/platforms_research.md §9
records it):

* The answer is always HTTP 200 with `{"errcode": 0, "errmsg": "ok"}`, or an error code in the body, and an errmsg of
  WeCom's form ("<text>, hint: [...], from ip: ..., more info at https://open.work.weixin.qq.com/devtool/query?e=N").
* An unknown key (a robot removed from its group) is 93000 "invalid webhook url".
* `{"msgtype": "markdown", "markdown": {"content": ...}}`: content is at most 4096 bytes of UTF-8 (counted in bytes,
  not characters), else 40058 "markdown.content exceed max length 4096. Invalid input invalid Request Parameter";
  `{"msgtype": "text", "text": {"content": ...}}` at most 2048 bytes. A body that is not such JSON is 40058 too
  (WeCom's code for an invalid parameter); an unknown msgtype is 40008; empty content 44004.
* Each robot (key) takes at most 20 messages in any 60 seconds (a sliding window); the 21st is 45009 "api freq out
  of limit". Refused messages do not count.

Accepted messages are recorded in order. Tests can remove a robot, use up its minute (`throttle`) and make the next
messages fail with any error code (`fail`). Only 127.0.0.1 is bound; nothing here talks to the network.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PATH = "/cgi-bin/webhook/send"
MARKDOWN_BYTES = 4096
TEXT_BYTES = 2048
PER_MINUTE = 20
WINDOW = 60.0
MSGTYPES = {"text", "markdown", "markdown_v2", "image", "news", "file", "voice", "template_card"}


@dataclass(frozen=True)
class Received:
    key: str
    msgtype: str
    content: str
    at: float


def _errmsg(text: str, code: int) -> str:
    return (
        f"{text}, hint: [1732600000_1_abcdef], from ip: 127.0.0.1, "
        f"more info at https://open.work.weixin.qq.com/devtool/query?e={code}"
    )


class FakeWeCom:
    def __init__(self, keys: tuple[str, ...] = ("K1",), clock: Callable[[], float] = time.monotonic) -> None:
        self.keys = set(keys)
        self.clock = clock
        self.received: list[Received] = []
        self.requests = 0  # every POST, accepted or not
        self._windows: dict[str, deque[float]] = defaultdict(deque)
        self._faults: dict[str, list[tuple[int, int]]] = defaultdict(list)  # key -> [(errcode, after n accepted)]
        self._delay = 0.0
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, answer = fake._handle(self.path, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    # ---- the test's side ----

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, key: str = "K1") -> str:
        return f"{self.base}{PATH}?key={key}"

    def contents(self, key: str = "K1") -> list[str]:
        with self._lock:
            return [message.content for message in self.received if message.key == key]

    def remove(self, key: str) -> None:
        """The robot is removed from its group: its webhook answers 93000 from now on."""
        with self._lock:
            self.keys.discard(key)

    def throttle(self, key: str) -> None:
        """The robot's minute is used up (by another sender): its next messages get 45009 until the window moves."""
        with self._lock:
            self._windows[key].extend([self.clock()] * PER_MINUTE)

    def reset(self, key: str) -> None:
        with self._lock:
            self._windows[key].clear()

    def fail(self, key: str, errcode: int, *, after: int = 0, times: int = 1) -> None:
        """The next `times` messages to `key` after `after` more accepted ones get `errcode` (an HTTP status for
        500 and above)."""
        with self._lock:
            accepted = sum(1 for message in self.received if message.key == key)
            self._faults[key].extend([(errcode, accepted + after)] * times)

    def slow(self, seconds: float) -> None:
        self._delay = seconds

    # ---- WeCom's side ----

    def _handle(self, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        if self._delay:
            time.sleep(self._delay)
        parts = urlsplit(path)
        if parts.path != PATH:
            return 404, {"errcode": 404, "errmsg": "not found"}
        key = (parse_qs(parts.query).get("key") or [""])[0]
        with self._lock:
            self.requests += 1
            if key not in self.keys:
                return 200, {"errcode": 93000, "errmsg": _errmsg("invalid webhook url", 93000)}
            accepted = sum(1 for message in self.received if message.key == key)
            faults = self._faults[key]
            if faults and faults[0][1] <= accepted:
                errcode, _ = faults.pop(0)
                if errcode >= 500 and errcode < 600:
                    return errcode, {"error": "server error"}
                return 200, {"errcode": errcode, "errmsg": _errmsg("injected", errcode)}
            try:
                message = json.loads(body.decode("utf-8"))
                msgtype = message["msgtype"]
            except (ValueError, KeyError, TypeError):
                return 200, {"errcode": 40058, "errmsg": _errmsg("invalid Request Parameter", 40058)}
            if msgtype not in MSGTYPES:
                return 200, {"errcode": 40008, "errmsg": _errmsg("invalid message type", 40008)}
            if msgtype not in ("markdown", "text"):
                return 200, {"errcode": 40008, "errmsg": _errmsg("message type not served by this stand-in", 40008)}
            section = message.get(msgtype)
            content = section.get("content") if isinstance(section, dict) else None
            if not isinstance(content, str):
                return 200, {"errcode": 40058, "errmsg": _errmsg("invalid Request Parameter", 40058)}
            if not content:
                return 200, {"errcode": 44004, "errmsg": _errmsg("empty content", 44004)}
            limit = MARKDOWN_BYTES if msgtype == "markdown" else TEXT_BYTES
            if len(content.encode("utf-8")) > limit:
                text = f"{msgtype}.content exceed max length {limit}. Invalid input invalid Request Parameter"
                return 200, {"errcode": 40058, "errmsg": _errmsg(text, 40058)}
            now = self.clock()
            window = self._windows[key]
            while window and window[0] <= now - WINDOW:
                window.popleft()
            if len(window) >= PER_MINUTE:
                return 200, {"errcode": 45009, "errmsg": _errmsg("api freq out of limit", 45009)}
            window.append(now)
            self.received.append(Received(key, msgtype, content, now))
        return 200, {"errcode": 0, "errmsg": "ok"}

    # ---- lifecycle ----

    def __enter__(self) -> FakeWeCom:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
