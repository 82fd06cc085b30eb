"""Feishu's open API as this bot uses it, through lark-oapi's Client: send, reply, update a card, read a chat's
owner and managers, the bot's own open_id. Feishu's error codes stop here: every failure becomes a PostError that
says whether it is permanent and how long to wait.

* The tenant access token is the SDK's (fetched once, cached process-wide until ten minutes before it expires). The
  SDK does not drop it when Feishu says it is invalid or expired (99991661/99991663/99991668): it is dropped here and
  the call made once more.
* Limits (docs): 5 messages a second per chat (and per user), shared by every bot in it (over: 230020), and 50 a
  second per app (over: HTTP 429 with 99991400 and x-ogw-ratelimit-reset). Every send is paced under both here; a
  230020 holds that chat back for a second, a 429 the whole app for as long as Feishu says.
* One API object per app and timeout in a process (api_for), so the digest runner and the event handlers share the
  pace. Every call has a timeout: the SDK's default is none.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import lark_oapi as lark  # type: ignore[import-untyped]
import requests
from lark_oapi.api.im.v1 import (  # type: ignore[import-untyped]
    CreateMessageRequest,
    CreateMessageRequestBody,
    GetChatRequest,
    PatchMessageRequest,
    PatchMessageRequestBody,
    ReplyMessageRequest,
    ReplyMessageRequestBody,
)
from lark_oapi.core.exception import ObtainAccessTokenException  # type: ignore[import-untyped]
from lark_oapi.core.token import TokenManager  # type: ignore[import-untyped]

from bot.core.poster import PostError
from bot.digest.pacing import TeamPacer
from bot.settings import Settings

log = logging.getLogger(__name__)

TIMEOUT = 10.0  # seconds for one call: posting digests and answers
QUICK_TIMEOUT = 3.0  # for a question asked while someone waits (is this person a chat owner?)
# Messages a second: Feishu publishes 5 per chat (shared by every bot in it) and 50 per app; a little under both,
# so that a burst never meets the limit however Feishu counts its second.
PER_CHAT, PER_APP = 4.0, 45.0
RATE_LIMITED = 99991400  # HTTP 429: the app's limit for this API
CHAT_RATE_LIMITED = 230020  # the chat's (or user's) limit, shared by all bots in it
TOKEN_CODES = frozenset({99991661, 99991663, 99991668})  # missing, invalid, expired: fetch a new one, once
# What no retry will fix, by name (the name travels in PostError.error and the pause note).
PERMANENT: dict[int, str] = {
    230001: "invalid_request",
    230002: "bot_not_in_chat",
    230006: "bot_not_activated",
    230011: "message_recalled",
    230013: "user_out_of_reach",
    230019: "topic_missing",
    230022: "content_refused",
    230025: "message_too_long",
    230027: "no_permission",
    230028: "content_refused",
    230035: "send_denied",
    230099: "invalid_card",
    232009: "chat_dissolved",
    99991672: "missing_scope",
    99991679: "missing_scope",
}
# The bot cannot post there at all: removed (230002; 232011 from chat.get), or the chat dissolved (232009).
NOT_IN_CHAT = frozenset({230002, 232009, 232011})
GONE = frozenset({230011, 230019})  # a reply's parent is gone: post in the chat instead
CARD_REFUSED = frozenset({230025, 230099})  # the card itself: its words still go as text

ReceiveIdType = Literal["chat_id", "open_id"]
MsgType = Literal["interactive", "text"]


class LarkError(PostError):
    """A PostError with Feishu's code (0 when the call never got an answer)."""

    def __init__(self, error: str, code: int = 0, **kwargs: Any) -> None:
        super().__init__(error, **kwargs)
        self.code = code


@dataclass(frozen=True)
class Chat:
    """What chat.get says of a chat (user ids as open_ids)."""

    owner_id: str
    managers: tuple[str, ...]
    chat_mode: str  # "group", "topic", "p2p"

    def is_admin(self, open_id: str) -> bool:
        return bool(open_id) and (open_id == self.owner_id or open_id in self.managers)


