"""Errors that cross layers: each carries what a person needs to fix it."""

from __future__ import annotations

from bot.core.lang import Lang


class ConfigurationError(Exception):
    """A setting is missing or wrong: the message says which and where to find it."""


class UsageError(Exception):
    """A command that cannot be run as typed: the catalogue key of its explanation and a working example."""

    def __init__(self, key: str, example: str, lang: Lang, **details: object) -> None:
        super().__init__(key)
        self.key, self.example, self.lang, self.details = key, example, lang, details


class DatabaseBusy(Exception):
    """A request gave up waiting for the database: a data load (or another long write) holds the lock it needs.
    Nothing was written (its transaction rolled back); the same request works once the load has finished."""
