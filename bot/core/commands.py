"""How a feature declares a command. The router (bot.commands) builds the parser, the caching policy, the
transactions and the permission checks from these declarations alone: a command is one CommandSpec and one handler.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.orm import Session

from bot.core.caller import Caller
from bot.core.lang import Lang
from bot.core.reply import Reply

# Who may run a command: anyone (no caller needed); a caller (it needs to know who asks and where); an editor of the
# channel (anyone, unless the channel is restricted to admins); an admin (workspace admins and BOT_ADMINS).
Access = Literal["anyone", "caller", "editor", "admin"]
# What follows the command word: nothing (words after it are a search instead), optional words, required words.
Takes = Literal["nothing", "optional", "words"]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    aliases: tuple[str, ...]  # the words that call it, English and Chinese, lower case
    handler: Callable[[Request], Reply]
    example: str  # a command that works, shown when this one is mistyped
    takes: Takes = "optional"
    # The argument as the handler wants it ("三" -> "3"), or None when it is not valid.
    normalise: Callable[[str], str | None] | None = None
    invalid: str = "needs_words"  # the catalogue key (templates/_notices.j2) explaining a missing or invalid argument
    # Who may run it; a function of the argument where that decides (`digest preview` anyone, `digest now` an editor).
    access: Access | Callable[[str], Access] = "anyone"
    writes: bool = False
    # Text that is nothing but a valid argument runs this command ("3" is "show 3").
    bare: bool = False
    # For an argument whose work can outlast a platform's acknowledgement (posting, which may wait out a rate
    # limit): the catalogue key of what to say at once; the edge answers after acknowledging. None: answered at once.
    deferred: Callable[[str], str | None] | None = None
    # Its answer shows the asking workspace's own records (statuses, notes) beside the published facts: remembered
    # per workspace, and given the caller where there is one.
    tenanted: bool = False

    def access_for(self, arg: str) -> Access:
        return self.access(arg) if callable(self.access) else self.access

    @property
    def personal(self) -> bool:
        """Its answer depends on who asks, or it changes the store: never cached, always in a write transaction."""
        return callable(self.access) or self.access != "anyone" or self.writes


@dataclass(frozen=True)
class Command:
    """A parsed request: which command, its argument, the reply language; `text` is the cleaned input."""

    spec: CommandSpec
    arg: str
    lang: Lang
    text: str
    truncated: bool = False

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def acknowledgement(self) -> str | None:
        """What to say at once when the work comes after the acknowledgement (see CommandSpec.deferred)."""
        return self.spec.deferred(self.arg) if self.spec.deferred is not None else None


@dataclass
class Request:
    """What a handler gets: the session (a write transaction for commands that write), the command, who asks."""

    session: Session
    command: Command
    caller: Caller | None = None
    offset: int = 0
    admins: Sequence[str] = ()
    # For text that is no command: the command its first word was probably meant to be ("shw 3" -> "show 3").
    did_you_mean: str | None = None

    @property
    def lang(self) -> Lang:
        return self.command.lang

    @property
    def arg(self) -> str:
        return self.command.arg

    def need_caller(self) -> Caller:
        """The caller of a command whose access level guarantees one (the router refuses the others)."""
        if self.caller is None:
            raise RuntimeError(f"{self.command.name} needs a caller: its declaration says access='anyone'")
        return self.caller
