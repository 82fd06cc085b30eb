"""The terminal's text (bot ask) from the Message."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.render import Renderer
from bot.render.text import plain_text
from tests.render.replies import answer, digest_reply, mini

__all__ = ["mini"]  # a fixture

renderer = Renderer()


@pytest.mark.parametrize("text", ["help", "帮助", "列表", "show 1", "show 2", "直播", "metric ecommerce", "digest"])
def test_the_terminal_shows_no_mrkdwn(mini: Any, text: str) -> None:
    reply = digest_reply(mini, "en") if text == "digest" else answer(mini, text)
    new = plain_text(renderer.message(reply))
    assert new.strip() and not re.search(r"[*`]|(^|\s)_", new), new


def test_terminal_text_keeps_data_as_typed(mini: Any) -> None:
    new = plain_text(renderer.message(digest_reply(mini, "en")))
    assert "note Revised <!here> & R&D (topic ecommerce, keyword “直播”)" in new


def test_a_bilingual_digest_in_the_terminal(mini: Any) -> None:
    new = plain_text(renderer.message(digest_reply(mini, "both")))
    zh, en = new.split("\n\n――――――――\n\n")
    assert zh.startswith("数字经济摘要 · 2027-W09") and "有什么变化" in zh and "Source" not in zh
    assert en.startswith("What changed") and en.endswith("Schedule: weekly on Monday at 09:00 (Asia/Shanghai)")
