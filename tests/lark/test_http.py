"""HTTP callbacks (FEISHU_EVENTS=http) through bot.lark.http.handle: encrypted and signed exactly as Feishu does
(fake_lark.encrypt / signed_headers), the URL check answered, anything unsigned or with a wrong token refused
before it is acted on, header names in any case."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from bot.lark.http import handle
from bot.services import Services
from tests.lark.conftest import ENCRYPT_KEY, VERIFICATION_TOKEN, lark_services
from tests.lark.fake_lark import GROUP, FakeLark, encrypt, signed_headers


def body_of(event: dict[str, Any], key: str = ENCRYPT_KEY) -> bytes:
    return json.dumps({"encrypt": encrypt(json.dumps(event, ensure_ascii=False), key)}).encode()


def post(services: Services, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    status, _headers, answer = handle(services, None, "POST", "/lark/events", headers, body)
    assert _headers["Content-Type"].startswith("application/json")
    return status, json.loads(answer)


def test_the_url_check_is_answered_with_its_challenge(services: Services) -> None:
    check = {"challenge": "ch-42", "token": VERIFICATION_TOKEN, "type": "url_verification"}
    assert post(services, body_of(check), {}) == (200, {"challenge": "ch-42"})  # Feishu does not sign it
    wrong = {**check, "token": "not-it"}
    assert post(services, body_of(wrong), {})[0] == 401


def test_a_signed_encrypted_event_is_answered(services: Services, fake: FakeLark) -> None:
    body = body_of(fake.message_event("直播销售额", token=VERIFICATION_TOKEN))
    assert post(services, body, signed_headers(body, ENCRYPT_KEY)) == (200, {"msg": "success"})
    assert fake.wait_for(lambda: fake.messages_in(GROUP))
    assert "9.99" in fake.messages_in(GROUP)[0].content


def test_header_names_in_any_case(services: Services, fake: FakeLark) -> None:
    body = body_of(fake.message_event("list", token=VERIFICATION_TOKEN))
    lowered = {name.lower(): value for name, value in signed_headers(body, ENCRYPT_KEY).items()}
    assert post(services, body, lowered)[0] == 200


@pytest.mark.parametrize("fault", ["signature", "timestamp", "missing", "token", "key"])
def test_a_forged_event_is_refused_and_not_acted_on(
    services: Services, fake: FakeLark, fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    event = fake.message_event("list", token="forged" if fault == "token" else VERIFICATION_TOKEN)
    body = body_of(event, key="another-key" if fault == "key" else ENCRYPT_KEY)
    headers = signed_headers(body, ENCRYPT_KEY)
    if fault == "signature":
        headers["X-Lark-Signature"] = "0" * 64
    elif fault == "timestamp":
        headers["X-Lark-Request-Timestamp"] = str(int(headers["X-Lark-Request-Timestamp"]) + 1)
    elif fault == "missing":
        headers = {"Content-Type": "application/json"}
    status, _ = post(services, body, headers)
    assert status == (400 if fault == "key" else 401)
    assert not fake.wait_for(lambda: fake.messages_in(GROUP), timeout=0.5)
    assert "Traceback" not in caplog.text


def test_a_card_button_over_http_answers_with_the_card(services: Services, fake: FakeLark) -> None:
    value = {"h": "open", "t": "show 1", "o": 0, "l": "en"}
    body = body_of(fake.card_action_event(value, message_id="om_card", token=VERIFICATION_TOKEN))
    status, answer = post(services, body, signed_headers(body, ENCRYPT_KEY))
    assert status == 200 and answer["card"]["type"] == "raw"
    assert "Insight 1" in answer["card"]["data"]["header"]["title"]["content"]


def test_events_without_a_handler_are_acknowledged_and_ignored(services: Services, fake: FakeLark) -> None:
    event = fake.envelope("im.message.message_read_v1", {"reader": {}}, token=VERIFICATION_TOKEN)
    body = body_of(event)
    assert post(services, body, signed_headers(body, ENCRYPT_KEY)) == (200, {"msg": "success"})


@pytest.mark.parametrize("body", [b"", b"not json", b"[1]", b'{"encrypt": "bm90IGFlcw=="}'])
def test_what_feishu_never_sends_is_a_bad_request(services: Services, body: bytes) -> None:
    assert post(services, body, signed_headers(body, ENCRYPT_KEY))[0] == 400


def test_without_an_encrypt_key_plain_events_need_the_token(sqlite_url: str, fake: FakeLark) -> None:
    services = lark_services(sqlite_url, fake, feishu_verification_token=VERIFICATION_TOKEN)
    try:
        good = json.dumps(fake.message_event("list", token=VERIFICATION_TOKEN)).encode()
        assert post(services, good, {"Content-Type": "application/json"})[0] == 200
        bad = json.dumps(fake.message_event("list", token="forged")).encode()
        assert post(services, bad, {"Content-Type": "application/json"})[0] == 401
        encrypted = body_of(fake.message_event("list", token=VERIFICATION_TOKEN))
        assert post(services, encrypted, {})[0] == 400  # encrypted, and no key to read it
    finally:
        services.close()


def test_without_a_verification_token_nothing_is_accepted(sqlite_url: str, fake: FakeLark) -> None:
    services = lark_services(sqlite_url, fake)
    try:
        body = json.dumps({"challenge": "x", "token": "", "type": "url_verification"}).encode()
        assert post(services, body, {})[0] == 401
    finally:
        services.close()


def test_only_post(services: Services) -> None:
    assert handle(services, None, "GET", "/lark/events", {}, b"")[0] == 405


def test_bot_serve_mounts_the_callbacks_even_without_slack(sqlite_url: str, fake: FakeLark) -> None:
    """bot.slack.web's WSGI app with Feishu's route alone: /lark/events served, no Slack app built."""
    import io

    from bot.lark.http import routes
    from bot.slack.web import call_app, create_wsgi_app

    services = lark_services(
        sqlite_url,
        fake,
        feishu_events="http",
        feishu_encrypt_key=ENCRYPT_KEY,
        feishu_verification_token=VERIFICATION_TOKEN,
    )
    try:
        long_connection = services.settings.model_copy(update={"feishu_events": "long_connection"})
        assert routes(dataclasses.replace(services, settings=long_connection)) == {}  # nothing to mount
        app = create_wsgi_app(services, routes(services))
        body = body_of(fake.message_event("list", token=VERIFICATION_TOKEN))
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/lark/events",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
        }
        for name, value in signed_headers(body, ENCRYPT_KEY).items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        status, _headers, answer = call_app(app, environ)
        assert status == "200 OK" and json.loads(answer) == {"msg": "success"}
        assert fake.wait_for(lambda: fake.messages_in(GROUP))
        slack = {"REQUEST_METHOD": "POST", "PATH_INFO": "/slack/events", "wsgi.input": io.BytesIO(b"")}
        assert call_app(app, slack)[0] == "404 Not Found"
        big = {**environ, "CONTENT_LENGTH": str(2 << 20), "wsgi.input": io.BytesIO(b"")}
        assert call_app(app, big)[0] == "413 Request Entity Too Large"
    finally:
        services.close()
