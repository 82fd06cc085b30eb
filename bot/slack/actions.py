"""Buttons under replies: share the answer in the channel, more results, open an insight."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.commands.ask import ask
from bot.render import Rendered, Reply, escape_mrkdwn
from bot.services import Services
from bot.slack.commands import caller_of
from bot.store.models import PolicyItem
from bot.tracking.commands import may_edit, track
from bot.tracking.items import PARTIAL_DATE, STATUS_NAMES, parse_status

USER_ID = re.compile(r"^[UW][A-Z0-9]{1,30}$")


class ButtonValue(BaseModel):
    """What a reply's buttons carry: the command text, the offset and the language (see templates/_macros.j2)."""

    model_config = ConfigDict(extra="forbid")
    t: str = Field(max_length=1000)
    o: int = Field(ge=0, le=100_000)
    l: Literal["zh", "en"]  # noqa: E741 - kept one letter: it travels in every button value


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
        """The "Track" button on a policy item: a modal to record its new status."""
        ack()
        with services.session_factory() as session:
            policy = session.get(PolicyItem, str(action.get("value", "")))
            if policy is None:
                invalid(respond)
                return
            channel = str((body.get("channel") or {}).get("id") or "")
            view = services.renderer.view(
                "track_modal",
                {
                    "item": policy,
                    "statuses": STATUS_NAMES,
                    "metadata": {"item": policy.id, "channel": channel},
                },
            )
        client.views_open(trigger_id=body["trigger_id"], view=view)

    def track_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        values = view.get("state", {}).get("values", {})
        status = ((values.get("status_block", {}).get("status") or {}).get("selected_option") or {}).get("value", "")
        remark = ((values.get("note_block", {}).get("note") or {}).get("value") or "").strip()[:1000] or None
        date = ((values.get("date_block", {}).get("date") or {}).get("value") or "").strip() or None
        if date is not None and not PARTIAL_DATE.match(date):
            ack(response_action="errors", errors={"date_block": "Write the date as 2027, 2027-03 or 2027-03-15."})
            return
        try:
            metadata = json.loads(view.get("private_metadata") or "{}")
        except ValueError:
            metadata = {}
        caller = caller_of({**body, "channel": {"id": metadata.get("channel", "")}}, client, services)
        with services.session_factory.begin() as session:
            policy = session.get(PolicyItem, str(metadata.get("item", "")))
            if policy is None or parse_status(status) is None:
                ack(response_action="errors", errors={"status_block": "Choose a status for an item that still exists."})
                return
            if not may_edit(session, caller, services.settings.bot_admins):
                ack(
                    response_action="errors",
                    errors={"status_block": "Only workspace admins and the bot's admins may edit from this channel."},
                )
                return
            track(session, policy, status, remark, caller, date=date)
            title = policy.title_en
        ack()
        if caller.channel_id:
            client.chat_postEphemeral(
                channel=caller.channel_id,
                user=caller.user_id,
                text=f"Recorded: {escape_mrkdwn(title, 300)} → {STATUS_NAMES[status][1]}.",
            )

    app.action("track_open")(track_open)
    app.view("track_submit")(track_submit)
    app.action("digest_more")(digest_more)
    app.action("digest_manage")(digest_command("subscriptions"))
    app.action("digest_unsubscribe")(digest_command("unsubscribe all"))
    app.action("share")(share)
    app.action("more")(open_request)
    app.action(re.compile(r"^show_insight_\d{1,2}$"))(open_request)
