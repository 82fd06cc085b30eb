"""Build and send requests to the bot the way Slack does: slash commands, block_actions and Events API callbacks.

Payload shapes start from the examples in tests/fixtures/slack/ and are filled in here. Bodies are bytes because the
signature covers the exact bytes sent; sign and post the same object. Content types follow Slack:
application/x-www-form-urlencoded for commands and interactivity (interactivity as a single `payload=<JSON>` field),
application/json for events.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tests.slack.fake_slack import DEFAULT_APP_ID, DEFAULT_BOT_USER_ID, DEFAULT_CHANNELS, DEFAULT_USERS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "slack"

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json"
SLACK_USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"

# Default response_url: a local port nothing listens on (9, "discard"), so a test that forgot to pass
# FakeSlack.response_url() fails fast with a connection error instead of reaching hooks.slack.com.
UNSET_RESPONSE_URL = "http://127.0.0.1:9/response/unset"


def fixture(name: str) -> dict[str, Any]:
    """A fresh copy of tests/fixtures/slack/<name>.json."""
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


# ------------------------------------------------------------------- signing


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Slack's request signature headers: v0=hex(HMAC-SHA256(secret, "v0:{ts}:{body}")).

    Bolt rejects timestamps more than 5 minutes from its clock, so pass an old `timestamp` to test replay checks.
    """
    ts = int(time.time()) if timestamp is None else timestamp
    base = b"v0:" + str(ts).encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}


def signed_headers(secret: str, body: bytes, content_type: str, timestamp: int | None = None) -> dict[str, str]:
    """Everything Slack puts on a request to the app: content type, user agent and signature."""
    return {"Content-Type": content_type, "User-Agent": SLACK_USER_AGENT, **sign(secret, body, timestamp)}


# ------------------------------------------------------------------- payloads


def new_trigger_id() -> str:
    # Same shape as Slack's: two numeric parts and a hex digest. Each one can open a modal only once.
    return f"{secrets.randbelow(10**13)}.{secrets.randbelow(10**13)}.{secrets.token_hex(16)}"


def _channel_name(channel_id: str) -> str:
    # Slack sends "directmessage" for DMs; otherwise the channel's name, matching FakeSlack's defaults.
    if channel_id.startswith("D"):
        return "directmessage"
    return DEFAULT_CHANNELS.get(channel_id, {}).get("name", channel_id.lower())


def _user_name(user_id: str) -> str:
    return DEFAULT_USERS.get(user_id, {}).get("name", user_id.lower())


def command_body(
    text: str,
    *,
    command: str = "/insights",
    team_id: str = "T1",
    team_domain: str = "testteam",
    enterprise_id: str | None = None,
    enterprise_name: str | None = None,
    channel_id: str = "C1",
    channel_name: str | None = None,
    user_id: str = "U1",
    user_name: str | None = None,
    response_url: str = UNSET_RESPONSE_URL,
    trigger_id: str | None = None,
    api_app_id: str = DEFAULT_APP_ID,
    is_enterprise_install: bool = False,
) -> bytes:
    """A slash command request body: form fields in the order Slack sends them."""
    fields = fixture("command")
    values = {
        "team_id": team_id,
        "team_domain": team_domain,
        "channel_id": channel_id,
        "channel_name": channel_name or _channel_name(channel_id),
        "user_id": user_id,
        "user_name": user_name or _user_name(user_id),
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "true" if is_enterprise_install else "false",
        "response_url": response_url,
        "trigger_id": trigger_id or new_trigger_id(),
    }
    fields.update(values)
    if enterprise_id:
        # Enterprise Grid workspaces add these two right after team_domain.
        ordered: dict[str, str] = {}
        for key, value in fields.items():
            ordered[key] = value
            if key == "team_domain":
                ordered["enterprise_id"] = enterprise_id
                ordered["enterprise_name"] = enterprise_name or enterprise_id
        fields = ordered
    return urlencode(fields).encode()


def block_actions_body(
    action_id: str,
    value: str,
    *,
    block_id: str = "actions",
    text: str = "Button",
    user_id: str = "U1",
    team_id: str = "T1",
    team_domain: str = "testteam",
    channel_id: str = "C1",
    response_url: str = UNSET_RESPONSE_URL,
    container: dict[str, Any] | None = None,
    message: dict[str, Any] | None = None,
    view: dict[str, Any] | None = None,
    trigger_id: str | None = None,
    api_app_id: str = DEFAULT_APP_ID,
) -> bytes:
    """A button click: `payload=<JSON>` form body with Slack's block_actions shape.

    container defaults to a message in `channel_id`. Slack leaves out `message` for ephemeral messages
    ({"is_ephemeral": true} container); for a view container (App Home, modals) it sends `view` instead of
    channel/message and no response_url. `message` defaults to the fixture's example bot message.
    """
    payload = fixture("block_actions")
    user_name = _user_name(user_id)
    payload["user"] = {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id}
    payload["api_app_id"] = api_app_id
    payload["team"] = {"id": team_id, "domain": team_domain}
    payload["trigger_id"] = trigger_id or new_trigger_id()
    payload["response_url"] = response_url
    payload["channel"] = {"id": channel_id, "name": _channel_name(channel_id)}
    if message is not None:
        payload["message"] = message
    payload["container"] = container or {
        "type": "message",
        "message_ts": payload["message"]["ts"],
        "channel_id": channel_id,
        "is_ephemeral": False,
    }
    if payload["container"].get("is_ephemeral"):
        del payload["message"]
    if payload["container"]["type"] == "view":
        for key in ("channel", "message", "response_url"):
            payload.pop(key, None)
        payload["view"] = view or {
            "id": payload["container"].get("view_id", "V00000001"),
            "team_id": team_id,
            "type": "home",
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "state": {"values": {}},
            "app_id": api_app_id,
            "bot_id": "B1",
        }
    payload["actions"] = [
        {
            "action_id": action_id,
            "block_id": block_id,
            "text": {"type": "plain_text", "text": text, "emoji": True},
            "value": value,
            "type": "button",
            "action_ts": f"{time.time():.6f}",
        }
    ]
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))}).encode()


