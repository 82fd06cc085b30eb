"""Ranked bilingual search over search_docs, with one query shape for SQLite (FTS5) and PostgreSQL (GIN tsvector).

A query is an AND of groups; a group is an OR of alternatives; an alternative is an AND of tokens. An English phrase
found in the glossary becomes one group whose alternatives are its own words and each Chinese term, so
"livestream sales" finds 直播销售额 as well as the English label.

Ranking is in tiers that both databases compute identically: 0 an exact title (label) hit, 1 every meaningful group
found in the title (a bare number such as a year may stand in the body: "livestream sales 2023"), 2 a passing mention.
Within a tier, bm25 (SQLite) or ts_rank (PostgreSQL) orders, then the row id.

An item answers a query only from tier 0 or 1 with every group found, and only a figure answers "how many"
(SearchResult.answers); a passing mention, or an item that matches some of the words only, is related to the question
but does not answer it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from bot.core.lang import CJK_CHAR
from bot.search.text import asks_for_figure, title_key, tokens
from bot.store.models import GlossaryTerm

Alternative = tuple[str, ...]
Group = tuple[Alternative, ...]
Mode = Literal["all", "any", "char"]


@dataclass(frozen=True)
class ParsedQuery:
    text: str
    groups: tuple[Group, ...]
    glossed: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (english phrase, chinese terms) that were used

    @property
    def is_empty(self) -> bool:
        return not self.groups

    @property
    def wants_figure(self) -> bool:
        """How many, 多少: a question that only a figure (a metric) answers."""
        return asks_for_figure(self.text)

    @property
    def single_char(self) -> str | None:
        """The one CJK character of a one-character query, which bigrams cannot find."""
        if len(self.groups) == 1 and len(self.groups[0]) == 1 and len(self.groups[0][0]) == 1:
            token = self.groups[0][0][0]
            if len(token) == 1 and CJK_CHAR.match(token):
                return token
        return None


@dataclass(frozen=True)
class Hit:
    kind: str
    item_id: str
    tier: int


@dataclass(frozen=True)
class SearchResult:
    query: ParsedQuery
    hits: list[Hit]
    total: int
    mode: Mode
    kinds: tuple[str, ...] = field(default=())
    capped: bool = False  # more matches than were counted: total is a lower bound

    @property
    def answered(self) -> bool:
        """Some hit answers the query: every group matched, the meaningful ones in its title, and a figure when the
        query asks for a number. Tiers are ordered, so the first page decides."""
        return self.mode != "any" and any(self.answers(hit) for hit in self.hits)

    def answers(self, hit: Hit) -> bool:
        return hit.tier <= 1 and (hit.kind == "metric" or not self.query.wants_figure)


@dataclass(frozen=True)
class Gloss:
    english: str
    chinese: tuple[str, ...]


Glossary = dict[tuple[str, ...], Gloss]


def load_glossary(session: Session) -> Glossary:
    """English phrase (as search tokens) -> the phrase as written and its Chinese terms."""
    found: dict[tuple[str, ...], tuple[str, list[str]]] = {}
    for en, zh in session.execute(select(GlossaryTerm.en, GlossaryTerm.zh).order_by(GlossaryTerm.id)):
        # As a query reads it: "ministry of commerce" is ("ministry", "commerce").
        phrase = tuple(tokens(en, query=True))
        if phrase:
            found.setdefault(phrase, (en, []))[1].append(zh)
    return {phrase: Gloss(en, tuple(terms)) for phrase, (en, terms) in found.items()}


def parse_query(raw: str, glossary: Glossary) -> ParsedQuery:
    words = tokens(raw, query=True)
    used = [False] * len(words)
    groups: list[tuple[int, Group]] = []
    glossed: list[tuple[str, tuple[str, ...]]] = []
    # Longest phrases first, so "cross border e commerce" wins over "e commerce"; each run of the query's words is
    # looked up in the glossary, which costs the same however large the glossary grows.
    longest = max(map(len, glossary), default=0)
    for size in range(min(longest, len(words)), 0, -1):
        for start in range(len(words) - size + 1):
            phrase = tuple(words[start : start + size])
            gloss = glossary.get(phrase)
            if gloss is None or any(used[start : start + size]):
                continue
            used[start : start + size] = [True] * size
            alternatives = unique_alternatives([phrase, *(tuple(tokens(term)) for term in gloss.chinese)])
            groups.append((start, alternatives))
            glossed.append((gloss.english, gloss.chinese))
    groups.extend((i, ((word,),)) for i, word in enumerate(words) if not used[i])
    groups.sort(key=lambda pair: pair[0])
    deduped = tuple(dict.fromkeys(group for _, group in groups))
    return ParsedQuery(text=" ".join(raw.split()), groups=deduped, glossed=tuple(glossed))


def unique_alternatives(alternatives: Sequence[tuple[str, ...]]) -> Group:
    return tuple(dict.fromkeys(alt for alt in alternatives if alt))


def _fts_expr(groups: Sequence[Group], *, any_group: bool = False) -> str:
    def quote(token: str) -> str:
        return '"' + token.replace('"', '""') + '"'

    join = " OR " if any_group else " AND "
    return join.join(
        "(" + " OR ".join("(" + " AND ".join(quote(t) for t in alt) + ")" for alt in group) + ")" for group in groups
    )


def _tsquery(groups: Sequence[Group], *, any_group: bool = False, weight: str = "") -> str:
    def quote(token: str) -> str:
        return "'" + token.replace("'", "''") + "'" + (f":{weight}" if weight else "")

    join = " | " if any_group else " & "
    return join.join(
        "(" + " | ".join("(" + " & ".join(quote(t) for t in alt) + ")" for alt in group) + ")" for group in groups
    )


def _filters(kinds: Sequence[str], topic: str | None) -> tuple[str, dict[str, object]]:
    sql = ""
    params: dict[str, object] = {}
    if kinds:
        names = [f"kind{i}" for i in range(len(kinds))]
        sql += " AND d.kind IN (" + ", ".join(":" + n for n in names) + ")"
        params.update(zip(names, kinds, strict=True))
    if topic:
        sql += (
            " AND EXISTS (SELECT 1 FROM item_topics t WHERE t.kind = d.kind AND t.item_id = d.item_id"
            " AND t.topic = :topic)"
        )
        params["topic"] = topic
    return sql, params


def search(
    session: Session,
    query: ParsedQuery,
    *,
    kinds: Sequence[str] = (),
    topic: str | None = None,
    limit: int = 10,
    offset: int = 0,
    relax: bool = True,
) -> SearchResult:
    """Every group must match (failing that, every group but the bigrams joining two words of a question). Failing
    that too (and when `relax`), items matching any one of the query's meaningful groups, best first ("closest
    matches"). A one-character CJK query falls back to a scan."""
    if query.is_empty:
        return SearchResult(query, [], 0, "all", tuple(kinds))
    if query.single_char is not None:
        return _run(session, query, "char", kinds, topic, limit, offset)
    result = _run(session, query, "all", kinds, topic, limit, offset)
    if result.total == 0:  # a junction bigram occurs nowhere, so it empties the result: only then look for one
        joined = _without_junctions(session, query)
        if joined is not query:
            query, result = joined, _run(session, joined, "all", kinds, topic, limit, offset)
    relaxed = _relaxable(query.groups)
    if result.total == 0 and relax and len(relaxed) > 1:
        return _run(session, ParsedQuery(query.text, relaxed, query.glossed), "any", kinds, topic, limit, offset)
    return result


