"""Bolt listeners, one concern per module, each a plain function registered here explicitly."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltResponse

from bot.slack import errors
from bot.slack.deps import Deps
from bot.slack.listeners import buttons, home, insights, track, uninstall
from bot.store.once import first_time


def acknowledge(ack: Ack) -> None:
    ack()


def register(app: App, deps: Deps) -> None:
    def bound(listener: Callable[..., Any]) -> Callable[..., Any]:
        # Bolt passes what a listener names (ack, command, context...); `deps` is bound here.
        return partial(listener, deps=deps)

    def once(key_of: Callable[[dict[str, Any]], str | None]) -> Callable[..., BoltResponse | None]:
        """A listener middleware: a request whose key was handled before (an event Slack delivers again with
        X-Slack-Retry-Num, a second click on the same message) is acknowledged and not acted on again."""

        def middleware(body: dict[str, Any], next: Callable[[], None]) -> BoltResponse | None:
            key = key_of(body)
            if key is not None:
                with deps.services.request_session_factory.begin() as session:
                    if not first_time(key, session=session):
                        return BoltResponse(status=200, body="")
            next()
            return None

        return middleware

    per_event = [once(lambda body: f"event:{body['event_id']}" if body.get("event_id") else None)]

    def later(listener: Callable[..., Any]) -> dict[str, Any]:
        """Acknowledged at once; the work, which calls Slack, after the acknowledgement has gone back (a lazy
        listener: Slack waits 3 seconds for the one, and its API can take longer for the other)."""
        return {"ack": acknowledge, "lazy": [errors.reported(bound(listener), deps.services)]}

    # Bolt runs the first listener that matches: a lazy listener (which costs a thread) only for the commands that
    # declare their work may outlast the acknowledgement; everything else is answered in the acknowledgement itself.
    app.command(insights.COMMAND, matchers=[insights.is_deferred])(
        ack=bound(insights.acknowledge), lazy=[errors.reported(bound(insights.answer_later), deps.services)]
    )
    app.command(insights.COMMAND)(bound(insights.answer))
    app.action("share", middleware=[once(buttons.share_key)])(**later(buttons.share))
    app.action("more")(**later(buttons.open_in_place))
    app.action(re.compile(r"^show_insight_\d{1,2}$"))(**later(buttons.open_in_place))
    app.action("digest_more")(**later(buttons.reply_alone))
    app.action("digest_manage")(**later(buttons.manage_subscriptions))
    app.action("digest_unsubscribe")(**later(buttons.unsubscribe_all))
    app.action("track_open")(**later(track.open_form))
    app.view("track_submit")(bound(track.submit))
    app.event("app_home_opened", middleware=per_event)(**later(home.publish))
    app.event("app_uninstalled", middleware=per_event)(bound(uninstall.app_uninstalled))
    app.event("tokens_revoked", middleware=per_event)(bound(uninstall.tokens_revoked))
