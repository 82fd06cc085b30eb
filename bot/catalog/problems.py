"""What is wrong with a data bundle, by file, item and field. Apart from the loader so that a command that only
needs to report these (the CLI's error handling) does not import the loader, its schema and YAML at every start."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    file: str
    item: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file + (f" [{self.item}]" if self.item else "") + (f" {self.field}" if self.field else "")
        return f"{where}: {self.message}"


class DataError(Exception):
    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(map(str, self.problems)))
