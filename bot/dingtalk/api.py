"""DingTalk's HTTP APIs as the edge uses them, with our own HTTP code (the SDK logs failures and returns None, and
takes a 200 with an error code for a success): the app's access token, robot messages to a group and to people,
and replies through a message's sessionWebhook.

DingTalk's error codes stop here: every failure becomes a PostError (classify) that says whether it is permanent
(the robot is not in the group, the group is dissolved, the app may not send) and how long to wait when DingTalk
throttled us. An expired or invalid access token is fetched again and the call retried, once."""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bot.core.poster import PostError

log = logging.getLogger(__name__)

TIMEOUT = 10.0  # seconds for one call; a timeout is a transient failure
TOKEN_MARGIN = 300.0  # an access token is renewed this long before it expires (as the SDK does)

# Throttling. The new-style APIs answer 403 Forbidden.AccessDenied.QpsLimitForApi (or ...ForAppkeyAndApi) when an
# app calls an API more than its per-second quota: wait a moment. "Send too fast" (the 20 messages a minute rule;
# 130101 from webhooks, send.too.fast from the robot API) needs the minute to pass.
QPS_LIMIT_PREFIX = "Forbidden.AccessDenied.QpsLimit"
QPS_WAIT = 2.0
PER_MINUTE_CODES = frozenset({"send.too.fast", "130101"})
PER_MINUTE_WAIT = 60.0
# The access token is not (or no longer) valid: fetch a new one and try again, once.
TOKEN_CODES = frozenset({"InvalidAuthentication", "invalidAuthentication", "InvalidAccessToken"})
# What no retry will fix: the robot is not in the group (or no longer exists), the group is dissolved, the robot was
# stopped, the app lacks the permission to send (qyapi_robot_sendmsg), the person is not in the organisation.
PERMANENT_CODES = frozenset(
    {
        "invalidParameter.robotCode.notExsit",  # sic: DingTalk's spelling ("机器人不存在": not in the group)
        "invalidParameter.robotCode.empty",
        "invalidParameter.robotCode.invalid",
        "invalidParameter.robotCode.auth",
        "invalid.openConversationId",
        "miss.openConversationId",
        "openConversationId.notExisted",
        "group.disbanded",
        "bot.stopped",
        "Forbidden.AccessDenied.AccessTokenPermissionDenied",
        "invalidParameter.userIds.empty",
        "invalid_staff_id",  # ours: batchSend listed the person in invalidStaffIdList
    }
)


@dataclass(frozen=True)
class Response:
    status: int
    body: dict[str, Any]
    headers: Mapping[str, str]


def post_json(
    url: str, body: Mapping[str, Any], headers: Mapping[str, str] | None = None, timeout: float = TIMEOUT
) -> Response:
    """POST a JSON body; the answer whatever its status. A network failure or a timeout is a transient PostError."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise PostError("not_an_http_url", permanent=True)
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url,
        data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "Accept": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return Response(response.status, _json(response.read()), dict(response.headers.items()))
    except urllib.error.HTTPError as error:
        with error:
            return Response(error.code, _json(error.read()), dict((error.headers or {}).items()))
    except (OSError, http.client.HTTPException) as error:  # refused, reset, timed out, cut short
        raise PostError(f"connection: {type(error).__name__}") from error


def _json(raw: bytes) -> dict[str, Any]:
    try:
        found = json.loads(raw.decode("utf-8")) if raw else {}
    except (UnicodeDecodeError, ValueError):
        return {"raw": raw[:200].decode("utf-8", "replace")}
    return found if isinstance(found, dict) else {"raw": found}


def error_code(response: Response) -> str:
    body = response.body
    return str(body.get("code") or body.get("errcode") or f"http_{response.status}")


def is_token_error(response: Response) -> bool:
    return response.status == 401 or error_code(response) in TOKEN_CODES


def classify(response: Response) -> PostError:
    """A failed call as a PostError: permanent, throttled (with how long to wait) or transient."""
    code = error_code(response)
    retry_after = response.headers.get("Retry-After") or response.headers.get("retry-after")
    if response.status == 429 or code.startswith(QPS_LIMIT_PREFIX):
        return PostError(code, retry_after=_seconds(retry_after, QPS_WAIT))
    if code in PER_MINUTE_CODES:
        return PostError(code, retry_after=_seconds(retry_after, PER_MINUTE_WAIT))
    if response.body.get("punish") == "deny":  # the gateway's own flow control: a JSON page saying how many minutes
        return PostError("flow_control", retry_after=_seconds(response.body.get("wait"), 5) * 60)
    return PostError(code, permanent=code in PERMANENT_CODES)


def _seconds(value: object, default: float) -> float:
    try:
        seconds = float(str(value))
    except ValueError:
        return default
    return seconds if 0 < seconds < 24 * 3600 else default


class AccessToken:
    """The app's access token (POST /v1.0/oauth2/accessToken), shared by every thread: fetched once, renewed
    TOKEN_MARGIN before it expires, and fetched again at once when DingTalk says it is no longer valid."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: float = TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = base_url.rstrip("/") + "/v1.0/oauth2/accessToken"
        self.client_id, self.client_secret = client_id, client_secret
        self.timeout, self.clock = timeout, clock
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = threading.Lock()

    def get(self) -> str:
        with self._lock:  # one fetch at a time: the threads that wait use the token it brings
            if self._token is None or self.clock() >= self._renew_at:
                self._token, self._renew_at = self._fetch()
            return self._token

    def invalidate(self, token: str) -> None:
        """DingTalk refused `token`: the next get() fetches a new one (unless another thread already has)."""
        with self._lock:
            if self._token == token:
                self._token = None

    def _fetch(self) -> tuple[str, float]:
        asked_at = self.clock()
        response = post_json(
            self.url, {"appKey": self.client_id, "appSecret": self.client_secret}, timeout=self.timeout
        )
        token, expires_in = response.body.get("accessToken"), response.body.get("expireIn")
        if response.status != 200 or not isinstance(token, str) or not token:
            # A wrong Client ID or Secret is the operator's to fix: retried (and logged), not a reason to pause.
            code = error_code(response)
            log.warning("DingTalk refused an access token: %s (check DINGTALK_CLIENT_ID / _SECRET)", code)
            raise PostError(f"access_token: {code}")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else 7200.0
        return token, asked_at + max(lifetime - TOKEN_MARGIN, lifetime / 2)


