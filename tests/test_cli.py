"""The command line, run as a user runs it: a real process, a fresh database, the bundled data."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import MINI


def bot(tmp_path: Path, *args: str, stdin: str | None = None, data_dir: Path | None = None):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    env.pop("SLACK_BOT_TOKEN", None)
    env.pop("SLACK_APP_TOKEN", None)
    if data_dir:
        env["DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
    )


def test_first_ask_migrates_and_loads_the_bundled_report(tmp_path: Path) -> None:
    result = bot(tmp_path, "ask", "直播销售额")
    assert result.returncode == 0, result.stderr
    assert "1.27万亿" in result.stdout and "Traceback" not in result.stderr
    again = bot(tmp_path, "ask", "livestream", "sales")
    assert "1.27 trillion" in again.stdout


def test_ask_json_is_the_block_kit_reply(tmp_path: Path) -> None:
    result = bot(tmp_path, "ask", "--json", "--channel", "C1", "--user", "U1", "--team", "T1", "show", "1")
    payload = json.loads(result.stdout)
    assert payload["response_type"] == "ephemeral"
    assert payload["blocks"][0]["type"] == "header" and "Insight 1" in payload["blocks"][0]["text"]["text"]
    assert "Insight 1" in payload["text"]


def test_ask_lang_forces_the_language(tmp_path: Path) -> None:
    assert "算力网络布局加快" in bot(tmp_path, "ask", "--lang", "zh", "list").stdout
    assert "Computing-power" in bot(tmp_path, "ask", "--lang", "en", "列表").stdout


def test_usage_errors_exit_2_with_a_message(tmp_path: Path) -> None:
    result = bot(tmp_path, "ask", "--lang", "fr", "hello")
    assert result.returncode == 2 and "invalid choice" in result.stderr
    assert bot(tmp_path, "frobnicate").returncode == 2
    assert bot(tmp_path).returncode == 2


def test_console_answers_help_and_quits(tmp_path: Path) -> None:
    result = bot(tmp_path, "console", stdin="help\n3\n\nquit\n")
    assert result.returncode == 0, result.stderr
    assert "/insights list" in result.stdout and "Insight 3" in result.stdout


def test_run_without_credentials_opens_the_console(tmp_path: Path) -> None:
    result = bot(tmp_path, "run", stdin="help\n")  # end of input closes it
    assert result.returncode == 0 and "/insights list" in result.stdout
    assert "no chat platform credentials" in result.stderr


def test_data_check_and_load(tmp_path: Path) -> None:
    check = bot(tmp_path, "data", "check")
    assert check.returncode == 0 and "valid (10 insights" in check.stdout
    assert bot(tmp_path, "db", "upgrade").returncode == 0
    first = bot(tmp_path, "data", "load")
    assert first.returncode == 0 and "created" in first.stdout
    second = bot(tmp_path, "data", "load")
    assert second.returncode == 0 and "no changes" in second.stdout


def test_a_malformed_bundle_is_named_and_changes_nothing(tmp_path: Path) -> None:
    bundle = tmp_path / "broken"
    shutil.copytree(MINI, bundle)
    data = yaml.safe_load((bundle / "metrics.yaml").read_text(encoding="utf-8"))
    data["metrics"][1]["value"] = "a lot"
    (bundle / "metrics.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    check = bot(tmp_path, "data", "check", str(bundle))
    assert check.returncode == 1
    assert "metrics.yaml [test-livestream-sales] value" in check.stderr and "nothing was written" in check.stderr
    load = bot(tmp_path, "data", "load", str(bundle))
    assert load.returncode == 1 and "Traceback" not in load.stderr
    # A first run whose bundled data is broken says why, and leaves an empty database behind.
    ask = bot(tmp_path, "ask", "growth", data_dir=bundle)
    assert ask.returncode == 1 and "[test-livestream-sales] value" in ask.stderr and "Traceback" not in ask.stderr


@pytest.mark.parametrize("args", [("data", "load", "/nonexistent"), ("data", "check", "/nonexistent")])
def test_a_missing_bundle_is_a_clear_error(tmp_path: Path, args) -> None:
    result = bot(tmp_path, *args)
    assert result.returncode == 1 and "not a directory" in result.stderr and "Traceback" not in result.stderr


def test_channel_commands_and_digest_preview_from_the_terminal(tmp_path: Path) -> None:
    caller = ("--team", "T1", "--channel", "C9", "--user", "U5")
    assert "Subscribed to compute" in bot(tmp_path, "ask", *caller, "subscribe", "compute").stdout
    assert "added by @U5" in bot(tmp_path, "ask", *caller, "subscriptions").stdout
    preview = bot(tmp_path, "digest", "preview", "--team", "T1", "--channel", "C9", "--at", "2026-11-30T09:00+08:00")
    assert (
        preview.returncode == 0 and "Digital economy digest" in preview.stdout and "Metric spotlight" in preview.stdout
    )
    as_json = bot(tmp_path, "digest", "preview", "--channel", "C9", "--json")
    assert json.loads(as_json.stdout)["blocks"][0]["type"] == "header"
    assert bot(tmp_path, "digest", "preview", "--channel", "C404").returncode == 1
    bad = bot(tmp_path, "digest", "run", "--at", "next tuesday")
    assert bad.returncode == 2 and "--at wants an ISO time" in bad.stderr
    nowhere = bot(tmp_path, "digest", "run")
    assert nowhere.returncode == 2 and "posting digests needs SLACK_BOT_TOKEN" in nowhere.stderr
    # Without Slack credentials a run has nowhere to post: it says so instead of failing obscurely.
    assert "Posting needs a chat platform connection" in bot(tmp_path, "ask", *caller, "digest", "now").stdout


def test_tracking_from_the_terminal_and_export(tmp_path: Path) -> None:
    me = ("--team", "T1", "--channel", "C1", "--user", "U5")
    assert (
        "Recorded: National Data Administration → completed"
        in bot(tmp_path, "ask", *me, "track", "national-data-administration", "completed").stdout
    )
    # The record is workspace T1's: its history shows it, marked; the terminal without a workspace sees the
    # published facts only.
    history = bot(tmp_path, "ask", *me, "history", "national", "data", "administration").stdout
    assert "completed" in history and "recorded in this workspace" in history
    assert "completed" not in bot(tmp_path, "ask", "history", "national", "data", "administration").stdout
    assert "Following" in bot(tmp_path, "ask", *me, "follow", "livestream", "sales").stdout
    exported = bot(tmp_path, "export", "--format", "csv", "--topic", "data")
    assert exported.returncode == 0 and exported.stdout.startswith("kind,id,title_zh")
    assert "national-data-administration" in exported.stdout and ",completed," not in exported.stdout
    with_t1 = bot(tmp_path, "export", "--format", "csv", "--topic", "data", "--workspace", "T1").stdout
    assert ",completed," in with_t1 and ",T1" in with_t1
    data = json.loads(bot(tmp_path, "export", "--format", "json").stdout)
    assert len(data["metrics"]) >= 45 and data["metrics"][0]["series"]
    wrong = bot(tmp_path, "export", "--topic", "nonsense")
    assert wrong.returncode == 2 and "is not a topic" in wrong.stderr


def test_a_question_in_the_terminal_loads_no_loader_migrations_or_platform_sdk(tmp_path: Path) -> None:
    """Issue 14's cold start: on a ready database `bot ask` imports only what answering needs."""
    assert bot(tmp_path, "ask", "help").returncode == 0  # migrates and loads the bundled report
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "PYTHONPROFILEIMPORTTIME": "1"}
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_CLIENT_ID", "FEISHU_APP_ID", "DINGTALK_CLIENT_ID"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "help"], capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path
    )
    assert result.returncode == 0 and "/insights list" in result.stdout
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time")}
    unused = {"bot.catalog.loader", "alembic", "yaml", "slack_bolt", "slack_sdk", "lark_oapi", "dingtalk_stream"}
    assert imported and not imported & unused, imported & unused
