"""Posting to DingTalk through the robot APIs against the stand-in: the access token cached and renewed, DingTalk's
errors as PostErrors (throttled, permanent, transient), 20 messages a minute per group, long digests split."""

from __future__ import annotations

import socket
import threading

import pytest

from bot.core.message import Actions, AskAgain, Button, Header, Message, Rich, Section, Span
from bot.core.poster import PostError
from bot.digest import pacing
from bot.digest.pacing import TeamPacer
from bot.dingtalk.api import AccessToken, DingTalkApi, post_json
from bot.dingtalk.poster import DingTalkPoster, dingtalk_poster
from bot.services import Services
from tests.dingtalk.fake_dingtalk import CLIENT_ID, CLIENT_SECRET, GROUP, OTHER_GROUP, STAFF, FakeDingTalk

SEND = "/v1.0/robot/groupMessages/send"


def api_of(fake: FakeDingTalk, timeout: float = 5) -> DingTalkApi:
    return DingTalkApi(fake.api_url, CLIENT_ID, CLIENT_SECRET, CLIENT_ID, timeout=timeout)


@pytest.fixture
def poster(fake: FakeDingTalk) -> DingTalkPoster:
    return DingTalkPoster(api_of(fake), TeamPacer(1000), sleep=lambda _seconds: None)


def short(text: str = "hello") -> Message:
    return Message([Header("Digest"), Section(Rich((Span(text),)))])


def token_calls(fake: FakeDingTalk) -> int:
    return sum(1 for path, _, _ in fake.calls if path == "/v1.0/oauth2/accessToken")


def test_a_digest_reaches_the_group_with_the_token(fake: FakeDingTalk, poster: DingTalkPoster) -> None:
    key = poster.post("dingtalk:corp", GROUP, poster.render(short()), {"event_type": "insights_digest"})
    assert len(key) == 44  # DingTalk's processQueryKey, whole (digests.posted_ts holds 100 characters)
    (sent,) = fake.messages("group", GROUP)
    assert sent.msg_key == "sampleMarkdown" and "hello" in sent.text and sent.param["title"] == "Digest"
    _, headers, body = next(call for call in fake.calls if call[0] == SEND)
    assert headers["x-acs-dingtalk-access-token"].startswith("at-")
    assert body["robotCode"] == CLIENT_ID and isinstance(body["msgParam"], str)
    assert poster.find_marker("dingtalk:corp", GROUP, {}, 0.0) is None