def view_submission_body(
    view: dict[str, Any],
    values: dict[str, dict[str, Any]],
    *,
    user_id: str = "U1",
    team_id: str = "T1",
    api_app_id: str = DEFAULT_APP_ID,
) -> bytes:
    """A modal's submission as Slack sends it: `payload=<JSON>`, the view as opened plus its state (the inputs)."""
    payload = {
        "type": "view_submission",
        "team": {"id": team_id, "domain": team_id.lower()},
        "user": {"id": user_id, "username": _user_name(user_id), "name": _user_name(user_id), "team_id": team_id},
        "api_app_id": api_app_id,
        "token": "legacy-verification-token",
        "trigger_id": new_trigger_id(),
        "view": {
            **view,
            "id": "V123",
            "team_id": team_id,
            "app_id": api_app_id,
            "state": {"values": values},
            "hash": "1700000000.abcdef",
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    return urlencode({"payload": json.dumps(payload, ensure_ascii=False)}).encode()


def event_body(
    event: dict[str, Any],
    *,
    team_id: str = "T1",
    api_app_id: str = DEFAULT_APP_ID,
    event_id: str | None = None,
    event_time: int | None = None,
    bot_user_id: str = DEFAULT_BOT_USER_ID,
    enterprise_id: str | None = None,
) -> bytes:
    """An Events API `event_callback` envelope around `event`, as JSON bytes."""
    event_time = event_time or int(time.time())
    # Slack's event_context is an opaque token; only its "4-" prefix and base64 body are imitated.
    context = base64.urlsafe_b64encode(json.dumps({"et": event["type"], "tid": team_id}).encode()).decode()
    envelope = {
        "token": "verification-token",
        "team_id": team_id,
        "enterprise_id": enterprise_id,
        "context_team_id": team_id,
        "context_enterprise_id": enterprise_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or "Ev" + secrets.token_hex(5).upper(),
        "event_time": event_time,
        # Whose installation the event is for; Bolt's authorize step and token revocation handlers read this.
        "authorizations": [
            {
                "enterprise_id": enterprise_id,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{context.rstrip('=')}",
    }
    if enterprise_id is None:
        del envelope["enterprise_id"]
    return json.dumps(envelope, separators=(",", ":")).encode()


def app_home_opened(user: str = "U1", *, channel: str | None = None, view: dict[str, Any] | None = None) -> dict:
    """The event Slack sends when a user opens the app's Home tab; `view` is present once one was published."""
    event = fixture("app_home_opened")
    event.update({"user": user, "channel": channel or "D" + user[1:], "event_ts": f"{time.time():.6f}"})
    if view is not None:
        event["view"] = view
    return event


def app_uninstalled() -> dict:
    return fixture("app_uninstalled")


def tokens_revoked(*bot_user_ids: str, oauth: tuple[str, ...] = ()) -> dict:
    """Slack lists the *user* IDs whose tokens were revoked: bot user IDs (U...) under "bot", people under "oauth"."""
    event = fixture("tokens_revoked")
    event["tokens"] = {"oauth": list(oauth), "bot": list(bot_user_ids or (DEFAULT_BOT_USER_ID,))}
    return event


# ------------------------------------------------------------------- sending


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: Any  # parsed JSON when the response says it is JSON (or looks like it), else text

    @property
    def json(self) -> Any:
        return self.body


# A direct opener: proxy environment variables must not divert requests meant for 127.0.0.1.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = 10) -> Response:
    """POST like Slack does; 4xx/5xx come back as a Response rather than an exception."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=timeout) as resp:
            status, resp_headers, raw = resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as e:
        status, resp_headers, raw = e.code, dict(e.headers.items()), e.read()
    text = raw.decode("utf-8", "replace")
    content_type = next((v for k, v in resp_headers.items() if k.lower() == "content-type"), "")
    parsed: Any = text
    if "json" in content_type or text[:1] in ("{", "["):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
    return Response(status, resp_headers, parsed)
