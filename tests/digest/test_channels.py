from sqlalchemy import select

from bot.commands.router import ask
from bot.services import Services
from bot.store.models import AuditEntry, Channel, Subscription
from tests.conftest import text_of
from tests.digest.conftest import say


def audit(services: Services) -> list[tuple[str, str, str]]:
    with services.session_factory() as session:
        return [(a.user_id, a.action, a.detail) for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_subscribe_to_topics_by_slug_or_name_and_to_keywords(services: Services) -> None:
    reply = say(services, "subscribe compute, 数字消费, keyword:直播")  # Chinese words: a Chinese reply
    assert "已订阅：compute, consumption, keyword:直播。摘要时间：每周一 09:00（Asia/Shanghai）" in reply
    listing = say(services, "subscriptions")
    assert "compute Computing power — added by @U1" in listing and "keyword “直播”" in listing
    assert audit(services) == [
        ("U1", "subscribe", "topic:compute"),
        ("U1", "subscribe", "topic:consumption"),
        ("U1", "subscribe", "keyword:直播"),
    ]


def test_subscribe_again_changes_nothing_and_unknown_topics_are_named(services: Services) -> None:
    say(services, "subscribe compute")
    say(services, "subscribe compute")
    assert len(audit(services)) == 1
    reply = say(services, "subscribe quantum, compute")
    assert "Not a topic: quantum" in reply and "compute, consumption, ecommerce" in reply
    assert len(audit(services)) == 1  # nothing half-done


def test_unsubscribe_one_or_all(services: Services) -> None:
    say(services, "subscribe compute, consumption, keyword:livestream")
    assert "Unsubscribed from compute" in say(services, "unsubscribe compute")
    assert "Unsubscribed from livestream" in say(services, "unsubscribe keyword:livestream")
    assert "does not follow that" in say(services, "unsubscribe compute")
    assert "Unsubscribed from consumption" in say(services, "unsubscribe all")
    with services.session_factory() as session:
        assert session.scalars(select(Subscription)).all() == []


def test_schedule_and_language(services: Services) -> None:
    say(services, "subscribe compute")
    assert "weekly on Friday at 17:30 (Europe/Berlin). Next:" in say(
        services, "schedule weekly fri 17:30 Europe/Berlin"
    )
    assert "daily at 08:00 (Asia/Shanghai)" in say(services, "schedule daily 08:00")
    assert "off" in say(services, "schedule off")
    assert "I can't read that schedule: unknown time zone" in say(services, "schedule daily 08:00 Moon/Base")
    assert "Digest language: both" in say(services, "lang both")
    assert "Choose zh, en or both" in say(services, "lang fr")
    with services.session_factory() as session:
        channel = session.scalars(select(Channel)).one()
        assert (channel.schedule_kind, channel.schedule_at, channel.lang) == ("off", "08:00", "both")


def test_restricted_channels_only_admins_may_change(services: Services) -> None:
    say(services, "subscribe compute")
    assert "Only workspace admins" in say(services, "restrict on")  # U1 is no admin
    assert "Only admins may change" in say(services, "restrict on", user="UADMIN")  # BOT_ADMINS
    assert "Only workspace admins and the bot's admins" in say(services, "subscribe consumption", user="U2")
    assert "Subscribed" in say(services, "subscribe consumption", user="U9", is_admin=lambda: True)  # workspace admin
    assert "Subscribed" not in say(services, "unsubscribe all", user="U2")
    assert ("UADMIN", "restrict", "on") in audit(services)


def test_a_channel_the_bot_cannot_post_to_is_told_how_to_fix_it(services: Services) -> None:
    reply = say(services, "subscribe compute", can_post=lambda: False)
    assert "Invite me with /invite @insights" in reply
    assert "follows nothing" in say(services, "subscriptions")


def test_channel_commands_need_a_channel_and_are_per_channel(services: Services) -> None:
    assert "works in a channel" in ask(services, "subscribe compute", text_of)
    say(services, "subscribe compute", channel="C1")
    assert "follows nothing" in say(services, "subscriptions", channel="C2")
    # A channel shared with another workspace (Slack Connect) is the same conversation: one configuration.
    assert "compute" in say(services, "subscriptions", team="T2")


def test_a_shared_channel_has_one_configuration_and_one_digest(services: Services, fake_slack) -> None:
    """Two workspaces in one Slack Connect channel: one set of settings, restrict applies to both (issue 11)."""
    import datetime as dt

    from bot.slack.poster import slack_runner
    from tests.digest.test_runner import created

    say(services, "subscribe compute", team="T1")
    say(services, "subscribe consumption", team="T2", user="U2")
    say(services, "restrict on", team="T2", user="UADMIN")
    assert "Only workspace admins" in say(services, "lang zh", team="T1", user="U1")
    listing = say(services, "subscriptions", team="T1")
    assert "compute" in listing and "consumption" in listing
    with services.session_factory() as session:
        assert session.query(Channel).count() == 1
    due = dt.datetime(2027, 3, 1, 1, 0, tzinfo=dt.UTC)
    created(services, due - dt.timedelta(days=1))
    assert slack_runner(services).run_due(due).outcomes == {"posted": 1}


def test_usage_errors_for_channel_commands(services: Services) -> None:
    assert "For example: /insights subscribe compute" in say(services, "subscribe")
    assert "digest preview" in say(services, "digest")


def test_digest_now_is_kept_to_admins_in_a_restricted_channel(services: Services) -> None:
    say(services, "subscribe compute", user="UADMIN")
    say(services, "restrict on", user="UADMIN")
    assert "Only workspace admins" in say(services, "digest now", user="U1")
    assert "Only workspace admins" not in say(services, "digest preview", user="U1")  # reading stays open
