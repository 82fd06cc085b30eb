"""The stand-in behaves as Feishu documents, seen through plain HTTP and through lark-oapi itself."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from tests.lark.fake_lark import GROUP, FakeLark

SESSION = requests.Session()
SESSION.trust_env = False  # never a proxy for 127.0.0.1


def token(fake: FakeLark) -> str:
    answer = SESSION.post(
        f"{fake.url}/open-apis/auth/v3/tenant_access_token/internal",
        json={"app_id": fake.app_id, "app_secret": fake.app_secret},
    ).json()
    assert answer["code"] == 0 and answer["expire"] == 7200 and "data" not in answer
    return str(answer["tenant_access_token"])


def send(fake: FakeLark, bearer: str, card: Any, message_uuid: str | None = None) -> requests.Response:
    body = {"receive_id": GROUP, "msg_type": "interactive", "content": json.dumps(card)}
    if message_uuid:
        body["uuid"] = message_uuid
    return SESSION.post(
        f"{fake.url}/open-apis/im/v1/messages",
        params={"receive_id_type": "chat_id"},
        json=body,
        headers={"Authorization": f"Bearer {bearer}"},
    )


CARD = {"elements": [{"tag": "div", "text": {"tag": "lark_md", "content": "hi"}}]}


def test_tokens_and_their_absence(fake: FakeLark) -> None:
    wrong = SESSION.post(
        f"{fake.url}/open-apis/auth/v3/tenant_access_token/internal",
        json={"app_id": fake.app_id, "app_secret": "nope"},
    )
    assert wrong.status_code == 200 and wrong.json()["code"] == 10014
    refused = send(fake, "t-made-up", CARD)
    assert refused.status_code == 400 and refused.json()["code"] == 99991663


def test_a_uuid_sends_once_within_the_hour(fake: FakeLark) -> None:
    bearer = token(fake)
    first = send(fake, bearer, CARD, "u-1").json()
    again = send(fake, bearer, CARD, "u-1").json()
    assert first["data"]["message_id"] == again["data"]["message_id"] and len(fake.messages_in(GROUP)) == 1
    fake.offset = 3601.0
    assert send(fake, bearer, CARD, "u-1").json()["data"]["message_id"] != first["data"]["message_id"]
    assert send(fake, bearer, CARD, "x" * 51).json()["code"] == 230001


def test_limits_and_refusals(fake: FakeLark) -> None:
    bearer = token(fake)
    codes = [send(fake, bearer, CARD).json()["code"] for _ in range(6)]
    assert codes == [0, 0, 0, 0, 0, 230020]  # five a second in one chat
    assert send(fake, bearer, {"elements": [{"tag": "blink"}]}).json()["code"] == 230099
    huge = {"elements": [{"tag": "div", "text": {"tag": "lark_md", "content": "x" * 40_000}}]}
    assert send(fake, bearer, huge).json()["code"] == 230025
    fake.limits = False
    fake.fail("messages.create", status=429)
    limited = send(fake, bearer, CARD)
    assert limited.status_code == 429 and limited.json()["code"] == 99991400
    assert limited.headers["x-ogw-ratelimit-reset"] == "1"


def test_chat_facts(fake: FakeLark) -> None:
    bearer = token(fake)
    answer = SESSION.get(
        f"{fake.url}/open-apis/im/v1/chats/{GROUP}",
        params={"user_id_type": "open_id"},
        headers={"Authorization": f"Bearer {bearer}"},
    ).json()
    assert answer["code"] == 0 and answer["data"]["owner_id"].startswith("ou_owner")
    assert answer["data"]["user_manager_id_list"][0].startswith("ou_manager")
    info = SESSION.get(f"{fake.url}/open-apis/bot/v3/info", headers={"Authorization": f"Bearer {bearer}"}).json()
    assert info["bot"]["open_id"] == fake.bot_open_id


def test_a_ticket_opens_one_connection(fake: FakeLark) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    endpoint = SESSION.post(
        f"{fake.url}/callback/ws/endpoint", json={"AppID": fake.app_id, "AppSecret": fake.app_secret}
    ).json()
    assert endpoint["code"] == 0 and endpoint["data"]["ClientConfig"]["ReconnectNonce"] == 0
    url = endpoint["data"]["URL"]
    with connect(url, proxy=None):
        assert fake.wait_connected(5)
    with pytest.raises(InvalidStatus) as refused, connect(url, proxy=None):
        pass
    assert refused.value.response.status_code == 403
    assert refused.value.response.headers["handshake-status"] == "403"
    wrong = SESSION.post(f"{fake.url}/callback/ws/endpoint", json={"AppID": fake.app_id, "AppSecret": "x"}).json()
    assert wrong["code"] not in (0, 1, 1000040343)  # a code the SDK does not retry
