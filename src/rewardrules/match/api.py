"""The matching API: load a matching file, match a ledger, read the result.

`load` checks a matching file (`RuleError` with every diagnostic, as for
reward rules); `match` reads a ledger of partner and customer events and
returns a `MatchResult`: the assignments in the order they were made, the
acceptance report, and their JSON and text forms. The same rules, ledger and
as-of give byte-identical output, whatever the line order of the ledger.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from ..core import limits
from ..core.diagnostics import Diagnostic, RuleError, Severity
from ..core.timeutil import TimestampError, format_timestamp, parse_timestamp
from ..ledger import reading
from ..ledger.events import LedgerError, LedgerProblem
from .acceptance import acceptance_rows
from .check import MatchRules, check_text
from .evaluate import Assignment, Matcher
from .events import read_events

#: The version of the result's JSON form (`format` in it).
RESULT_FORMAT = 1


def check_source(text: str, path: str = "<rules>") -> list[Diagnostic]:
    """Every diagnostic of a matching file's text (errors and warnings)."""
    return check_text(text, path)[1]


def load_text(text: str, path: str = "<rules>") -> MatchRules:
    """Checked matching rules from text, or `RuleError` with every error."""
    rules, diagnostics = check_text(text, path)
    if rules is None:
        raise RuleError([d for d in diagnostics if d.severity is Severity.ERROR])
    return rules


def load(path: str | os.PathLike[str]) -> MatchRules:
    """Checked matching rules from a file, read in bounded size (`RuleError`, `OSError`)."""
    return load_text(reading.read_text(path, limits.MAX_RULE_FILE_CHARS), os.fspath(path))


def parse_as_of(text: str | None) -> int | None:
    """`--as-of` as an instant, or `LedgerError` naming the option."""
    if text is None:
        return None
    try:
        return parse_timestamp(text)
    except TimestampError as error:
        raise LedgerError([LedgerProblem(0, "as_of", str(error))], "--as-of") from None


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Assignments made from a ledger up to an instant."""

    rules: MatchRules
    as_of: int | None
    assignments: tuple[Assignment, ...]
    #: answers skipped when replaying under other rules (`match(strict=False)`)
    stale: tuple[str, ...] = ()
    #: the one request the result was narrowed to (`of_request`): then it
    #: has no acceptance report, which needs every assignment
    request: str | None = None

    def of_request(self, request: str) -> MatchResult:
        """The result narrowed to one request's assignments (`match --request`):
        why that customer went where it did."""
        return replace(self, assignments=tuple(a for a in self.assignments if a.request == request), request=request)

    def acceptance(self) -> list[dict[str, Any]] | None:
        rule = self.rules.acceptance
        if rule is None or self.request is not None:
            return None
        return acceptance_rows(rule, self.assignments, self.as_of, self.rules.timezone)

    def to_dict(self) -> dict[str, Any]:
        rule = self.rules.acceptance
        report = None
        if rule is not None and self.request is None:
            report = {
                "at_least": str(rule.percent),
                "by": rule.by,
                "period": rule.period,
                "rows": self.acceptance(),
            }
        return {
            "format": RESULT_FORMAT,
            "matching": self.rules.name,
            "as_of": None if self.as_of is None else format_timestamp(self.as_of),
            "assignments": [a.to_dict() for a in self.assignments],
            "acceptance": report,
        }

    def to_json(self) -> str:
        """The result as JSON: sorted keys, two-space indent, UTF-8 kept."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def referral_events(self) -> list[dict[str, Any]]:
        """The `referral` events of the reward ledger that the accepted
        assignments make: the partner refers the customer, at the instant it
        accepted. A reward program (the CPOR program) scores them with the
        customer's own events; a customer split across partners gives one
        per partner, and the reward side keeps the first (a referee has one
        referrer: the others are reported as `duplicate_referral`)."""
        events = []
        for assignment in self.assignments:
            if assignment.status != "accepted" or assignment.partner is None or assignment.answered_at is None:
                continue
            events.append(
                {
                    "id": "referral-" + assignment.id,
                    "type": "referral",
                    "at": format_timestamp(assignment.answered_at),
                    "referrer": assignment.partner,
                    "referee": assignment.customer,
                }
            )
        return events

    def to_referrals(self) -> str:
        """`referral_events` as JSON Lines, for `rewardrules score`."""
        return "".join(json.dumps(e, sort_keys=True, ensure_ascii=False) + "\n" for e in self.referral_events())

    def to_text(self) -> str:
        """The result for people: each assignment and its why, then who is below the acceptance rate."""
        from .text import render_result

        return render_result(self)


def match(
    rules: MatchRules,
    lines: Iterable[Any],
    as_of: int | str | None = None,
    path: str = "<ledger>",
    strict: bool = True,
) -> MatchResult:
    """Match a ledger's events up to ``as_of`` (default: its last event), or
    `LedgerError`. ``strict=False`` replays history under other rules than
    the ones it was answered under: an accept or decline of a part the
    partner does not hold is skipped (listed in `stale`), not an error."""
    instant = parse_as_of(as_of) if isinstance(as_of, str) else as_of
    events = read_events(lines, rules, path)
    if instant is None and events:
        instant = events[-1].at
    taken = [e for e in events if instant is None or e.at <= instant]
    matcher = Matcher(rules, strict)
    assignments = matcher.run(taken, path)
    return MatchResult(rules, instant, tuple(assignments), tuple(matcher.stale))
