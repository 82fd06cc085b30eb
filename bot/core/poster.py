"""What the features need from a chat platform to deliver messages on their own (digests, follower messages).
Each platform's edge implements Poster and turns its own error codes into PostError."""

from __future__ import annotations

from typing import Any, Protocol

from bot.core.message import Message


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
