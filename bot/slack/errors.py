"""The one error policy for Slack: log the exception under an id, tell the user something useful with that id."""

from __future__ import annotations

import json
import logging
import uuid

from slack_bolt import App, BoltRequest, BoltResponse

from bot.core.lang import detect_lang
from bot.core.reply import Reply
from bot.services import Services
from bot.slack.blocks import to_slack

log = logging.getLogger(__name__)


def register(app: App, services: Services) -> None:
    def handle_error(error: Exception, request: BoltRequest) -> BoltResponse | None:
        error_id = uuid.uuid4().hex[:8]
        log.error("error %s while handling a Slack request", error_id, exc_info=error)
        body = request.body or {}
        apology = Reply("error", detect_lang(str(body.get("text", ""))), {"error_id": error_id})
        rendered = to_slack(services.renderer.message(apology))
        if "command" in body:
            # A slash command is still waiting for its HTTP answer: the apology goes there.
            return BoltResponse(
                status=200,
                body=json.dumps(rendered.payload(), ensure_ascii=False),
                headers={"content-type": ["application/json;charset=utf-8"]},
            )
        respond = request.context.respond
        if request.context.response_url and respond is not None:
            try:
                respond(**rendered.payload(replace_original=False))
            except Exception:  # the apology itself failed (Slack unreachable): the log already has the story
                log.warning("could not tell the user about error %s", error_id, exc_info=True)
        return None

    app.error(handle_error)