class LarkApi:
    def __init__(self, app_id: str, app_secret: str, domain: str, timeout: float) -> None:
        self.app_id = app_id
        self.client = (
            lark.Client.builder()
            .app_id(app_id)
            .app_secret(app_secret)
            .domain(domain.rstrip("/"))
            .timeout(timeout)
            .log_level(lark.LogLevel.WARNING)
            .build()
        )
        self.chats, self.app = _pacers(app_id)
        self._bot_open_id: str | None = None

    # ---- messages ------------------------------------------------------------------------------------------------

    def send(
        self, receive_id_type: ReceiveIdType, receive_id: str, content: str, msg_type: MsgType, uuid: str | None = None
    ) -> str:
        """A new message; `uuid` (at most 50 characters) makes it idempotent: Feishu sends a message at most once per
        uuid within an hour. Returns its message_id."""
        body = CreateMessageRequestBody.builder().receive_id(receive_id).msg_type(msg_type).content(content)
        if uuid:
            body = body.uuid(uuid)
        request = CreateMessageRequest.builder().receive_id_type(receive_id_type).request_body(body.build()).build()
        self._pace(receive_id)
        response = self._call(lambda: self.client.im.v1.message.create(request), receive_id)
        return str(response.data.message_id)

    def reply(self, message_id: str, content: str, msg_type: MsgType, uuid: str | None, chat_id: str) -> str:
        body = ReplyMessageRequestBody.builder().msg_type(msg_type).content(content).reply_in_thread(False)
        if uuid:
            body = body.uuid(uuid)
        request = ReplyMessageRequest.builder().message_id(message_id).request_body(body.build()).build()
        self._pace(chat_id)
        response = self._call(lambda: self.client.im.v1.message.reply(request), chat_id)
        return str(response.data.message_id)

    def update(self, message_id: str, content: str, chat_id: str) -> None:
        """A card sent before, changed in place for everyone (it was sent with config.update_multi)."""
        body = PatchMessageRequestBody.builder().content(content).build()
        request = PatchMessageRequest.builder().message_id(message_id).request_body(body).build()
        self._pace(chat_id)
        self._call(lambda: self.client.im.v1.message.patch(request), chat_id)

    # ---- facts ---------------------------------------------------------------------------------------------------

    def chat(self, chat_id: str) -> Chat:
        """The chat's owner and managers (the bot must be in the chat, and have im:chat:readonly)."""
        request = GetChatRequest.builder().chat_id(chat_id).user_id_type("open_id").build()
        data = self._call(lambda: self.client.im.v1.chat.get(request), chat_id).data
        return Chat(
            str(data.owner_id or ""), tuple(str(m) for m in data.user_manager_id_list or ()), str(data.chat_mode or "")
        )

    def bot_open_id(self) -> str | None:
        """The bot's own open_id (GET /open-apis/bot/v3/info, remembered once known); None when Feishu did not say."""
        if self._bot_open_id is None:
            request = (
                lark.BaseRequest.builder()
                .http_method(lark.HttpMethod.GET)
                .uri("/open-apis/bot/v3/info")
                .token_types({lark.AccessTokenType.TENANT})
                .build()
            )
            try:
                response = self._call(lambda: self.client.request(request), "")
                found = json.loads(response.raw.content).get("bot") or {}
            except (PostError, ValueError) as error:
                log.warning("could not learn the bot's open_id from Feishu: %s", error)
                return None
            self._bot_open_id = str(found.get("open_id") or "") or None
        return self._bot_open_id

    # ---- calls and their errors ----------------------------------------------------------------------------------

    def _pace(self, target: str) -> None:
        self.app.wait("app")
        if target:
            self.chats.wait(target)

    def _call(self, call: Callable[[], Any], target: str) -> Any:
        for attempt in (1, 2):
            try:
                response = call()
            except ObtainAccessTokenException as error:  # wrong app secret, or Feishu's token service is down
                raise LarkError(f"token_refused:{error.code}", int(error.code or 0)) from error
            except requests.RequestException as error:  # refused, reset, timed out: try again later
                raise LarkError(f"connection: {type(error).__name__}") from error
            except ValueError as error:  # an answer that is not JSON (a proxy's error page)
                raise LarkError("bad_response") from error
            if response.success():
                return response
            code = int(response.code or 0)
            if code in TOKEN_CODES and attempt == 1:
                TokenManager.cache.set(f"self_tenant_token:{self.app_id}", "", 0)  # forget it: the next call fetches
                continue
            raise self._error(code, str(response.msg or ""), response.raw, target)
        raise AssertionError("unreachable")

    def _error(self, code: int, msg: str, raw: Any, target: str) -> LarkError:
        status = int(getattr(raw, "status_code", 0) or 0)
        headers: Mapping[str, str] = getattr(raw, "headers", None) or {}
        if status == 429 or code == RATE_LIMITED:
            wait = _seconds(_header(headers, "x-ogw-ratelimit-reset"), default=1.0)
            self.app.hold("app", wait)
            return LarkError("ratelimited", code, retry_after=wait)
        if code == CHAT_RATE_LIMITED:
            if target:
                self.chats.hold(target, 1.0)
            return LarkError("chat_ratelimited", code, retry_after=1.0)
        if code in PERMANENT:
            return LarkError(f"{PERMANENT[code]}:{code}", code, permanent=True)
        log.info("Feishu said %s (HTTP %s): %s", code, status, msg)
        return LarkError(f"http_{status}:{code}" if status >= 500 else f"lark_{code}", code)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _seconds(value: str | None, *, default: float) -> float:
    try:
        seconds = float(value) if value is not None else default
    except ValueError:
        return default
    return min(max(seconds, 0.5), 3600.0)


_lock = threading.RLock()
_APIS: dict[tuple[str, str, str, float], LarkApi] = {}
_PACERS: dict[str, tuple[TeamPacer, TeamPacer]] = {}


def _pacers(app_id: str) -> tuple[TeamPacer, TeamPacer]:
    """Per chat and per app, shared by every API object of the app in this process."""
    with _lock:
        if app_id not in _PACERS:
            _PACERS[app_id] = (TeamPacer(PER_CHAT), TeamPacer(PER_APP))
        return _PACERS[app_id]


def api_for(settings: Settings, timeout: float = TIMEOUT) -> LarkApi:
    """This process's API object for the app in `settings` (FEISHU_APP_ID, FEISHU_APP_SECRET, FEISHU_DOMAIN)."""
    app_id = settings.feishu_app_id or ""
    secret = settings.feishu_app_secret.get_secret_value() if settings.feishu_app_secret else ""
    key = (app_id, secret, settings.feishu_domain, timeout)
    with _lock:
        if key not in _APIS:
            _APIS[key] = LarkApi(app_id, secret, settings.feishu_domain, timeout)
        return _APIS[key]
