"""Diagnostics: how every stage reports a user's mistake.

Passes append :class:`Diagnostic` objects instead of raising, so ``check``
can report every problem in one run. One renderer prints them as
``path:line:col: error[RR101]: message`` with the source line, a caret and a
help line; the JSON output of the CLI is built from the same objects.
"""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .source import Span


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


#: Every diagnostic code with a short title; docs/errors.md lists them.
CODES: dict[str, str] = {
    "RR001": "syntax error",
    "RR002": "unexpected character",
    "RR003": "unexpected end of file",
    "RR004": "reserved word used as a name",
    "RR101": "unknown event type",
    "RR102": "unknown field",
    "RR103": "unknown name",
    "RR104": "duplicate name",
    "RR105": "unknown unit",
    "RR106": "unknown role",
    "RR107": "unknown reward kind",
    "RR108": "unknown period",
    "RR109": "unknown duration unit",
    "RR110": "reserved field or event name",
    "RR111": "unknown time zone",
    "RR201": "type mismatch",
    "RR202": "unit mismatch",
    "RR203": "condition expected",
    "RR204": "value not allowed here",
    "RR205": "invalid aggregate",
    "RR301": "milestone has no trigger",
    "RR302": "milestone has more than one trigger",
    "RR303": "milestone has no reward",
    "RR304": "invalid threshold",
    "RR305": "invalid reward amount",
    "RR306": "invalid structure",
    "RR307": "metric depends on itself",
    "RR401": "limit exceeded",
    "RR402": "`every` step too small",
    "RR501": "invalid message template",
    "RR502": "unknown name or field in message template",
    # warnings of `check --strict` (lint.py)
    "RR601": "condition is never true",
    "RR602": "tiers out of order",
    "RR603": "duplicate trigger",
    "RR604": "unused declaration",
    "RR605": "unbounded liability",
    "RR606": "void outlasts hold",
    "RR607": "reward larger than its cap",
    "RR608": "reward never issued",
    "RR609": "count of a referral's own event",
}


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
class Diagnostic:
    """One problem found in a rule file."""

    code: str
    message: str
    span: Span | None
    help: str | None = None
    severity: Severity = Severity.ERROR
    related: tuple[Related, ...] = ()

    def __post_init__(self) -> None:
        # Every output (text, JSON, GitHub, SARIF) prints the message and the
        # help: bound them here, once, whatever the stage that wrote them.
        object.__setattr__(self, "message", shorten_quotes(self.message))
        if self.help is not None:
            object.__setattr__(self, "help", shorten_quotes(self.help))

    @property
    def path(self) -> str:
        return self.span.path if self.span else "<unknown>"

    @property
    def line(self) -> int:
        return self.span.line if self.span else 1

    @property
    def column(self) -> int:
        return self.span.column if self.span else 1

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.column, self.code)

    def to_dict(self) -> dict[str, object]:
        """The stable JSON form used by ``check --format json``."""
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "end_line": self.span.source.position(self.span.end)[0] if self.span else self.line,
            "end_column": self.span.source.position(self.span.end)[1] if self.span else self.column,
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message,
            "help": self.help,
            "related": [r.to_dict() for r in self.related],
        }


def render(diagnostic: Diagnostic, color: bool = False) -> str:
    """Render a diagnostic for people: header, source line, caret, help."""
    from .formatting import printable

    # The path, message, help and source line may echo a rule file's text:
    # each is `printable`, so only the color codes below reach a terminal.
    sev = diagnostic.severity.value
    path, message = printable(diagnostic.path), printable(diagnostic.message)
    head = f"{path}:{diagnostic.line}:{diagnostic.column}: {sev}[{diagnostic.code}]: {message}"
    if color:
        tint = "\x1b[1;31m" if diagnostic.severity is Severity.ERROR else "\x1b[1;33m"
        head = f"\x1b[1m{path}:{diagnostic.line}:{diagnostic.column}:\x1b[0m {tint}{sev}[{diagnostic.code}]\x1b[0m: \x1b[1m{message}\x1b[0m"
    lines = [head]
    if diagnostic.span is not None:
        lines.extend(_excerpt(diagnostic.span, "^"))
    for related in diagnostic.related:
        lines.append(f"     = note: {printable(related.message)}")
        lines.extend(_excerpt(related.span, "-"))
    if diagnostic.help:
        lines.append(f"     = help: {printable(diagnostic.help)}")
    return "\n".join(lines)


def _excerpt(span: Span, mark: str) -> list[str]:
    """The source line of a span, with the span underlined by ``mark``.

    A long line is cut to a window around the column (`echo_window`); a tab
    shows as one space and other control characters as escapes
    (`printable`), so the line cannot drive a terminal; the underline is
    placed under the escaped text."""
    from .formatting import printable

    text = span.source.line_text(span.line)
    if not text and span.line < 1:
        return []
    gutter = f"{span.line:>4} | "
    end_line, end_col = span.source.position(span.end)
    width = (end_col - span.column) if end_line == span.line else len(text) - span.column + 1
    shown, column, room = echo_window(text.replace("\t", " "), span.column)
    width = max(1, min(width, room))
    before = printable(shown[: column - 1])
    under = printable(shown[column - 1 : column - 1 + width])
    underline = " " * (len(gutter) - 2) + "| " + " " * len(before) + mark * max(1, len(under))
    return [f"{gutter}{printable(shown)}", underline]


