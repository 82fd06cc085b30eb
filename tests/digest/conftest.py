from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from bot.commands.router import ask
from bot.core.caller import Caller
from bot.services import Services
from tests.conftest import text_of
from tests.slack.conftest import BOT_TOKEN, make_services
from tests.slack.fake_slack import FakeSlack


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    # Message timestamps from the present, so conversations.history(oldest=...) finds what was just posted.
    with FakeSlack(ts_start=f"{int(time.time()) - 60}.000100") as fake:
        yield fake


@pytest.fixture
def services(sqlite_url: str, fake_slack: FakeSlack) -> Iterator[Services]:
    """The miniature edition, a bot token, and the Slack stand-in behind the Web API URL."""
    services = make_services(sqlite_url, fake_slack, slack_bot_token=BOT_TOKEN, bot_admins=["UADMIN"])
    yield services
    services.close()


def say(services: Services, text: str, *, channel: str = "C1", user: str = "U1", team: str = "T1", **caller) -> str:
    """A channel command as `user` types it in `channel`; returns the reply's text."""
    return ask(services, text, text_of, caller=Caller(team, channel, user, **caller))
