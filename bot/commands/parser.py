"""The command language after `/insights`: the same text in Slack, `bot ask` and `bot console`."""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass

from bot.legacy_render import Lang
from bot.search.text import CJK_CHAR

MAX_TEXT = 200  # longer input is cut (and the reply says so): no real question is longer

# Command name -> the words that call it, English and Chinese.
ALIASES: dict[str, tuple[str, ...]] = {
    "help": ("help", "帮助", "?", "？"),
    "list": ("list", "insights", "列表", "目录"),
    "show": ("show", "insight", "查看", "洞察"),
    "metric": ("metric", "metrics", "figure", "figures", "指标"),
    "policy": ("policy", "policies", "政策"),
    "search": ("search", "find", "搜索", "查找"),
    "topics": ("topics", "主题"),
    # Channel commands (bot.digest.channels): they read and change the channel's settings.
    "subscribe": ("subscribe", "sub", "订阅"),
    "unsubscribe": ("unsubscribe", "unsub", "取消订阅"),
    "subscriptions": ("subscriptions", "订阅列表"),
    "schedule": ("schedule", "定时"),
    "lang": ("lang", "language", "语言"),
    "restrict": ("restrict", "权限"),
    "digest": ("digest", "摘要"),
    # Tracking commands (bot.tracking.commands).
    "history": ("history", "历史"),
    "changes": ("changes", "变化", "变动"),
    "track": ("track", "跟踪"),
    "note": ("note", "备注"),
    "follow": ("follow", "关注"),
    "unfollow": ("unfollow", "取消关注"),
    "following": ("following", "我的关注"),
}
TRACKING_COMMANDS = frozenset({"history", "changes", "track", "note", "follow", "unfollow", "following"})
CHANNEL_COMMANDS = frozenset({"subscribe", "unsubscribe", "subscriptions", "schedule", "lang", "restrict", "digest"})
# Commands whose answer depends on who asks or changes the store: never cached, always in a write transaction.
PERSONAL_COMMANDS = CHANNEL_COMMANDS | {"track", "note", "follow", "unfollow", "following"}
_BY_ALIAS = {alias: name for name, aliases in ALIASES.items() for alias in aliases}
_ZH_NUMERALS = {c: i for i, c in enumerate("一二三四五六七八九十", start=1)}
_SPACE_LIKE = re.compile(r"\s+")


@dataclass(frozen=True)
class Command:
    name: str
    arg: str = ""
    lang: Lang = "en"
    truncated: bool = False


class UsageError(Exception):
    """A command that cannot be run as typed; carries a bilingual message and a working example."""

    def __init__(self, zh: str, en: str, example: str, lang: Lang) -> None:
        super().__init__(en)
        self.zh, self.en, self.example, self.lang = zh, en, example, lang


def clean(text: str) -> tuple[str, bool]:
    """Control and format characters become spaces, runs of space one space; cut at MAX_TEXT characters."""
    chars = (" " if unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp"} else c for c in text)
    cleaned = _SPACE_LIKE.sub(" ", "".join(chars)).strip()
    if len(cleaned) > MAX_TEXT:
        return cleaned[:MAX_TEXT].rstrip(), True
    return cleaned, False


def detect_lang(text: str) -> Lang:
    return "zh" if CJK_CHAR.search(text) else "en"


def insight_number(text: str) -> int | None:
    text = text.strip().removeprefix("第").removesuffix("条").removesuffix("个")
    if text.isascii() and text.isdigit():
        return int(text)
    return _ZH_NUMERALS.get(text)


def parse(text: str, lang: Lang | None = None) -> Command:
    cleaned, truncated = clean(text)
    reply_lang: Lang = lang or detect_lang(cleaned)
    if not cleaned:
        return Command("help", lang=reply_lang)
    head, _, rest = cleaned.partition(" ")
    name = _BY_ALIAS.get(head.lower())
    rest = rest.strip()
    if name is None:
        if insight_number(cleaned) is not None:
            name, rest = "show", cleaned
        else:
            return Command("search", cleaned, reply_lang, truncated)
    if name == "show":
        number = insight_number(rest)
        if number is None or not 1 <= number <= 10:
            raise UsageError(
                "共有十条洞察，请输入 1 到 10 之间的编号。",
                "There are ten insights: give a number from 1 to 10.",
                "show 3",
                reply_lang,
            )
        rest = str(number)
    if name == "search" and not rest:
        raise UsageError("请在 search 后输入要查找的内容。", "Tell me what to search for.", "search 直播", reply_lang)
    if name in {"subscribe", "unsubscribe", "schedule", "lang", "restrict"} and not rest:
        examples = {
            "subscribe": "subscribe compute, keyword:直播",
            "unsubscribe": "unsubscribe compute",
            "schedule": "schedule weekly monday 09:00 Asia/Shanghai",
            "lang": "lang both",
            "restrict": "restrict on",
        }
        raise UsageError("这个命令需要参数。", "This command needs more words.", examples[name], reply_lang)
    if name == "digest" and rest.lower() not in {"preview", "now", "预览", "立即"}:
        raise UsageError(
            "用 digest preview 预览，或 digest now 立即发送。",
            "Use digest preview, or digest now to post it.",
            "digest preview",
            reply_lang,
        )
    # Words after a command that takes none are a mistake worth pointing out, not silently dropped.
    if name in {"help", "list", "topics", "subscriptions", "following"} and rest:
        return Command("search", cleaned, reply_lang, truncated)
    return Command(name, rest, reply_lang, truncated)


def closest_command(text: str) -> str | None:
    """The command a mistyped first word was probably meant to be: "shw 3" -> "show 3"."""
    head, _, rest = text.partition(" ")
    if not head.isascii() or len(head) < 3:
        return None
    english = [alias for alias in _BY_ALIAS if alias.isascii() and len(alias) > 1]
    match = difflib.get_close_matches(head.lower(), english, n=1, cutoff=0.75)
    return f"{_BY_ALIAS[match[0]]} {rest}".strip() if match else None
