"""Channel commands: subscribe, unsubscribe, subscriptions, schedule, lang, restrict. Every change is audited."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.commands.caller import Caller
from bot.commands.parser import Command
from bot.commands.reference import reference
from bot.digest.compose import compose
from bot.digest.schedule import ScheduleError, parse_schedule
from bot.digest.store import find_channel, schedule_of, subscriptions_of
from bot.legacy_render import Lang, Reply, message
from bot.store.models import Channel, Event, Subscription

KEYWORD_PREFIXES = ("keyword:", "关键词:", "关键词：", "kw:")
MAX_KEYWORD = 40
MAX_SUBSCRIPTIONS = 50


def _changed(session: Session, channel: Channel, caller: Caller, action: str, detail: str) -> None:
    """Every change is audited, and a change by a person restarts digests that a Slack error had paused."""
    channel.paused_reason = None
    caller.audit(session, action, detail)


def handle(session: Session, command: Command, caller: Caller | None, admins: Sequence[str]) -> Reply:
    """Runs in the caller's transaction: the caller commits (the Slack listener, the CLI)."""
    lang = command.lang
    if caller is None:
        return message(
            lang,
            "这个命令要在频道里使用（或用 bot ask --team T --channel C --user U ...）。",
            "This command works in a channel (or with bot ask --team T --channel C --user U ...).",
        )
    channel = find_channel(session, caller.team_id, caller.channel_id)
    if command.name == "subscriptions":
        return _list(session, channel, lang)
    if command.name == "digest":
        return _digest(session, channel, caller, command.arg, lang)
    if channel is not None and channel.restricted and not _is_admin(caller, admins):
        return message(
            lang,
            "这个频道的设置只允许工作区管理员和机器人管理员修改。",
            "Only workspace admins and the bot's admins may change this channel's settings.",
        )
    if command.name == "subscribe":
        return _subscribe(session, channel, caller, command.arg, lang)
    if channel is None:
        return message(
            lang,
            "这个频道还没有订阅任何内容。例如：`/insights subscribe compute`",
            "This channel follows nothing yet. For example: `/insights subscribe compute`",
        )
    if command.name == "unsubscribe":
        return _unsubscribe(session, channel, caller, command.arg, lang)
    if command.name == "schedule":
        return _schedule(session, channel, caller, command.arg, lang)
    if command.name == "lang":
        return _lang(session, channel, caller, command.arg, lang)
    return _restrict(session, channel, caller, command.arg, lang, admins)


def _is_admin(caller: Caller, admins: Sequence[str]) -> bool:
    return caller.user_id in admins or caller.is_admin()


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


def _subscribe(session: Session, channel: Channel | None, caller: Caller, text: str, lang: Lang) -> Reply:
    targets, unknown = _targets(session, text)
    if unknown or not targets:
        slugs = ", ".join(t.slug for t in reference(session).topics)
        return message(
            lang,
            f"不认识：{'、'.join(unknown) or '（空）'}。可用主题：{slugs}；关键词写成 keyword:直播。",
            f"Not a topic: {', '.join(unknown) or '(nothing)'}. Topics: {slugs}; "
            "a keyword is written keyword:livestream.",
            example="subscribe compute, keyword:直播",
        )
    if caller.can_post() is False:
        return message(
            lang,
            "我还不能在这个频道发消息，所以无法发送摘要。请先用 `/invite @insights` 邀请我，然后再订阅。",
            "I can't post in this channel yet, so digests would fail. Invite me with `/invite @insights`, then "
            "subscribe again.",
        )
    if channel is None:
        # "What changed" starts now: the store's history before the subscription is not news to this channel.
        newest = session.scalar(select(func.max(Event.id))) or 0
        channel = Channel(
            team_id=caller.team_id, channel_id=caller.channel_id, set_up_by=caller.user_id, last_event_id=newest
        )
        session.add(channel)
        session.flush()
    existing = {(s.kind, s.value) for s in subscriptions_of(session, channel)}
    added = [t for t in targets if t not in existing]
    if len(existing) + len(added) > MAX_SUBSCRIPTIONS:
        return message(
            lang, f"每个频道最多 {MAX_SUBSCRIPTIONS} 项订阅。", f"A channel follows at most {MAX_SUBSCRIPTIONS} things."
        )
    for kind, value in added:
        session.add(Subscription(channel_pk=channel.id, kind=kind, value=value, added_by=caller.user_id))
        _changed(session, channel, caller, "subscribe", f"{kind}:{value}")
    names = ", ".join(f"{k}:{v}" if k == "keyword" else v for k, v in targets)
    schedule = schedule_of(channel).describe(lang)
    return message(
        lang,
        f"已订阅：{names}。摘要时间：{schedule}。",
        f"Subscribed to {names}. Digest: {schedule}.",
        example="digest preview",
    )


