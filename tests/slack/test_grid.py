"""Enterprise Grid: workspaces inside an org and org-wide installs get their digests, found as Bolt's authorize finds
them, and an org-level uninstall pauses the whole org (issue 11)."""

from __future__ import annotations

import datetime as dt
import json

from slack_sdk.oauth.installation_store import Bot
from sqlalchemy import update

from bot.services import Services
from bot.slack.app import create_app
from bot.slack.client import installation_store
from bot.slack.poster import slack_runner
from bot.store.models import Channel
from tests.slack.conftest import dispatch
from tests.slack.fake_slack import FakeSlack
from tests.slack.requests import app_uninstalled, command_body, event_body
from tests.slack.test_app import oauth_services

FORM = "application/x-www-form-urlencoded"
DUE = dt.datetime(2027, 3, 1, 1, 0, tzinfo=dt.UTC)  # Monday 09:00 in Shanghai


def install(services: Services, fake: FakeSlack, *, enterprise: str, team: str | None, token: str) -> None:
    installation_store(services).save_bot(
        Bot(
            app_id="A1",
            enterprise_id=enterprise,
            team_id=team,
            is_enterprise_install=team is None,
            bot_token=token,
            bot_id="B1",
            bot_user_id="UBOT",
            installed_at=1_700_000_000.0,
        )
    )
    fake.add_token(token, team_id=team or "T-org", enterprise_id=enterprise)


def subscribe(services: Services, fake: FakeSlack, *, enterprise: str, team: str, org_wide: bool = False) -> str:
    app = create_app(services)
    body = command_body(
        "subscribe compute",
        team_id=team,
        enterprise_id=enterprise,
        is_enterprise_install=org_wide,
        response_url=fake.response_url(),
    )
    return str(json.loads(dispatch(app, body, FORM).body)["text"])


def posted(services: Services) -> dict[str, int]:
    with services.session_factory.begin() as session:
        session.execute(update(Channel).values(created_at=DUE - dt.timedelta(days=1)))
    return dict(slack_runner(services).run_due(DUE).outcomes)


def test_a_workspace_inside_an_org_gets_its_digest(sqlite_url: str, fake_slack: FakeSlack) -> None:
    services = oauth_services(sqlite_url, fake_slack)
    install(services, fake_slack, enterprise="E1", team="T7", token="xoxb-grid-t7")
    assert "Subscribed to compute" in subscribe(services, fake_slack, enterprise="E1", team="T7")
    assert posted(services) == {"posted": 1}
    (digest,) = [c for c in fake_slack.calls_to("chat.postMessage") if c.params.get("metadata")]
    assert digest.token == "xoxb-grid-t7"
    services.close()


def test_an_org_wide_install_serves_every_workspace_of_the_org(sqlite_url: str, fake_slack: FakeSlack) -> None:
    services = oauth_services(sqlite_url, fake_slack)
    install(services, fake_slack, enterprise="E2", team=None, token="xoxb-org-e2")
    assert "Subscribed to compute" in subscribe(services, fake_slack, enterprise="E2", team="T8", org_wide=True)
    assert posted(services) == {"posted": 1}
    services.close()


def test_an_org_level_uninstall_pauses_the_org_s_channels(sqlite_url: str, fake_slack: FakeSlack) -> None:
    services = oauth_services(sqlite_url, fake_slack)
    install(services, fake_slack, enterprise="E2", team=None, token="xoxb-org-e2")
    subscribe(services, fake_slack, enterprise="E2", team="T8", org_wide=True)
    event = event_body(app_uninstalled(), team_id="", enterprise_id="E2")
    assert dispatch(create_app(services), event, "application/json").status == 200
    with services.session_factory() as session:
        (channel,) = session.query(Channel).all()
    assert channel.team_id == "E2/T8" and channel.paused_reason == "app_uninstalled"
    services.close()
