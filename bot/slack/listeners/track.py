"""The "Track" button on an item: a form to record a policy item's new status (with a date and a note) or a note on
a figure; the submission goes through the same permission rule and the same writer as the `track` command."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, BoltContext, Respond
from slack_sdk import WebClient

from bot.commands.router import refusal
from bot.core.kinds import Kind
from bot.core.reply import Reply, notice
from bot.slack.blocks import notice_view, track_modal
from bot.slack.deps import Deps, caller_of
from bot.store import queries
from bot.store.models import PolicyItem
from bot.store.once import first_time
from bot.tracking.commands import MAX_NOTE, add_note, item_of, track
from bot.tracking.items import STATUS_NAMES, Found, is_date, parse_status

# The modal's input blocks (see bot.slack.blocks.track_modal).
STATUS, DATE, NOTE = ("status_block", "status"), ("date_block", "date"), ("note_block", "note")


def open_form(
    body: dict[str, Any],
    action: dict[str, Any],
    context: BoltContext,
    client: WebClient,
    respond: Respond,
    deps: Deps,
) -> None:
    """After the acknowledgement (views.open may be slow): the form for the item on the button."""
    kind, _, item_id = str(action.get("value", "")).partition(":")
    with deps.services.request_session_factory() as session:
        item = item_of(session, kind, item_id)
        if item is None:
            respond(**deps.render(Reply("stale_button", "en")).payload(replace_original=False))
            return
        titles = (item.title_zh, item.title_en) if isinstance(item, PolicyItem) else (item.label_zh, item.label_en)
        metadata = {"kind": kind, "item": item.id, "channel": str(context.channel_id or "")}
        workspace = caller_of(context, client, deps).workspace
        mine = queries.workspace_statuses([item.id], workspace, session=session).get(item.id)
        view = track_modal(
            deps.services.renderer,
            {
                "kind": kind,
                "item": item,
                "title_zh": titles[0],
                "title_en": titles[1],
                "statuses": STATUS_NAMES,
                "mine": mine,
                "metadata": metadata,
            },
        )
    client.views_open(trigger_id=body["trigger_id"], view=view)


def _value(view: dict[str, Any], block: tuple[str, str]) -> dict[str, Any]:
    return (view.get("state", {}).get("values", {}).get(block[0], {}).get(block[1])) or {}


def submit(ack: Ack, view: dict[str, Any], context: BoltContext, client: WebClient, deps: Deps) -> None:
    """Recorded, then answered in the acknowledgement itself: the form turns into what was recorded (no further call
    to Slack that could fail after the write and make Slack show an error, inviting a second submission)."""
    selected = _value(view, STATUS).get("selected_option") or {}
    status = parse_status(str(selected.get("value", ""))) if selected else None
    remark = (_value(view, NOTE).get("value") or "").strip()[:MAX_NOTE] or None
    date = (_value(view, DATE).get("value") or "").strip() or None
    if date is not None and not is_date(date):
        ack(response_action="errors", errors={DATE[0]: deps.services.renderer.words("en", "date_format")})
        return
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        metadata = {}
    kind = str(metadata.get("kind", Kind.POLICY))
    caller = caller_of(context, client, deps, channel_id=str(metadata.get("channel", "")))
    field = STATUS[0] if kind == Kind.POLICY else NOTE[0]
    with deps.services.request_session_factory.begin() as session:
        item = item_of(session, kind, str(metadata.get("item", "")))
        if item is None or (status is None and remark is None):
            ack(response_action="errors", errors={field: deps.services.renderer.words("en", "status_or_note")})
            return
        refused = refusal(session, "editor", caller, deps.services.settings.bot_admins)
        if refused is not None:
            ack(response_action="errors", errors={field: deps.services.renderer.words("en", refused)})
            return
        if not first_time(f"view:{view.get('id')}", session=session):  # the same form submitted again
            ack(
                response_action="update",
                view=notice_view(
                    deps.services.renderer.message(notice("en", "already_recorded")),
                    deps.services.renderer.words("en", "recorded_title"),
                ),
            )
            return
        if status is not None and isinstance(item, PolicyItem):
            moved = track(session, item, status, remark, caller, date=date)
            done = notice("en", "tracked" if moved else "status_unchanged", item=item, status=STATUS_NAMES[status])
        else:
            add_note(session, Found(Kind(kind), item), remark or "", caller)
            done = notice("en", "note_saved")
        answer = _recorded(deps, done)
    ack(response_action="update", view=answer)


def _recorded(deps: Deps, reply: Reply) -> dict[str, Any]:
    """The form, once submitted: what was recorded."""
    renderer = deps.services.renderer
    return notice_view(renderer.message(reply), renderer.words("en", "recorded_title"))
