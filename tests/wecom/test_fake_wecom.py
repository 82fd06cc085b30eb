"""The WeCom stand-in answers as WeCom documents: HTTP 200 always, the error in the body."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.wecom.fake_wecom import FakeWeCom


def post(url: str, body: Any) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, json.loads(response.read())


def markdown(content: str) -> dict[str, Any]:
    return {"msgtype": "markdown", "markdown": {"content": content}}


def test_the_stand_in(fake_wecom: FakeWeCom) -> None:
    assert post(fake_wecom.url("K1"), markdown("**hi**")) == (200, {"errcode": 0, "errmsg": "ok"})
    assert fake_wecom.contents("K1") == ["**hi**"]

    status, answer = post(fake_wecom.url("nope"), markdown("x"))
    assert status == 200 and answer["errcode"] == 93000 and "invalid webhook url" in answer["errmsg"]

    # Bytes, not characters: 1366 CJK characters are 4098 bytes.
    assert post(fake_wecom.url("K1"), markdown("算" * 1365 + "a"))[1]["errcode"] == 0
    status, answer = post(fake_wecom.url("K1"), markdown("算" * 1366))
    assert status == 200 and answer["errcode"] == 40058 and "exceed max length 4096" in answer["errmsg"]
    assert post(fake_wecom.url("K1"), {"msgtype": "text", "text": {"content": "a" * 2049}})[1]["errcode"] == 40058
    assert post(fake_wecom.url("K1"), {"msgtype": "voicemail", "x": {}})[1]["errcode"] == 40008
    assert post(fake_wecom.url("K1"), b"not json")[1]["errcode"] == 40058
    assert post(fake_wecom.url("K1"), markdown(""))[1]["errcode"] == 44004
    assert len(fake_wecom.contents("K1")) == 2  # refused messages are not recorded


def test_twenty_messages_a_minute_per_robot() -> None:
    now = [1000.0]
    with FakeWeCom(keys=("K1", "K2"), clock=lambda: now[0]) as fake:
        for i in range(20):
            assert post(fake.url("K1"), markdown(f"m{i}"))[1]["errcode"] == 0
        assert post(fake.url("K1"), markdown("21st"))[1]["errcode"] == 45009
        assert post(fake.url("K2"), markdown("another robot"))[1]["errcode"] == 0
        now[0] += 60.0
        assert post(fake.url("K1"), markdown("next minute"))[1]["errcode"] == 0
        fake.throttle("K2")
        assert post(fake.url("K2"), markdown("x"))[1]["errcode"] == 45009
        fake.reset("K2")
        assert post(fake.url("K2"), markdown("x"))[1]["errcode"] == 0


def test_injected_faults(fake_wecom: FakeWeCom) -> None:
    fake_wecom.fail("K1", 45009, after=1)
    assert post(fake_wecom.url("K1"), markdown("1"))[1]["errcode"] == 0
    assert post(fake_wecom.url("K1"), markdown("2"))[1]["errcode"] == 45009
    assert post(fake_wecom.url("K1"), markdown("2"))[1]["errcode"] == 0
    fake_wecom.fail("K1", 502)
    with pytest.raises(urllib.error.HTTPError) as error:
        post(fake_wecom.url("K1"), markdown("3"))
    assert error.value.code == 502
    fake_wecom.remove("K1")
    assert post(fake_wecom.url("K1"), markdown("4"))[1]["errcode"] == 93000
    assert fake_wecom.contents("K1") == ["1", "2"]
