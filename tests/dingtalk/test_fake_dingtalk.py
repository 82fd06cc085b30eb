"""The stand-in refuses what DingTalk refuses, so that the edge's tests mean something."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from bot.dingtalk.api import post_json
from tests.dingtalk.fake_dingtalk import CLIENT_ID, CLIENT_SECRET, GROUP, FakeDingTalk


def open_connection(fake: FakeDingTalk, secret: str = CLIENT_SECRET) -> tuple[int, dict[str, object]]:
    response = post_json(
        fake.api_url + "/v1.0/gateway/connections/open",
        {"clientId": CLIENT_ID, "clientSecret": secret, "subscriptions": [], "ua": "test", "localIp": ""},
    )
    return response.status, response.body


def test_a_ticket_opens_one_connection(fake: FakeDingTalk) -> None:
    status, refused = open_connection(fake, "wrong")
    assert status == 401 and refused["code"] == "authFailed"
    status, body = open_connection(fake)
    assert status == 200
    url = f"{body['endpoint']}?ticket={body['ticket']}"

    async def twice() -> None:
        async with connect(url) as ws:
            await ws.send(json.dumps({"code": 200, "headers": {"messageId": "m1"}, "message": "OK", "data": "{}"}))
            with pytest.raises(InvalidStatus) as again:
                async with connect(url):
                    pass
            assert again.value.response.status_code == 401

    asyncio.run(twice())
    ack = fake.wait_ack("m1")
    assert ack.code == 200


def test_robot_messages_are_checked_as_dingtalk_checks_them(fake: FakeDingTalk) -> None:
    token = post_json(fake.api_url + "/v1.0/oauth2/accessToken", {"appKey": CLIENT_ID, "appSecret": CLIENT_SECRET})
    headers = {"x-acs-dingtalk-access-token": token.body["accessToken"]}
    send = fake.api_url + "/v1.0/robot/groupMessages/send"
    base = {"openConversationId": GROUP, "robotCode": CLIENT_ID}

    def code(body: dict[str, object], with_token: bool = True) -> str:
        response = post_json(send, {**base, **body}, headers if with_token else {})
        return str(response.body.get("code") or response.status)

    markdown = {"msgKey": "sampleMarkdown", "msgParam": json.dumps({"title": "t", "text": "x"})}
    assert code(markdown, with_token=False) == "InvalidAuthentication"
    assert code({"msgKey": "sampleNope", "msgParam": "{}"}) == "invalidParameter.msgKey.invalid"
    assert code({"msgKey": "sampleActionCard", "msgParam": json.dumps({"title": "t", "text": "x"})}) == (
        "invalidParameter.msgParam.invalid"
    )
    too_long = json.dumps({"title": "t", "text": "数" * 5001}, ensure_ascii=False)
    assert code({"msgKey": "sampleMarkdown", "msgParam": too_long}) == "invalidParameter.msgParam.tooLong"
    assert code(markdown) == "200" and len(fake.messages("group", GROUP)) == 1


def test_session_webhooks(fake: FakeDingTalk) -> None:
    fresh = fake.bot_message("list")["sessionWebhook"]
    expired = fake.bot_message("list", webhook_minutes=0)["sessionWebhook"]
    body = {"msgtype": "markdown", "markdown": {"title": "t", "text": "hello"}}
    assert post_json(fresh, body).body == {"errcode": 0, "errmsg": "ok"}
    assert post_json(expired, body).body["errcode"] == 300005
    long = {"msgtype": "markdown", "markdown": {"title": "t", "text": "数" * 7000}}
    assert post_json(fresh, long).body["errcode"] == 460101
    for _ in range(19):
        post_json(fresh, body)
    refused = post_json(fresh, body)
    assert refused.status == 200 and refused.body["errcode"] == 130101
