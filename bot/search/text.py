"""Turning text into search tokens: overlapping CJK bigrams plus lower-case Latin words.

Chinese queries are usually two to four characters (算力, 直播, 数据要素). Bigrams find them wherever they stand,
including inside longer words (元宇宙 in 文旅元宇宙), which word segmenters miss (see DESIGN.md for the figures).
The same function tokenises documents and queries, so both sides always agree; both are first converted from
traditional to simplified characters (數據局 is 数据局), which leaves the simplified report unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from bot.core.lang import CJK_CHAR, CJK_RANGES

_RUN = re.compile(rf"[{CJK_RANGES}]+|[a-z0-9]+")

# What a question carries that the report never states: question words, measure words after them, verbs asking for
# a status. Removed before bigrams so they cannot block a match, longest first so 是多少 goes whole.
ZH_FILLER = re.compile(
    r"(?:是|有)?(?:多少|几)(?:[个家项条种名位座台次场人]|[万亿]*元|[万亿]+)?|(?:是|有)?多[大高快长久]|第几|"
    r"(?:什么时候|何时|哪一年)(?:成立|组建|发布|出台|印发|实施)?|(?:是|有)?(?:哪些|哪个|哪里|什么)|"
    r"怎么样|如何|进展|情况|现状|状态|请问|成立了?吗|吗|呢|的|了|么"
)
# "2023年直播销售额": the year stands apart, so 年直 (a bigram no document has) cannot block the match.
ZH_YEAR = re.compile(r"(\d{4})年")
EN_QUESTION = re.compile(
    r"\bhow (?:many|much|big|large|high|fast|long)\b|\b(?:more|less|fewer) than\b|\bat least\b"
    r"|\b(?:established|founded|set up)\b"
)
EN_STOPWORDS = frozenset(
    "a an and are as at be been by did do does for from has have how in is it many much of on or over the there to"
    " s was were what whats when where which who why with number status progress".split()
)


# A question asking for a number (多少, 几个, how many): only a figure answers it, not a policy item naming the thing.
_ASKS_FOR_FIGURE = re.compile(
    r"多少|几[个家项条种名位座台次场人]|多[大高快长久]|第几|\bhow (?:many|much|big|large|high|fast|long)\b"
)


def asks_for_figure(text: str) -> bool:
    return bool(_ASKS_FOR_FIGURE.search(simplified(text).lower()))


@cache
def _to_simplified() -> Callable[[str], str]:
    # Imported on first use: commands that never search (help) do not pay for loading the conversion tables.
    import opencc

    convert: Callable[[str], str] = opencc.OpenCC("t2s").convert
    return convert


def simplified(text: str) -> str:
    """Traditional characters as simplified (OpenCC's t2s); text without CJK characters as it is."""
    return _to_simplified()(text) if CJK_CHAR.search(text) else text


def _word(word: str) -> str:
    # A light plural fold so "sales" finds "sale" and "insights" finds "insight"; applied to both sides.
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def tokens(text: str, *, query: bool = False) -> list[str]:
    """Tokens of `text` in order: CJK runs as overlapping bigrams (a lone character as itself), words as words."""
    text = simplified(text).lower()
    if query:
        text = EN_QUESTION.sub(" ", ZH_FILLER.sub(" ", ZH_YEAR.sub(r" \1 ", text)))
    out: list[str] = []
    for run in _RUN.findall(text):
        if CJK_CHAR.match(run):
            out.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
        elif not (query and run in EN_STOPWORDS):
            out.append(_word(run))
    return out


def token_text(*texts: str | None) -> str:
    """The space-separated token string stored in search_docs (duplicates kept: bm25 counts them)."""
    return " ".join(token for text in texts if text for token in tokens(text))


def title_key(text: str) -> str:
    """A title as compared for an exact hit: simplified, lower case, without book-title marks, spaces or punctuation."""
    return re.sub(rf"[^{CJK_RANGES}a-z0-9]+", "", simplified(text).lower())
