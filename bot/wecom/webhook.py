"""A WeCom group robot's webhook: what a URL must look like, one message sent, its answer classified, and the pace
of 20 messages a minute per robot.

`POST <webhook URL>` with `{"msgtype": "markdown", "markdown": {"content": ...}}` (at most 4096 bytes of UTF-8).
WeCom answers HTTP 200 whatever happened, with `{"errcode": 0, "errmsg": "ok"}` or an error code:

* 45009 "api freq out of limit": over 20 messages a minute for this robot; retried after the minute.
* 93000 "invalid webhook url": the key is wrong or the robot was removed from its group; it never will work.
* 40058 the content is over 4096 bytes (or another parameter is invalid): our bug, since parts are cut to fit.
* 40008 an invalid message type: our bug too.

Any other error code, a 5xx, a timeout or a refused connection may pass, and is retried with backoff. The URL (whose
key lets anyone post in the group) is never logged or put in an error."""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict, deque
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

from bot.core.errors import ConfigurationError
from bot.core.poster import PostError

log = logging.getLogger(__name__)

MAX_BYTES = 4096  # of a markdown message's content, UTF-8 (WeCom's limit)
PER_MINUTE = 20  # messages per robot (WeCom's limit)
RATE_LIMITED_FOR = 60.0  # seconds to wait after a 45009: the minute it counts over
TIMEOUT = 10.0  # seconds for one request
MAX_ANSWER = 64 * 1024  # bytes of an answer read: WeCom's are tiny
LOCAL_HOSTS = {"localhost"}  # and loopback addresses: plain http is allowed there only (a local stand-in or proxy)

PERMANENT = {93000: "wecom_invalid_webhook", 40058: "wecom_content_too_long", 40008: "wecom_invalid_message_type"}
RATE_LIMITED = 45009
PRODUCTION_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=..."


def robot_key(url: str) -> str:
    """The `key` of a webhook URL: which robot it is (pacing and known-dead robots are per key)."""
    keys = parse_qs(urlsplit(url).query).get("key") or [""]
    return keys[0]


def check_url(url: str) -> str:
    """The webhook URL as given, or a ConfigurationError saying what is wrong with it (never repeating it: it is a
    secret)."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        raise ConfigurationError(f"the webhook URL is not a URL; it looks like {PRODUCTION_URL}") from None
    if parts.scheme not in ("https", "http") or not host or parts.username or parts.password:
        raise ConfigurationError(f"the webhook URL must be an https:// URL like {PRODUCTION_URL}")
    if parts.scheme == "http" and not _is_local(host):
        raise ConfigurationError(
            "the webhook URL must use https: its key lets anyone post in the group, so it never travels in the clear"
        )
    if not robot_key(url):
        raise ConfigurationError(f"the webhook URL has no key=...; copy it whole from the robot: {PRODUCTION_URL}")
    return url


def _is_local(host: str) -> bool:
    if host in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def send(url: str, content: str, timeout: float = TIMEOUT) -> None:
    """One markdown message to the robot; a PostError saying whether to retry (and when) when it was not taken."""
    body = json.dumps({"msgtype": "markdown", "markdown": {"content": content}}, ensure_ascii=False).encode()
    request = urllib.request.Request(  # noqa: S310 - check_url allowed only http(s) when the URL was stored
        url, data=body, headers={"Content-Type": "application/json; charset=utf-8"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - see above
            raw = response.read(MAX_ANSWER)
    except urllib.error.HTTPError as error:  # WeCom itself answers 200; this is a proxy or an outage
        retry_after = error.headers.get("Retry-After") if error.headers else None
        if error.code == 429:
            raise PostError("wecom_http_429", retry_after=_seconds(retry_after, RATE_LIMITED_FOR)) from None
        raise PostError(f"wecom_http_{error.code}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as error:  # refused, reset, timed out: try again later
        raise PostError(f"wecom_connection: {type(error).__name__}") from None
    try:
        answer = json.loads(raw)
        errcode = int(answer.get("errcode", -1))
    except (ValueError, TypeError, AttributeError):
        raise PostError("wecom_bad_answer") from None
    if errcode == 0:
        return
    errmsg = str(answer.get("errmsg", ""))[:300]
    if errcode == RATE_LIMITED:
        raise PostError("wecom_rate_limited", retry_after=RATE_LIMITED_FOR)
    if errcode == 40058:
        log.error(
            "WeCom refused a message of %d bytes (errcode 40058: %s): parts are cut to %d bytes, so this is a bug",
            len(content.encode()),
            errmsg,
            MAX_BYTES,
        )
    if errcode in PERMANENT:
        raise PostError(PERMANENT[errcode], permanent=True)
    log.info("WeCom answered errcode %s: %s", errcode, errmsg)
    raise PostError(f"wecom_errcode_{errcode}")


def _seconds(value: str | None, default: float) -> float:
    try:
        return max(float(value or default), 1.0)
    except ValueError:
        return default


class RobotPacer:
    """At most `count` messages in any `window` seconds for each robot (WeCom: 20 a minute), shared by the posting
    threads. A message waits for its slot only as long as the caller allows: a post must end well within the lease
    of its claim (bot.digest.claims), so a longer wait is the caller's to turn into a retry."""

    def __init__(
        self,
        count: int = PER_MINUTE,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.count, self.window, self.clock, self.sleep = count, window, clock, sleep
        self._sent: dict[str, deque[float]] = defaultdict(deque)  # slots taken (some may be in the future)
        self._held: dict[str, float] = defaultdict(float)
        self._lock = threading.Lock()

    def take(self, key: str, max_wait: float) -> float | None:
        """Takes the robot's next slot and sleeps until it (None) when that is at most `max_wait` seconds away;
        otherwise takes nothing and returns how many seconds away it is."""
        with self._lock:
            now = self.clock()
            sent = self._sent[key]
            while sent and sent[0] <= now - self.window:
                sent.popleft()
            slot = max(now, self._held[key])
            if len(sent) >= self.count:
                slot = max(slot, sent[-self.count] + self.window)
            if slot - now > max_wait:
                return slot - now
            sent.append(slot)
        if slot > now:
            self.sleep(slot - now)
        return None

    def hold(self, key: str, seconds: float) -> None:
        """WeCom said 45009: nothing more for this robot until then."""
        with self._lock:
            self._held[key] = max(self._held[key], self.clock() + seconds)
