"""The clock: APScheduler drives a periodic tick; the database says what is due (see bot.digest.deliver)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Callable

from bot.digest.deliver import Runner, RunReport
from bot.services import Services
from bot.settings import ConfigurationError

log = logging.getLogger(__name__)
TICK_SECONDS = 30


def make_runner(services: Services) -> Runner:
    from bot.slack.poster import SlackPoster, client_factory

    settings = services.settings
    if not (settings.slack_bot_token or (settings.slack_client_id and settings.slack_client_secret)):
        # Without a way to post, every channel would look uninstalled and be paused: refuse instead.
        raise ConfigurationError("posting digests needs SLACK_BOT_TOKEN, or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET")

    clock_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    poster = SlackPoster(client_factory(services))
    return Runner(services.session_factory, services.renderer, poster, clock_id, shard=settings.shard)


def tick(runner: Runner, now: dt.datetime | None = None) -> RunReport:
    """Due digests, then messages to the followers of items that changed."""
    from bot.tracking.notify import notify_followers

    report = runner.run_due(now or dt.datetime.now(dt.UTC))
    told = notify_followers(runner.session_factory, runner.renderer, runner.poster)
    if told:
        report.outcomes["followers told"] += told
    if report.outcomes:
        log.info("digest tick: %s", report)
    return report


def run_clock(services: Services, *, blocking: bool = True) -> object:
    """Ticks every TICK_SECONDS; a tick that is still running when the next is due is skipped, not stacked."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    runner = make_runner(services)
    scheduler = BlockingScheduler(timezone="UTC") if blocking else BackgroundScheduler(timezone="UTC")
    scheduler.add_job(
        tick,
        "interval",
        args=[runner],
        seconds=TICK_SECONDS,
        max_instances=1,
        coalesce=True,
        next_run_time=dt.datetime.now(dt.UTC),
    )
    scheduler.start()
    return scheduler


def post_now(services: Services, runner: Runner, team_id: str, channel_id: str) -> Callable[[str], str]:
    """`digest now` for one channel: delivered like a scheduled digest, under a period key of its own."""

    def deliver(period_key: str) -> str:
        from bot.digest.store import find_channel

        with services.session_factory() as session:
            channel = find_channel(session, team_id, channel_id)
            channel_pk = None if channel is None else channel.id
        if channel_pk is None:
            return "skipped"
        now = dt.datetime.now(dt.UTC)
        return runner.deliver(channel_pk, period_key, now, now)

    return deliver
