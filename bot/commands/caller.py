"""Who asks, and from where: what channel commands need to know about the person and the channel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from bot.store.models import AuditEntry


def _unknown() -> bool | None:
    return None


def _no() -> bool:
    return False


@dataclass(frozen=True)
class Caller:
    team_id: str
    channel_id: str
    user_id: str
    # Asked of Slack only when a command needs the answer (users.info, conversations.info).
    is_admin: Callable[[], bool] = field(default=_no, compare=False)
    can_post: Callable[[], bool | None] = field(default=_unknown, compare=False)
    # Posts this channel's digest now (given a period key); None where no Slack connection is configured.
    post_now: Callable[[str], str] | None = field(default=None, compare=False)

    def audit(self, session: Session, action: str, detail: str) -> None:
        """Keep who did what, where and when (audit_log), in the caller's transaction."""
        session.add(
            AuditEntry(
                team_id=self.team_id, channel_id=self.channel_id, user_id=self.user_id, action=action, detail=detail
            )
        )
