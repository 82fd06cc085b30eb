"""Feishu's HTTP callbacks (FEISHU_EVENTS=http): POST /lark/events on `bot serve`, for events (im.message.receive_v1)
and card callbacks (card.action.trigger) alike, checked exactly as Feishu documents before anything is acted on:

1. An encrypted body ({"encrypt": ...}) is decrypted with FEISHU_ENCRYPT_KEY (AES-256-CBC, the key the SHA-256 of
   the encrypt key, the IV the first 16 bytes); one that does not decrypt is refused (400).
2. The verification token in the body (header.token; token for the URL check) must be FEISHU_VERIFICATION_TOKEN
   (compared in constant time): 401 otherwise.
3. The URL verification ({"type": "url_verification"}) is answered with its challenge (Feishu does not sign it).
4. Anything else, when an encrypt key is set, must carry X-Lark-Signature = sha256(X-Lark-Request-Timestamp +
   X-Lark-Request-Nonce + encrypt key + the raw body) in hex: 401 otherwise.
5. Then lark-oapi's EventDispatcherHandler.do() runs the handlers of bot.lark.events (the same as the long
   connection's), after checking it all again its own way. Event types the bot has no handler for are acknowledged
   (200) and ignored, so that Feishu does not deliver them again and again.

Header names are matched in any case (the SDK needs them spelt exactly; proxies lower-case them). The SDK answers
every failure with 500 and a traceback in the log; the checks above answer bad requests with 4xx first, quietly.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any

from bot.digest.runner import Runner
from bot.lark.events import Edge
from bot.lark.poster import lark_poster
from bot.services import Services

log = logging.getLogger(__name__)

PATH = "/lark/events"
MAX_BODY = 1 << 20  # Feishu's callbacks are a few kilobytes
HANDLED = frozenset(
    {"im.message.receive_v1", "card.action.trigger", "im.chat.member.bot.added_v1", "im.chat.member.bot.deleted_v1"}
)
# The names the SDK looks up (lark_oapi.core.const), whatever case they arrived in.
CANONICAL = {
    "x-lark-request-timestamp": "X-Lark-Request-Timestamp",
    "x-lark-request-nonce": "X-Lark-Request-Nonce",
    "x-lark-signature": "X-Lark-Signature",
    "x-request-id": "X-Request-Id",
    "content-type": "Content-Type",
}
Response = tuple[int, dict[str, str], bytes]
JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}

_lock = threading.Lock()
_edges: dict[int, tuple[Services, Runner | None, Edge, Any]] = {}


def _secret(value: Any) -> str:
    return value.get_secret_value() if value is not None else ""


def _answer(status: int, body: Mapping[str, Any]) -> Response:
    return status, dict(JSON_HEADERS), json.dumps(body, ensure_ascii=False).encode("utf-8")


def _edge(services: Services, runner: Runner | None) -> tuple[Edge, Any]:
    """One edge (its thread pool, its dispatcher) per services and runner in a process."""
    with _lock:
        found = _edges.get(id(services))
        if found is None or found[1] is not runner:
            if found is not None:
                found[2].close()
            settings = services.settings
            edge = Edge(services, runner)
            dispatcher = edge.dispatcher(
                _secret(settings.feishu_encrypt_key), _secret(settings.feishu_verification_token)
            )
            found = (services, runner, edge, dispatcher)  # keeps `services` alive, so its id is not reused
            _edges[id(services)] = found
        return found[2], found[3]


def handle(
    services: Services, runner: Runner | None, method: str, path: str, headers: Mapping[str, str], body: bytes
) -> Response:
    """One callback request: (status, headers, body) to answer it with."""
    if method != "POST":
        return _answer(405, {"msg": "POST only"})
    settings = services.settings
    encrypt_key = _secret(settings.feishu_encrypt_key)
    token = _secret(settings.feishu_verification_token)
    if not token:
        log.error("a Feishu callback arrived but FEISHU_VERIFICATION_TOKEN is not set: refused")
        return _answer(401, {"msg": "FEISHU_VERIFICATION_TOKEN is not set"})
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        outer = json.loads(body)
        if not isinstance(outer, dict):
            raise ValueError("not an object")
        plaintext = _decrypted(outer, encrypt_key)
        event = json.loads(plaintext)
        if not isinstance(event, dict):
            raise ValueError("not an object")
    except (ValueError, UnicodeDecodeError) as error:
        log.warning("a Feishu callback that is not what Feishu sends: %s", error)
        return _answer(400, {"msg": "bad request"})
    found = event.get("header")
    header: dict[str, Any] = found if isinstance(found, dict) else {}
    kind = str(header.get("event_type") or event.get("type") or "")
    given = header.get("token") if "schema" in event else event.get("token")
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), token.encode()):
        log.warning("a Feishu callback with a wrong verification token: refused")
        return _answer(401, {"msg": "invalid verification token"})
    if kind == "url_verification":
        return _answer(200, {"challenge": str(event.get("challenge", ""))})
    if encrypt_key and not signed(lowered, body, encrypt_key):
        log.warning("a Feishu callback with a wrong signature: refused")
        return _answer(401, {"msg": "invalid signature"})
    if "schema" not in event or kind not in HANDLED:
        return _answer(200, {"msg": "success"})
    import lark_oapi as lark  # type: ignore[import-untyped]

    _, dispatcher = _edge(services, runner)
    request = lark.RawRequest()
    request.uri = path
    request.body = body
    request.headers = {CANONICAL.get(name, name): value for name, value in lowered.items()}
    response = dispatcher.do(request)
    return int(response.status_code), dict(JSON_HEADERS), bytes(response.content or b"")


def _decrypted(outer: dict[str, Any], encrypt_key: str) -> str:
    if "encrypt" not in outer:
        return json.dumps(outer)
    if not encrypt_key:
        raise ValueError("an encrypted callback, and FEISHU_ENCRYPT_KEY is not set")
    from lark_oapi.core.utils import AESCipher  # type: ignore[import-untyped]

    return str(AESCipher(encrypt_key).decrypt_str(str(outer["encrypt"])))


def signed(headers: Mapping[str, str], body: bytes, encrypt_key: str) -> bool:
    """Feishu's signature: sha256(timestamp + nonce + encrypt key + raw body) in hex."""
    timestamp = headers.get("x-lark-request-timestamp", "")
    nonce = headers.get("x-lark-request-nonce", "")
    signature = headers.get("x-lark-signature", "")
    expected = hashlib.sha256((timestamp + nonce + encrypt_key).encode("utf-8") + body).hexdigest()
    return bool(timestamp and nonce) and hmac.compare_digest(expected.encode(), signature.encode("latin-1", "replace"))


