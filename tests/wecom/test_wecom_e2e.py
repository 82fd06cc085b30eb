"""WeCom end to end: the real `bot` process adds robots and posts digests to the WeCom stand-in, on SQLite and on
PostgreSQL. One digest per robot and period (in parts of at most 4096 bytes, in order), nothing posted twice, a
45009 retried later, a removed robot paused, the webhook URLs encrypted at rest."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text, update

from bot.commands.router import ask
from bot.core.caller import Caller
from bot.services import create_services
from bot.store.models import Channel
from tests.conftest import MINI, text_of
from tests.wecom.conftest import KEY
from tests.wecom.fake_wecom import FakeWeCom

PLATFORM_VARIABLES = ("SLACK_", "FEISHU_", "DINGTALK_", "WECOM_", "TOKEN_ENCRYPTION_KEYS", "DATABASE_URL", "DATA_DIR")


def bot(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(PLATFORM_VARIABLES)}
    environment.update(DATABASE_URL=database_url, DATA_DIR=str(MINI), TOKEN_ENCRYPTION_KEYS=KEY, NO_PROXY="127.0.0.1")
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        cwd=Path(__file__).parents[2],
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def sql(database_url: str, statement: str) -> list[tuple[object, ...]]:
    engine = create_engine(database_url)
    with engine.begin() as connection:
        result = connection.execute(text(statement))
        rows = [tuple(row) for row in result] if result.returns_rows else []
    engine.dispose()
    return rows


def backdate(database_url: str, when: dt.datetime) -> None:
    """The robots were added before the period now due (else it is not owed to them)."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(update(Channel).values(created_at=when))
    engine.dispose()


def digests(fake: FakeWeCom, key: str) -> list[list[str]]:
    """The digests a robot received, each as its parts (a part after the first starts with its marker "(k/n)")."""
    found: list[list[str]] = []
    for content in fake.contents(key):
        if content.startswith("(") and found:
            found[-1].append(content)
        else:
            found.append([content])
    return found


def check_digest(parts: list[str]) -> None:
    assert parts[0].startswith("### ")
    for number, part in enumerate(parts[1:], start=2):
        assert part.startswith(f"({number}/{len(parts)})\n\n")
    assert all(len(part.encode("utf-8")) <= 4096 for part in parts)
    assert parts[-1].rstrip().endswith("</font>")  # the source line closes the digest: nothing lost at the end


def test_digests_to_wecom_robots(database_url: str) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with FakeWeCom(keys=("K1", "K2", "K3")) as fake:
        added = ok(bot(database_url, "wecom", "add", "ops", fake.url("K1"), "--topics", "compute", "--lang", "both"))
        assert "WeCom robot ops added (workspace wecom:ops)." in added and "Subscribed to compute" in added
        ok(bot(database_url, "wecom", "add", "busy", fake.url("K2"), "--topics", "compute"))
        ok(bot(database_url, "wecom", "add", "gone", fake.url("K3"), "--topics", "compute"))
        bad = bot(database_url, "wecom", "add", "bad", fake.url("K1"), "--topics", "quantum")
        assert bad.returncode == 2 and "Not a topic: quantum" in bad.stderr and "Traceback" not in bad.stderr

        # Notes recorded for ops make its "What changed" long: a digest of several parts.
        services = create_services(database_url=database_url, data_dir=MINI, token_encryption_keys=KEY)
        caller = Caller("wecom:ops", "wecom-ops", "operator", is_admin=lambda: True)
        for i in range(12):
            note = f"note test-compute-growth: 第{i}条备注 " + "算力网络布局加快" * 30
            assert ask(services, note, text_of, caller=caller) == "备注已保存。"
        services.close()
        backdate(database_url, now - dt.timedelta(days=8))
        fake.throttle("K2")  # another sender used up busy's minute: WeCom says 45009
        fake.remove("K3")  # gone's robot was removed from its group: WeCom says 93000

        first = ok(bot(database_url, "digest", "run", "--at", now.isoformat()))
        assert "posted 1" in first and "retry 1" in first and "paused 1" in first, first
        [ops] = digests(fake, "K1")
        check_digest(ops)
        assert len(ops) > 1, "the notes should need more than one part"
        assert "数字经济摘要" in ops[0] and "第11条备注" in "".join(ops)
        assert digests(fake, "K2") == [] and digests(fake, "K3") == []

        # Again: nothing is posted twice; the robot that WeCom throttled is not due yet.
        fake.throttle("K2")  # and it is still over its minute
        again = ok(bot(database_url, "digest", "run", "--at", now.isoformat()))
        assert "posted" not in again and len(fake.contents("K1")) == len(ops)

        # The minute is over: the 45009 is retried and posts once.
        fake.reset("K2")
        later = ok(bot(database_url, "digest", "run", "--at", (now + dt.timedelta(minutes=3)).isoformat()))
        assert "posted 1" in later, later
        [busy] = digests(fake, "K2")
        check_digest(busy)
        assert digests(fake, "K3") == []
        ok(bot(database_url, "digest", "run", "--at", (now + dt.timedelta(minutes=6)).isoformat()))
        assert [len(d) for d in digests(fake, "K1")] == [len(ops)] and len(digests(fake, "K2")) == 1

        # The removed robot (93000) is paused, and the list says so; no URL is ever shown.
        listed = ok(bot(database_url, "wecom", "list"))
        lines = {line.split()[0]: line for line in listed.splitlines()[1:]}
        assert "paused: wecom_invalid_webhook" in lines["gone"] and lines["ops"].endswith("active")
        assert "key=" not in listed and "127.0.0.1" not in listed

        # Stored encrypted: nothing of a webhook URL in the table.
        addresses = [row[0] for row in sql(database_url, "SELECT address FROM channels")]
        assert len(addresses) == 3 and all(str(a).startswith("gAAAAA") for a in addresses)
        dump = " ".join(str(row) for row in sql(database_url, "SELECT * FROM channels"))
        assert "?key=" not in dump and "cgi-bin" not in dump and "127.0.0.1" not in dump

        removed = ok(bot(database_url, "wecom", "remove", "gone"))
        assert "removed" in removed
        assert bot(database_url, "wecom", "remove", "gone").returncode == 1


def test_the_webhook_setting_alone_delivers_digests(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'bot.db'}"
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with FakeWeCom(keys=("K9",)) as fake:
        first = ok(bot(database_url, "digest", "run", "--at", now.isoformat(), WECOM_WEBHOOK_URL=fake.url("K9")))
        assert "posted" not in first  # the robot is new: this period was due before it existed
        backdate(database_url, now - dt.timedelta(days=8))
        second = ok(bot(database_url, "digest", "run", "--at", now.isoformat(), WECOM_WEBHOOK_URL=fake.url("K9")))
        assert "posted 1" in second
        [digest] = digests(fake, "K9")
        check_digest(digest)
        listed = ok(bot(database_url, "wecom", "list"))
        assert "default" in listed and "compute, consumption, ecommerce" in listed and "K9" not in listed

    no_key = bot(database_url, "wecom", "add", "ops", "https://qyapi.weixin.qq.com/x?key=k", TOKEN_ENCRYPTION_KEYS="")
    assert no_key.returncode == 2 and "Configuration: TOKEN_ENCRYPTION_KEYS is not set" in no_key.stderr