def test_the_token_is_fetched_once_for_every_thread(fake: FakeDingTalk) -> None:
    tokens = AccessToken(fake.api_url, CLIENT_ID, CLIENT_SECRET)
    got: list[str] = []
    threads = [threading.Thread(target=lambda: got.append(tokens.get())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(set(got)) == 1 and len(got) == 8 and token_calls(fake) == 1


def test_the_token_is_renewed_before_it_expires(fake: FakeDingTalk) -> None:
    fake.token_lifetime = 7200
    now = [1000.0]
    tokens = AccessToken(fake.api_url, CLIENT_ID, CLIENT_SECRET, clock=lambda: now[0])
    first = tokens.get()
    now[0] += 7200 - 301
    assert tokens.get() == first
    now[0] += 2  # within the last five minutes: renewed, not used until it fails
    assert tokens.get() != first and token_calls(fake) == 2


def test_an_invalid_token_is_fetched_again_once(fake: FakeDingTalk, poster: DingTalkPoster) -> None:
    poster.post("dingtalk:corp", GROUP, poster.render(short()), {})
    fake.expire_tokens()  # DingTalk no longer takes it (revoked, or expired early)
    poster.post("dingtalk:corp", GROUP, poster.render(short()), {})
    assert len(fake.messages("group")) == 2 and token_calls(fake) == 2

    fake.fail(SEND, 401, {"code": "InvalidAuthentication", "message": "不合法的access_token"}, times=2)
    with pytest.raises(PostError) as refused:  # refused with a fresh token too: no loop, a retryable failure
        poster.post("dingtalk:corp", GROUP, poster.render(short()), {})
    assert refused.value.error == "InvalidAuthentication" and not refused.value.permanent
    assert token_calls(fake) == 3


def test_wrong_credentials_are_retried_not_paused(fake: FakeDingTalk) -> None:
    poster = DingTalkPoster(DingTalkApi(fake.api_url, CLIENT_ID, "wrong-secret", CLIENT_ID), TeamPacer(1000))
    with pytest.raises(PostError) as refused:
        poster.post("dingtalk:corp", GROUP, poster.render(short()), {})
    assert refused.value.error == "access_token: invalidClientIdOrSecret" and not refused.value.permanent


def test_throttling_says_how_long_to_wait(fake: FakeDingTalk, poster: DingTalkPoster) -> None:
    fake.fill_window(GROUP)  # 20 messages to this group in the last minute
    with pytest.raises(PostError) as per_minute:
        poster.post("dingtalk:corp", GROUP, poster.render(short()), {})
    assert per_minute.value.error == "send.too.fast" and per_minute.value.retry_after == 60
    assert not per_minute.value.permanent and fake.messages("group") == []
    poster.post("dingtalk:corp", OTHER_GROUP, poster.render(short()), {})  # another group is not held back

    # The app's calls a second over quota: nothing was sent, so the poster waits a moment and sends it itself...
    throttled = {"code": "Forbidden.AccessDenied.QpsLimitForApi", "message": "请求已被流控"}
    fake.fail(SEND, 403, throttled)
    poster.post("dingtalk:corp", OTHER_GROUP, poster.render(short()), {})
    assert len(fake.messages("group", OTHER_GROUP)) == 2
    # ...and only when it stays throttled gives the digest back to the runner, saying how long to wait.
    fake.fail(SEND, 403, throttled, times=4)
    with pytest.raises(PostError) as qps:
        poster.post("dingtalk:corp", OTHER_GROUP, poster.render(short()), {})
    assert qps.value.retry_after == 2 and not qps.value.permanent
    fake.fail(SEND, 429, {"code": "Throttling"})
    with pytest.raises(PostError) as too_many:
        poster.post("dingtalk:corp", OTHER_GROUP, poster.render(short()), {})
    assert too_many.value.retry_after


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ("robot_out", "invalidParameter.robotCode.notExsit"),
        ("dissolved", "group.disbanded"),
        ("unknown", "invalid.openConversationId"),
        ("no_permission", "Forbidden.AccessDenied.AccessTokenPermissionDenied"),
    ],
)
def test_what_no_retry_fixes_is_permanent(fake: FakeDingTalk, poster: DingTalkPoster, change: str, code: str) -> None:
    group = GROUP
    if change == "robot_out":
        fake.groups[GROUP].robot_in = False
    elif change == "dissolved":
        fake.groups[GROUP].dissolved = True
    elif change == "unknown":
        group = "cidNoSuchGroup=="
    else:
        fake.fail(SEND, 403, {"code": code, "message": "没有调用该接口的权限"})
    with pytest.raises(PostError) as refused:
        poster.post("dingtalk:corp", group, poster.render(short()), {})
    assert refused.value.error == code and refused.value.permanent


def test_server_errors_and_timeouts_are_transient(fake: FakeDingTalk, poster: DingTalkPoster) -> None:
    fake.fail(SEND, 500, {"code": "ServiceUnavailable", "message": "系统繁忙"})
    with pytest.raises(PostError) as busy:
        poster.post("dingtalk:corp", GROUP, poster.render(short()), {})
    assert not busy.value.permanent and busy.value.retry_after is None

    with socket.socket() as silent:  # accepts connections and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        with pytest.raises(PostError) as timed_out:
            post_json(f"http://127.0.0.1:{silent.getsockname()[1]}/x", {}, timeout=0.5)
    assert timed_out.value.error.startswith("connection:") and not timed_out.value.permanent

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(PostError) as refused:
        post_json(f"http://127.0.0.1:{port}/x", {}, timeout=2)
    assert refused.value.error.startswith("connection:") and not refused.value.permanent