def _unsubscribe(session: Session, channel: Channel, caller: Caller, text: str, lang: Lang) -> Reply:
    current = subscriptions_of(session, channel)
    if text.strip().lower() in {"all", "全部"}:
        removed = current
    else:
        targets, unknown = _targets(session, text)
        wanted = set(targets) | {("keyword", u) for u in unknown}
        removed = [s for s in current if (s.kind, s.value) in wanted]
    if not removed:
        return message(
            lang,
            "没有找到这项订阅。输入 `/insights subscriptions` 查看。",
            "This channel does not follow that. See `/insights subscriptions`.",
        )
    for subscription in removed:
        session.delete(subscription)
        _changed(session, channel, caller, "unsubscribe", f"{subscription.kind}:{subscription.value}")
    names = ", ".join(s.value for s in removed)
    return message(lang, f"已取消订阅：{names}。", f"Unsubscribed from {names}.")


def _schedule(session: Session, channel: Channel, caller: Caller, text: str, lang: Lang) -> Reply:
    try:
        schedule = parse_schedule(text)
    except ScheduleError as error:
        return message(
            lang,
            f"看不懂这个时间安排：{error}。",
            f"I can't read that schedule: {error}.",
            example="schedule weekly monday 09:00 Asia/Shanghai",
        )
    channel.schedule_kind = schedule.kind
    if schedule.kind != "off":  # "off" keeps the day and time, so the settings say what "on" meant
        channel.schedule_weekday, channel.schedule_zone = schedule.weekday, schedule.zone
        channel.schedule_at = schedule.at.strftime("%H:%M")
    _changed(session, channel, caller, "schedule", schedule.describe("en"))
    due = schedule.next_due(dt.datetime.now(dt.UTC))
    when = "" if due is None else due[1].astimezone(schedule.tz).strftime("%Y-%m-%d %H:%M %Z")
    return message(
        lang,
        f"摘要时间：{schedule.describe('zh')}。" + (f"下一次：{when}。" if when else ""),
        f"Digest: {schedule.describe('en')}." + (f" Next: {when}." if when else ""),
    )


def _lang(session: Session, channel: Channel, caller: Caller, text: str, lang: Lang) -> Reply:
    choice = {"zh": "zh", "中文": "zh", "en": "en", "english": "en", "英文": "en", "both": "both", "双语": "both"}.get(
        text.strip().lower()
    )
    if choice is None:
        return message(lang, "请选择 zh、en 或 both。", "Choose zh, en or both.", example="lang both")
    channel.lang = choice
    _changed(session, channel, caller, "lang", choice)
    return message(lang, f"摘要语言：{choice}。", f"Digest language: {choice}.")