# ---- as a WSGI route on `bot serve` ------------------------------------------------------------------------------

StartResponse = Callable[..., Any]


def lark_only_runner(services: Services) -> Runner:
    """The runner `digest now` posts through from a Feishu chat (Feishu's poster alone: the chat is Feishu's)."""
    clock_id = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    return Runner(services.session_factory, services.renderer, lark_poster(services), clock_id)


WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def routes(services: Services) -> dict[str, WsgiApp]:
    """What `bot serve` mounts for Feishu (bot.slack.web.create_wsgi_app's `routes`): /lark/events when
    FEISHU_EVENTS=http and the app's credentials are set, else nothing."""
    settings = services.settings
    if settings.feishu_events != "http" or not settings.has_feishu_credentials:
        return {}
    return {PATH: wsgi_app(services)}


def wsgi_app(services: Services) -> WsgiApp:
    """POST /lark/events as a WSGI application."""
    runner = lark_only_runner(services)

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        length = str(environ.get("CONTENT_LENGTH") or "0")
        if not (length.isascii() and length.isdigit()) or int(length) > MAX_BODY:
            status, headers, body = _answer(413, {"msg": "too large"})
        else:
            raw = bytes(environ["wsgi.input"].read(int(length)))
            names = {
                key[5:].replace("_", "-").lower(): str(value) for key, value in environ.items() if key[:5] == "HTTP_"
            }
            if environ.get("CONTENT_TYPE"):
                names["content-type"] = str(environ["CONTENT_TYPE"])
            status, headers, body = handle(
                services,
                runner,
                str(environ.get("REQUEST_METHOD", "")),
                str(environ.get("PATH_INFO", PATH)),
                names,
                raw,
            )
        reason = HTTPStatus(status).phrase
        start_response(f"{status} {reason}", [*headers.items(), ("Content-Length", str(len(body)))])
        return [body]

    return application
