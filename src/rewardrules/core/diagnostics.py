"""Diagnostics: how every stage reports a user's mistake.

Passes append :class:`Diagnostic` objects instead of raising, so ``check``
can report every problem in one run. A diagnostic is a rule file's
`problem.Problem` (`Diagnostic.to_problem`), and the one renderer
(`core.render`) prints it as ``path:line:col: error[RR101]: message`` with
the source line, a caret and a help line, or as JSON, GitHub or SARIF.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .problem import Location, Problem
from .problem import Related as Related  # re-exported: the problem types live in `problem`
from .problem import Severity as Severity
from .render import ECHO_BEFORE as ECHO_BEFORE  # re-exported: the renderer lives in `render`
from .render import ECHO_WIDTH as ECHO_WIDTH
from .render import ELLIPSIS as ELLIPSIS
from .render import echo_window as echo_window
from .render import text, to_dict
from .source import Span

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
    "RR113": "`earlier` applies to referrals only",
    "RR115": "unknown allowance",
    "RR116": "unknown attribution model",
    "RR114": "unknown milestone",
    "RR201": "type mismatch",
    "RR202": "unit mismatch",
    "RR203": "condition expected",
    "RR204": "value not allowed here",
    "RR205": "invalid aggregate",
    "RR208": "earlier referrals compared with a value not settled at the referral",
    "RR209": "eligibility reads a metric that changes after the referral",
    "RR212": "rate table bound of the wrong unit",
    "RR213": "rate table rows of different units",
    "RR214": "`ignoring case` on values that are not texts",
    "RR215": "a referral as its own conversion",
    "RR210": "partial void: part and whole differ",
    "RR211": "partial void: whole reads the void event",
    "RR301": "milestone has no trigger",
    "RR302": "milestone has more than one trigger",
    "RR303": "milestone has no reward",
    "RR304": "invalid threshold",
    "RR305": "invalid reward amount",
    "RR306": "invalid structure",
    "RR307": "metric depends on itself",
    "RR313": "invalid aggregate over earlier referrals",
    "RR319": "rate table rows out of order",
    "RR320": "ambiguous rate table bounds",
    "RR321": "invalid cap on the number of rewards",
    "RR322": "repeated attribution",
    "RR323": "attribution without a model",
    "RR316": "partial void of a reward without parts",
    "RR317": "milestone hold or void that no reward takes",
    "RR318": "`unless voided` that cannot apply",
    "RR401": "limit exceeded",
    "RR402": "`every` step too small",
    "RR450": "construct the SQL engine does not compile yet",
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
    "RR610": "held condition that cannot change",
    "RR612": "value compared with itself",
    "RR613": "window on the referral's own event",
    "RR614": "referral without a field is ineligible",
    "RR615": "partial void not linked to its award's event",
    "RR616": "`unless voided` a milestone without voids",
    "RR617": "gap between rate table rows",
    "RR618": "overlapping rate table rows",
    "RR619": "allowance no program draws from",
    "RR620": "texts that differ only in case",
    "RR621": "reward at the referral under moving attribution",
    # matching files (match/check.py, docs/matching.md)
    "RR801": "syntax error in a matching file",
    "RR802": "`matching` line missing or repeated",
    "RR803": "duplicate name or clause in a matching file",
    "RR804": "unknown gate",
    "RR805": "unknown attribute",
    "RR806": "invalid tie-break",
    "RR807": "unknown period in a matching file",
    "RR808": "number out of range in a matching file",
    "RR809": "unknown duration unit in a matching file",
    "RR810": "missing clause in a matching file",
    "RR811": "unused attribute",
    "RR812": "unknown time zone in a matching file",
    "RR830": "unknown `rematch` kind",
    "RR831": "a `rematch` kind the file never makes",
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

    def to_problem(self, path: str | None = None) -> Problem:
        """The diagnostic as a `Problem`, for the shared renderer: always
        a line and column (1:1 when it has no span, at ``path`` if given)."""
        where = Location(self.path if self.span or path is None else path, self.line, self.column, span=self.span)
        return Problem(self.severity, self.code, self.message, where, self.help, self.related)

    def to_dict(self) -> dict[str, object]:
        """The stable JSON form used by ``check --format json``."""
        return to_dict(self.to_problem())


def render(diagnostic: Diagnostic, color: bool = False) -> str:
    """Render a diagnostic for people: header, source line, caret, help
    (`render.text`, which escapes whatever echoes a rule file's text)."""
    return text(diagnostic.to_problem(), color)


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


def unknown_zone(code: str, zone: str, span: Span | None) -> Diagnostic | None:
    """The diagnostic of a `timezone "..."` that names no known IANA zone
    (`code`: RR111 in a reward rule file, RR812 in a matching file), or None."""
    from .timeutil import ZoneDataMissing, period_key

    try:
        period_key(0, "day", zone)
    except ZoneDataMissing as missing:  # no name would do: say what is missing
        return Diagnostic(code, f"unknown time zone `{zone}`", span, f"{missing}: pip install tzdata")
    except ValueError:
        hint = 'use an IANA name such as "Europe/Paris" or "America/New_York"'
        return Diagnostic(code, f"unknown time zone `{zone}`", span, hint)
    return None


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity is Severity.ERROR for d in diagnostics)
