"""Domain errors. The API maps these to HTTP statuses in one place (``api/errors.py``).

Domain code never raises HTTP exceptions: it says *what* is wrong (with file, row and
field when it comes from a file) and the caller decides how to show it.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input value.

    ``source`` is a file name or ``"request"``; ``row`` is the 1-based data row as a
    spreadsheet user counts it (header = row 1, first data row = row 2) or ``None``.
    """

    source: str
    row: int | None
    field: str | None
    message: str
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        parts = [self.source]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.field:
            parts.append(f"field {self.field}")
        return f"{', '.join(parts)}: {self.message}"

    def to_dict(self) -> dict:
        return {"source": self.source, "row": self.row, "field": self.field,
                "message": self.message, "severity": self.severity}


class YizhanError(Exception):
    """Base class of every error the domain raises on purpose."""


class InputError(YizhanError):
    """Bad input: one or more problems; nothing was written."""

    def __init__(self, problems: list[Problem] | str, *, field: str | None = None):
        if isinstance(problems, str):
            problems = [Problem("request", None, field, problems)]
        self.problems = [p for p in problems if p.severity == "error"] or list(problems)
        super().__init__("; ".join(str(p) for p in self.problems[:20])
                         + (f" (and {len(self.problems) - 20} more)" if len(self.problems) > 20 else ""))

    @property
    def message(self) -> str:
        if len(self.problems) == 1 and self.problems[0].source == "request":
            p = self.problems[0]
            return f"{p.field}: {p.message}" if p.field else p.message
        return str(self)


class NotFound(YizhanError):
    """The thing asked for does not exist."""


class Conflict(YizhanError):
    """A write based on a stale version, or a duplicate external code."""


class Unauthorized(YizhanError):
    """No or unknown credentials."""


class Forbidden(YizhanError):
    """Known credentials without the right to do this."""
