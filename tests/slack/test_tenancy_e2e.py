"""Two workspaces through the real `bot serve` (issue 12): nothing one records from chat is visible in the other, in
answers, history, changes, digests or follower messages; the published facts are the same for both."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from slack_sdk.oauth.installation_store import Bot
from sqlalchemy import update

from bot.services import create_services
from bot.slack.client import installation_store
from bot.slack.poster import slack_runner
from bot.store.models import Channel
from bot.tracking.notify import notify_followers
from tests.slack.fake_slack import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, FakeSlack
from tests.slack.requests import FORM_CONTENT_TYPE, command_body
from tests.slack.test_web import bot_server, send

OAUTH = {"SLACK_CLIENT_ID": DEFAULT_CLIENT_ID, "SLACK_CLIENT_SECRET": DEFAULT_CLIENT_SECRET}
WORKSPACES = {"T1": ("C1", "U1"), "T2": ("C2", "U2")}


def test_two_workspaces_never_see_each_others_records(tmp_path: Path) -> None:
    with FakeSlack() as fake, bot_server(tmp_path, fake, **OAUTH) as base:
        services = create_services(
            database_url=f"sqlite:///{tmp_path / 'web.db'}",
            slack_api_url=fake.api_url,
            slack_client_id=DEFAULT_CLIENT_ID,
            slack_client_secret=DEFAULT_CLIENT_SECRET,
        )
        store = installation_store(services)
        for team in WORKSPACES:
            token = f"xoxb-{team}"
            store.save_bot(
                Bot(
                    app_id="A1",
                    team_id=team,
                    bot_token=token,
                    bot_id=f"B{team}",
                    bot_user_id=f"UBOT{team}",
                    installed_at=1_700_000_000.0,
                )
            )
            fake.add_token(token, team_id=team)

        def ask(team: str, text: str) -> str:
            channel, user = WORKSPACES[team]
            body = command_body(text, team_id=team, channel_id=channel, user_id=user, response_url=fake.response_url())
            response = send(base, body, FORM_CONTENT_TYPE)
            assert response.status == 200
            return str(response.body["text"])

        for team in WORKSPACES:
            assert "Subscribed to compute" in ask(team, "subscribe compute")
            assert "Following" in ask(team, "follow test-data-bureau")
        assert "Recorded: Test Data Bureau → stalled" in ask("T1", "track test-data-bureau stalled 2027-03 budget cut")
        assert "Note saved" in ask("T1", "note test-data-bureau: hearing on Friday")

        for text in ("history test-data-bureau", "changes", "search Test Data Bureau"):
            mine, theirs = ask("T1", text), ask("T2", text)
            assert "stalled" in mine and "stalled" not in theirs, text
        assert "hearing on Friday" in ask("T1", "history test-data-bureau")
        assert "hearing on Friday" not in ask("T2", "history test-data-bureau")
        assert "formally established" in ask("T2", "history test-data-bureau")  # the published fact, for both

        due = dt.datetime(2027, 3, 1, 1, 0, tzinfo=dt.UTC)
        with services.session_factory.begin() as session:
            session.execute(update(Channel).values(created_at=due - dt.timedelta(days=1)))
        assert slack_runner(services).run_due(due).outcomes == {"posted": 2}
        posted = {call.params["channel"]: call.params["text"] for call in fake.calls_to("chat.postMessage")}
        assert "stalled" in posted["C1"] and "hearing on Friday" in posted["C1"]
        assert "stalled" not in posted["C2"] and "hearing" not in posted["C2"]

        runner = slack_runner(services)
        assert notify_followers(services.session_factory, services.renderer, runner.poster) == 1
        told = [call for call in fake.calls_to("chat.postMessage") if call.params["channel"].startswith("U")]
        assert [call.params["channel"] for call in told] == ["U1"]
        services.close()