def _without_junctions(session: Session, query: ParsedQuery) -> ParsedQuery:
    """Drops the bigrams where a question joins two words that the report writes apart: 力平 in 公共算力平台 (the
    report: 公共算力开放创新平台), 信满 in 网络诚信满意率. Such a bigram occurs in no document while the bigrams on
    either side of it do, so they still require both of its characters; an edge bigram (量子) always stays."""
    groups = query.groups

    def bigram(i: int) -> str | None:
        alternatives = groups[i]
        token = alternatives[0][0] if len(alternatives) == 1 and len(alternatives[0]) == 1 else ""
        return token if len(token) == 2 and CJK_CHAR.match(token) and CJK_CHAR.match(token[1]) else None

    def interior(i: int) -> bool:
        before, this, after = bigram(i - 1), bigram(i), bigram(i + 1)
        return bool(before and this and after and before[1] == this[0] and this[1] == after[0])

    found: dict[str, bool] = {}

    def occurs(token: str) -> bool:
        if token not in found:
            found[token] = _occurs(session, token)
        return found[token]

    dropped = {
        i
        for i in range(1, len(groups) - 1)
        if interior(i) and not occurs(groups[i][0][0]) and occurs(groups[i - 1][0][0]) and occurs(groups[i + 1][0][0])
    }
    if not dropped:
        return query
    kept = tuple(group for i, group in enumerate(groups) if i not in dropped)
    return ParsedQuery(query.text, kept, query.glossed)


