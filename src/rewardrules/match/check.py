"""Check a matching rule file: the checked `MatchRules`, or diagnostics.

Every mistake is reported in one run, each at its file, line and column with
a hint (a "did you mean" for a misspelt gate, attribute, tie-break key,
period or unit), in the renderer every rule file's diagnostics use. The
codes are RR801-RR899, registered with the others in
`core.diagnostics.CODES` (docs/errors.md and docs/matching.md list them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from ..core import limits
from ..core.datatypes import DURATION_UNITS
from ..core.diagnostics import Diagnostic, Severity, did_you_mean, unknown_zone
from ..core.source import Source, Span
from ..core.timeutil import PERIODS
from .parse import Clause, Name, parse

#: The gate every partner passes through whatever `require` lists: its
#: endorsement per workload (a lapsed one does not count).
ENDORSEMENT = "endorsement"
#: The criterion of `round robin by` that compares requested workloads.
WORKLOAD = "workload"
#: Tie-break keys, each with what it prefers.
TIE_BREAKS: dict[str, str] = {
    "longest_idle": "the partner whose last assignment is the longest ago (never assigned first)",
    "earliest_joined": "the partner declared first",
    "partner": "the smaller partner id (by code point)",
}
#: The key that makes every tie-break total: two partners never share an id.
UNIQUE_KEY = "partner"
#: Most partners one referral may be split across (the FAQ's 2 or 3, and room).
MAX_SPLIT = 10
#: Clauses that may appear once in a file.
_ONCE = ("require", "claims", "balance", "tiebreak", "split", "fallback", "pause", "acceptance", "rematch")
#: What `rematch` may list: the parts matched again when a partner joins,
#: resumes or changes its endorsements (their status: who holds them).
REMATCH: dict[str, str] = {
    "unmatched": "the parts no partner could take and no fallback holds",
    "fallback": "the parts the fallback holds",
}


@dataclass(frozen=True, slots=True)
class Acceptance:
    """`acceptance at least P% by ATTR per PERIOD`: who falls below."""

    percent: Decimal
    by: str | None
    period: str


@dataclass(frozen=True, slots=True)
class MatchRules:
    """A checked matching file: everything the matcher reads, no syntax left."""

    name: str
    title: str | None
    workloads: tuple[str, ...]
    attributes: tuple[str, ...]
    #: `endorsement` and attribute names, in the order `require` lists them
    gates: tuple[str, ...]
    claims_first: bool
    #: `round robin by`: `workload` and attribute names
    balance_by: tuple[str, ...]
    #: the calendar period the counts reset at, or None (never)
    balance_period: str | None
    tie_break: tuple[str, ...]
    #: most partners a referral is split across (1: never split)
    split_max: int
    fallback: str | None
    #: the IANA zone calendar periods start in (None: UTC)
    timezone: str | None
    #: the longest pause in nanoseconds, or None (a pause lasts until resumed)
    pause_max_ns: int | None
    acceptance: Acceptance | None
    #: the least time between the end of a pause and the next pause, in
    #: nanoseconds (None: no pause limit); by default the pause limit itself
    pause_gap_ns: int | None = None
    #: the statuses of the parts matched again when a partner joins,
    #: resumes or changes (`rematch`); empty: a part stays where it went
    rematch: tuple[str, ...] = ()


def check_text(text: str, path: str = "<rules>") -> tuple[MatchRules | None, list[Diagnostic]]:
    """Parse and check a matching file: the rules (None on any error) and every diagnostic."""
    source = Source(path, text)
    clauses, diagnostics = parse(source)
    if clauses is None:
        return None, diagnostics
    checker = _Checker(source, clauses)
    rules = checker.run()
    found = sorted(checker.diagnostics, key=Diagnostic.sort_key)
    errors = any(d.severity is Severity.ERROR for d in found)
    return (None if errors else rules), found


class _Checker:
    """One pass over the clauses: declarations first, then each clause's names."""

    def __init__(self, source: Source, clauses: list[Clause]) -> None:
        self.source = source
        self.clauses = clauses
        self.diagnostics: list[Diagnostic] = []
        #: the numbers past the digit limit, by where they are written (no other check reads them)
        self.too_long: set[tuple[int, int]] = set()

    def error(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, span, hint))

    def run(self) -> MatchRules:
        self._digits()
        heads = [c for c in self.clauses if c.kind == "matching"]
        self._once(heads, "RR802")
        if not heads:
            self.error("RR802", "no `matching` line", self.source.whole(), "start the file with `matching NAME`")
        for kind in _ONCE:
            self._once([c for c in self.clauses if c.kind == kind], "RR803")
        workloads = self._declared("workload")
        attributes = self._declared("attribute")
        fallback = _find(self.clauses, "fallback")
        if not workloads:
            self.error(
                "RR810", "no workload is declared", self.source.whole(), "declare each workload: `workload NAME`"
            )
        gates = self._gates(attributes)
        balance = _find(self.clauses, "balance")
        balance_by = self._attributes(balance.names if balance else (), attributes, (WORKLOAD,))
        tie_break = self._tie_break()
        acceptance = self._acceptance(attributes)
        self._unused(attributes, gates, balance_by, acceptance)
        head = heads[0] if heads else None
        return MatchRules(
            name=head.names[0].text if head else "",
            title=head.title if head else None,
            workloads=tuple(workloads),
            attributes=tuple(attributes),
            gates=gates,
            claims_first=_find(self.clauses, "claims") is not None,
            balance_by=balance_by,
            balance_period=self._period(balance.period) if balance and balance.period else None,
            tie_break=tie_break,
            split_max=self._split(),
            fallback=fallback.names[0].text if fallback else None,
            timezone=self._timezone(head),
            pause_max_ns=(pause := self._pause()),
            acceptance=acceptance,
            pause_gap_ns=self._pause_gap(pause),
            rematch=self._rematch(fallback is not None),
        )

    # -- declarations ------------------------------------------------------
    def _once(self, clauses: list[Clause], code: str) -> None:
        for later in clauses[1:]:
            keyword = self.source.text[later.span.start : later.span.end].split()[0]
            self.error(
                code,
                f"a second `{keyword}` clause",
                later.span,
                f"a matching file has one `{keyword}` clause; the first is on line {clauses[0].span.line}",
            )

    def _declared(self, kind: str) -> dict[str, Clause]:
        found: dict[str, Clause] = {}
        for clause in self.clauses:
            if clause.kind != kind:
                continue
            name = clause.names[0]
            if name.text in found:
                line = found[name.text].span.line
                self.error(
                    "RR803", f"{kind} `{name.text}` is declared twice", name.span, f"the first is on line {line}"
                )
            else:
                found[name.text] = clause
        return found

    # -- numbers -------------------------------------------------------------
    def _digits(self) -> None:
        """Every number of the file (`split up to`, `pause at most`, its
        `apart` gap, `acceptance at least`) within the digit limit of reward
        rule files, counted as written (`limits.written_digits`: `0.000…1`
        is as long as it looks); one past it is RR808 and read no further."""
        for clause in self.clauses:
            for value, span in ((clause.number, clause.number_span), (clause.gap, clause.gap_span)):
                if value is None or span is None:
                    continue
                digits = max(len(value.as_tuple().digits), limits.written_digits(span.text))
                if digits > limits.MAX_LITERAL_DIGITS:
                    self.too_long.add((span.start, span.end))
                    self.error(
                        "RR808",
                        f"number has {digits} digits (the limit is {limits.MAX_LITERAL_DIGITS})",
                        span,
                        f"a number in a matching file has at most {limits.MAX_LITERAL_DIGITS} digits, as in a "
                        "reward rule file (leading and trailing zeros count)",
                    )

    def _long(self, span: Span) -> bool:
        """Whether the number written at ``span`` is past the digit limit (reported by `_digits`)."""
        return (span.start, span.end) in self.too_long

    # -- clauses -------------------------------------------------------------
    def _gates(self, attributes: Iterable[str]) -> tuple[str, ...]:
        clause = _find(self.clauses, "require")
        if clause is None:
            return ()
        known = (ENDORSEMENT, *attributes)
        fallback = f"a gate is `{ENDORSEMENT}` or a declared attribute: {_list(known)}"
        return self._distinct(clause.names, known, ("RR804", "gate", lambda _: fallback), ("RR803", "gate"))

    def _distinct(
        self,
        names: Iterable[Name],
        known: Iterable[str],
        unknown: tuple[str, str, Callable[[str], str]],
        twice: tuple[str, str],
    ) -> tuple[str, ...]:
        """The names of a list clause that are `known`, each once: an
        unknown one is `unknown`'s code ("unknown WHAT", the nearest known
        name or its fallback hint), a repeated one `twice`'s."""
        known = tuple(known)
        found: list[str] = []
        for name in names:
            if name.text not in known:
                code, what, fallback = unknown
                hint = did_you_mean(name.text, known, fallback(name.text))
                self.error(code, f"unknown {what} `{name.text}`", name.span, hint)
            elif name.text in found:
                code, what = twice
                self.error(code, f"{what} `{name.text}` is listed twice", name.span, f"list each {what} once")
            else:
                found.append(name.text)
        return tuple(found)

    def _attributes(self, names: Iterable[Name], attributes: Iterable[str], extra: tuple[str, ...]) -> tuple[str, ...]:
        declare = ("RR805", "attribute", lambda name: f"declare it first: `attribute {name}`")
        return self._distinct(names, (*extra, *attributes), declare, ("RR803", "criterion"))

    def _tie_break(self) -> tuple[str, ...]:
        clause = _find(self.clauses, "tiebreak")
        if clause is None:
            self.error(
                "RR810",
                "no `tie break` clause",
                self.source.whole(),
                f"state how equal counts are decided, ending with `{UNIQUE_KEY}`: `tie break longest_idle, partner`",
            )
            return (UNIQUE_KEY,)
        one_of = f"a tie-break key is one of {_list(TIE_BREAKS)}"
        keys = self._distinct(
            clause.names, TIE_BREAKS, ("RR806", "tie-break key", lambda _: one_of), ("RR806", "tie-break key")
        )
        if clause.names and clause.names[-1].text != UNIQUE_KEY and all(n.text in TIE_BREAKS for n in clause.names):
            self.error(
                "RR806",
                f"the tie-break can leave a tie: it does not end with `{UNIQUE_KEY}`",
                clause.names[-1].span,
                f"end it with `{UNIQUE_KEY}` (two partners never share an id), so no tie is left to the input's order",
            )
        return keys

    def _period(self, name: Name) -> str:
        if name.text not in PERIODS:
            self.error(
                "RR807", f"unknown period `{name.text}`", name.span, did_you_mean(name.text, PERIODS, _periods())
            )
        return name.text

    def _timezone(self, head: Clause | None) -> str | None:
        if head is None or head.zone is None or head.zone_span is None:
            return None
        problem = unknown_zone("RR812", head.zone, head.zone_span)
        if problem is not None:
            self.diagnostics.append(problem)
            return None
        return head.zone

    def _split(self) -> int:
        clause = _find(self.clauses, "split")
        if clause is None or clause.number is None or clause.number_span is None or self._long(clause.number_span):
            return 1
        if clause.number != clause.number.to_integral_value() or not 2 <= clause.number <= MAX_SPLIT:
            self.error(
                "RR808",
                f"`split up to {clause.number}` is not a whole number from 2 to {MAX_SPLIT}",
                clause.number_span,
                "the FastTrack FAQ splits a referral across 2 or 3 partners; leave the clause out to never split",
            )
            return 1
        return int(clause.number)

    def _pause(self) -> int | None:
        clause = _find(self.clauses, "pause")
        if clause is None or clause.unit is None or clause.number is None or clause.number_span is None:
            return None
        unit = DURATION_UNITS.get(clause.unit.text)
        if unit is None:
            hint = did_you_mean(clause.unit.text, DURATION_UNITS, "a duration is in minutes, hours, days or weeks")
            self.error("RR809", f"unknown duration unit `{clause.unit.text}`", clause.unit.span, hint)
            return None
        if self._long(clause.number_span):
            return None
        if clause.number <= 0 or clause.number != clause.number.to_integral_value():
            what = "zero is no pause" if clause.number == 0 else f"{clause.number} {clause.unit.text} is not whole"
            self.error(
                "RR808",
                f"a pause of at most {what}",
                clause.number_span,
                f"give a whole number of {clause.unit.text} above 0",
            )
            return None
        return int(clause.number) * unit

    def _pause_gap(self, limit: int | None) -> int | None:
        """`, at least N UNIT apart`: the least time from the end of a pause
        to the next one; without it, the pause limit (chained pauses are no
        way round the limit); 0 allows back-to-back pauses."""
        clause = _find(self.clauses, "pause")
        if limit is None or clause is None or clause.gap is None or clause.gap_unit is None:
            return limit
        assert clause.gap_span is not None
        unit = DURATION_UNITS.get(clause.gap_unit.text)
        if unit is None:
            hint = did_you_mean(clause.gap_unit.text, DURATION_UNITS, "a duration is in minutes, hours, days or weeks")
            self.error("RR809", f"unknown duration unit `{clause.gap_unit.text}`", clause.gap_unit.span, hint)
            return limit
        if self._long(clause.gap_span):
            return limit
        if clause.gap != clause.gap.to_integral_value():
            self.error(
                "RR808",
                f"pauses at least {clause.gap} {clause.gap_unit.text} apart: {clause.gap} is not whole",
                clause.gap_span,
                f"give a whole number of {clause.gap_unit.text} (0 allows back-to-back pauses)",
            )
            return limit
        return int(clause.gap) * unit

    def _rematch(self, has_fallback: bool) -> tuple[str, ...]:
        """`rematch unmatched, fallback`: which parts are matched again. A
        kind the file can never make is a warning (RR831): `fallback`
        without a `fallback` clause, `unmatched` with one."""
        clause = _find(self.clauses, "rematch")
        if clause is None:
            return ()
        one_of = f"`rematch` lists {_list(REMATCH)}"
        kinds = self._distinct(clause.names, REMATCH, ("RR830", "rematch kind", lambda _: one_of), ("RR830", "kind"))
        for name in clause.names:
            never = (name.text == "fallback" and not has_fallback) or (name.text == "unmatched" and has_fallback)
            if never:
                why = "no `fallback` clause" if not has_fallback else "a `fallback` clause, so no part is unmatched"
                self.diagnostics.append(
                    Diagnostic(
                        "RR831",
                        f"`rematch {name.text}` never applies: the file has {why}",
                        name.span,
                        "list only the parts the file makes: `unmatched` without a fallback, `fallback` with one",
                        Severity.WARNING,
                    )
                )
        return kinds

    def _acceptance(self, attributes: Iterable[str]) -> Acceptance | None:
        clause = _find(self.clauses, "acceptance")
        if clause is None or clause.number is None or clause.number_span is None:
            return None
        if not self._long(clause.number_span) and not 0 < clause.number <= 100:
            self.error("RR808", f"`{clause.number}%` is not a rate above 0% and at most 100%", clause.number_span)
        by = self._attributes(clause.names, attributes, ())
        for extra in clause.names[1:]:
            self.error("RR805", "an acceptance rate is measured by one attribute", extra.span, "keep the first")
        period = self._period(clause.period) if clause.period else None
        if period is None:
            self.error(
                "RR810",
                "an acceptance rate needs a period",
                clause.span,
                "add the period it is measured over: `per quarter`",
            )
        return Acceptance(clause.number, by[0] if by else None, period or "quarter")

    def _unused(self, attributes: dict[str, Clause], *uses: object) -> None:
        used: set[str] = set()
        for use in uses:
            if isinstance(use, tuple):
                used.update(use)
            elif isinstance(use, Acceptance) and use.by:
                used.add(use.by)
        for name, clause in attributes.items():
            if name not in used:
                self.diagnostics.append(
                    Diagnostic(
                        "RR811",
                        f"attribute `{name}` is declared but no clause uses it",
                        clause.names[0].span,
                        f"require it (`require {name}`), balance by it, or remove it",
                        Severity.WARNING,
                    )
                )


def _find(clauses: list[Clause], kind: str) -> Clause | None:
    return next((c for c in clauses if c.kind == kind), None)


def _list(names: Iterable[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _periods() -> str:
    return f"a period is one of {_list(PERIODS)}"
