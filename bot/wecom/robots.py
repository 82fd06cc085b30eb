"""The operator's WeCom robots: `bot wecom add | list | remove`, and the robot of WECOM_WEBHOOK_URL.

Each robot NAME is the workspace "wecom:NAME" with one channel "wecom-NAME", set up by "operator". Its webhook URL is
stored encrypted (channels.address); what it follows, when and in which language are set through the same channel
commands as in chat (`subscribe`, `schedule`, `lang`, bot.digest.commands, asked through the router as the operator),
so validation, wording and the audit trail are the same; `bot ask --team wecom:NAME --channel wecom-NAME ...` runs any
other channel command for it (`subscriptions`, `digest preview`, `unsubscribe keyword:直播`)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.exc import IntegrityError

from bot.catalog.reference import reference
from bot.commands.router import ask
from bot.core.caller import Caller
from bot.core.errors import ConfigurationError
from bot.core.platforms import workspace_key
from bot.core.reply import Reply
from bot.digest.store import find_channel, schedule_of, subscriptions_of
from bot.render.text import plain_text
from bot.services import Services
from bot.store.history import audit
from bot.store.models import Channel, Event
from bot.store.secrets import GENERATE_KEY, decrypt, encrypt, require_cipher
from bot.wecom.webhook import check_url

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,25}$")  # "wecom:" + 26 characters fits channels.team_id (32)
OPERATOR = "operator"
DEFAULT = "default"  # the robot of WECOM_WEBHOOK_URL
MISSING_KEY = (
    "TOKEN_ENCRYPTION_KEYS is not set: WeCom robots' webhook URLs are stored encrypted with it (their key lets anyone "
    f"post in the group). Generate a key with\n  {GENERATE_KEY}\nand set TOKEN_ENCRYPTION_KEYS to it (keep it secret "
    "and keep it safe: webhook URLs encrypted with a lost key cannot be read)."
)


@dataclass(frozen=True)
class Robot:
    """A robot as `bot wecom list` shows it: never its URL."""

    name: str
    follows: list[str]
    schedule: str
    lang: str
    paused: str | None


def team_of(name: str) -> str:
    return workspace_key("wecom", name)


def channel_of(name: str) -> str:
    return f"wecom-{name}"


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise ConfigurationError(
            f"a robot's name is 1-26 lower-case letters, digits, - or _ (starting with a letter or digit), not {name!r}"
        )
    return name


def add_robot(
    services: Services,
    name: str,
    url: str,
    *,
    topics: str | None = None,
    lang: str | None = None,
    schedule: str | None = None,
) -> list[str]:
    """Adds the robot, or updates its webhook URL and settings; what it follows becomes exactly `topics` (topic
    slugs or names and keyword:WORD, comma-separated), or every topic for a new robot without them. What was done,
    line by line, as the channel commands word it; a ConfigurationError (nothing changed) for anything invalid."""
    name = check_name(name)
    url = check_url(url)
    keys = require_cipher(services.settings.token_keys, MISSING_KEY)
    created = _store_address(services, name, encrypt(keys, url), lambda stored: decrypt(keys, stored) == url)
    said = [f"WeCom robot {name} {'added' if created else 'updated'} (workspace {team_of(name)})."]
    try:
        if schedule is not None:
            said.append(_command(services, name, f"schedule {schedule}", "schedule_set"))
        if lang is not None:
            said.append(_command(services, name, f"lang {lang}", "digest_lang_set"))
        if topics is None and created:
            with services.session_factory() as session:
                topics = ", ".join(topic.slug for topic in reference(session).topics)
        if topics is not None:
            said += _follow(services, name, topics)
    except ConfigurationError:
        if created:  # all or nothing: a new robot with settings that were refused is not kept
            remove_robot(services, name)
        raise
    return said


def list_robots(services: Services) -> list[Robot]:
    robots = []
    with services.session_factory() as session:
        channels = session.scalars(
            select(Channel).where(Channel.team_id.startswith("wecom:", autoescape=True)).order_by(Channel.team_id)
        )
        for channel in channels:
            follows = [
                s.value if s.kind == "topic" else f"keyword:{s.value}" for s in subscriptions_of(session, channel)
            ]
            robots.append(
                Robot(
                    channel.team_id.removeprefix("wecom:"),
                    follows,
                    schedule_of(channel).spec(),
                    channel.lang,
                    channel.paused_reason,
                )
            )
    return robots


def robots_table(robots: list[Robot]) -> str:
    """`bot wecom list`: one robot a line."""
    if not robots:
        return "No WeCom robots. Add one with: bot wecom add NAME WEBHOOK_URL [--topics compute,data]"
    rows = [("NAME", "FOLLOWS", "SCHEDULE", "LANG", "STATE")]
    rows += [
        (r.name, ", ".join(r.follows) or "-", r.schedule, r.lang, f"paused: {r.paused}" if r.paused else "active")
        for r in robots
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join([*(row[i].ljust(widths[i]) for i in range(4)), row[4]]) for row in rows]
    return "\n".join(lines)


def remove_robot(services: Services, name: str) -> bool:
    """The robot's channel, subscriptions and digests are deleted (the audit trail keeps the removal). Whether it
    existed."""
    name = check_name(name)
    with services.session_factory.begin() as session:
        result = cast(CursorResult[Any], session.execute(delete(Channel).where(Channel.channel_id == channel_of(name))))
        removed = result.rowcount
        if removed:
            audit(_caller(name), "wecom remove", name, session=session)
    return bool(removed)


def ensure_configured_robot(services: Services) -> None:
    """WECOM_WEBHOOK_URL: the robot "default" with that URL (following every topic when it is new), so that the
    setting alone delivers digests. Cheap when nothing changed: one read."""
    setting = services.settings.wecom_webhook_url
    if setting is None or not setting.get_secret_value().strip():
        return
    try:
        url = check_url(setting.get_secret_value())
    except ConfigurationError as error:
        raise ConfigurationError(f"WECOM_WEBHOOK_URL: {error}") from None
    keys = require_cipher(services.settings.token_keys, MISSING_KEY)
    with services.session_factory() as session:
        channel = find_channel(session, channel_of(DEFAULT))
        stored = channel.address if channel is not None else None
    if stored and decrypt(keys, stored, "the webhook address of WeCom robot default") == url:
        return
    with contextlib.suppress(IntegrityError):  # another process created it at the same moment
        add_robot(services, DEFAULT, url)


# ---- helpers ----


def _caller(name: str) -> Caller:
    """The operator, speaking for the robot's channel: an admin, who can always post there."""
    return Caller(team_of(name), channel_of(name), OPERATOR, is_admin=lambda: True, can_post=lambda: True)