def _restrict(
    session: Session, channel: Channel, caller: Caller, text: str, lang: Lang, admins: Sequence[str]
) -> Reply:
    choice = {"on": True, "off": False, "开": True, "关": False}.get(text.strip().lower())
    if choice is None:
        return message(lang, "请用 restrict on 或 restrict off。", "Use restrict on or restrict off.")
    if not _is_admin(caller, admins):
        return message(
            lang,
            "只有工作区管理员和机器人管理员可以修改这项设置。",
            "Only workspace admins and the bot's admins may change this setting.",
        )
    channel.restricted = choice
    _changed(session, channel, caller, "restrict", "on" if choice else "off")
    return message(
        lang,
        "现在只有管理员可以修改这个频道的设置。" if choice else "现在频道成员都可以修改设置。",
        "Only admins may change this channel's settings now." if choice else "Any member may change settings now.",
    )


def _list(session: Session, channel: Channel | None, lang: Lang) -> Reply:
    if channel is None:
        return message(
            lang,
            "这个频道还没有订阅任何内容。例如：`/insights subscribe compute`",
            "This channel follows nothing yet. For example: `/insights subscribe compute`",
        )
    topics = reference(session).topic_names
    rows = [
        {
            "name": (
                s.value
                if s.kind == "keyword"
                else (topics[s.value].name_zh if lang == "zh" else topics[s.value].name_en)
            ),
            "kind": s.kind,
            "value": s.value,
            "added_by": s.added_by,
            "added_at": s.added_at,
        }
        for s in subscriptions_of(session, channel)
        if s.kind == "keyword" or s.value in topics
    ]
    return Reply(
        "subscriptions",
        lang,
        {
            "rows": rows,
            "schedule": schedule_of(channel).describe(lang),
            "channel": channel,
        },
    )


def _digest(session: Session, channel: Channel | None, caller: Caller, text: str, lang: Lang) -> Reply:
    """`digest preview` (what this channel would get next, to you alone) and `digest now` (post it, once)."""
    if channel is None:
        return message(
            lang,
            "这个频道还没有订阅任何内容。例如：`/insights subscribe compute`",
            "This channel follows nothing yet. For example: `/insights subscribe compute`",
        )
    now = dt.datetime.now(dt.UTC)
    if text.lower() in {"preview", "预览"}:
        reply = compose(session, channel, now=now).reply
        reply.response_type = "ephemeral"
        reply.context["preview"] = True
        return reply
    if caller.post_now is None:
        return message(
            lang,
            "这里没有连接 Slack，无法立即发送摘要。",
            "Posting needs a Slack connection, which is not set up here.",
        )
    # One manual digest per channel and minute: a double click posts once.
    outcome = caller.post_now(f"now-{now:%Y%m%d%H%M}")
    messages = {
        "posted": ("摘要已发到本频道。", "The digest is posted in this channel."),
        "empty": ("摘要已发到本频道（本期没有新内容）。", "The digest is posted (nothing new this time)."),
        "skipped": ("刚刚已经发送过了。", "It was posted a moment ago."),
        "retry": ("Slack 暂时不可用，稍后会自动重试。", "Slack is busy; it will be retried shortly."),
        "paused": (
            "Slack 拒绝了这条消息，本频道的摘要已暂停；请查看 `/insights subscriptions`。",
            "Slack refused the post, so this channel's digests are paused; see `/insights subscriptions`.",
        ),
    }
    zh, en = messages.get(outcome, messages["posted"])
    return message(lang, zh, en)


def followed_by_channel(session: Session, team_id: str, channel_ids: Sequence[str]) -> list[dict[str, Any]]:
    """For the Home tab: each of these channels that follows something, with what and when its digest comes."""
    if not channel_ids:
        return []
    rows = session.scalars(
        select(Channel)
        .where(Channel.team_id == team_id, Channel.channel_id.in_(list(channel_ids)))
        .order_by(Channel.channel_id)
    ).all()
    out = []
    for channel in rows:
        subscriptions = subscriptions_of(session, channel)
        if subscriptions:
            out.append(
                {
                    "channel_id": channel.channel_id,
                    "follows": [s.value if s.kind == "topic" else f"“{s.value}”" for s in subscriptions],
                    "schedule": schedule_of(channel).describe("en"),
                    "paused": channel.paused_reason,
                }
            )
    return out
