import datetime as dt
from pathlib import Path

import yaml
from slack_sdk import WebClient

from bot.catalog.loader import load_bundle, read_bundle
from bot.digest.compose import Composer, compose
from bot.digest.store import find_channel
from bot.services import Services
from bot.slack.poster import SlackPoster
from tests.conftest import RENDERER, slack_of
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
        digest = compose(session, find_channel(session, "C1"), now=NOW)
        rendered = slack_of(digest.reply)  # slack_sdk's models refuse anything over Slack's limits
    assert len(digest.reply.context["changes"]) == 8 and digest.reply.context["more_changes"] > 40
    assert "and changes to" in rendered.text and "个条目有变化" in rendered.text  # both languages


def test_an_empty_digest_says_so_briefly(services: Services) -> None:
    say(services, "subscribe keyword:量子计算")  # a keyword nothing in the data mentions
    with services.session_factory() as session:
        digest = compose(session, find_channel(session, "C1"), now=NOW)
        rendered = slack_of(digest.reply)
    assert digest.empty and "Nothing new for this channel's subscriptions" in rendered.text


def test_channels_with_the_same_subscriptions_share_one_rendering(services: Services) -> None:
    for channel in ("C1", "C2"):
        say(services, "subscribe consumption", channel=channel)
    poster = SlackPoster(lambda team: WebClient())
    with services.session_factory() as session:
        composer = Composer(session, NOW)
        one, two = (composer.compose(find_channel(session, c), period_key="2027-W09") for c in ("C1", "C2"))
        assert composer.payload(one, RENDERER, poster) is composer.payload(two, RENDERER, poster)
