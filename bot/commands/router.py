"""Answering a request end to end: parse once, check who may run it, run it in the transaction its declaration
asks for, and render it for the platform; answers that depend only on the question and the data are remembered.

An answer is a pure function of the question, its options and the data; the data version (the newest event id) is
part of the cache key, so a data load or a tracking update makes every remembered answer stale at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.orm import Session

from bot.answers.commands import COMMANDS as ANSWERS
from bot.catalog.reference import reference
from bot.commands.parser import Parser
from bot.core.caller import Caller
from bot.core.commands import Access, Command, Request
from bot.core.errors import DatabaseBusy, UsageError
from bot.core.lang import Lang
from bot.core.reply import Reply, notice
from bot.digest.commands import COMMANDS as CHANNELS
from bot.store import queries
from bot.tracking.commands import COMMANDS as TRACKING

if TYPE_CHECKING:
    from bot.services import Services

PARSER = Parser((*ANSWERS, *CHANNELS, *TRACKING), default="help", fallback="search")
T = TypeVar("T")


def refusal(session: Session, access: Access, caller: Caller | None, admins: Sequence[str]) -> str | None:
    """The catalogue key of why `caller` may not run a command declared with `access`; None when they may."""
    if access == "anyone":
        return None
    if caller is None:
        return "needs_channel"
    if access == "caller":
        return None
    if access == "editor":
        # A restricted channel keeps every write made from it to admins; the workspace decides the same for DMs.
        if caller.direct:
            restricted = queries.dm_edits(caller.workspace, session=session) == "admins"
        else:
            restricted = queries.channel_is_restricted(caller.channel_id, session=session)
        if not restricted:
            return None
    admin = True if caller.user_id in admins else caller.is_admin()
    if admin is None:
        return "cannot_verify_admin"
    if admin:
        return None
    if access == "admin":
        return "admins_only"
    return "dm_edits_admins" if caller.direct else "restricted_channel"


def answer(
    session: Session,
    command: Command,
    *,
    caller: Caller | None = None,
    offset: int = 0,
    admins: Sequence[str] = (),
) -> Reply:
    """The reply to a parsed command, in `session` (the caller commits what a writing command changed)."""
    if not reference(session).insights:
        return Reply("no_data", command.lang)
    refused = refusal(session, command.spec.access_for(command.arg), caller, admins)
    if refused is not None:
        return notice(command.lang, refused)
    did_you_mean = PARSER.closest(command.arg) if command.spec is PARSER.fallback else None
    return command.spec.handler(Request(session, command, caller, max(offset, 0), admins, did_you_mean))


def reply_to(
    session: Session,
    text: str,
    *,
    caller: Caller | None = None,
    lang: Lang | None = None,
    offset: int = 0,
    shared_by: str | None = None,
    admins: Sequence[str] = (),
) -> Reply:
    """The Reply to `text`, in `session`, neither rendered nor remembered (what ask() renders)."""
    command = parse(text, lang)
    if isinstance(command, Reply):
        return command
    return _addressed(answer(session, command, caller=caller, offset=offset, admins=admins), command, offset, shared_by)


def usage(error: UsageError) -> Reply:
    return notice(error.lang, error.key, example=error.example, **error.details)


def parse(text: str, lang: Lang | None = None) -> Command | Reply:
    """The command `text` asks for, or the reply that says why it cannot be run as typed."""
    try:
        return PARSER.parse(text, lang)
    except UsageError as error:
        return usage(error)


def ask(
    services: Services,
    text: str | Command | Reply,
    render: Callable[[Reply], T],
    *,
    caller: Caller | None = None,
    lang: Lang | None = None,
    offset: int = 0,
    shared_by: str | None = None,
) -> T:
    """`text` may be parsed already, by parse() (an edge that had to look at it first). `render` turns the Reply
    into what the platform sends; pass the same function each time (it is part of the cache key). `shared_by` (a
    validated user id) renders the copy that "Share in channel" posts for everyone."""
    command = parse(text, lang) if isinstance(text, str) else text
    if isinstance(command, Reply):
        return render(command)
    try:
        return _run(services, command, render, caller, lang, offset, shared_by)
    except DatabaseBusy:
        # A data load holds the lock this needs: logged by bot.store.db, rolled back, nothing written; said in time.
        return render(notice(command.lang, "data_updating"))


def _run(
    services: Services,
    command: Command,
    render: Callable[[Reply], T],
    caller: Caller | None,
    lang: Lang | None,
    offset: int,
    shared_by: str | None,
) -> T:
    """ask() for a parsed command, in sessions that wait a couple of seconds at most for a lock."""
    admins = services.settings.bot_admins
    if command.spec.personal:
        with services.request_session_factory.begin() as session:
            reply = answer(session, command, caller=caller, offset=offset, admins=admins)
        return render(_addressed(reply, command, offset, shared_by))
    cache = services.reply_cache
    # An answer that shows a workspace's own records is remembered per workspace: another never sees them.
    asker = caller if command.spec.tenanted else None
    with services.request_session_factory() as session:
        key = (command.text, lang, offset, shared_by, render, reference(session).version, asker and asker.workspace)
        hit: T | None = cache.get(key)
        if hit is not None:
            return hit
        reply = answer(session, command, caller=asker, offset=offset, admins=admins)
        rendered = render(_addressed(reply, command, offset, shared_by))
    cache.put(key, rendered)
    return rendered


def _addressed(reply: Reply, command: Command, offset: int, shared_by: str | None) -> Reply:
    """What the buttons carry to ask the same question again (share, more results), and who shared it."""
    reply.context["request"] = {"t": command.text, "o": max(offset, 0), "l": reply.lang}
    reply.context["shared_by"] = shared_by
    if shared_by:
        reply.visibility = "in_channel"
    return reply
