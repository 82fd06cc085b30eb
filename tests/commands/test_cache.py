import shutil
from pathlib import Path

import yaml

from bot.catalog.loader import load_bundle, read_bundle
from bot.commands.router import ask
from bot.core.cache import ReplyCache
from bot.services import Services
from tests.conftest import MINI, slack_of, text_of


def test_a_repeated_question_is_served_from_the_cache(mini_services: Services) -> None:
    first = ask(mini_services, "直播销售额", slack_of)
    assert ask(mini_services, "  直播销售额 ", slack_of) is first  # the same question, cleaned
    assert ask(mini_services, "直播销售额", text_of) is not first  # another platform's rendering
    assert ask(mini_services, "直播销售额", slack_of, lang="en") is not first


def test_a_data_change_makes_remembered_answers_stale(mini_services: Services, tmp_path: Path) -> None:
    before = ask(mini_services, "直播销售额", text_of)
    bundle = tmp_path / "bundle"
    shutil.copytree(MINI, bundle)
    data = yaml.safe_load((bundle / "metrics.yaml").read_text(encoding="utf-8"))
    data["metrics"][1]["value"] = 11.11
    (bundle / "metrics.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with mini_services.session_factory.begin() as session:
        load_bundle(session, read_bundle(bundle))
    after = ask(mini_services, "直播销售额", text_of)
    assert "9.99万亿元" in before and "11.11万亿元" in after


def test_the_cache_forgets_the_least_recently_used() -> None:
    cache = ReplyCache(size=2)
    keys = [(str(i), None, 0, None, True, 1) for i in range(3)]
    for key in keys:
        cache.put(key, object())  # type: ignore[arg-type]
    assert cache.get(keys[0]) is None and cache.get(keys[2]) is not None


def test_a_zero_size_cache_remembers_nothing() -> None:
    cache = ReplyCache(size=0)
    key = ("x", None, 0, None, True, 1)
    cache.put(key, object())  # type: ignore[arg-type]
    assert cache.get(key) is None
