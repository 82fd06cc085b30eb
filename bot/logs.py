"""Logging for every process the bot runs (the CLI, `bot serve`'s workers, the clock), with secrets kept out.

No token or secret may appear in any log at any level: slack_sdk logs whole API responses at DEBUG (an OAuth
exchange's included), and a failed insert's traceback carries its statement's parameters. So the secrets are taken
out of the final text of every record, message and traceback alike, whatever logged it."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

# Slack's tokens: bot (xoxb), user (xoxp), app-level (xapp), refresh (xoxe), legacy and workspace ones.
TOKEN = re.compile(r"\b(xox[a-z]|xapp)-[A-Za-z0-9-]+")
# A WeCom robot's webhook key: whoever has it can post to the group.
WEBHOOK_KEY = re.compile(r"\b(key)=[A-Za-z0-9-]{8,}")
REDACTED = "[redacted]"


class RedactingFormatter(logging.Formatter):
    def __init__(self, fmt: str, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        # Short values would redact ordinary words: only secrets of a real length are matched as they are.
        self.secrets = [secret for secret in secrets if len(secret) >= 8]

    def format(self, record: logging.LogRecord) -> str:
        text = TOKEN.sub(lambda match: f"{match.group(1)}-{REDACTED}", super().format(record))
        text = WEBHOOK_KEY.sub(f"key={REDACTED}", text)
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return text


def configure(level: str, secrets: Iterable[str | None] = ()) -> None:
    """The root logger at `level` (WARNING when it is not a level), every line through the redacting formatter."""
    level = level.upper() if level.upper() in logging.getLevelNamesMapping() else "WARNING"
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s", [s for s in secrets if s]))
    logging.basicConfig(level=level, handlers=[handler], force=True)
