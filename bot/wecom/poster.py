"""The digest runner's way to WeCom group robots (bot.core.poster.Poster).

A digest is WeCom markdown (bot.render.markdown) cut into parts of at most PART_BYTES (WeCom takes 4096 bytes of
UTF-8; the rest is room to spare), posted in order to the channel's webhook, which is read from channels.address and
decrypted once per process. Each robot gets at most 20 messages a minute (RobotPacer), whichever channel or thread
posts them.

Never dropped, never repeated, part by part. A digest in several parts can fail after some of them were taken (WeCom
said 45009, the network failed). Its retry must send the rest only, and the retry may run in another process (`bot
digest run`, a second clock). So the parts sent are recorded where the runner already records the failure: the
PostError's text ends with "; sent K/N of <fingerprint>", which bot.digest.claims keeps as the digest's last_error,
and the next attempt reads it back (as well as this process's own record) and starts at part K+1, provided it would
post exactly the same parts (the fingerprint; a digest composed differently since, e.g. after a data load, is posted
whole). What stays at-least-once: a part whose request timed out after WeCom had taken it (counted as not sent), and
a process killed in the middle of a digest (WeCom robots cannot read their group, so find_marker cannot look for the
parts already there: it only knows what this process posted).

A robot cannot message a person: a pause notice goes into the group itself, unless its webhook no longer works."""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from cryptography.fernet import MultiFernet
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.errors import ConfigurationError
from bot.core.message import Message
from bot.core.poster import PostError
from bot.render.markdown import markdown, split_markdown
from bot.services import Services
from bot.store.models import Channel, Digest
from bot.store.secrets import decrypt, require_cipher
from bot.wecom.webhook import MAX_BYTES, TIMEOUT, RobotPacer, robot_key, send

log = logging.getLogger(__name__)

PART_BYTES = MAX_BYTES - 96
# Seconds a post may take, waits for the robot's pace included: well inside the minute a claim's lease is confirmed
# for (bot.digest.runner._holds); what is left is posted by the retry, from the part where this one stopped.
POST_BUDGET = 40.0
PROGRESS = re.compile(r"; sent (\d+)/(\d+) of ([0-9a-f]{12})$")

Marker = tuple[str, str, str]  # team, channel, period: one digest


def wecom_poster(services: Services) -> WecomPoster:
    """The Poster for WeCom channels; also makes sure the robot of WECOM_WEBHOOK_URL has its channel."""
    from bot.wecom.robots import MISSING_KEY, ensure_configured_robot

    keys = require_cipher(services.settings.token_keys, MISSING_KEY)
    ensure_configured_robot(services)
    return WecomPoster(services.session_factory, keys)


