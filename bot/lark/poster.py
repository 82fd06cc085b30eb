"""The digest runner's way to Feishu: a digest is an interactive card posted to its chat (receive_id_type chat_id),
a note to a person a card in their one-to-one chat with the bot (receive_id_type open_id).

Feishu's error codes become PostErrors in bot.lark.api: 429/99991400 and 230020 are retried after the wait Feishu
gives, 5xx and timeouts with the runner's backoff; a removed bot (230002), a dissolved chat (232009), missing
permissions (230027, 99991672...) pause the channel, and the runner tells whoever set it up."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from bot.core.message import Message
from bot.lark.api import LarkApi, api_for
from bot.lark.cards import to_card
from bot.services import Services

UUID_PREFIX = "dg-"


def lark_poster(services: Services) -> LarkPoster:
    return LarkPoster(api_for(services.settings))


def post_uuid(metadata: dict[str, Any]) -> str:
    """The message uuid of a digest: a hash of its marker (team, chat, period), 43 characters (Feishu takes 50)."""
    marker = json.dumps(metadata, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return UUID_PREFIX + hashlib.sha256(marker.encode("utf-8")).hexdigest()[:40]


class LarkPoster:
    def __init__(self, api: LarkApi) -> None:
        self.api = api

    def render(self, message: Message) -> str:
        """The card's JSON (a message's `content`), made once for every chat that gets the same digest."""
        return to_card(message).content()

    def post(self, team_id: str, channel_id: str, payload: str, metadata: dict[str, Any]) -> str:
        """Posted with a uuid derived from the marker: Feishu sends at most one message per uuid within an hour, so
        a post repeated after a crash or a lost answer (the runner retries a period it may have posted) is the same
        message, never a second one."""
        return self.api.send("chat_id", channel_id, payload, "interactive", uuid=post_uuid(metadata))

    def find_marker(self, team_id: str, channel_id: str, metadata: dict[str, Any], oldest: float) -> str | None:
        """Always None: nothing to look for. Feishu keeps no metadata on messages, and reading a chat's history
        would need the sensitive im:message.group_msg scope; instead each post carries the uuid above, so posting
        again on a claim that an earlier attempt may have used is harmless. (A claim whose clock died is taken over
        within minutes, well inside Feishu's one-hour uuid window.)"""
        return None

    def notify(self, team_id: str, user_id: str, message: Message) -> None:
        """A card to a person (their open_id), in their one-to-one chat with the bot."""
        self.api.send("open_id", user_id, to_card(message).content(), "interactive")
