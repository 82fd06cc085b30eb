"""What the features need from a chat platform to deliver messages on their own (digests, follower messages).
Each platform's edge implements Poster and turns its own error codes into PostError."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Protocol

from bot.core.message import Message
from bot.core.platforms import Platform, platform_of


class PostError(Exception):
    """A post that failed. `permanent`: it never will succeed as things are (the edge decides from the platform's
    error code); otherwise it is retried, after `retry_after` seconds when the platform said so."""

    def __init__(self, error: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.permanent = permanent
        self.retry_after = retry_after


class Poster(Protocol):
    """A chat platform, as the digest runner and follower messages see it.

    `render` turns a Message into the platform's payload once, so that many channels receiving the same digest
    share one rendering; `post` sends a payload with a marker (`metadata`) that `find_marker` can look for after a
    crash, so a digest that reached the platform is recorded rather than posted twice."""

    def render(self, message: Message) -> Any: ...

    def post(self, team_id: str, channel_id: str, payload: Any, metadata: dict[str, Any]) -> str: ...

    def find_marker(self, team_id: str, channel_id: str, metadata: dict[str, Any], oldest: float) -> str | None: ...

    def notify(self, team_id: str, user_id: str, message: Message) -> None: ...


class Posters:
    """Every connected platform as one Poster: each call goes to the platform of its workspace (platform_of), so one
    runner serves Slack, Feishu, DingTalk and WeCom channels in the same tick, with the same claims.

    A message is rendered for a platform the first time a channel there needs it, once per message."""

    def __init__(self, posters: Mapping[Platform, Poster]) -> None:
        self.posters = dict(posters)

    def poster_for(self, team_id: str) -> Poster:
        platform = platform_of(team_id)
        poster = self.posters.get(platform)
        if poster is None:  # its credentials were removed: nothing can post there, so the channel is paused
            raise PostError(f"{platform}_not_connected", permanent=True)
        return poster

    def serves(self, team_id: str) -> bool:
        """Whether this process can post to the workspace's platform; the others' channels wait, never paused."""
        return platform_of(team_id) in self.posters

    def render(self, message: Message) -> Rendered:
        return Rendered(message)

    def post(self, team_id: str, channel_id: str, payload: Any, metadata: dict[str, Any]) -> str:
        poster = self.poster_for(team_id)
        return poster.post(team_id, channel_id, _payload(payload, poster), metadata)

    def find_marker(self, team_id: str, channel_id: str, metadata: dict[str, Any], oldest: float) -> str | None:
        return self.poster_for(team_id).find_marker(team_id, channel_id, metadata, oldest)

    def notify(self, team_id: str, user_id: str, message: Message) -> None:
        self.poster_for(team_id).notify(team_id, user_id, message)


class Rendered:
    """A message and its renderings, one per platform, made when first needed (thread-safe: posting threads share
    it)."""

    def __init__(self, message: Message) -> None:
        self.message = message
        self._payloads: dict[int, Any] = {}
        self._lock = threading.Lock()

    def for_poster(self, poster: Poster) -> Any:
        with self._lock:
            if id(poster) not in self._payloads:
                self._payloads[id(poster)] = poster.render(self.message)
            return self._payloads[id(poster)]


def _payload(payload: Any, poster: Poster) -> Any:
    return payload.for_poster(poster) if isinstance(payload, Rendered) else payload
