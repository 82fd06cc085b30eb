"""The router follows the features' declarations: parsing, caching, transactions and permissions."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from bot.commands.parser import Parser
from bot.commands.router import PARSER, answer, ask
from bot.core.caller import Caller
from bot.core.commands import CommandSpec, Request
from bot.core.reply import Reply
from bot.services import Services
from bot.store.models import Channel

SPECS = list(PARSER.specs.values())


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_every_declared_example_runs_its_own_command(spec: CommandSpec) -> None:
    assert PARSER.parse(spec.example).spec is spec


def test_an_alias_names_one_command() -> None:
    with pytest.raises(ValueError, match="names both"):
        Parser(
            [*SPECS, CommandSpec("hello", ("help",), lambda r: Reply("help", "en"), "hello")],
            default="help",
            fallback="search",
        )


def test_adding_a_command_is_one_declaration_and_one_handler(session: Session) -> None:
    def hello(request: Request) -> Reply:
        return Reply("notice", request.lang, {"key": "hello", "args": {"who": request.arg}})

    parser = Parser([*SPECS, CommandSpec("hello", ("你好",), hello, "hello world")], default="help", fallback="search")
    reply = answer(session, parser.parse("你好 世界"))
    assert (reply.lang, reply.context["args"]) == ("zh", {"who": "世界"})


def _keys(reply: Reply) -> str:
    return str(reply.context.get("key"))


@pytest.mark.parametrize("spec", [s for s in SPECS if s.access != "anyone"], ids=lambda s: s.name)
def test_commands_that_need_a_caller_say_so_without_one(session: Session, spec: CommandSpec) -> None:
    assert _keys(answer(session, PARSER.parse(spec.example))) == "needs_channel"


def test_admin_commands_refuse_others_and_restricted_channels_refuse_edits(session: Session) -> None:
    member = Caller("T1", "C1", "U1")
    admin = Caller("T1", "C1", "U2", is_admin=lambda: True)
    assert _keys(answer(session, PARSER.parse("restrict on"), caller=member)) == "admins_only"
    assert _keys(answer(session, PARSER.parse("restrict on"), caller=Caller("T1", "C1", "UB"), admins=["UB"])) != (
        "admins_only"
    )
    session.add(Channel(team_id="T1", channel_id="C1", set_up_by="U2", restricted=True))
    session.flush()
    editors = [s for s in SPECS if s.access == "editor"]
    for spec in editors:
        assert _keys(answer(session, PARSER.parse(spec.example), caller=member)) == "restricted_channel", spec.name
        assert _keys(answer(session, PARSER.parse(spec.example), caller=admin)) != "restricted_channel", spec.name
    # The same person elsewhere (another channel of the workspace) is not restricted by it.
    elsewhere = Caller("T1", "C2", "U1")
    assert _keys(answer(session, PARSER.parse("track test-data-bureau completed"), caller=elsewhere)) != (
        "restricted_channel"
    )


def test_personal_answers_are_never_cached_and_the_rest_are(mini_services: Services) -> None:
    def render(reply: Reply) -> object:
        return object()

    caller = Caller("T1", "C1", "U1")
    assert ask(mini_services, "help", render) is ask(mini_services, " help ", render)
    personal = [s for s in SPECS if s.personal]
    assert {"subscribe", "track", "note", "follow", "following", "subscriptions", "digest"} <= {
        s.name for s in personal
    }
    for spec in personal:
        assert ask(mini_services, spec.example, render, caller=caller) is not ask(
            mini_services, spec.example, render, caller=caller
        ), spec.name
