"""history, changes, track, note, follow, unfollow, following. Writes run in the caller's transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.commands.caller import Caller
from bot.commands.parser import Command
from bot.commands.reference import reference
from bot.digest.store import find_channel
from bot.legacy_render import Lang, Reply, message
from bot.store import queries
from bot.store.models import Event, Follow, ItemTopic, Metric, Note, Observation, PolicyItem, StatusEntry
from bot.tracking.items import PARTIAL_DATE, STATUS_NAMES, Found, Unclear, change, parse_status, resolve

MAX_NOTE = 1000
CHANGES_SHOWN = 15


def handle(session: Session, command: Command, caller: Caller | None, admins: Sequence[str]) -> Reply:
    lang = command.lang
    if command.name == "changes":
        return changes(session, command.arg, lang)
    if command.name == "following":
        return _following(session, caller, lang)
    text = command.arg
    if command.name == "track":
        return _track(session, text, caller, admins, lang)
    if command.name == "note":
        # `note ID TEXT`, or `note ANY WORDS: TEXT` to name the item in words.
        first, _, rest = text.partition(" ")
        if ":" in text and session.get(Metric, first) is None and session.get(PolicyItem, first) is None:
            first, _, rest = text.partition(":")
        return _edit(session, first.strip(), rest.strip(), caller, admins, lang)
    found = resolve(session, text)
    if not isinstance(found, Found):
        return _not_found(found, text, lang)
    if command.name == "history":
        return history(session, found, lang)
    return _follow(session, command.name, found, caller, lang)


def _not_found(found: Unclear | None, text: str, lang: Lang) -> Reply:
    if isinstance(found, Unclear):
        return Reply("choose", lang, {"choices": found.choices, "text": text})
    return message(
        lang,
        f"没有找到“{text}”。可以用条目的 id 或名称。",
        f"No item matches “{text}”. Use an item's id or name.",
        example="history national-data-administration",
    )


def history(session: Session, found: Found, lang: Lang) -> Reply:
    entries: list[dict[str, Any]] = []
    if found.kind == "metric":
        points = session.scalars(
            select(Observation).where(Observation.metric_id == found.item.id).order_by(Observation.id)
        ).all()
        previous = None
        for point in points:
            delta = change(previous.value, point.value) if previous and previous.unit_zh == point.unit_zh else None
            entries.append(
                {
                    "at": point.recorded_at,
                    "kind": "value",
                    "point": point,
                    "delta": delta,
                    "source": point.source,
                    "by": None,
                }
            )
            previous = point
    else:
        for entry in session.scalars(
            select(StatusEntry).where(StatusEntry.policy_id == found.item.id).order_by(StatusEntry.id)
        ):
            entries.append(
                {
                    "at": entry.recorded_at,
                    "kind": "status",
                    "entry": entry,
                    "source": entry.source,
                    "by": entry.recorded_by,
                }
            )
    for note in session.scalars(
        select(Note).where(Note.kind == found.kind, Note.item_id == found.item.id).order_by(Note.id)
    ):
        entries.append(
            {"at": note.recorded_at, "kind": "note", "note": note, "source": "Slack", "by": note.recorded_by}
        )
    entries.sort(key=lambda e: e["at"])
    return Reply(
        "history",
        lang,
        {**reference(session).context(), "found": found, "entries": entries[-20:], "hidden": max(len(entries) - 20, 0)},
    )


def changes(session: Session, text: str, lang: Lang) -> Reply:
    """`changes`, `changes since 2027-03-01`, `changes compute`: what moved recently, newest first."""
    since: dt.date | None = None
    topic = None
    words = text.split()
    if words[:1] in (["since"], ["自"]) and len(words) == 2:
        try:
            since = dt.date.fromisoformat(words[1])
        except ValueError:
            return message(
                lang, "日期请写成 2027-03-01。", "Write the date as 2027-03-01.", example="changes since 2027-03-01"
            )
    elif text:
        topic = reference(session).find_topic(text)
        if topic is None:
            return message(lang, f"不认识的主题：{text}。", f"Not a topic: {text}.", example="changes compute")
    query = select(Event).where(
        Event.kind.in_(("metric", "policy")), Event.field != "created", Event.field.not_in(queries.QUIET_FIELDS)
    )
    if since is not None:
        query = query.where(Event.created_at >= dt.datetime.combine(since, dt.time(), dt.UTC))
    if topic is not None:
        query = query.where(
            select(ItemTopic.item_id)
            .where(ItemTopic.kind == Event.kind, ItemTopic.item_id == Event.item_id, ItemTopic.topic == topic.slug)
            .exists()
        )
    events = session.scalars(query.order_by(Event.id.desc()).limit(CHANGES_SHOWN + 1)).all()
    items = {
        kind: queries.items_by_ids(kind, [e.item_id for e in events if e.kind == kind], session=session)
        for kind in ("metric", "policy")
    }
    rows = [(e, items[e.kind].get(e.item_id)) for e in events[:CHANGES_SHOWN] if items[e.kind].get(e.item_id)]
    return Reply(
        "changes",
        lang,
        {
            **reference(session).context(),
            "rows": rows,
            "more": len(events) > CHANGES_SHOWN,
            "since": since,
            "topic": topic,
        },
    )


def may_edit(session: Session, caller: Caller, admins: Sequence[str]) -> bool:
    """Editing follows the channel-settings model: anyone, unless the channel is restricted to admins."""
    channel = find_channel(session, caller.team_id, caller.channel_id)
    return channel is None or not channel.restricted or caller.user_id in admins or caller.is_admin()


def _refusal(session: Session, caller: Caller | None, admins: Sequence[str], lang: Lang) -> Reply | None:
    if caller is None:
        return message(
            lang,
            "这个命令要在 Slack 里使用（或用 bot ask --team T --channel C --user U ...）。",
            "This command works in Slack (or with bot ask --team T --channel C --user U ...).",
        )
    if not may_edit(session, caller, admins):
        return message(
            lang, "这个频道只允许管理员修改。", "Only workspace admins and the bot's admins may edit from this channel."
        )
    return None


def _track(session: Session, text: str, caller: Caller | None, admins: Sequence[str], lang: Lang) -> Reply:
    """`track ITEM STATUS [DATE] [note]`: ITEM is an id or any words before the status."""
    refused = _refusal(session, caller, admins, lang)
    if refused is not None:
        return refused
    assert caller is not None  # _refusal answered for a missing caller
    parsed = split_track(text)
    keys = ", ".join(STATUS_NAMES)
    if parsed is None:
        return message(
            lang,
            f"状态可以是：{keys}。",
            f"A status is one of: {keys}.",
            example="track national-data-administration in_effect 2027-03 notice",
        )
    item_text, status, date, remark = parsed
    found = resolve(session, item_text, ("policy",))
    if not isinstance(found, Found):
        return _not_found(found, item_text, lang)
    track(session, found.item, status, remark or None, caller, date=date)
    zh, en = STATUS_NAMES[status]
    return message(lang, f"已记录：{found.item.title_zh} → {zh}。", f"Recorded: {found.item.title_en} → {en}.")


def split_track(text: str) -> tuple[str, str, str | None, str] | None:
    """(item words, status, date or None, note) from `ITEM STATUS [DATE] [note]`; None without a status."""
    words = text.split()
    for start in range(1, len(words)):
        for size in (3, 2, 1):
            status = parse_status(" ".join(words[start : start + size]))
            if status is not None and start + size <= len(words):
                rest = words[start + size :]
                date = rest[0] if rest and PARTIAL_DATE.match(rest[0]) else None
                return " ".join(words[:start]), status, date, " ".join(rest[1:] if date else rest)
    return None


def _edit(
    session: Session, item_text: str, rest: str, caller: Caller | None, admins: Sequence[str], lang: Lang
) -> Reply:
    refused = _refusal(session, caller, admins, lang)
    if refused is not None:
        return refused
    assert caller is not None  # _refusal answered for a missing caller
    found = resolve(session, item_text)
    if not isinstance(found, Found):
        return _not_found(found, item_text, lang)
    if not rest or len(rest) > MAX_NOTE:
        return message(
            lang,
            f"请写下备注（最多 {MAX_NOTE} 字）。",
            f"Write the note ({MAX_NOTE} characters at most).",
            example=f"note {found.item.id}: text",
        )
    note(session, found, rest, caller)
    return message(lang, "备注已保存。", "Note saved.")


def track(
    session: Session, policy: PolicyItem, status: str, note: str | None, caller: Caller, *, date: str | None = None
) -> None:
    """Move a policy item to `status`: its history, events (for digests and followers), the audit trail."""
    zh, en = STATUS_NAMES[status]
    source = f"Slack {caller.team_id}"
    old = (policy.status, policy.status_zh, policy.status_en)
    session.add(
        StatusEntry(
            policy_id=policy.id,
            status=status,
            status_zh=zh,
            status_en=en,
            date=date,
            note=note,
            source=source,
            recorded_by=caller.user_id,
        )
    )
    policy.status, policy.status_zh, policy.status_en = status, zh, en
    # The events a data load records for a status change: the key, and its wording in each language.
    event_source = f"{source} by {caller.user_id}" + (f": {note}" if note else "")
    for name, before, after in zip(("status", "status_zh", "status_en"), old, (status, zh, en), strict=True):
        session.add(
            Event(kind="policy", item_id=policy.id, field=name, old_value=before, new_value=after, source=event_source)
        )
    caller.audit(session, "track", f"{policy.id} {old[0]} -> {status}")


def note(session: Session, found: Found, text: str, caller: Caller) -> None:
    session.add(
        Note(kind=found.kind, item_id=found.item.id, text=text, team_id=caller.team_id, recorded_by=caller.user_id)
    )
    session.add(
        Event(
            kind=found.kind,
            item_id=found.item.id,
            field="note",
            old_value=None,
            new_value=text,
            source=f"Slack {caller.team_id} by {caller.user_id}",
        )
    )
    caller.audit(session, "note", f"{found.item.id}: {text[:200]}")


def _follow(session: Session, name: str, found: Found, caller: Caller | None, lang: Lang) -> Reply:
    if caller is None:
        return message(
            lang, "这个命令要在 Slack 里使用。", "This command works in Slack (or with bot ask --user U ...)."
        )
    existing = session.scalar(
        select(Follow).where(
            Follow.team_id == caller.team_id,
            Follow.user_id == caller.user_id,
            Follow.kind == found.kind,
            Follow.item_id == found.item.id,
        )
    )
    title = found.item.label_zh if found.kind == "metric" else found.item.title_zh
    title_en = found.item.label_en if found.kind == "metric" else found.item.title_en
    if name == "follow":
        if existing is None:
            newest = session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1)) or 0
            session.add(
                Follow(
                    team_id=caller.team_id,
                    user_id=caller.user_id,
                    kind=found.kind,
                    item_id=found.item.id,
                    last_event_id=newest,
                )
            )
        return message(
            lang,
            f"已关注：{title}。它有变化时我会私信你。",
            f"Following {title_en}: I will message you when it changes.",
        )
    if existing is None:
        return message(lang, f"你没有关注：{title}。", f"You were not following {title_en}.")
    session.delete(existing)
    return message(lang, f"已取消关注：{title}。", f"Stopped following {title_en}.")


def _following(session: Session, caller: Caller | None, lang: Lang) -> Reply:
    if caller is None:
        return message(
            lang, "这个命令要在 Slack 里使用。", "This command works in Slack (or with bot ask --user U ...)."
        )
    follows = session.scalars(
        select(Follow).where(Follow.team_id == caller.team_id, Follow.user_id == caller.user_id).order_by(Follow.id)
    ).all()
    items = [Found(f.kind, queries.items_by_ids(f.kind, [f.item_id], session=session).get(f.item_id)) for f in follows]
    return Reply("following", lang, {"items": [f for f in items if f.item is not None]})


def follower_updates(session: Session) -> list[tuple[Follow, list[Event]]]:
    """For each follow, the events of its item it has not been told about (oldest first)."""
    pairs = session.execute(
        select(Follow, Event)
        .join(
            Event, (Event.kind == Follow.kind) & (Event.item_id == Follow.item_id) & (Event.id > Follow.last_event_id)
        )
        .order_by(Follow.id, Event.id)
    ).all()
    grouped: dict[int, tuple[Follow, list[Event]]] = {}
    for follow, event in pairs:
        grouped.setdefault(follow.id, (follow, []))[1].append(event)
    return list(grouped.values())


def title_of(session: Session, kind: str, item_id: str) -> tuple[str, str]:
    if kind == "metric":
        metric = session.get(Metric, item_id)
        return (metric.label_zh, metric.label_en) if metric else (item_id, item_id)
    policy = session.get(PolicyItem, item_id)
    return (policy.title_zh, policy.title_en) if policy else (item_id, item_id)