class DingTalkApi:
    """The robot APIs of one internal app (its robot code), with its access token."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        robot_code: str,
        *,
        timeout: float = TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.robot_code = robot_code
        self.timeout = timeout
        self.tokens = AccessToken(self.base_url, client_id, client_secret, timeout=timeout)

    def call(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST to an API that takes the access token; its JSON answer, or a PostError."""
        for attempt in range(2):
            token = self.tokens.get()
            response = post_json(
                self.base_url + path, body, {"x-acs-dingtalk-access-token": token}, timeout=self.timeout
            )
            if 200 <= response.status < 300:
                return response.body
            if attempt == 0 and is_token_error(response):
                self.tokens.invalidate(token)
                continue
            raise classify(response)
        raise AssertionError("unreachable")  # pragma: no cover

    def send_group(self, conversation_id: str, msg_key: str, msg_param: str) -> str:
        """A robot message in a group (openConversationId); its processQueryKey."""
        answer = self.call(
            "/v1.0/robot/groupMessages/send",
            {
                "msgParam": msg_param,
                "msgKey": msg_key,
                "openConversationId": conversation_id,
                "robotCode": self.robot_code,
            },
        )
        return str(answer.get("processQueryKey") or "")

    def send_to_people(self, user_ids: list[str], msg_key: str, msg_param: str) -> str:
        """A robot message to each person (staff ids) in their one-to-one chat with the robot; its processQueryKey.
        DingTalk answers 200 and lists who it did not reach: an unknown person is permanent, one it held back for
        sending too much is throttled."""
        answer = self.call(
            "/v1.0/robot/oToMessages/batchSend",
            {"robotCode": self.robot_code, "userIds": user_ids, "msgKey": msg_key, "msgParam": msg_param},
        )
        if set(answer.get("invalidStaffIdList") or ()) & set(user_ids):
            raise PostError("invalid_staff_id", permanent=True)
        if set(answer.get("flowControlledStaffIdList") or ()) & set(user_ids):
            raise PostError("flow_controlled", retry_after=PER_MINUTE_WAIT)
        return str(answer.get("processQueryKey") or "")


def send_webhook(url: str, body: Mapping[str, Any], timeout: float = TIMEOUT) -> None:
    """A reply through a message's sessionWebhook (no token: the URL is the credential, for about 90 minutes).
    DingTalk answers 200 even when it refuses: errcode says, e.g. 130101 for sending too fast."""
    response = post_json(url, body, timeout=timeout)
    if response.status != 200:
        raise classify(response)
    errcode = response.body.get("errcode", 0)
    if errcode not in (0, "0"):
        raise classify(Response(response.status, {"code": str(errcode)}, response.headers))
