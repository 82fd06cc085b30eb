import pytest

from bot.commands.parser import MAX_TEXT, clean
from bot.commands.router import PARSER
from bot.core.errors import UsageError
from bot.core.lang import detect_lang

parse, closest_command = PARSER.parse, PARSER.closest


@pytest.mark.parametrize(
    ("text", "name", "arg"),
    [
        ("", "help", ""),
        ("   ", "help", ""),
        ("help", "help", ""),
        ("帮助", "help", ""),
        ("LIST", "list", ""),
        ("3", "show", "3"),
        ("show 10", "show", "10"),
        ("查看 三", "show", "3"),
        ("第五条", "show", "5"),
        ("metric compute", "metric", "compute"),
        ("指标 直播", "metric", "直播"),
        ("policies", "policy", ""),
        ("topics", "topics", ""),
        ("search 算力", "search", "算力"),
        ("直播销售额", "search", "直播销售额"),
        ("livestream sales", "search", "livestream sales"),
        ("list of digital jobs", "search", "list of digital jobs"),
    ],
)
def test_commands(text: str, name: str, arg: str) -> None:
    command = parse(text)
    assert (command.name, command.arg) == (name, arg)


@pytest.mark.parametrize("text", ["show", "show 0", "show 11", "show x", "search", "search   "])
def test_malformed_commands_raise_a_usage_error_with_an_example(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(text)
    assert caught.value.example and caught.value.key


def test_language_follows_the_text_unless_forced() -> None:
    assert parse("算力").lang == "zh" and parse("compute").lang == "en"
    assert parse("算力", "en").lang == "en"
    assert detect_lang("5G") == "en"


def test_control_characters_and_long_text_are_cleaned() -> None:
    assert clean("a\x00b\u200bc\n\td") == ("a b c d", False)
    text, truncated = clean("算" * 10_000)
    assert truncated and len(text) == MAX_TEXT
    assert parse("直播" * 5000).truncated


def test_closest_command_corrects_the_first_word() -> None:
    assert closest_command("shw 3") == "show 3"
    assert closest_command("metrc 直播") == "metric 直播"
    assert closest_command("livestream") is None
    assert closest_command("直播") is None


def test_closest_never_turns_a_question_into_a_command() -> None:
    # "how" is close to "show", but "many large models ..." is no insight number.
    assert closest_command("how many large models with more than 1 billion parameters") is None
    assert closest_command("lsit") == "list"
    assert closest_command("lsit of digital jobs") is None  # list takes nothing: the rest is a question
    assert closest_command("serch") is None  # search needs words