def _store_address(services: Services, name: str, encrypted: str, same: Callable[[str], bool]) -> bool:
    """The robot's channel with this (encrypted) address, created when there is none (`same`: whether a stored
    address is this one). Whether it was created. A changed address starts a paused robot again."""
    with services.session_factory.begin() as session:
        channel = find_channel(session, channel_of(name))
        if channel is None:
            newest = session.scalar(select(func.max(Event.id))) or 0  # "What changed" starts now
            session.add(
                Channel(
                    team_id=team_of(name),
                    channel_id=channel_of(name),
                    workspace=team_of(name),
                    set_up_by=OPERATOR,
                    last_event_id=newest,
                    address=encrypted,
                )
            )
            audit(_caller(name), "wecom add", name, session=session)
            return True
        if channel.team_id != team_of(name):
            raise ConfigurationError(f"channel {channel_of(name)} belongs to workspace {channel.team_id}")
        if channel.address is None or not same(channel.address):
            channel.address = encrypted
            channel.paused_reason = None  # a new webhook is the fix for a dead one
            audit(_caller(name), "wecom webhook", "changed", session=session)
        return False


def _same(reply: Reply) -> Reply:
    return reply


def _command(services: Services, name: str, text: str, done: str) -> str:
    """A channel command run for the robot as the operator: its answer in words, or a ConfigurationError with them
    when it was refused (`done`: the catalogue key of success)."""
    return _words(services, _run(services, name, text, done))


def _run(services: Services, name: str, text: str, done: str) -> Reply:
    reply = ask(services, text, _same, caller=_caller(name), lang="en")
    if reply.template != "notice" or reply.context.get("key") != done:
        raise ConfigurationError(_words(services, reply))
    return reply


def _words(services: Services, reply: Reply) -> str:
    """The reply in words, without its example: that is a command typed in chat (/insights ...), not here."""
    reply.context["example"] = None
    return plain_text(services.renderer.message(reply))


def _follow(services: Services, name: str, topics: str) -> list[str]:
    """Follow exactly `topics`: subscribe to them, then drop whatever else the robot followed."""
    subscribed = _run(services, name, f"subscribe {topics}", "subscribed")
    wanted = {tuple(target) for target in subscribed.context["args"]["targets"]}
    with services.session_factory() as session:
        channel = find_channel(session, channel_of(name))
        assert channel is not None
        current = [(s.kind, s.value) for s in subscriptions_of(session, channel)]
    others = [v if kind == "topic" else f"keyword:{v}" for kind, v in current if (kind, v) not in wanted]
    said = [_words(services, subscribed)]
    if others:
        said.append(_command(services, name, f"unsubscribe {', '.join(others)}", "unsubscribed"))
    return said