def _occurs(session: Session, token: str) -> bool:
    """Whether any document has `token`: one index lookup that stops at the first match."""
    if session.get_bind().dialect.name == "sqlite":
        sql = "SELECT 1 FROM search_fts WHERE search_fts MATCH :expr LIMIT 1"
        return session.execute(text(sql), {"expr": _fts_expr([((token,),)])}).first() is not None
    sql = "SELECT 1 FROM search_docs d WHERE d.search_vector @@ to_tsquery('simple', :expr) LIMIT 1"
    return session.execute(text(sql), {"expr": _tsquery([((token,),)])}).first() is not None


# Chinese numerals: 二十 in 数据二十条 is a number, as "20" would be, and must not find 未来二十年 on its own.
_ZH_NUMERALS = frozenset("零一二两三四五六七八九十百千万亿")


def _relaxable(groups: Sequence[Group]) -> tuple[Group, ...]:
    """The meaningful groups: not bare numbers ("3", "2023", "二十") or Latin fragments of one or two letters. Only
    these need to be in a title for tier 1, and only these are matched on their own when relaxing."""

    def meaningful(group: Group) -> bool:
        if len(group) > 1:
            return True
        token = group[0][0] if len(group[0]) == 1 else None
        if token is None:
            return True
        if CJK_CHAR.match(token):
            return not set(token) <= _ZH_NUMERALS
        return len(token) > 2 and not token.isdigit()

    return tuple(group for group in groups if meaningful(group))


# Each tier ranks at most this many of its newest matches, and matches are counted up to this many ("500+"): a broad
# query ("数据" in a third of a large corpus) then costs about what a narrow one does. Newest first suits a store
# that grows by editions.
CANDIDATES = 500


