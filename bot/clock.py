"""The clock process, wired: APScheduler drives a periodic tick, which posts the digests that are due (the
database says which: bot.digest.due) through every connected platform (bot.platforms), then tells followers about
changed items."""

from __future__ import annotations

import datetime as dt
import logging

from bot.digest.runner import Runner, RunReport
from bot.services import Services
from bot.tracking.notify import notify_followers

log = logging.getLogger(__name__)
TICK_SECONDS = 30


def tick(runner: Runner, now: dt.datetime | None = None) -> RunReport:
    """Due digests, then messages to the followers of items that changed."""
    report = runner.run_due(now or dt.datetime.now(dt.UTC))
    told = notify_followers(runner.session_factory, runner.renderer, runner.poster)
    if told:
        report.outcomes["followers told"] += told
    if report.outcomes:
        log.info("digest tick: %s", report)
    return report


def run_clock(services: Services, *, blocking: bool = True, runner: Runner | None = None) -> object:
    """Ticks every TICK_SECONDS; a tick that is still running when the next is due is skipped, not stacked."""
    # Imported here: only the clock process needs the scheduler.
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    from bot.platforms import runner as platforms_runner

    runner = runner or platforms_runner(services)
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
