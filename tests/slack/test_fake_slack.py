"""The Slack stand-in checked against the real clients: slack_sdk's WebClient, its retry handlers, its
SignatureVerifier and Bolt itself, so the fake cannot drift into answering in ways real Slack would not."""

import json
import time
from collections.abc import Iterator
from urllib.parse import parse_qsl

import pytest
from slack_bolt import App, BoltRequest
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import FixedValueRetryIntervalCalculator, RateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
from slack_sdk.signature import SignatureVerifier

from tests.slack import requests as slack_requests
from tests.slack.fake_slack import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TOKEN, FakeSlack

SECRET = "test-signing-secret"

BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Insight 1*"}}]
METADATA = {"event_type": "insight_posted", "event_payload": {"insight": 1}}


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # slack_sdk routes every request through HTTP(S)_PROXY when set, including ones to 127.0.0.1.
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> WebClient:
    return WebClient(token=DEFAULT_TOKEN, base_url=slack.api_url)


def error_of(call) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        call()
    return info.value


# ------------------------------------------------------------------- Web API basics


def test_post_message_round_trip_records_blocks_and_metadata(slack: FakeSlack, client: WebClient) -> None:
    response = client.chat_postMessage(channel="C1", text="Insight 1", blocks=BLOCKS, metadata=METADATA)

    assert response["channel"] == "C1"
    assert response["message"]["blocks"] == BLOCKS
    assert response["message"]["bot_id"] == "B1"
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    [call] = slack.calls_to("chat.postMessage")
    assert call.token == DEFAULT_TOKEN
    assert call.params == {"channel": "C1", "text": "Insight 1", "blocks": BLOCKS, "metadata": METADATA}
    # chat.postMessage goes out as JSON with the token in the Authorization header only.
    assert call.headers["Content-Type"] == "application/json;charset=utf-8"
    assert call.headers["Authorization"] == f"Bearer {DEFAULT_TOKEN}"
    assert slack.messages_in("C1")[0]["ts"] == response["ts"]


def test_form_encoded_json_arguments_are_decoded(slack: FakeSlack, client: WebClient) -> None:
    first = client.api_call(
        "chat.postMessage", params={"channel": "C1", "blocks": json.dumps(BLOCKS), "metadata": json.dumps(METADATA)}
    )
    second = client.chat_postMessage(channel="C1", text="again")

    call = slack.calls_to("chat.postMessage")[0]
    assert call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert call.params["blocks"] == BLOCKS
    assert call.params["metadata"] == METADATA
    assert float(second["ts"]) > float(first["ts"])


def test_auth_test_reports_the_token_identity(client: WebClient) -> None:
    response = client.auth_test()

    assert response["team_id"] == "T1"
    assert response["bot_id"] == "B1"
    assert response["user_id"] == "UBOT"
    assert "chat:write" in response.headers["x-oauth-scopes"]  # Bolt reads this exact lower-case key


def test_unknown_or_missing_token(slack: FakeSlack) -> None:
    bad = error_of(WebClient(token="xoxb-nope", base_url=slack.api_url).auth_test)
    assert (bad.response.status_code, bad.response["error"]) == (200, "invalid_auth")

    missing = error_of(WebClient(base_url=slack.api_url).auth_test)
    assert missing.response["error"] == "not_authed"


@pytest.mark.parametrize(
    ("channel", "error"),
    [("C404", "channel_not_found"), ("C3", "not_in_channel"), ("C4", "is_archived")],
)
def test_channel_errors(slack: FakeSlack, client: WebClient, channel: str, error: str) -> None:
    slack.add_channel("C3", name="secret", is_member=False)
    slack.add_channel("C4", name="old", is_archived=True)

    failure = error_of(lambda: client.chat_postMessage(channel=channel, text="hi"))

    assert failure.response["error"] == error
    assert slack.messages_in(channel) == []


def test_message_needs_text_or_blocks(client: WebClient) -> None:
    with pytest.warns(UserWarning, match="top-level `text` argument is missing"):
        failure = error_of(lambda: client.chat_postMessage(channel="C1"))

    assert failure.response["error"] == "no_text"