#: Longest source line echoed under a diagnostic, in characters: a longer
#: line (a generated file, a minified one) is cut to a window around the column.
ECHO_WIDTH = 120
#: Characters kept before the column in a cut line.
ECHO_BEFORE = 40
#: What marks the characters left out of a cut line.
ELLIPSIS = "..."


def echo_window(text: str, column: int) -> tuple[str, int, int]:
    """The part of a source line to echo, the 1-based column in it, and how
    many characters of the line it shows from that column on.

    A line of at most :data:`ECHO_WIDTH` characters is echoed whole; a
    longer one is cut to that many characters around ``column``, with
    :data:`ELLIPSIS` where characters were left out, so a diagnostic stays
    a few lines long even when the line is a megabyte."""
    if len(text) <= ECHO_WIDTH:
        return text, column, len(text) - column + 1
    start = min(max(0, column - 1 - ECHO_BEFORE), len(text) - ECHO_WIDTH)
    end = start + ECHO_WIDTH
    head = ELLIPSIS if start > 0 else ""
    tail = ELLIPSIS if end < len(text) else ""
    return f"{head}{text[start:end]}{tail}", column - start + len(head), end - column + 1


#: A quoted piece of source in a message longer than this is shortened.
QUOTE_WIDTH = 80
_QUOTED = re.compile(f"`([^`]{{{QUOTE_WIDTH + 1},}})`")


def shorten(text: str) -> str:
    """``text`` when at most :data:`QUOTE_WIDTH` characters, else its start
    and end around :data:`ELLIPSIS`: a value quoted in a message can be as
    long as its file, and the start and end are what tell values apart."""
    if len(text) <= QUOTE_WIDTH:
        return text
    keep = QUOTE_WIDTH // 2
    return f"{text[:keep]}{ELLIPSIS}{text[-keep // 2 :]}"


def shorten_quotes(text: str) -> str:
    """``text`` with every backtick-quoted piece longer than
    :data:`QUOTE_WIDTH` cut by `shorten`: a message quotes names and tokens
    from the rule file, which can be as long as the file."""
    return _QUOTED.sub(lambda m: f"`{shorten(m[1])}`", text)


def edit_distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: a swap of two letters costs one."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


#: Names that are each other's opposite: when a typo is as close to one as
#: to the other, a hint names both rather than guess (paying the referee
#: where the referrer was meant is the costliest wrong guess there is).
OPPOSITES = (("referrer", "referee"),)


def is_subsequence(short: str, long: str) -> bool:
    """Whether ``short`` is ``long`` with letters left out (in order)."""
    letters = iter(long)
    return all(ch in letters for ch in short)


def typo_rank(name: str, candidate: str) -> int:
    """0 for the typos people make most, else 1: a dropped letter (often of
    a doubled one: `referer`, `referals`) or two letters swapped
    (`paymnet`) rank 0; a letter replaced or added rank 1. Of two
    candidates the same number of edits away, a rank-0 one is the likelier
    meaning: `referer` is `referrer` with an `r` dropped, not `referee`
    with an `r` changed."""
    a, b = name.lower(), candidate.lower()
    return 0 if is_subsequence(a, b) or sorted(a) == sorted(b) else 1


def suggestions(name: str, candidates: Iterable[str]) -> tuple[str, ...]:
    """The nearest known names, for "did you mean" hints: fewest edits
    (case ignored), then the likelier kind of typo (`typo_rank`), then the
    closest in length, then the most similar by difflib's ratio. One name,
    or both of two opposites (`OPPOSITES`) that are as many edits away by
    the same kind of typo (whatever their lengths), in their usual order."""
    pool = sorted(set(candidates) - {name})
    if not pool or len(name) > 64:
        return ()
    limit = max(1, len(name) // 3)
    scored = []
    for candidate in pool:
        distance = edit_distance(name.lower(), candidate.lower())
        if distance <= limit:
            ratio = difflib.SequenceMatcher(None, name, candidate).ratio()
            scored.append((distance, typo_rank(name, candidate), abs(len(candidate) - len(name)), -ratio, candidate))
    if not scored:
        return ()
    scored.sort()
    best = scored[0]
    tied = [s[-1] for s in scored if s[:2] == best[:2]]
    for pair in OPPOSITES:
        if best[-1] in pair and set(pair) <= set(tied):
            return pair
    return (best[-1],)


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """The nearest known name (the first of `suggestions`), or None."""
    found = suggestions(name, candidates)
    return found[0] if found else None


def did_you_mean(name: str, candidates: Iterable[str], fallback: str | None = None) -> str | None:
    """A help line naming the nearest candidate (or both of two equally
    near opposites), or ``fallback``."""
    found = suggestions(name, candidates)
    if found:
        return "did you mean " + " or ".join(f"`{match}`" for match in found) + "?"
    return fallback


class RuleError(Exception):
    """Raised by the public API when a rule file has errors.

    It carries every diagnostic, not just the first; ``str()`` renders them
    all the way ``rewardrules check`` does.
    """

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        super().__init__("\n".join(render(d) for d in self.diagnostics))


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity is Severity.ERROR for d in diagnostics)
