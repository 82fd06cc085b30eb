"""Channel commands: subscribe, unsubscribe, subscriptions, schedule, lang, restrict, digest. Who may run each is
declared below (COMMANDS) and checked by the router; every change is audited and runs in the caller's transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.catalog.reference import reference
from bot.core.caller import Caller
from bot.core.commands import CommandSpec, Request
from bot.core.reply import Reply, notice
from bot.digest.compose import compose
from bot.digest.runner import ON_DEMAND
from bot.digest.schedule import ScheduleError, parse_schedule
from bot.digest.store import find_channel, schedule_of, subscriptions_of
from bot.store.history import audit
from bot.store.models import Channel, Event, Subscription, WorkspaceSettings

KEYWORD_PREFIXES = ("keyword:", "关键词:", "关键词：", "kw:")
MAX_KEYWORD = 40
MAX_SUBSCRIPTIONS = 50
LANG_CHOICES = {"zh": "zh", "中文": "zh", "en": "en", "english": "en", "英文": "en", "both": "both", "双语": "both"}
ON_OFF = {"on": True, "off": False, "开": True, "关": False}
# `restrict dms on`: the workspace's direct messages with the bot, rather than this channel.
DMS = ("dms", "dm", "私信")
DIGEST_ACTIONS = {"preview": "preview", "预览": "preview", "now": "now", "立即": "now"}


def _changed(session: Session, channel: Channel, caller: Caller, action: str, detail: str) -> None:
    """Every change is audited, and a change by a person restarts digests that a platform error had paused."""
    channel.paused_reason = None
    audit(caller, action, detail, session=session)


def _channel(request: Request) -> tuple[Caller, Channel | None]:
    caller = request.need_caller()
    return caller, find_channel(request.session, caller.channel_id)


def _targets(session: Session, text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """("topic", slug) and ("keyword", word) pairs named in `text`, and the names that are neither."""
    ref = reference(session)
    found: list[tuple[str, str]] = []
    unknown: list[str] = []
    for part in (p.strip() for p in text.replace("，", ",").replace("、", ",").split(",")):
        if not part:
            continue
        prefix = next((p for p in KEYWORD_PREFIXES if part.lower().startswith(p)), None)
        if prefix is not None:
            word = part[len(prefix) :].strip()
            if 0 < len(word) <= MAX_KEYWORD:
                found.append(("keyword", word))
            else:
                unknown.append(part)
            continue
        topic = ref.find_topic(part)
        if topic is None:
            unknown.append(part)
        else:
            found.append(("topic", topic.slug))
    return list(dict.fromkeys(found)), unknown


def subscribe(request: Request) -> Reply:
    session, lang = request.session, request.lang
    caller, channel = _channel(request)
    if caller.direct:
        return notice(lang, "subscribe_in_a_channel")
    targets, unknown = _targets(session, request.arg)
    if unknown or not targets:
        slugs = [t.slug for t in reference(session).topics]
        return notice(lang, "not_a_topic", unknown=unknown, slugs=slugs, example="subscribe compute, keyword:直播")
    if caller.can_post() is False:
        return notice(lang, "invite_me_first")
    if channel is None:
        # "What changed" starts now: the store's history before the subscription is not news to this channel.
        newest = session.scalar(select(func.max(Event.id))) or 0
        channel = Channel(
            team_id=caller.team_id,
            channel_id=caller.channel_id,
            workspace=caller.workspace,
            set_up_by=caller.user_id,
            last_event_id=newest,
        )
        session.add(channel)
        session.flush()
    existing = {(s.kind, s.value) for s in subscriptions_of(session, channel)}
    added = [t for t in targets if t not in existing]
    if len(existing) + len(added) > MAX_SUBSCRIPTIONS:
        return notice(lang, "too_many_subscriptions", limit=MAX_SUBSCRIPTIONS)
    for kind, value in added:
        session.add(Subscription(channel_pk=channel.id, kind=kind, value=value, added_by=caller.user_id))
        _changed(session, channel, caller, "subscribe", f"{kind}:{value}")
    return notice(lang, "subscribed", targets=targets, schedule=schedule_of(channel), example="digest preview")


def unsubscribe(request: Request) -> Reply:
    session, lang = request.session, request.lang
    caller, channel = _channel(request)
    if channel is None:
        return notice(lang, "follows_nothing")
    current = subscriptions_of(session, channel)
    if request.arg.strip().lower() in {"all", "全部"}:
        removed = current
    else:
        targets, unknown = _targets(session, request.arg)
        wanted = set(targets) | {("keyword", u) for u in unknown}
        removed = [s for s in current if (s.kind, s.value) in wanted]
    if not removed:
        return notice(lang, "not_following_that")
    for subscription in removed:
        session.delete(subscription)
        _changed(session, channel, caller, "unsubscribe", f"{subscription.kind}:{subscription.value}")
    return notice(lang, "unsubscribed", names=[s.value for s in removed])


def schedule(request: Request) -> Reply:
    session, lang = request.session, request.lang
    caller, channel = _channel(request)
    if channel is None:
        return notice(lang, "follows_nothing")
    try:
        parsed = parse_schedule(request.arg)
    except ScheduleError as error:
        return notice(
            lang,
            "bad_schedule",
            problem=error.problem,
            zone=error.zone,
            example="schedule weekly monday 09:00 Asia/Shanghai",
        )
    channel.schedule_kind = parsed.kind
    if parsed.kind != "off":  # "off" keeps the day and time, so the settings say what "on" meant
        channel.schedule_weekday, channel.schedule_zone = parsed.weekday, parsed.zone
        channel.schedule_at = parsed.at.strftime("%H:%M")
    _changed(session, channel, caller, "schedule", parsed.spec())
    due = parsed.next_due(dt.datetime.now(dt.UTC))
    when = "" if due is None else due[1].astimezone(parsed.tz).strftime("%Y-%m-%d %H:%M %Z")
    return notice(lang, "schedule_set", schedule=parsed, next=when)


def set_lang(request: Request) -> Reply:
    session, lang = request.session, request.lang
    caller, channel = _channel(request)
    if channel is None:
        return notice(lang, "follows_nothing")
    choice = LANG_CHOICES[request.arg]
    channel.lang = choice
    _changed(session, channel, caller, "lang", choice)
    return notice(lang, "digest_lang_set", choice=choice)


def _restriction(text: str) -> str | None:
    """`on`, `off`, `dms on`, `dms off` (any case, Chinese too), normalised; None for anything else."""
    words = text.strip().lower().split()
    if len(words) == 2 and words[0] in DMS and words[1] in ON_OFF:
        return f"dms {words[1]}"
    return words[0] if len(words) == 1 and words[0] in ON_OFF else None


def restrict(request: Request) -> Reply:
    session, lang = request.session, request.lang
    caller, channel = _channel(request)
    if request.arg.startswith("dms "):
        return _restrict_dms(request, caller, ON_OFF[request.arg.split()[1]])
    if channel is None:
        return notice(lang, "follows_nothing")
    choice = ON_OFF[request.arg]
    channel.restricted = choice
    _changed(session, channel, caller, "restrict", "on" if choice else "off")
    return notice(lang, "restricted" if choice else "unrestricted")


def _restrict_dms(request: Request, caller: Caller, admins_only: bool) -> Reply:
    """Who may record tracking changes (track, note) in direct messages with the bot, for the whole workspace."""
    session = request.session
    settings = session.get(WorkspaceSettings, caller.workspace)
    if settings is None:
        settings = WorkspaceSettings(workspace=caller.workspace)
        session.add(settings)
    settings.dm_edits, settings.updated_by = ("admins" if admins_only else "anyone"), caller.user_id
    audit(caller, "restrict dms", "on" if admins_only else "off", session=session)
    return notice(request.lang, "dms_restricted" if admins_only else "dms_unrestricted")


def subscriptions(request: Request) -> Reply:
    session, lang = request.session, request.lang
    _caller, channel = _channel(request)
    if channel is None:
        return notice(lang, "follows_nothing")
    topics = reference(session).topic_names
    rows = [
        {
            "name": s.value if s.kind == "keyword" else getattr(topics[s.value], f"name_{lang}"),
            "kind": s.kind,
            "value": s.value,
            "added_by": s.added_by,
            "added_at": s.added_at,
        }
        for s in subscriptions_of(session, channel)
        if s.kind == "keyword" or s.value in topics
    ]
    return Reply("subscriptions", lang, {"rows": rows, "schedule": schedule_of(channel), "channel": channel})


def digest(request: Request) -> Reply:
    """`digest preview` (what this channel would get next, to you alone) and `digest now` (post it, once)."""
    session, lang = request.session, request.lang
    caller, channel = _channel(request)
    if channel is None:
        return notice(lang, "follows_nothing")
    now = dt.datetime.now(dt.UTC)
    if request.arg == "preview":
        reply = compose(session, channel, now=now).reply
        reply.visibility = "ephemeral"
        reply.context["preview"] = True
        return reply
    if caller.post_now is None:
        return notice(lang, "no_platform_to_post")
    # One manual digest per channel and minute: a double click posts once.
    outcome = caller.post_now(f"{ON_DEMAND}{now:%Y%m%d%H%M}")
    return notice(lang, "digest_now_" + {"recovered": "posted"}.get(outcome, outcome))


def _one_of(choices: Mapping[str, object]) -> Callable[[str], str | None]:
    """An argument that must be one of `choices` (any case)."""
    return lambda text: text.strip().lower() if text.strip().lower() in choices else None


COMMANDS = (
    CommandSpec(
        "subscribe",
        ("sub", "订阅"),
        subscribe,
        "subscribe compute, keyword:直播",
        takes="words",
        access="editor",
        writes=True,
    ),
    CommandSpec(
        "unsubscribe",
        ("unsub", "取消订阅"),
        unsubscribe,
        "unsubscribe compute",
        takes="words",
        access="editor",
        writes=True,
    ),
    CommandSpec("subscriptions", ("订阅列表",), subscriptions, "subscriptions", takes="nothing", access="caller"),
    CommandSpec(
        "schedule",
        ("定时",),
        schedule,
        "schedule weekly monday 09:00 Asia/Shanghai",
        takes="words",
        access="editor",
        writes=True,
    ),
    CommandSpec(
        "lang",
        ("language", "语言"),
        set_lang,
        "lang both",
        takes="words",
        normalise=_one_of(LANG_CHOICES),
        invalid="choose_lang",
        access="editor",
        writes=True,
    ),
    CommandSpec(
        "restrict",
        ("权限",),
        restrict,
        "restrict on",
        takes="words",
        normalise=_restriction,
        invalid="choose_on_off",
        access="admin",
        writes=True,
    ),
    CommandSpec(
        "digest",
        ("摘要",),
        digest,
        "digest preview",
        takes="words",
        normalise=lambda text: DIGEST_ACTIONS.get(text.strip().lower()),
        invalid="digest_how",
        # Posting now is a change to the channel, like its settings: a restricted channel keeps it to admins.
        access=lambda arg: "editor" if arg == "now" else "caller",
        writes=True,
        deferred=lambda arg: "posting_digest" if arg == "now" else None,
    ),
)
