"""Reading a channel's digest settings."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.digest.schedule import Schedule
from bot.store.models import Channel, Subscription


def schedule_of(channel: Channel) -> Schedule:
    hour, minute = (int(part) for part in channel.schedule_at.split(":"))
    return Schedule(channel.schedule_kind, channel.schedule_weekday, dt.time(hour, minute), channel.schedule_zone)  # type: ignore[arg-type]


def find_channel(session: Session, channel_id: str) -> Channel | None:
    """A channel's settings by its id alone: a channel shared between workspaces (Slack Connect) is one
    conversation with one id, so it has one configuration and gets one digest, whichever workspace set it up."""
    return session.scalar(select(Channel).where(Channel.channel_id == channel_id))


def subscriptions_of(session: Session, channel: Channel) -> list[Subscription]:
    return list(
        session.scalars(select(Subscription).where(Subscription.channel_pk == channel.id).order_by(Subscription.id))
    )


def pause_team(session: Session, team_id: str, reason: str) -> int:
    """Stops every digest of a workspace that uninstalled the app or revoked its token; returns how many."""
    channels = session.scalars(select(Channel).where(Channel.team_id == team_id, Channel.paused_reason.is_(None)))
    count = 0
    for channel in channels:
        channel.paused_reason = reason
        count += 1
    return count


def pause_org(session: Session, enterprise_id: str, reason: str) -> int:
    """Stops the digests of every workspace of an Enterprise Grid org (workspaces are named "E.../T...")."""
    return sum(
        pause_team(session, team, reason)
        for team in set(
            session.scalars(
                select(Channel.team_id).where(Channel.team_id.startswith(f"{enterprise_id}/", autoescape=True))
            )
        )
    )
