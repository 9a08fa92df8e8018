"""One problem type for every stage: what went wrong, where, and what to do.

A rule file's `Diagnostic`, a ledger's `LedgerProblem`, a rule test's
`TestProblem` and a Stripe payload's problem each convert to a
:class:`Problem` (their ``to_problem`` method), and `core.render` prints a
Problem as text, JSON, a GitHub workflow command or a SARIF result: one
renderer, so every output escapes the same way.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .source import Span


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Related:
    """Another place a diagnostic is about, such as the first of two
    declarations of a name: the fix may be there rather than here."""

    message: str
    span: Span

    def to_dict(self) -> dict[str, object]:
        end_line, end_column = self.span.source.position(self.span.end)
        return {
            "line": self.span.line,
            "column": self.span.column,
            "end_line": end_line,
            "end_column": end_column,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class Location:
    """Where a problem is: a file, and in it as much as the stage knows.

    A rule file's problem has a line, a column and a `span` (the source
    text, for the excerpt under the message); a ledger's has a line and a
    `field` but no column (0 or None: not on a line); a Stripe payload's has
    no line but an `item` (`event evt_1`) and a field path; a rule test's
    has a line and, for a TOML error, a column."""

    path: str
    line: int | None = None
    column: int | None = None
    #: the field of a record (`amount`, `data.object.customer`)
    field: str | None = None
    #: the part of the file that is no line, such as a payload's `event evt_1`
    item: str | None = None
    span: Span | None = None

    def end(self) -> tuple[int | None, int | None]:
        """The line and column just past the place: the span's end, else the start."""
        if self.span is not None:
            return self.span.source.position(self.span.end)
        return self.line, self.column


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem, in the form every renderer takes.

    ``code`` is a diagnostic code (`RR101`) for a rule file's problems, None
    for other inputs'; ``help`` is the hint printed under the message."""

    severity: Severity
    code: str | None
    message: str
    location: Location
    help: str | None = None
    related: tuple[Related, ...] = ()
