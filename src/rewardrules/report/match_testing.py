"""Rule tests of matching files: small ledgers and the assignments they must make.

A matching file's tests sit beside it as ``NAME.test.toml``, in the format
of the reward side's tests (`report.testing`, docs/testing.md): the same
keys, the same `events`/`ledger`/`as_of`, the same `expect`, `expect_none`
and `exact`; only what is expected differs. An expectation is a partial
assignment record (docs/matching.md, "The assignment record"): `request`,
`partner`, `workloads` (in any order), `basis`, `status` and so on. The
file reading, the one-to-one matching of expectations with records and the
nearest-record diff are `report.testing`'s; this module adds what an
assignment is and how a case is matched.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from ..core.diagnostics import did_you_mean
from ..core.formatting import quoted
from ..core.timeutil import parse_timestamp
from ..ledger import reading
from ..ledger.events import LedgerError
from ..match.api import match
from ..match.check import MatchRules
from ..match.evaluate import BASES, KINDS, STATUSES
from .testing import (
    Case,
    CaseInputError,
    CaseResult,
    Records,
    TestFile,
    TestFileError,
    TestProblem,
    _Invalid,
    _iso,
    _pattern_value,
    case_input_error,
    expect_records,
    outcome_lines,
    text_value,
)

#: The fields of an assignment record an expectation may name.
ASSIGNMENT_FIELDS = (
    "request",
    "customer",
    "partner",
    "workloads",
    "kind",
    "basis",
    "status",
    "reason",
    "replaces",
    "at",
    "answered_at",
    "event",
    "id",
)
_CHOICES: dict[str, tuple[str, ...]] = {"kind": KINDS, "basis": BASES, "status": STATUSES}
_INSTANTS = ("at", "answered_at")


def _value(name: str, value: Any) -> Any:
    """The comparable form of an expected assignment field, or what is wrong with it."""
    if name in _INSTANTS:
        return _pattern_value("at", value)
    if name == "workloads":
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            # a record lists each workload once: a repeated one would collapse and match silently
            twice = _repeated(value)
            if twice is not None:
                return _Invalid(f"lists {quoted(twice)} twice", "list each workload once (in any order)")
            return tuple(sorted(value))
        return _Invalid("must be a list of workload names", 'workloads = ["teams", "exchange"]')
    return text_value(name, value, _CHOICES)


def _normal(name: str, value: Any) -> Any:
    """An actual record's field in the comparable form of `_value`:
    workloads as a set, instants as instants."""
    if value is None:
        return None
    if name in _INSTANTS:
        return parse_timestamp(value)
    if name == "workloads":
        return tuple(sorted(set(value)))
    return value


#: The expectations of a matching file's tests: assignment records.
ASSIGNMENTS = Records(
    "assignment", ASSIGNMENT_FIELDS, _value, _normal, '{ request = "...", partner = "...", workloads = ["..."] }'
)


@dataclass(slots=True)
class MatchCaseResult(CaseResult):
    """A matching case's assignments matched with its expectations (`traced`
    is None: a matching run has no reward trace)."""

    assignments: list[dict[str, Any]] = field(default_factory=list)
    as_of: str | None = None


def unknown_workloads(rules: MatchRules, test_file: TestFile) -> list[TestProblem]:
    """Expectations that name a workload the matching file does not declare:
    an `expect_none` with a typo would pass forever."""
    problems = []
    for case in test_file.cases:
        for key, patterns in (("expect", case.expect), ("expect_none", case.expect_none)):
            for n, pattern in enumerate(patterns, start=1):
                for workload in pattern.fields.get("workloads", ()):
                    if workload not in rules.workloads:
                        problems.append(
                            TestProblem(
                                test_file.path,
                                case.line,
                                f"case {quoted(case.name)}: {quoted(key)} #{n}: {quoted(rules.name)} has no workload "
                                f"{quoted(workload)}",
                                hint=did_you_mean(workload, rules.workloads),
                            )
                        )
    return problems


def run_match_cases(rules: MatchRules, test_file: TestFile) -> list[MatchCaseResult]:
    """Match every case; `TestFileError` for an expectation naming an
    unknown workload, `CaseInputError` for invalid ledgers (every case is
    matched first, so all of them are reported)."""
    problems = unknown_workloads(rules, test_file)
    if problems:
        raise TestFileError(problems)
    results = []
    for case in test_file.cases:
        try:
            results.append(run_match_case(rules, case, test_file.path))
        except CaseInputError as error:
            problems.extend(error.problems)
    if problems:
        raise CaseInputError(problems)
    return results


def run_match_case(rules: MatchRules, case: Case, path: str = "<tests>") -> MatchCaseResult:
    """Match one case and compare; `CaseInputError` for an invalid ledger."""
    try:
        if case.ledger is not None:
            with open(case.ledger, "rb") as handle:
                result = match(rules, reading.read_lines(handle), case.as_of, case.ledger)
        else:
            result = match(rules, [_plain(e) for e in case.events], case.as_of, path)
    except (LedgerError, OSError) as error:
        raise case_input_error(case, path, error) from None
    data = result.to_dict()
    outcome = MatchCaseResult(case, None, assignments=data["assignments"], as_of=data["as_of"])
    expect_records(case, outcome.assignments, outcome)
    return outcome


def _plain(value: Any) -> Any:
    """A TOML inline table as a ledger event, with every date-time inside it
    (an endorsement's lapse) as RFC 3339 text. How deep TOML nests is
    bounded by its reader (`core.tomltext`), so this recursion is too."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return _iso(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def match_failure_lines(result: MatchCaseResult) -> list[str]:
    """How a failed matching case is told (`rewardrules test`), as a
    reward case is (`testing.outcome_lines`), with assignments."""
    case = result.case
    where = f" (line {case.line})" if case.line else ""
    body = outcome_lines(result, result.assignments, result.as_of, assignment_line, "assignment")
    return [f"  FAIL  `{case.name}`{where}", *body]


def assignment_line(record: dict[str, Any]) -> str:
    """One assignment in a line, for failure reports."""
    who = record["partner"] or "nobody"
    return (
        f"{record['request']}: {who} takes {', '.join(record['workloads'])} ({record['basis']}, {record['status']}), "
        f"customer {record['customer']}, at {record['at']}"
    )


def assignment_fields(record: dict[str, Any]) -> dict[str, Any]:
    """An assignment record without its `why`, for the JSON of a test run."""
    return {name: record.get(name) for name in ASSIGNMENT_FIELDS}


def _repeated(values: list[Any]) -> Any:
    """The first value listed a second time, or None (one pass: a list of
    20,000 workloads took 1.9 s compared with the slice before each)."""
    seen: set[Any] = set()
    for value in values:
        if value in seen:
            return value
        seen.add(value)
    return None
