"""The one error policy for Slack: log the exception under an id, tell the user something useful with that id.
Listeners answered in the acknowledgement go through Bolt's error handler (`register`); work done after it (lazy
listeners, whose errors Bolt would only log) is wrapped by `reported`. A database that stayed locked longer than a
request may wait (a data load is running) is no fault: the user is told to try again in a minute, without an id,
and the log gets a warning without a traceback."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.kwargs_injection import build_required_kwargs
from slack_bolt.util.utils import get_arg_names_of_callable

from bot.core.errors import DatabaseBusy
from bot.core.lang import detect_lang
from bot.core.reply import Reply, notice
from bot.services import Services
from bot.slack.blocks import to_slack
from bot.store.db import is_busy

log = logging.getLogger(__name__)


def register(app: App, services: Services) -> None:
    def handle_error(error: Exception, request: BoltRequest) -> BoltResponse | None:
        payload = _logged_apology(error, request, services)
        if "command" in (request.body or {}):
            # A slash command is still waiting for its HTTP answer: the apology goes there.
            return BoltResponse(
                status=200,
                body=json.dumps(payload, ensure_ascii=False),
                headers={"content-type": ["application/json;charset=utf-8"]},
            )
        if _tell(request, payload):
            # The user has the apology: a 500 would only add Slack's own error marker (and a retry of an event).
            return BoltResponse(status=200, body="")
        # Nobody was told: Bolt's 500 lets Slack show the failure (a modal's error) or deliver an event again.
        return None

    app.error(handle_error)


def reported(listener: Callable[..., Any], services: Services) -> Callable[[BoltRequest], None]:
    """`listener` as a lazy listener under this policy: its error logged with an id and the user told, through the
    request's response_url (the acknowledgement has already gone back)."""
    names = get_arg_names_of_callable(listener)

    def run(request: BoltRequest) -> None:
        try:
            # The arguments it names, exactly as Bolt would give them (ack, action, context, respond...).
            listener(
                **build_required_kwargs(
                    logger=log, required_arg_names=names, request=request, response=None, next_keys_required=False
                )
            )
        except Exception as error:
            _tell(request, _logged_apology(error, request, services))

    return run


def _logged_apology(error: Exception, request: BoltRequest, services: Services) -> dict[str, Any]:
    lang = detect_lang(str((request.body or {}).get("text", "")))
    if isinstance(error, DatabaseBusy) or is_busy(error):
        # Expected while data is loaded (the transaction was rolled back): no id to report, no traceback to read.
        log.warning("a Slack request found the database busy, told to try again: %s", error)
        apology = notice(lang, "data_updating")
    else:
        error_id = uuid.uuid4().hex[:8]
        log.error("error %s while handling a Slack request", error_id, exc_info=error)
        apology = Reply("error", lang, {"error_id": error_id})
    payload: dict[str, Any] = to_slack(services.renderer.message(apology)).payload()
    return payload


def _tell(request: BoltRequest, payload: dict[str, Any]) -> bool:
    """Whether the apology reached the user (there is a response_url, and Slack took it)."""
    respond = request.context.respond
    if not request.context.response_url or respond is None:
        return False
    try:
        respond(**payload, replace_original=False)
    except Exception:  # the apology itself failed (Slack unreachable): the log already has the story
        log.warning("could not tell the user about an error", exc_info=True)
        return False
    return True
