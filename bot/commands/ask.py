"""Asking a question end to end: answer it and render it, remembering recent renderings per data version.

An answer is a pure function of the question, its options and the data; the data version (the newest event id) is
part of the key, so a data load or a tracking update makes every remembered answer stale at once.
"""

from __future__ import annotations

from bot.commands.answers import answer
from bot.commands.caller import Caller
from bot.commands.parser import PERSONAL_COMMANDS, UsageError, clean, parse
from bot.commands.reference import reference
from bot.legacy_render import CacheKey, Lang, Rendered
from bot.services import Services


def ask(
    services: Services,
    text: str,
    *,
    lang: Lang | None = None,
    offset: int = 0,
    shared_by: str | None = None,
    for_slack: bool = True,
    caller: Caller | None = None,
) -> Rendered:
    if is_channel_command(text):
        # Reads and changes the channel's settings: never cached, and committed here.
        with services.session_factory.begin() as session:
            reply = answer(session, text, lang=lang, caller=caller, admins=services.settings.bot_admins)
        return services.renderer.render(reply, for_slack=for_slack)
    cache = services.reply_cache
    with services.session_factory() as session:
        key: CacheKey = (clean(text)[0], lang, offset, shared_by, for_slack, reference(session).version)
        hit = cache.get(key)
        if hit is not None:
            return hit
        reply = answer(session, text, lang=lang, offset=offset, shared_by=shared_by)
    rendered = services.renderer.render(reply, for_slack=for_slack)
    cache.put(key, rendered)
    return rendered


def is_channel_command(text: str) -> bool:
    """Commands whose answer depends on who asks or that change the store (see parser.PERSONAL_COMMANDS)."""
    try:
        return parse(text).name in PERSONAL_COMMANDS
    except UsageError:
        return False