def test_posting_to_a_user_id_goes_to_their_dm(slack: FakeSlack, client: WebClient) -> None:
    response = client.chat_postMessage(channel="U1", text="hello")

    assert response["channel"] == "D1"
    assert client.conversations_info(channel="D1")["channel"]["is_im"] is True


def test_unknown_method_is_404(client: WebClient) -> None:
    failure = error_of(lambda: client.api_call("nope.nothing"))

    assert (failure.response.status_code, failure.response["error"]) == (404, "unknown_method")


# ------------------------------------------------------------------- faults and rate limits


def test_429_is_retried_after_retry_after_seconds(slack: FakeSlack) -> None:
    slack.fail("chat.postMessage", status=429, retry_after=1)
    client = WebClient(
        token=DEFAULT_TOKEN, base_url=slack.api_url, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)]
    )

    response = client.chat_postMessage(channel="C1", text="hi")

    assert response["ok"] is True
    first, second = slack.calls_to("chat.postMessage")
    assert second.at - first.at >= 1.0
    assert len(slack.messages_in("C1")) == 1


def test_429_without_a_retry_handler_surfaces_retry_after(slack: FakeSlack, client: WebClient) -> None:
    # WebClient's default retry handlers only cover connection errors, so a 429 reaches the caller.
    slack.fail("chat.postMessage", status=429, retry_after=7)

    failure = error_of(lambda: client.chat_postMessage(channel="C1", text="hi"))

    assert failure.response.status_code == 429
    assert failure.response["error"] == "ratelimited"
    assert failure.response.headers["Retry-After"] == "7"


def test_rate_limit_per_channel(slack: FakeSlack, client: WebClient) -> None:
    slack.rate_limit("chat.postMessage", per_channel_per_second=1)

    client.chat_postMessage(channel="C1", text="one")
    limited = error_of(lambda: client.chat_postMessage(channel="C1", text="two"))
    client.chat_postMessage(channel="C2", text="another channel has its own budget")

    assert limited.response.status_code == 429
    assert limited.response.headers["Retry-After"] == "1"
    assert [len(slack.messages_in(c)) for c in ("C1", "C2")] == [1, 1]


def test_500_is_retried_by_server_error_handler(slack: FakeSlack) -> None:
    slack.fail("chat.postMessage", status=500)
    handler = ServerErrorRetryHandler(max_retry_count=1, interval_calculator=FixedValueRetryIntervalCalculator(0.01))
    client = WebClient(token=DEFAULT_TOKEN, base_url=slack.api_url, retry_handlers=[handler])

    assert client.chat_postMessage(channel="C1", text="hi")["ok"] is True
    assert len(slack.calls_to("chat.postMessage")) == 2


def test_error_and_html_faults(slack: FakeSlack, client: WebClient) -> None:
    slack.fail("auth.test", error="account_inactive")
    slack.fail("auth.test", status=503)

    assert error_of(client.auth_test).response["error"] == "account_inactive"
    unavailable = error_of(client.auth_test)
    assert unavailable.response.status_code == 503
    assert "non-JSON" in unavailable.response["error"]  # slack_sdk's wording for an HTML body
    assert client.auth_test()["ok"] is True


def test_delay_fault_makes_the_client_time_out(slack: FakeSlack) -> None:
    slack.fail("auth.test", delay=1.0)
    client = WebClient(token=DEFAULT_TOKEN, base_url=slack.api_url, timeout=0.2)  # type: ignore[arg-type]

    # A read timeout is a bare TimeoutError, which the default ConnectionErrorRetryHandler does not retry.
    with pytest.raises(TimeoutError):
        client.auth_test()
    assert len(slack.calls_to("auth.test")) == 1


# ------------------------------------------------------------------- reading state


def test_conversations_history_returns_metadata_only_when_asked(slack: FakeSlack, client: WebClient) -> None:
    first = client.chat_postMessage(channel="C1", text="first", metadata=METADATA)
    second = client.chat_postMessage(channel="C1", text="second")

    plain = client.conversations_history(channel="C1")
    full = client.conversations_history(channel="C1", include_all_metadata=True)

    assert [m["ts"] for m in plain["messages"]] == [second["ts"], first["ts"]]
    assert "metadata" not in plain["messages"][1]
    assert full["messages"][1]["metadata"] == METADATA
    newer = client.conversations_history(channel="C1", oldest=first["ts"])
    assert [m["text"] for m in newer["messages"]] == ["second"]


