"""One runner for every platform (issue 13): Posters sends each call to the poster of its workspace's platform,
renders a message once per platform however many channels share it, and leaves a platform it cannot reach alone."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from bot.core.message import Message, Section
from bot.core.platforms import platform_of, workspace_key
from bot.core.poster import PostError, Posters


class Recording:
    def __init__(self, name: str) -> None:
        self.name = name
        self.rendered = 0
        self.posts: list[tuple[str, str, Any]] = []

    def render(self, message: Message) -> str:
        self.rendered += 1
        return f"{self.name} rendering"

    def post(self, team_id: str, channel_id: str, payload: Any, metadata: dict[str, Any]) -> str:
        self.posts.append((team_id, channel_id, payload))
        return f"{self.name}-{len(self.posts)}"

    def find_marker(self, team_id: str, channel_id: str, metadata: dict[str, Any], oldest: float) -> str | None:
        return None

    def notify(self, team_id: str, user_id: str, message: Message) -> None:
        self.posts.append((team_id, user_id, "notice"))


def test_workspace_keys_name_their_platform() -> None:
    assert [platform_of(key) for key in ("T1", "E1/T1", "lark:t-1", "dingtalk:ding1", "wecom:ops")] == [
        "slack",
        "slack",
        "lark",
        "dingtalk",
        "wecom",
    ]
    assert workspace_key("lark", "t-1") == "lark:t-1" and workspace_key("slack", "T1") == "T1"
    assert platform_of("nonsense:x") == "slack"  # only the known prefixes name another platform


def test_each_post_goes_to_its_platform_rendered_once_per_platform() -> None:
    slack, lark = Recording("slack"), Recording("lark")
    posters = Posters({"slack": slack, "lark": lark})
    payload = posters.render(Message([Section(())]))
    threads = [
        threading.Thread(target=posters.post, args=(team, f"C{i}", payload, {}))
        for i, team in enumerate(["T1", "lark:t1", "T2", "lark:t2"] * 5)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert slack.rendered == 1 and lark.rendered == 1
    assert {p[2] for p in slack.posts} == {"slack rendering"} and len(slack.posts) == 10
    assert {p[2] for p in lark.posts} == {"lark rendering"} and len(lark.posts) == 10
    assert posters.serves("T1") and posters.serves("lark:x") and not posters.serves("dingtalk:x")


def test_a_platform_that_is_not_connected_is_a_permanent_error_never_a_crash() -> None:
    posters = Posters({"slack": Recording("slack")})
    with pytest.raises(PostError) as raised:
        posters.post("wecom:ops", "wecom-ops", posters.render(Message([])), {})
    assert raised.value.permanent and raised.value.error == "wecom_not_connected"
