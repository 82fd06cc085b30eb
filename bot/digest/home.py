"""The App Home tab: what the bot does, the ten insights, how to subscribe, and what the user's channels follow."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.catalog.reference import reference
from bot.core.reply import Reply
from bot.digest.store import schedule_of, subscriptions_of
from bot.store.models import Channel


def followed_by_channel(session: Session, channel_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Each of these channels that follows something, with what and when its digest comes."""
    if not channel_ids:
        return []
    rows = session.scalars(
        select(Channel).where(Channel.channel_id.in_(list(channel_ids))).order_by(Channel.channel_id)
    ).all()
    out = []
    for channel in rows:
        subscriptions = subscriptions_of(session, channel)
        if subscriptions:
            out.append(
                {
                    "channel_id": channel.channel_id,
                    "follows": [(s.kind, s.value) for s in subscriptions],
                    "schedule": schedule_of(channel),
                    "paused": channel.paused_reason,
                }
            )
    return out


def home(session: Session, channel_ids: Sequence[str] = ()) -> Reply:
    """In both languages: the platform tells us no locale for the Home tab."""
    ref = reference(session)
    followed = followed_by_channel(session, channel_ids)
    return Reply("home", "en", {**ref.context(), "items": list(ref.insights.values()), "followed": followed})