@pytest.fixture
def virtual_time(monkeypatch: pytest.MonkeyPatch, fake: FakeDingTalk) -> list[float]:
    """The pacer's clock and sleep made virtual (time.sleep, for this test only), DingTalk's minute moving with
    them."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds
        fake.advance(seconds)

    monkeypatch.setattr(pacing.time, "sleep", sleep)
    return now


def test_twenty_messages_a_minute_per_group_are_never_exceeded(fake: FakeDingTalk, virtual_time: list[float]) -> None:
    poster = DingTalkPoster(api_of(fake), TeamPacer(20 / 60, clock=lambda: virtual_time[0]))
    for _ in range(25):
        poster.post("dingtalk:corp", GROUP, poster.render(short()), {})
        poster.post("dingtalk:corp", OTHER_GROUP, poster.render(short()), {})
    assert len(fake.messages("group", GROUP)) == len(fake.messages("group", OTHER_GROUP)) == 25
    assert fake.refused == []
    assert 24 * 3 <= virtual_time[0] < 25 * 3  # one message every 3 s per group, the groups side by side


def long_digest() -> Message:
    lines = "\n".join(f"line {n:03d} " + "数字经济十大洞察" * 60 for n in range(120))
    more = Button("See more", AskAgain("reply", "list", 0, "en"))
    return Message([Header("Long digest"), Section(Rich((Span(lines),))), Actions((more,))])


def test_a_long_digest_goes_as_several_messages_in_order(fake: FakeDingTalk, poster: DingTalkPoster) -> None:
    key = poster.post("dingtalk:corp", GROUP, poster.render(long_digest()), {})
    sent = fake.messages("group", GROUP)
    assert len(sent) > 2 and len(key) == 44
    order = [int(line.split()[1]) for s in sent for line in s.text.split("\n") if line.startswith("line ")]
    assert order == list(range(120))
    assert [s.msg_key for s in sent] == ["sampleMarkdown"] * (len(sent) - 1) + ["sampleActionCard"]


def test_a_later_part_that_fails_is_retried_there(fake: FakeDingTalk, poster: DingTalkPoster) -> None:
    fake.fail(SEND, 500, {"code": "ServiceUnavailable"}, times=2, after=1)  # the second part, twice
    poster.post("dingtalk:corp", GROUP, poster.render(long_digest()), {})
    sent = fake.messages("group", GROUP)
    order = [int(line.split()[1]) for s in sent for line in s.text.split("\n") if line.startswith("line ")]
    assert order == list(range(120))  # each part once, in order

    fake.fail(SEND, 400, {"code": "group.disbanded"}, after=1)
    with pytest.raises(PostError) as gone:
        poster.post("dingtalk:corp", GROUP, poster.render(long_digest()), {})
    assert gone.value.permanent


def test_people_are_told_one_to_one(fake: FakeDingTalk, poster: DingTalkPoster) -> None:
    poster.notify("dingtalk:corp", STAFF, short("your digest is paused"))
    (sent,) = fake.messages("direct", STAFF)
    assert "paused" in sent.text
    _, _, body = next(call for call in fake.calls if call[0] == "/v1.0/robot/oToMessages/batchSend")
    assert body["userIds"] == [STAFF] and body["robotCode"] == CLIENT_ID
    with pytest.raises(PostError) as unknown:
        poster.notify("dingtalk:corp", "staff-who-left", short())
    assert unknown.value.error == "invalid_staff_id" and unknown.value.permanent


def test_one_poster_per_app_in_a_process(services: Services) -> None:
    assert dingtalk_poster(services) is dingtalk_poster(services)
