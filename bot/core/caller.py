"""Who asks, and from where: what commands that read or change a workspace's settings need to know."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


def _unknown() -> bool | None:
    return None


def _no() -> bool | None:
    return False


@dataclass(frozen=True)
class Caller:
    team_id: str
    channel_id: str
    user_id: str
    # Asked of the platform only when a command needs the answer (Slack: users.info, conversations.info); None: the
    # platform could not say in time (then admin-only changes are refused, saying why).
    is_admin: Callable[[], bool | None] = field(default=_no, compare=False)
    can_post: Callable[[], bool | None] = field(default=_unknown, compare=False)
    # Posts this channel's digest now (given a period key); None where no chat platform is connected.
    post_now: Callable[[str], str] | None = field(default=None, compare=False)
    # A one-to-one conversation with the bot, where channel settings make no sense.
    direct: bool = False
    # Where what this person records from chat (statuses, notes, follows) belongs and is seen: their workspace, or
    # their Enterprise Grid org where the operator chooses (TRACKING_SCOPE=org). Empty: the workspace, team_id.
    tenant: str = ""

    @property
    def workspace(self) -> str:
        """The tenant of the records this caller makes and sees (see `tenant`)."""
        return self.tenant or self.team_id
