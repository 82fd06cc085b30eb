import datetime as dt
from pathlib import Path

import yaml

from bot.catalog.loader import load_bundle, read_bundle
from bot.digest.compose import Composer, compose
from bot.digest.store import find_channel
from bot.legacy_render import Renderer, check_blocks
from bot.services import Services
from tests.digest.conftest import say

NOW = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)


def test_a_digest_stays_within_block_kit_limits_at_any_pool_size(services: Services, tmp_path: Path) -> None:
    report = Path(__file__).parents[2] / "data"
    with services.session_factory.begin() as session:
        load_bundle(session, read_bundle(report))
    topics = "compute, data, industry, transformation, consumption, government, regional, governance, security, opening"
    say(services, f"subscribe {topics}, keyword:数据")
    say(services, "lang both")
    # A new edition that changes every figure: far more changes than a digest shows.
    bundle = tmp_path / "edition"
    bundle.mkdir()
    for name in ("report.yaml", "topics.yaml", "insights.yaml", "policies.yaml", "glossary.yaml"):
        (bundle / name).write_text((report / name).read_text(encoding="utf-8"), encoding="utf-8")
    metrics = yaml.safe_load((report / "metrics.yaml").read_text(encoding="utf-8"))
    for metric in metrics["metrics"]:
        metric["value"] = float(metric["value"]) + 1
    (bundle / "metrics.yaml").write_text(yaml.safe_dump(metrics, allow_unicode=True), encoding="utf-8")
    with services.session_factory.begin() as session:
        load_bundle(session, read_bundle(bundle))
    with services.session_factory() as session:
        digest = compose(session, find_channel(session, "T1", "C1"), now=NOW)
        rendered = Renderer().render(digest.reply)
    assert check_blocks(rendered.blocks) == []
    assert len(digest.reply.context["changes"]) == 8 and digest.reply.context["more_changes"] > 40
    assert "and changes to" in rendered.text and "个条目有变化" in rendered.text  # both languages


def test_an_empty_digest_says_so_briefly(services: Services) -> None:
    say(services, "subscribe keyword:量子计算")  # a keyword nothing in the data mentions
    with services.session_factory() as session:
        digest = compose(session, find_channel(session, "T1", "C1"), now=NOW)
        rendered = Renderer().render(digest.reply)
    assert digest.empty and "Nothing new for this channel's subscriptions" in rendered.text
    assert check_blocks(rendered.blocks) == []


def test_channels_with_the_same_subscriptions_share_one_rendering(services: Services) -> None:
    for channel in ("C1", "C2"):
        say(services, "subscribe consumption", channel=channel)
    renderer = Renderer()
    with services.session_factory() as session:
        composer = Composer(session, NOW)
        one, two = (composer.compose(find_channel(session, "T1", c), period_key="2027-W09") for c in ("C1", "C2"))
        assert composer.render(one, renderer) is composer.render(two, renderer)
