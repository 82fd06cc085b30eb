"""The operator's robots: added, changed, listed and removed through the channel commands' own domain code; their
webhook URLs stored encrypted, rotated with the other secrets, never shown."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import select, text

from bot.core.errors import ConfigurationError
from bot.services import Services
from bot.slack.secrets import check_at_start_up, cipher, rotate_stored_tokens
from bot.store.models import AuditEntry, Channel
from bot.wecom.poster import wecom_poster
from bot.wecom.robots import add_robot, ensure_configured_robot, list_robots, remove_robot, robots_table
from tests.wecom.conftest import KEY, wecom_services

URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
OTHER_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=00000000-1111-2222-3333-444444444444"


def raw_addresses(services: Services) -> list[str]:
    with services.engine.connect() as connection:
        return [row[0] for row in connection.execute(text("SELECT address FROM channels")) if row[0] is not None]


def follows(services: Services, name: str) -> list[str]:
    return next(robot.follows for robot in list_robots(services) if robot.name == name)


def test_a_robot_is_added_with_its_url_encrypted(services: Services) -> None:
    said = add_robot(services, "ops", URL, topics="compute, keyword:直播", lang="both", schedule="daily 08:30 UTC")
    assert said[0] == "WeCom robot ops added (workspace wecom:ops)."
    assert said[1].startswith("Digest: daily at 08:30 (UTC). Next: ")
    assert said[2] == "Digest language: both."
    assert said[3] == "Subscribed to compute, keyword:直播. Digest: daily at 08:30 (UTC)."
    [stored] = raw_addresses(services)
    assert stored.startswith("gAAAAA") and "key=" not in stored and "qyapi" not in stored
    assert Fernet(KEY).decrypt(stored.encode()).decode() == URL
    with services.session_factory() as session:
        channel = session.scalar(select(Channel))
        assert channel is not None
        assert (channel.team_id, channel.channel_id, channel.set_up_by) == ("wecom:ops", "wecom-ops", "operator")
        assert (channel.lang, channel.schedule_kind, channel.schedule_at, channel.schedule_zone) == (
            "both",
            "daily",
            "08:30",
            "UTC",
        )
        actions = [entry.action for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert actions[0] == "wecom add" and "subscribe" in actions and "schedule" in actions and "lang" in actions
    [robot] = list_robots(services)
    assert (robot.name, robot.follows, robot.schedule, robot.lang, robot.paused) == (
        "ops",
        ["compute", "keyword:直播"],
        "daily 08:30 UTC",
        "both",
        None,
    )
    table = robots_table(list_robots(services))
    assert "ops" in table and "compute, keyword:直播" in table and "active" in table
    assert "key=" not in table and "qyapi" not in table


def test_a_new_robot_without_topics_follows_every_topic(services: Services) -> None:
    add_robot(services, "all", URL)
    assert follows(services, "all") == ["compute", "consumption", "ecommerce"]


def test_topics_say_exactly_what_it_follows_and_a_new_url_restarts_it(services: Services) -> None:
    add_robot(services, "ops", URL, topics="compute, keyword:直播")
    said = add_robot(services, "ops", URL, topics="数字消费")  # a name works like a slug, as in chat
    assert said[0] == "WeCom robot ops updated (workspace wecom:ops)."
    assert said[-1] == "Unsubscribed from compute, 直播."
    assert follows(services, "ops") == ["consumption"]
    with services.session_factory.begin() as session:
        channel = session.scalar(select(Channel))
        assert channel is not None
        channel.paused_reason = "wecom_invalid_webhook"
    add_robot(services, "ops", URL)
    assert list_robots(services)[0].paused == "wecom_invalid_webhook"  # the same URL fixes nothing
    add_robot(services, "ops", OTHER_URL)
    [robot] = list_robots(services)
    assert robot.follows == ["consumption"] and robot.paused is None  # a new webhook starts it again
    assert Fernet(KEY).decrypt(raw_addresses(services)[0].encode()).decode() == OTHER_URL


@pytest.mark.parametrize(
    ("kwargs", "said"),
    [
        ({"topics": "compute, quantum"}, "Not a topic: quantum. Topics: compute, consumption, ecommerce"),
        ({"schedule": "fortnightly 09:00"}, "I can't read that schedule"),
        ({"schedule": "daily 09:00 Mars/Olympus"}, "unknown time zone"),
    ],
)
def test_refused_settings_leave_nothing_behind(services: Services, kwargs: dict[str, str], said: str) -> None:
    with pytest.raises(ConfigurationError, match=said):
        add_robot(services, "ops", URL, **kwargs)
    assert list_robots(services) == [] and raw_addresses(services) == []


@pytest.mark.parametrize(
    ("name", "url", "problem"),
    [
        ("Ops", URL, "lower-case"),
        ("a" * 27, URL, "1-26"),
        ("ops", "http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=secret-key-1", "must use https"),
        ("ops", "https://qyapi.weixin.qq.com/cgi-bin/webhook/send", "no key="),
        ("ops", "ftp://example.com/x?key=secret-key-1", "https:// URL"),
        ("ops", "https://user:pw@qyapi.weixin.qq.com/x?key=secret-key-1", "https:// URL"),
        ("ops", "https://qyapi.weixin.qq.com:port/x?key=secret-key-1", "not a URL"),
    ],
)
def test_a_bad_name_or_url_is_refused_without_repeating_the_url(
    services: Services, name: str, url: str, problem: str
) -> None:
    with pytest.raises(ConfigurationError, match=problem) as error:
        add_robot(services, name, url, topics="compute")
    assert "secret-key-1" not in str(error.value)
    assert list_robots(services) == []


def test_local_http_is_allowed_for_stand_ins(services: Services) -> None:
    add_robot(services, "local", "http://127.0.0.1:8080/cgi-bin/webhook/send?key=K1", topics="compute")
    add_robot(services, "local6", "http://[::1]:8080/cgi-bin/webhook/send?key=K1", topics="compute")
    assert [robot.name for robot in list_robots(services)] == ["local", "local6"]


def test_without_a_key_nothing_is_stored(sqlite_url: str) -> None:
    services = wecom_services(sqlite_url, keys=None)
    for call in (lambda: add_robot(services, "ops", URL), lambda: wecom_poster(services)):
        with pytest.raises(ConfigurationError, match="TOKEN_ENCRYPTION_KEYS is not set: WeCom robots' webhook URLs"):
            call()
    assert list_robots(services) == []
    services.close()


def test_remove(services: Services) -> None:
    add_robot(services, "ops", URL, topics="compute")
    add_robot(services, "other", OTHER_URL, topics="compute")
    assert remove_robot(services, "ops") is True
    assert remove_robot(services, "ops") is False
    assert [robot.name for robot in list_robots(services)] == ["other"]
    with services.session_factory() as session:
        assert session.scalar(select(AuditEntry.action).order_by(AuditEntry.id.desc())) == "wecom remove"
        count = session.execute(text("SELECT count(*) FROM subscriptions")).scalar_one()
    assert count == 1  # only the other robot's


def test_the_configured_robot(sqlite_url: str) -> None:
    services = wecom_services(sqlite_url, wecom_webhook_url=URL)
    ensure_configured_robot(services)
    ensure_configured_robot(services)  # once
    [robot] = list_robots(services)
    assert robot.name == "default" and robot.follows == ["compute", "consumption", "ecommerce"]
    add_robot(services, "default", URL, topics="compute")  # the operator narrows it; a restart keeps that
    wecom_poster(services)
    assert follows(services, "default") == ["compute"]
    services.settings.wecom_webhook_url = SecretStr(OTHER_URL)  # a new robot in the setting: its URL replaces the old
    ensure_configured_robot(services)
    assert follows(services, "default") == ["compute"]
    assert Fernet(KEY).decrypt(raw_addresses(services)[0].encode()).decode() == OTHER_URL
    services.settings.wecom_webhook_url = SecretStr("http://example.com/?key=secret-key-1")
    with pytest.raises(ConfigurationError, match="WECOM_WEBHOOK_URL: the webhook URL must use https") as error:
        ensure_configured_robot(services)
    assert "secret-key-1" not in str(error.value)
    services.close()


def test_rotation_re_encrypts_webhook_urls_and_a_missing_key_is_named(database_url: str) -> None:
    services = wecom_services(database_url)
    add_robot(services, "ops", URL, topics="compute")
    before = raw_addresses(services)
    new_key = Fernet.generate_key().decode()
    both = wecom_services(database_url, keys=f"{new_key},{KEY}")
    keys = cipher(both.settings.token_keys)
    assert keys is not None
    assert rotate_stored_tokens(both.engine, keys) == 1
    after = raw_addresses(both)
    assert after != before and Fernet(new_key).decrypt(after[0].encode()).decode() == URL
    only_new = wecom_services(database_url, keys=new_key)
    check_at_start_up(only_new.settings.token_keys, False, only_new.engine)
    only_old = wecom_services(database_url, keys=KEY)
    with pytest.raises(ConfigurationError, match=r"webhook address of channel wecom-ops .* cannot be decrypted"):
        check_at_start_up(only_old.settings.token_keys, False, only_old.engine)
    for each in (services, both, only_new, only_old):
        each.close()