def test_conversations_history_paginates(client: WebClient) -> None:
    for n in range(3):
        client.chat_postMessage(channel="C1", text=str(n))

    page = client.conversations_history(channel="C1", limit=2)
    rest = client.conversations_history(channel="C1", limit=2, cursor=page["response_metadata"]["next_cursor"])

    assert page["has_more"] is True
    assert [m["text"] for m in page["messages"] + rest["messages"]] == ["2", "1", "0"]
    assert rest["has_more"] is False


def test_conversations_info_and_users_info(slack: FakeSlack, client: WebClient) -> None:
    slack.add_channel("C5", name="archive", is_archived=True, is_member=False)
    slack.add_user("U9", name="carol", is_admin=True)

    assert client.conversations_info(channel="C5")["channel"]["is_archived"] is True
    assert client.conversations_info(channel="C1")["channel"]["is_member"] is True
    carol = client.users_info(user="U9")["user"]
    assert (carol["name"], carol["is_admin"], carol["is_owner"]) == ("carol", True, False)
    assert error_of(lambda: client.users_info(user="U404")).response["error"] == "user_not_found"


def test_views_publish_and_open(slack: FakeSlack, client: WebClient) -> None:
    home = {"type": "home", "blocks": BLOCKS}
    published = client.views_publish(user_id="U1", view=home)["view"]
    again = client.views_publish(user_id="U1", view=home, hash=published["hash"])["view"]

    assert again["id"] == published["id"]
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Insight"}, "blocks": BLOCKS}
    opened = client.views_open(trigger_id="t-1", view=modal)["view"]
    assert opened["type"] == "modal"
    assert error_of(lambda: client.views_open(trigger_id="t-1", view=modal)).response["error"] == (
        "exchanged_trigger_id"
    )


# ------------------------------------------------------------------- OAuth and uninstall


def test_oauth_v2_access_with_a_registered_code(slack: FakeSlack) -> None:
    token = slack.add_oauth_code("code-1", team_id="T9", team_name="Nine", bot_user_id="UBOT9")
    app_client = WebClient(base_url=slack.api_url)

    response = app_client.oauth_v2_access(
        client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET, code="code-1"
    )

    assert response["access_token"] == token
    assert response["token_type"] == "bot"
    assert response["team"] == {"name": "Nine", "id": "T9"}
    assert response["enterprise"] is None
    assert response["bot_user_id"] == "UBOT9"
    assert WebClient(token=token, base_url=slack.api_url).auth_test()["team_id"] == "T9"
    # Sent form-encoded with the app's credentials in HTTP Basic auth, as slack_sdk does.
    assert slack.calls_to("oauth.v2.access")[0].headers["Authorization"].startswith("Basic ")

    def exchange(code: str, secret: str = DEFAULT_CLIENT_SECRET) -> str:
        failure = error_of(
            lambda: app_client.oauth_v2_access(client_id=DEFAULT_CLIENT_ID, client_secret=secret, code=code)
        )
        return failure.response["error"]

    assert exchange("code-1") == "invalid_code"  # single use
    slack.add_oauth_code("code-2")
    assert exchange("code-2", secret="wrong") == "bad_client_secret"


def test_apps_uninstall_revokes_the_workspace_tokens(client: WebClient) -> None:
    client.apps_uninstall(client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET)

    assert error_of(client.auth_test).response["error"] == "token_revoked"


# ------------------------------------------------------------------- response_url and request helpers


def test_response_url_receives_bolt_respond(slack: FakeSlack) -> None:
    url = slack.response_url("cmd")

    result = Respond(response_url=url)("Working on it", response_type="ephemeral")

    assert result.status_code == 200
    assert json.loads(result.body) == {"ok": True}
    assert slack.responses["cmd"] == [{"text": "Working on it", "response_type": "ephemeral"}]