class WecomPoster:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        keys: MultiFernet,
        *,
        pacer: RobotPacer | None = None,
        timeout: float = TIMEOUT,
        budget: float = POST_BUDGET,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session_factory = session_factory
        self.keys = keys
        self.pacer = pacer or RobotPacer()
        self.timeout = timeout
        self.budget = budget
        self.clock = clock
        self._urls: dict[str, str] = {}  # stored (encrypted) address -> webhook URL
        self._progress: dict[Marker, tuple[str, int]] = {}  # digest -> (fingerprint, parts sent)
        self._done: dict[Marker, str] = {}  # digests this process posted whole -> their id
        self._dead: set[str] = set()  # robots (keys) that WeCom said no longer exist
        self._lock = threading.Lock()

    def render(self, message: Message) -> list[str]:
        return split_markdown(markdown(message, "wecom"), PART_BYTES)

    def post(self, team_id: str, channel_id: str, payload: Sequence[str], metadata: dict[str, Any]) -> str:
        parts = list(payload)
        url = self._address(channel_id)
        key = robot_key(url)
        marker = _marker(metadata)
        fingerprint = _fingerprint(parts)
        sent = self._sent_before(marker, channel_id, fingerprint, len(parts))
        if sent:
            log.info("digest %s: parts 1-%d of %d were posted before; posting the rest", marker, sent, len(parts))
        deadline = self.clock() + self.budget
        for index in range(sent, len(parts)):
            try:
                self._send(key, url, parts[index], deadline)
            except PostError as error:
                raise _stopped(error, index, len(parts), fingerprint) from None
            if marker is not None:
                with self._lock:
                    self._progress[marker] = (fingerprint, index + 1)
        posted = f"wecom:{len(parts)}:{int(time.time() * 1000)}"  # fits digests.posted_ts (32 characters)
        if marker is not None:
            with self._lock:
                self._progress.pop(marker, None)
                self._done[marker] = posted
        return posted

    def find_marker(self, team_id: str, channel_id: str, metadata: dict[str, Any], oldest: float) -> str | None:
        """A robot cannot read its group: only a digest this process posted whole (and could not record) is known."""
        marker = _marker(metadata)
        with self._lock:
            return None if marker is None else self._done.get(marker)

    def notify(self, team_id: str, user_id: str, message: Message) -> None:
        """A robot cannot message a person: the notice (a pause) is posted in the robot's group instead, unless WeCom
        said its webhook no longer exists (then it is logged: `bot wecom list` shows the pause)."""
        with self.session_factory() as session:
            channels = list(
                session.scalars(
                    select(Channel.channel_id).where(Channel.team_id == team_id, Channel.address.is_not(None))
                )
            )
        for channel_id in channels:
            if robot_key(self._address(channel_id)) in self._dead:
                log.warning("the webhook of %s no longer works: its notice for %s is not posted", channel_id, user_id)
                continue
            log.warning("WeCom robots cannot message a person (%s): the notice goes to %s", user_id, channel_id)
            self.post(team_id, channel_id, self.render(message), {})

    # ---- parts ----

    def _send(self, key: str, url: str, content: str, deadline: float) -> None:
        too_far = self.pacer.take(key, deadline - self.clock())
        if too_far is not None:  # retried when the robot may post again, from this part on
            raise PostError("wecom_paced", retry_after=max(too_far, 1.0))
        try:
            send(url, content, self.timeout)
        except PostError as error:
            if error.retry_after:
                self.pacer.hold(key, error.retry_after)
            if error.error == "wecom_invalid_webhook":
                with self._lock:
                    self._dead.add(key)
            raise

    def _sent_before(self, marker: Marker | None, channel_id: str, fingerprint: str, total: int) -> int:
        """How many of these parts an earlier attempt posted: as this process remembers it, or as the error that the
        last attempt (perhaps another process's) left on the digest says."""
        if marker is None:
            return 0
        with self._lock:
            mine = self._progress.get(marker)
        sent = mine[1] if mine and mine[0] == fingerprint else 0
        with self.session_factory() as session:
            error = session.scalar(
                select(Digest.last_error)
                .join(Channel, Channel.id == Digest.channel_pk)
                .where(Channel.channel_id == channel_id, Digest.period_key == marker[2])
            )
        found = PROGRESS.search(error or "")
        if found and found.group(3) == fingerprint and int(found.group(2)) == total:
            sent = max(sent, int(found.group(1)))
        elif mine and mine[0] != fingerprint:
            log.info("digest %s changed since %d of its parts were posted: posting it whole", marker, mine[1])
        return min(sent, total)

    def _address(self, channel_id: str) -> str:
        with self.session_factory() as session:
            stored = session.scalar(select(Channel.address).where(Channel.channel_id == channel_id))
        if not stored:  # not a WeCom channel, or its webhook was taken away: `bot wecom add` sets it again
            raise PostError("wecom_no_webhook", permanent=True)
        with self._lock:
            url = self._urls.get(stored)
        if url is None:
            try:
                url = decrypt(self.keys, stored, f"the webhook address of channel {channel_id}")
            except ConfigurationError as error:  # the key that encrypted it was removed: retried once it is back
                log.error("%s", error)
                raise PostError("wecom_webhook_unreadable") from None
            with self._lock:
                self._urls[stored] = url
        return url


def _marker(metadata: dict[str, Any]) -> Marker | None:
    payload = metadata.get("event_payload") if metadata else None
    if not isinstance(payload, dict):
        return None
    return str(payload.get("team")), str(payload.get("channel")), str(payload.get("period"))


def _fingerprint(parts: list[str]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\x00")
    return digest.hexdigest()[:12]


def _stopped(error: PostError, index: int, total: int, fingerprint: str) -> PostError:
    """The error of a post that stopped at part `index` (0-based): with the count of parts already posted when there
    are some and the post will be retried, so that the retry starts after them."""
    if error.permanent or index == 0:
        return error
    return PostError(
        f"{error.error}; sent {index}/{total} of {fingerprint}", permanent=False, retry_after=error.retry_after
    )
