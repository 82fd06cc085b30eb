"""What is due: every channel whose latest scheduled period has no posted (or abandoned) digest yet.

The database decides (see DESIGN.md: APScheduler only drives the tick), so a clock that was down catches up on
its next tick, and any number of clocks agree."""

from __future__ import annotations

import datetime as dt
import zlib
from collections import defaultdict
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.digest.store import schedule_of
from bot.store.models import Channel, Digest


class Due(NamedTuple):
    channel_pk: int
    team_id: str
    period_key: str
    due_at: dt.datetime


def due_digests(
    session_factory: sessionmaker[Session], now: dt.datetime, shard: tuple[int, int] | None = None
) -> list[Due]:
    """With a shard (i, n), only the workspaces whose hash is i modulo n."""
    with session_factory() as session:
        channels = session.scalars(
            select(Channel).where(Channel.paused_reason.is_(None), Channel.schedule_kind != "off")
        ).all()
        done = {
            (pk, key)
            for pk, key in session.execute(
                select(Digest.channel_pk, Digest.period_key).where(Digest.status.in_(("posted", "failed")))
            )
        }
    out = []
    for channel in channels:
        if shard and zlib.crc32(channel.team_id.encode()) % shard[1] != shard[0]:
            continue
        latest = schedule_of(channel).latest_due(now)
        if latest is None:
            continue
        period_key, due_at = latest
        created = channel.created_at if channel.created_at.tzinfo else channel.created_at.replace(tzinfo=dt.UTC)
        # A period that was due before the channel subscribed is not owed to it.
        if due_at < created or (channel.id, period_key) in done:
            continue
        out.append(Due(channel.id, channel.team_id, period_key, due_at))
    return out


def round_robin(due: list[Due]) -> list[Due]:
    """One channel of each workspace in turn, so every workspace starts posting at once."""
    by_team: dict[str, list[Due]] = defaultdict(list)
    for item in due:
        by_team[item.team_id].append(item)
    lanes = list(by_team.values())
    return [lane[i] for i in range(max(map(len, lanes), default=0)) for lane in lanes if i < len(lane)]
