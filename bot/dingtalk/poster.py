"""The digest runner's way to DingTalk: robot messages to a group (openConversationId) and to people, through the
robot APIs of the internal app (bot.dingtalk.api), paced per group.

A group takes at most 20 messages a minute from a robot, so each conversation is paced here (one message every
3 s), whatever the runner's pace per workspace; a digest longer than a message holds goes as several, in order,
each paced, and counted as one post. DingTalk's errors are PostErrors (bot.dingtalk.api.classify)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from bot.core.errors import ConfigurationError
from bot.core.message import Message
from bot.core.poster import PostError
from bot.digest.pacing import TeamPacer
from bot.dingtalk.api import QPS_LIMIT_PREFIX, QPS_WAIT, DingTalkApi
from bot.dingtalk.cards import DingTalkMessage, to_dingtalk
from bot.services import Services

log = logging.getLogger(__name__)

PER_GROUP_PER_MINUTE = 20
PART_RETRIES = 3  # a later part of a split message that fails is retried here: the first parts are already out

_posters: dict[tuple[str, str, str], DingTalkPoster] = {}
_posters_lock = threading.Lock()


def dingtalk_poster(services: Services) -> DingTalkPoster:
    """The process's poster for the configured app: one access token and one pace per group, shared by the clock,
    `digest now` and replies that could not go through their sessionWebhook."""
    settings = services.settings
    if not (settings.dingtalk_client_id and settings.dingtalk_client_secret):
        raise ConfigurationError("DingTalk needs DINGTALK_CLIENT_ID and DINGTALK_CLIENT_SECRET (README: DingTalk)")
    robot_code = settings.dingtalk_robot_code or settings.dingtalk_client_id
    key = (settings.dingtalk_api_url.rstrip("/"), settings.dingtalk_client_id, robot_code)
    with _posters_lock:
        if key not in _posters:
            api = DingTalkApi(
                settings.dingtalk_api_url,
                settings.dingtalk_client_id,
                settings.dingtalk_client_secret.get_secret_value(),
                robot_code,
            )
            _posters[key] = DingTalkPoster(api)
        return _posters[key]


class DingTalkPoster:
    def __init__(
        self,
        api: DingTalkApi,
        pacer: TeamPacer | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api = api
        # Keyed by conversation (a group's openConversationId, or "user:<staffId>" for one-to-one messages).
        self.pacer = pacer or TeamPacer(PER_GROUP_PER_MINUTE / 60)
        self.sleep = sleep

    def render(self, message: Message) -> DingTalkMessage:
        return to_dingtalk(message)

    def post(self, team_id: str, channel_id: str, payload: DingTalkMessage, metadata: dict[str, Any]) -> str:
        """Posts to the group `channel_id`; what the digest records of it (digests.posted_ts): the first message's
        processQueryKey. `metadata` cannot travel with a DingTalk message (see find_marker)."""
        keys = [
            self._send(channel_id, partial(self.api.send_group, channel_id, key, param), first=i == 0)
            for i, (key, param) in enumerate(payload.robot_messages())
        ]
        log.info("posted to DingTalk group %s: processQueryKey %s", channel_id, ", ".join(keys))
        return keys[0]

    def send_direct(self, user_id: str, payload: DingTalkMessage) -> str:
        """`payload` to one person (staff id), in their one-to-one chat with the robot."""
        keys = [
            self._send(f"user:{user_id}", partial(self.api.send_to_people, [user_id], key, param), first=i == 0)
            for i, (key, param) in enumerate(payload.robot_messages())
        ]
        return keys[0]

    def find_marker(self, team_id: str, channel_id: str, metadata: dict[str, Any], oldest: float) -> str | None:
        """Always None: DingTalk gives a robot no way to read a group's messages, so a digest cannot be found again.

        The consequence, after a crash in the instant between DingTalk accepting a digest and the database recording
        it: the clock that takes the claim over cannot know, and posts that digest again, so on DingTalk a digest is
        at least once in that instant (and exactly once otherwise). Nothing is lost either way: the channel's
        "What changed" watermark moves only when a post is recorded, so the next digest still carries every change."""
        return None

    def notify(self, team_id: str, user_id: str, message: Message) -> None:
        """A one-to-one message from the robot (a paused digest, a followed item that changed)."""
        self.send_direct(user_id, self.render(message))

    def _send(self, conversation: str, send: Callable[[], str], *, first: bool) -> str:
        """One message, paced per conversation. A failure of the first part goes to the caller, which retries the
        whole; a later part is retried here (its predecessors are out), and then goes to the caller too."""
        attempt = 0
        while True:
            self.pacer.wait(conversation)
            try:
                return send()
            except PostError as error:
                # The app's calls a second are over DingTalk's quota (shared by every group): nothing was sent, and a
                # moment's wait is all it takes, so wait here instead of giving the whole digest back for later.
                app_throttled = error.error.startswith(QPS_LIMIT_PREFIX)
                if app_throttled and attempt < PART_RETRIES:
                    attempt += 1
                    self.sleep(min(error.retry_after or QPS_WAIT, QPS_WAIT))
                    continue
                if error.retry_after:
                    self.pacer.hold(conversation, error.retry_after)
                if first or error.permanent or attempt >= PART_RETRIES:
                    raise
                attempt += 1
                log.info("part of a split message to %s failed (%s): retrying it", conversation, error.error)
                if not error.retry_after:
                    self.sleep(2.0**attempt)