def _run(
    session: Session,
    query: ParsedQuery,
    mode: Mode,
    kinds: Sequence[str],
    topic: str | None,
    limit: int,
    offset: int,
) -> SearchResult:
    dialect = session.get_bind().dialect.name
    filters, params = _filters(kinds, topic)
    params.update(key=title_key(query.text), limit=limit, offset=offset, k=CANDIDATES)
    # Tier 1: the meaningful groups in the title and, like every match, all groups somewhere.
    title_groups = _relaxable(query.groups) or query.groups
    whole = title_groups == query.groups
    exact = f"SELECT d.id FROM search_docs d WHERE (d.title_key_zh = :key OR d.title_key_en = :key){filters}"
    if mode == "char":
        params.update(pattern=f"%{query.single_char}%")
        title_match = "d.title_tokens LIKE :pattern"
        match = "(d.title_tokens LIKE :pattern OR d.body_tokens LIKE :pattern)"
        source, title_score, score = "search_docs d", "0.0", "0.0"
        title_source = source
    elif dialect == "sqlite":
        params.update(expr=_fts_expr(query.groups, any_group=mode == "any"))
        rest = "" if whole else " AND (" + _fts_expr(query.groups) + ")"
        params.update(title_expr="title_tokens : (" + _fts_expr(title_groups) + ")" + rest)
        # FTS5 streams matches in rowid order, so LIMIT stops early and bm25 runs for the candidates only.
        source = title_source = "search_fts f JOIN search_docs d ON d.id = f.rowid"
        title_match, match = "search_fts MATCH :title_expr", "search_fts MATCH :expr"
        title_score = score = "bm25(search_fts, 10.0, 1.0)"
    else:
        params.update(expr=_tsquery(query.groups, any_group=mode == "any"), title_expr=_tsquery(title_groups))
        source = title_source = "search_docs d"
        match = "d.search_vector @@ to_tsquery('simple', :expr)"
        title_match = "d.title_vector @@ to_tsquery('simple', :title_expr)" + ("" if whole else f" AND {match}")
        # Negated so that, as with bm25, lower is better.
        title_score = "-ts_rank(d.title_vector, to_tsquery('simple', :title_expr))"
        score = "-ts_rank(d.search_vector, to_tsquery('simple', :expr))"
    # On PostgreSQL the candidates are chosen first (ORDER BY id DESC LIMIT k on the index) and only they ranked.
    ranked_later = dialect != "sqlite" and mode != "char"
    # When the title tier alone fills its K candidates, every passing mention ranks after them, so PostgreSQL skips
    # finding those (a one-time filter) and the count is "K+". SQLite streams matches and needs no such shortcut.
    guard = " AND (SELECT count(*) FROM title_c) < :k" if ranked_later else ""
    total = "(SELECT count(*) FROM any_c)"
    if ranked_later:
        total = f"CASE WHEN (SELECT count(*) FROM title_c) >= :k THEN :k ELSE {total} END"
    sql = (
        f"WITH exact_c AS ({exact}),"
        f" title_c AS ({_candidates(title_source, title_match, filters, '0.0' if ranked_later else title_score)}),"
        f" any_c AS ({_candidates(source, match + guard, filters, '0.0' if ranked_later else score)})"
        f" SELECT d.kind, d.item_id, c.tier, {total} AS total FROM ("
        " SELECT id, 0 AS tier, 0.0 AS score FROM exact_c"
        " UNION ALL SELECT id, 1, score FROM title_c WHERE id NOT IN (SELECT id FROM exact_c)"
        " UNION ALL SELECT id, 2, score FROM any_c"
        " WHERE id NOT IN (SELECT id FROM exact_c) AND id NOT IN (SELECT id FROM title_c)"
        ") c JOIN search_docs d ON d.id = c.id ORDER BY c.tier, "
        + (f"CASE WHEN c.tier = 1 THEN {title_score} ELSE {score} END" if ranked_later else "c.score")
        + ", c.id DESC LIMIT :limit OFFSET :offset"
    )
    rows = session.execute(text(sql), params).all()
    if rows:
        count = int(rows[0].total)
    else:  # past the last page there is no row to carry the count
        count_sql = f"SELECT count(*) FROM ({_candidates(source, match, filters, '0.0')}) counted"
        count = int(session.scalar(text(count_sql), params) or 0)
    hits = [Hit(r.kind, r.item_id, int(r.tier)) for r in rows]
    return SearchResult(query, hits, count, mode, tuple(kinds), capped=count >= CANDIDATES)


def _candidates(source: str, match: str, filters: str, score: str) -> str:
    order = "f.rowid" if source.startswith("search_fts") else "d.id"
    return f"SELECT d.id, {score} AS score FROM {source} WHERE {match}{filters} ORDER BY {order} DESC LIMIT :k"
