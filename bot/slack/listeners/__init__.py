"""Bolt listeners, one concern per module, each a plain function registered here explicitly."""

from __future__ import annotations

import re

from slack_bolt import App

from bot.slack.listeners import buttons, home, insights, track, uninstall


def register(app: App) -> None:
    # Bolt runs the first listener that matches: `digest now` (a lazy listener, which costs a thread) only for that
    # command; everything else is answered in the acknowledgement itself.
    app.command(insights.COMMAND, matchers=[insights.is_digest_now])(
        ack=insights.acknowledge_digest_now, lazy=[insights.post_digest_now]
    )
    app.command(insights.COMMAND)(insights.answer)
    app.action("share")(buttons.share)
    app.action("more")(buttons.open_in_place)
    app.action(re.compile(r"^show_insight_\d{1,2}$"))(buttons.open_in_place)
    app.action("digest_more")(buttons.reply_alone)
    app.action("digest_manage")(buttons.manage_subscriptions)
    app.action("digest_unsubscribe")(buttons.unsubscribe_all)
    app.action("track_open")(track.open_form)
    app.view("track_submit")(track.submit)
    app.event("app_home_opened")(home.publish)
    app.event("app_uninstalled")(uninstall.app_uninstalled)
    app.event("tokens_revoked")(uninstall.tokens_revoked)
