"""Buttons under replies: share the answer in the channel, more results, open an insight."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from sqlalchemy.orm import Session

from bot.commands.ask import ask
from bot.legacy_render import Rendered, Reply, escape_mrkdwn
from bot.services import Services
from bot.slack.commands import caller_of
from bot.store.models import Metric, PolicyItem
from bot.tracking.commands import may_edit, note, track
from bot.tracking.items import PARTIAL_DATE, STATUS_NAMES, Found, parse_status

USER_ID = re.compile(r"^[UW][A-Z0-9]{1,30}$")


class ButtonValue(BaseModel):
    """What a reply's buttons carry: the command text, the offset and the language (see templates/_macros.j2)."""

    model_config = ConfigDict(extra="forbid")
    t: str = Field(max_length=1000)
    o: int = Field(ge=0, le=100_000)
    l: Literal["zh", "en"]  # noqa: E741 - kept one letter: it travels in every button value


def item_of(session: Session, kind: str, item_id: str) -> PolicyItem | Metric | None:
    if kind == "policy":
        return session.get(PolicyItem, item_id)
    return session.get(Metric, item_id) if kind == "metric" else None


def button_value(action: dict[str, Any]) -> ButtonValue | None:
    try:
        return ButtonValue.model_validate_json(str(action.get("value", "")))
    except ValidationError:
        return None


def register(app: App, services: Services) -> None:
    def respond_with(respond: Respond, rendered: Rendered, **options: Any) -> None:
        respond(text=rendered.text, blocks=rendered.blocks, response_type=rendered.response_type, **options)

    def invalid(respond: Respond) -> None:
        respond_with(respond, services.renderer.render(Reply("stale_button", "en")), replace_original=False)

    def share(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        value, user = button_value(action), str(body.get("user", {}).get("id", ""))
        if value is None or not USER_ID.match(user):
            invalid(respond)
            return
        rendered = ask(services, value.t, lang=value.l, offset=value.o, shared_by=user)
        respond_with(respond, rendered, replace_original=False)
        respond(delete_original=True)  # the private copy has served its purpose

    def open_request(ack: Ack, action: dict[str, Any], respond: Respond) -> None:
        """'More results' and 'Insight N': the same question (or page) answered in place of the original."""
        ack()
        value = button_value(action)
        if value is None:
            invalid(respond)
            return
        respond_with(respond, ask(services, value.t, lang=value.l, offset=value.o), replace_original=True)

    def digest_more(ack: Ack, action: dict[str, Any], respond: Respond) -> None:
        """Under a digest (a message everyone sees): the answer goes to the clicker alone, the digest stays."""
        ack()
        value = button_value(action)
        if value is None:
            invalid(respond)
            return
        respond_with(respond, ask(services, value.t, lang=value.l), replace_original=False)

    def digest_command(text: str) -> Callable[..., None]:
        def handler(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
            ack()
            rendered = ask(services, text, caller=caller_of(body, client, services))
            respond(text=rendered.text, blocks=rendered.blocks, response_type="ephemeral", replace_original=False)

        return handler

    def track_open(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond) -> None:
        """The "Track" button on an item: a modal to record a policy item's new status, or a note on any item."""
        ack()
        kind, _, item_id = str(action.get("value", "")).partition(":")
        with services.session_factory() as session:
            item = item_of(session, kind, item_id)
            if item is None:
                invalid(respond)
                return
            titles = (item.title_zh, item.title_en) if isinstance(item, PolicyItem) else (item.label_zh, item.label_en)
            channel = str((body.get("channel") or {}).get("id") or "")
            view = services.renderer.view(
                "track_modal",
                {
                    "kind": kind,
                    "item": item,
                    "title_zh": titles[0],
                    "title_en": titles[1],
                    "statuses": STATUS_NAMES,
                    "metadata": {"kind": kind, "item": item.id, "channel": channel},
                },
            )
        client.views_open(trigger_id=body["trigger_id"], view=view)

    def track_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        values = view.get("state", {}).get("values", {})
        selected = (values.get("status_block", {}).get("status") or {}).get("selected_option") or {}
        status = parse_status(str(selected.get("value", ""))) if selected else None
        remark = ((values.get("note_block", {}).get("note") or {}).get("value") or "").strip()[:1000] or None
        date = ((values.get("date_block", {}).get("date") or {}).get("value") or "").strip() or None
        if date is not None and not PARTIAL_DATE.match(date):
            ack(response_action="errors", errors={"date_block": "Write the date as 2027, 2027-03 or 2027-03-15."})
            return
        try:
            metadata = json.loads(view.get("private_metadata") or "{}")
        except ValueError:
            metadata = {}
        kind = metadata.get("kind", "policy")
        caller = caller_of({**body, "channel": {"id": metadata.get("channel", "")}}, client, services)
        with services.session_factory.begin() as session:
            item = item_of(session, kind, str(metadata.get("item", "")))
            if item is None or (status is None and remark is None):
                block = "status_block" if kind == "policy" else "note_block"
                ack(response_action="errors", errors={block: "Choose a status or write a note."})
                return
            if not may_edit(session, caller, services.settings.bot_admins):
                block = "status_block" if kind == "policy" else "note_block"
                ack(
                    response_action="errors",
                    errors={block: "Only workspace admins and the bot's admins may edit from this channel."},
                )
                return
            if status is not None and isinstance(item, PolicyItem):
                track(session, item, status, remark, caller, date=date)
                done = f"{item.title_en} → {STATUS_NAMES[status][1]}"
            else:
                note(session, Found(kind, item), remark or "", caller)
                done = f"a note on {item.title_en if isinstance(item, PolicyItem) else item.label_en}"
        ack()
        if caller.channel_id:
            client.chat_postEphemeral(
                channel=caller.channel_id, user=caller.user_id, text=f"Recorded: {escape_mrkdwn(done, 300)}."
            )

    app.action("track_open")(track_open)
    app.view("track_submit")(track_submit)
    app.action("digest_more")(digest_more)
    app.action("digest_manage")(digest_command("subscriptions"))
    app.action("digest_unsubscribe")(digest_command("unsubscribe all"))
    app.action("share")(share)
    app.action("more")(open_request)
    app.action(re.compile(r"^show_insight_\d{1,2}$"))(open_request)
