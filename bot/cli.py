"""`bot` on the command line. Each command is a short wrapper around a domain function; imports stay lazy so that
`bot ask` starts fast (Slack's libraries are only imported by the commands that serve Slack)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import threading
import uuid
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from bot.core.errors import ConfigurationError

if TYPE_CHECKING:
    from bot.core.caller import Caller
    from bot.core.lang import Lang
    from bot.core.reply import Reply
    from bot.services import Services

log = logging.getLogger("bot")


def _services() -> Services:
    from bot.services import create_services

    return create_services()


def _ready_services() -> Services:
    from bot.services import ensure_ready

    services = _services()
    ensure_ready(services)
    if services.settings.oauth or services.settings.token_encryption_keys:
        from bot.slack.secrets import check_at_start_up

        # OAuth mode needs TOKEN_ENCRYPTION_KEYS, and a key that reads the stored tokens: say so now, not at a
        # workspace's next request; and encrypt any token still stored in plaintext.
        check_at_start_up(services.settings.token_keys, services.settings.oauth, services.engine)
    return services


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from bot.store.db import upgrade

    upgrade(_services().engine, args.revision)
    print(f"database at revision {args.revision}")
    return 0


def cmd_secrets_rotate(args: argparse.Namespace) -> int:
    from bot.slack.secrets import require_cipher, rotate_stored_tokens
    from bot.store.db import is_migrated, upgrade

    services = _services()
    keys = require_cipher(services.settings.token_keys)
    if not is_migrated(services.engine):
        upgrade(services.engine)
    count = rotate_stored_tokens(services.engine, keys)
    print(
        f"{count} stored secret(s) (Slack tokens, WeCom webhook URLs) encrypted with the first key of "
        "TOKEN_ENCRYPTION_KEYS; "
        "the keys after it can now be removed"
    )
    return 0


def cmd_data_load(args: argparse.Namespace) -> int:
    from bot.catalog.loader import load_bundle, read_bundle, summary
    from bot.store.db import is_migrated, upgrade

    services = _services()
    bundle = read_bundle(Path(args.path or services.settings.data_dir))
    if not is_migrated(services.engine):
        upgrade(services.engine)
    with services.session_factory.begin() as session:
        print(summary(load_bundle(session, bundle)))
    return 0


def cmd_data_check(args: argparse.Namespace) -> int:
    from bot.catalog.loader import read_bundle

    path = Path(args.path or _services().settings.data_dir)
    bundle = read_bundle(path)
    print(
        f"{path}: valid ({len(bundle.insights)} insights, {len(bundle.metrics)} metrics, "
        f"{len(bundle.policies)} policy items, {len(bundle.topics)} topics, {len(bundle.glossary)} glossary terms)"
    )
    return 0


def _render(services: Services, as_json: bool) -> Callable[[Reply], str]:
    """What a reply looks like on the terminal: plain text, or the Block Kit payload Slack would receive."""
    if as_json:
        from bot.slack.blocks import to_slack

        def slack_json(reply: Reply) -> str:
            return json.dumps(to_slack(services.renderer.message(reply)).payload(), ensure_ascii=False, indent=2)

        return slack_json
    from bot.render.text import plain_text

    def text(reply: Reply) -> str:
        return plain_text(services.renderer.message(reply))

    return text


def _ask(
    services: Services, text: str, lang: Lang | None, render: Callable[[Reply], str], caller: Caller | None = None
) -> str:
    from bot.commands.router import ask

    return ask(services, text, render, lang=lang, caller=caller)


def cmd_ask(args: argparse.Namespace) -> int:
    services = _ready_services()
    print(_ask(services, " ".join(args.text), args.lang, _render(services, args.json), _caller(services, args)))
    return 0


def _caller(services: Services, args: argparse.Namespace) -> Caller | None:
    """The channel and person `bot ask` speaks for; with Slack credentials, `digest now` really posts."""
    from bot.core.caller import Caller

    if not args.channel:
        return None
    team, user = args.team or "T1", args.user or "UCLI"
    from bot import platforms

    connected = platforms.posters(services)
    if platforms.platform_of(team) not in connected:
        return Caller(team, args.channel, user)
    runner = platforms.runner(services, connected)
    return Caller(team, args.channel, user, post_now=partial(runner.deliver_now, args.channel))


def cmd_console(args: argparse.Namespace) -> int:
    services = _ready_services()
    render = _render(services, as_json=False)
    print("Type a command as you would after /insights (help, list, 3, 直播销售额 ...); quit or Ctrl-D to leave.")
    while True:
        try:
            line = input("insights> ")
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if line.strip().lower() in {"quit", "exit", "q", "退出"}:
            return 0
        print(_ask(services, line, args.lang, render))
        print()


def cmd_serve(args: argparse.Namespace) -> int:
    from bot.platforms import web_app
    from bot.slack.web import serve

    services = _ready_services()  # migrate and load once, before the workers start
    if services.settings.has_slack_credentials or not services.settings.has_feishu_credentials:
        from bot.slack.app import create_app

        create_app(services)  # fail here, with a clear message, rather than in every worker
    services.close()
    serve(args.host, args.port, args.workers, factory=web_app)
    return 0


def cmd_socket(args: argparse.Namespace) -> int:
    from bot.slack.socket import run_socket_mode

    run_socket_mode(_ready_services())
    return 0


def cmd_clock(args: argparse.Namespace) -> int:
    from bot.clock import run_clock

    run_clock(_ready_services())
    return 0


def _at(value: str | None) -> dt.datetime:
    if value is None:
        return dt.datetime.now(dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as error:
        raise ConfigurationError(f"--at wants an ISO time such as 2026-11-30T09:00+08:00, not {value!r}") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def cmd_digest_preview(args: argparse.Namespace) -> int:
    from bot.digest.compose import compose
    from bot.digest.store import find_channel

    services = _ready_services()
    with services.session_factory() as session:
        channel = find_channel(session, args.channel)
        if channel is None:
            print(f"channel {args.channel} in team {args.team} follows nothing", file=sys.stderr)
            return 1
        print(_render(services, args.json)(compose(session, channel, now=_at(args.at)).reply))
    return 0


def cmd_digest_run(args: argparse.Namespace) -> int:
    from bot.clock import tick
    from bot.platforms import runner

    at = _at(args.at)
    print(tick(runner(_ready_services()), at))
    return 0


def cmd_wecom_add(args: argparse.Namespace) -> int:
    from bot.wecom.robots import add_robot

    url = sys.stdin.readline() if args.url == "-" else args.url  # "-": from stdin, out of the process list
    said = add_robot(_ready_services(), args.name, url, topics=args.topics, lang=args.lang, schedule=args.schedule)
    print("\n".join(said))
    return 0


def cmd_wecom_list(args: argparse.Namespace) -> int:
    from bot.wecom.robots import list_robots, robots_table

    print(robots_table(list_robots(_ready_services())))
    return 0


def cmd_wecom_remove(args: argparse.Namespace) -> int:
    from bot.wecom.robots import remove_robot

    removed = remove_robot(_ready_services(), args.name)
    print(f"WeCom robot {args.name} removed" if removed else f"no WeCom robot named {args.name}")
    return 0 if removed else 1


def cmd_export(args: argparse.Namespace) -> int:
    from bot.tracking.export import export

    services = _ready_services()
    with services.session_factory() as session:
        topic = None
        if args.topic:
            from bot.catalog.reference import reference

            found = reference(session).find_topic(args.topic)
            if found is None:
                raise ConfigurationError(f"--topic {args.topic!r} is not a topic (see: bot ask topics)")
            topic = found.slug
        sys.stdout.write(export(session, args.format, topic, args.workspace))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Everything a small install needs in one process: every platform whose credentials are set (Slack in Socket
    Mode with an app token, over HTTP otherwise; Feishu's long connection or HTTP callbacks; DingTalk's Stream) and
    the digest clock; the local console when none is."""
    from bot import platforms

    services = _ready_services()
    settings = services.settings
    connected = platforms.posters(services)
    if connected:
        from bot.clock import run_clock

        # The digest clock, in this process, beside the apps; it and the receivers share the posters (and so each
        # platform's pace).
        run_clock(services, blocking=False, runner=platforms.runner(services, connected))
    receivers = platforms.start_receivers(services, platforms.runner(services, connected) if connected else None)
    if settings.slack_app_token:
        return cmd_socket(args)
    if settings.has_slack_credentials or (settings.has_feishu_credentials and settings.feishu_events == "http"):
        return cmd_serve(args)
    if receivers or connected:
        threading.Event().wait()  # the receivers' threads and the clock do the work until the process is stopped
        return 0
    log.warning("no chat platform credentials set: opening the local console (README: 'Connect to Slack')")
    return cmd_console(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bot", description="Digital-economy insights bot")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = commands.add_parser("db", help="database migrations").add_subparsers(dest="db_command", required=True)
    upgrade = db.add_parser("upgrade", help="migrate the database to the latest revision")
    upgrade.add_argument("revision", nargs="?", default="head")
    upgrade.set_defaults(func=cmd_db_upgrade)

    secrets = commands.add_parser(
        "secrets", help="the encryption of stored secrets (Slack tokens, WeCom webhooks)"
    ).add_subparsers(dest="secrets_command", required=True)
    rotate = secrets.add_parser(
        "rotate", help="re-encrypt every stored secret with the first key of TOKEN_ENCRYPTION_KEYS"
    )
    rotate.set_defaults(func=cmd_secrets_rotate)

    data = commands.add_parser("data", help="report data").add_subparsers(dest="data_command", required=True)
    load = data.add_parser("load", help="load a data bundle (default: the bundled report)")
    load.add_argument("path", nargs="?")
    load.set_defaults(func=cmd_data_load)
    check = data.add_parser("check", help="validate a data bundle without writing")
    check.add_argument("path", nargs="?")
    check.set_defaults(func=cmd_data_check)

    ask = commands.add_parser("ask", help="print the reply /insights TEXT would get")
    ask.add_argument("--channel", help="Slack channel id the command comes from")
    ask.add_argument("--user", help="Slack user id of the caller")
    ask.add_argument("--team", help="Slack team (workspace) id")
    ask.add_argument("--lang", choices=["zh", "en"], help="reply language (default: the question's)")
    ask.add_argument("--json", action="store_true", help="print the Block Kit JSON Slack would receive")
    ask.add_argument("text", nargs="*", help="the command text, e.g. 直播销售额 or 'show 3'")
    ask.set_defaults(func=cmd_ask)

    console = commands.add_parser("console", help="interactive prompt")
    console.add_argument("--lang", choices=["zh", "en"], help="reply language (default: the question's)")
    console.set_defaults(func=cmd_console)

    for name, func, text in (
        ("serve", cmd_serve, "the Slack app over HTTP (gunicorn)"),
        ("run", cmd_run, "the bot: Socket Mode, HTTP, or the console without credentials"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a server's job is to listen
        sub.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
        sub.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))
        sub.add_argument("--lang", choices=["zh", "en"], help=argparse.SUPPRESS)
        sub.set_defaults(func=func)
    commands.add_parser("socket", help="the Slack app over Socket Mode (SLACK_APP_TOKEN)").set_defaults(func=cmd_socket)
    commands.add_parser("clock", help="post digests when due (one tick every 30 s)").set_defaults(func=cmd_clock)
    digest = commands.add_parser("digest", help="digests").add_subparsers(dest="digest_command", required=True)
    preview = digest.add_parser("preview", help="what a channel would get next")
    preview.add_argument("--channel", required=True)
    preview.add_argument("--team", default="T1")
    preview.add_argument("--at", help="as of this ISO time (default now)")
    preview.add_argument("--json", action="store_true", help="the Block Kit JSON")
    preview.set_defaults(func=cmd_digest_preview)
    export = commands.add_parser("export", help="metrics with their series, policy items with their history")
    export.add_argument("--format", choices=["csv", "json"], default="csv")
    export.add_argument("--topic", help="only this topic (slug or name)")
    export.add_argument(
        "--workspace", help="with this workspace's own records (statuses and notes from chat): its team id, or E/T"
    )
    export.set_defaults(func=cmd_export)
    run = digest.add_parser("run", help="one tick: claim and post what is due")
    run.add_argument("--at", help="as of this ISO time (default now)")
    run.set_defaults(func=cmd_digest_run)
    wecom = commands.add_parser("wecom", help="WeCom group robots that receive digests").add_subparsers(
        dest="wecom_command", required=True
    )
    wecom_add = wecom.add_parser("add", help="add a robot by its webhook URL, or change its URL and settings")
    wecom_add.add_argument("name", help="a name for the robot: lower-case letters, digits, - and _")
    wecom_add.add_argument("url", metavar="WEBHOOK_URL", help="the robot's webhook URL (- reads it from stdin)")
    wecom_add.add_argument("--topics", help="what it follows, as for subscribe: compute,data,keyword:直播 (new: all)")
    wecom_add.add_argument("--lang", choices=["zh", "en", "both"], help="the digest's language")
    wecom_add.add_argument("--schedule", help="as for schedule: 'weekly mon 09:00', 'daily 08:30 Asia/Shanghai'")
    wecom_add.set_defaults(func=cmd_wecom_add)
    wecom.add_parser("list", help="the robots, what they follow, when, paused or not").set_defaults(func=cmd_wecom_list)
    wecom_remove = wecom.add_parser("remove", help="remove a robot and its subscriptions")
    wecom_remove.add_argument("name")
    wecom_remove.set_defaults(func=cmd_wecom_remove)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from bot.logs import configure
    from bot.settings import Settings

    settings = Settings()
    configure(
        settings.log_level,
        secrets=(
            settings.slack_signing_secret,
            settings.slack_client_secret,
            *settings.token_keys,
            *(
                secret.get_secret_value()
                for secret in (
                    settings.feishu_app_secret,
                    settings.feishu_encrypt_key,
                    settings.feishu_verification_token,
                    settings.dingtalk_client_secret,
                    settings.wecom_webhook_url,
                )
                if secret is not None
            ),
        ),
    )
    from bot.catalog.problems import DataError

    try:
        result: int = args.func(args)
    except ConfigurationError as error:
        print(f"Configuration: {error}", file=sys.stderr)
        return 2
    except DataError as error:
        print(f"{len(error.problems)} problem(s) in the data, nothing was written:", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    except Exception as error:
        # The one error policy for the terminal: a short message with an id; the traceback only with LOG_LEVEL=DEBUG.
        error_id = uuid.uuid4().hex[:8]
        log.error("unexpected error %s: %s", error_id, error, exc_info=log.isEnabledFor(logging.DEBUG))
        print(f"Something went wrong (error id {error_id}). Run with LOG_LEVEL=DEBUG for details.", file=sys.stderr)
        return 1
    return result
