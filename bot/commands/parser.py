"""The command language after `/insights`: the same text in Slack, `bot ask`, `bot console` and other platforms.
Built from the features' declarations (bot.core.commands.CommandSpec); a request is parsed once, here."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable

from bot.core.commands import Command, CommandSpec
from bot.core.errors import UsageError
from bot.core.lang import Lang, detect_lang

MAX_TEXT = 200  # longer input is cut (and the reply says so): no real question is longer
_SPACE_LIKE = re.compile(r"\s+")


def clean(text: str) -> tuple[str, bool]:
    """Control and format characters become spaces, runs of space one space; cut at MAX_TEXT characters."""
    chars = (" " if unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp"} else c for c in text)
    cleaned = _SPACE_LIKE.sub(" ", "".join(chars)).strip()
    if len(cleaned) > MAX_TEXT:
        return cleaned[:MAX_TEXT].rstrip(), True
    return cleaned, False


class Parser:
    """Every command word of every declared command; `default` answers empty text, `fallback` any other text."""

    def __init__(self, specs: Iterable[CommandSpec], *, default: str, fallback: str) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self.by_alias: dict[str, CommandSpec] = {}
        for spec in self.specs.values():
            for alias in (spec.name, *spec.aliases):
                other = self.by_alias.setdefault(alias.lower(), spec)
                if other is not spec:
                    raise ValueError(f"{alias!r} names both {other.name} and {spec.name}")
        self.default, self.fallback = self.specs[default], self.specs[fallback]
        self.bare = [spec for spec in self.specs.values() if spec.bare]

    def parse(self, text: str, lang: Lang | None = None) -> Command:
        cleaned, truncated = clean(text)
        reply_lang: Lang = lang or detect_lang(cleaned)
        if not cleaned:
            return Command(self.default, "", reply_lang, cleaned)
        head, _, rest = cleaned.partition(" ")
        rest = rest.strip()
        spec = self.by_alias.get(head.lower())
        if spec is None:
            spec = next((s for s in self.bare if s.normalise is not None and s.normalise(cleaned) is not None), None)
            if spec is None:
                return Command(self.fallback, cleaned, reply_lang, cleaned, truncated)
            rest = cleaned
        if spec.takes == "nothing" and rest:
            # Words after a command that takes none are a question, not something to drop silently.
            return Command(self.fallback, cleaned, reply_lang, cleaned, truncated)
        if spec.takes == "words" and not rest:
            raise UsageError(spec.invalid, spec.example, reply_lang, command=spec.name)
        if spec.normalise is not None and (rest or spec.takes == "words"):
            normalised = spec.normalise(rest)
            if normalised is None:
                raise UsageError(spec.invalid, spec.example, reply_lang, command=spec.name)
            rest = normalised
        return Command(spec, rest, reply_lang, cleaned, truncated)

    def closest(self, text: str) -> str | None:
        """The command a mistyped first word was probably meant to be: "shw 3" -> "show 3". Only when the rest is
        what that command takes, so that a question stays a question ("how many ..." is no "show many ...")."""
        head, _, rest = text.partition(" ")
        rest = rest.strip()
        if not head.isascii() or len(head) < 3:
            return None
        english = [alias for alias in self.by_alias if alias.isascii() and len(alias) > 1]
        match = difflib.get_close_matches(head.lower(), english, n=1, cutoff=0.75)
        if not match:
            return None
        spec = self.by_alias[match[0]]
        # The same checks parse() makes of an argument.
        if (spec.takes == "nothing" and rest) or (spec.takes == "words" and not rest):
            return None
        if spec.normalise is not None and (rest or spec.takes == "words") and spec.normalise(rest) is None:
            return None
        return f"{spec.name} {rest}".strip()
