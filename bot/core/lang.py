"""Reply languages, and telling Chinese text from the rest."""

from __future__ import annotations

import re
from typing import Literal

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

# CJK ideographs (unified, extension A, compatibility) and the supplementary planes used for rare characters.
CJK_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
CJK_CHAR = re.compile(rf"[{CJK_RANGES}]")


def detect_lang(text: str) -> Lang:
    """Chinese when the text has a Chinese character; English otherwise."""
    return "zh" if CJK_CHAR.search(text) else "en"
