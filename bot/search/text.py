"""Turning text into search tokens: overlapping CJK bigrams plus lower-case Latin words.

Chinese queries are usually two to four characters (算力, 直播, 数据要素). Bigrams find them wherever they stand,
including inside longer words (元宇宙 in 文旅元宇宙), which word segmenters miss (see DESIGN.md for the figures).
The same function tokenises documents and queries, so both sides always agree.
"""

from __future__ import annotations

import re

from bot.core.lang import CJK_CHAR, CJK_RANGES

_RUN = re.compile(rf"[{CJK_RANGES}]+|[a-z0-9]+")

# Filler a question carries that the report never contains; removed before bigrams so they cannot block a match.
ZH_FILLER = re.compile(r"是多少|有多少|多少|是什么|什么|有哪些|哪些|怎么样|如何|请问|吗|呢|的|了|么")
EN_STOPWORDS = frozenset(
    "a an and are as at be by does for from how in is it many much of on or the to was what which who with".split()
)


def _word(word: str) -> str:
    # A light plural fold so "sales" finds "sale" and "insights" finds "insight"; applied to both sides.
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def tokens(text: str, *, query: bool = False) -> list[str]:
    """Tokens of `text` in order: CJK runs as overlapping bigrams (a lone character as itself), words as words."""
    text = text.lower()
    if query:
        text = ZH_FILLER.sub(" ", text)
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
    """A title as compared for an exact hit: lower case, without book-title marks, spaces or punctuation."""
    return re.sub(rf"[^{CJK_RANGES}a-z0-9]+", "", text.lower())
