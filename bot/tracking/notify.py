"""Direct messages to the people following an item, when it changes: each change told once."""

from __future__ import annotations

import logging

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from bot.core.poster import Poster, PostError
from bot.core.reply import Reply
from bot.render import Renderer
from bot.store.models import Follow
from bot.tracking.commands import follower_updates, item_of

log = logging.getLogger(__name__)


def notify_followers(session_factory: sessionmaker[Session], renderer: Renderer, poster: Poster) -> int:
    """One message per follower and item with everything new since the last one; returns how many were sent."""
    with session_factory() as session:
        pending = [
            (
                follow.id,
                follow.team_id,
                follow.user_id,
                events[-1].id,
                renderer.message(
                    Reply(
                        "follow_update",
                        "en",
                        {"item": item_of(session, follow.kind, follow.item_id), "kind": follow.kind, "events": events},
                    )
                ),
            )
            for follow, events in follower_updates(session)
        ]
    sent = 0
    for follow_id, team_id, user_id, newest, rendered in pending:
        try:
            poster.notify(team_id, user_id, rendered)
        except PostError as error:  # tried again at the next tick; the change is not lost
            log.warning("could not tell %s about a change: %s", user_id, error.error)
            continue
        with session_factory.begin() as session:
            session.execute(update(Follow).where(Follow.id == follow_id).values(last_event_id=newest))
        sent += 1
    return sent