def test_post_helper_does_not_raise_on_errors(slack: FakeSlack) -> None:
    ok = slack_requests.post(slack.response_url("k"), b'{"text": "hi"}', {"Content-Type": "application/json"})
    missing = slack_requests.post(f"{slack.url}nowhere", b"", {})

    assert (ok.status, ok.body) == (200, {"ok": True})
    assert missing.status == 404


def test_sign_matches_slack_sdk_verifier() -> None:
    body = slack_requests.command_body("top 3")
    verifier = SignatureVerifier(SECRET)

    assert verifier.is_valid_request(body, slack_requests.sign(SECRET, body))
    assert not verifier.is_valid_request(body + b"x", slack_requests.sign(SECRET, body))
    stale = slack_requests.sign(SECRET, body, timestamp=int(time.time()) - 600)
    assert not verifier.is_valid_request(body, stale)


def test_command_body_has_slacks_fields() -> None:
    fields = dict(parse_qsl(slack_requests.command_body("top 3", response_url="http://127.0.0.1:1/r").decode()))

    assert list(fields) == list(slack_requests.fixture("command"))
    assert (fields["command"], fields["text"], fields["channel_name"]) == ("/insights", "top 3", "general")
    grid = dict(parse_qsl(slack_requests.command_body("x", enterprise_id="E1").decode()))
    assert grid["enterprise_id"] == "E1"


def test_payloads_are_understood_by_bolt(slack: FakeSlack) -> None:
    """Dispatch each builder's output through a real Bolt app: signature check, parsing, routing, respond()."""
    app = App(
        signing_secret=SECRET,
        client=WebClient(token=DEFAULT_TOKEN, base_url=slack.api_url),
        process_before_response=True,  # run listeners inline so effects are visible when dispatch returns
    )
    seen: dict[str, dict] = {}

    @app.command("/insights")
    def on_command(ack, command, respond) -> None:
        ack()
        seen["command"] = command
        respond(f"echo {command['text']}")

    @app.action("more")
    def on_action(ack, body, client) -> None:
        ack()
        seen["action"] = body
        client.chat_postMessage(channel=body["channel"]["id"], text="more")

    @app.event("app_home_opened")
    def on_home(event, client) -> None:
        seen["home"] = event
        client.views_publish(user_id=event["user"], view={"type": "home", "blocks": BLOCKS})

    @app.event("tokens_revoked")
    def on_revoked(event, context) -> None:
        seen["revoked"] = {"bot": event["tokens"]["bot"], "team_id": context.team_id}

    def dispatch(body: bytes, content_type: str) -> int:
        headers = slack_requests.signed_headers(SECRET, body, content_type)
        return app.dispatch(BoltRequest(body=body.decode(), headers=headers)).status

    form, json_type = slack_requests.FORM_CONTENT_TYPE, slack_requests.JSON_CONTENT_TYPE
    assert dispatch(slack_requests.command_body("top 3", response_url=slack.response_url("c")), form) == 200
    assert dispatch(slack_requests.block_actions_body("more", "1"), form) == 200
    assert dispatch(slack_requests.event_body(slack_requests.app_home_opened("U1")), json_type) == 200
    assert dispatch(slack_requests.event_body(slack_requests.tokens_revoked()), json_type) == 200
    tampered = slack_requests.command_body("top 3")
    headers = slack_requests.signed_headers("wrong-secret", tampered, form)
    assert app.dispatch(BoltRequest(body=tampered.decode(), headers=headers)).status == 401

    assert seen["command"]["user_id"] == "U1"
    assert slack.responses["c"] == [{"text": "echo top 3"}]
    assert seen["action"]["actions"][0]["value"] == "1"
    assert slack.messages_in("C1")[-1]["text"] == "more"
    assert seen["home"]["channel"] == "D1"
    assert slack.home_views.keys() == {"U1"}
    assert seen["revoked"] == {"bot": ["UBOT"], "team_id": "T1"}  # from the envelope's authorizations
    assert slack.wait_for(lambda: slack.calls_to("views.publish"), timeout=1)
