"""Rule tests: small ledgers with the awards they must, and must not, give.

A test file ``NAME.test.toml`` sits beside ``NAME.rules`` (format in
docs/testing.md). The stages of a run: read the file (TOML -> cases; every
mistake collected with its line) -> check the cases against the program
(known milestone and program names) -> score each case -> match expected
awards with actual ones -> coverage of the rule file by all its cases.

    test_file = read_test_file("rulesets/saas_milestones.test.toml")
    program = rewardrules.load(test_file.rules)
    results = run_cases(program, test_file)          # raises CaseInputError
    report = coverage(program, test_file.rules, results)
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import limits
from ..core.award import KINDS, ROLES, STATUSES
from ..core.diagnostics import did_you_mean
from ..core.formatting import quoted
from ..core.lines import split_lines
from ..core.problem import Location, Problem, Severity
from ..core.render import text as render_text
from ..core.render import to_dict as problem_dict
from ..core.runtime import in_context
from ..core.timeutil import TimestampError, parse_timestamp
from ..core.tomltext import load_toml
from ..ledger.decode import exact_decimal
from ..ledger.events import LedgerError
from ..ledger.reading import read_text
from ..score.schema import CONTRACT_FIELDS
from .trace import Traced, score_traced

if TYPE_CHECKING:
    from ..check.program import CheckedRuleset
    from ..score.api import Program

#: the suffix of a test file; ``NAME.test.toml`` tests ``NAME.rules``
SUFFIX = ".test.toml"
#: award fields an expectation may name
AWARD_FIELDS = (*CONTRACT_FIELDS, "program", "message")
_FILE_KEYS = ("rules", "case")
_CASE_KEYS = ("name", "description", "as_of", "events", "ledger", "expect", "expect_none", "exact")
_CHOICES = {"role": ROLES, "status": STATUSES, "kind": KINDS}
_CASE_HEADER = re.compile(r"^\s*\[\[\s*case\s*\]\]")
_EVENTS_KEY = re.compile(r"""^\s*events\s*=\s*("{3}|'{3}|"|')(.*)$""")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


# -- problems ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TestProblem:
    """A mistake in a test file (or in a case's ledger): where, and what."""

    __test__ = False  # not a pytest test class

    path: str
    line: int | None
    message: str
    column: int | None = None
    hint: str | None = None

    def to_problem(self) -> Problem:
        """The problem, for the shared renderer: a line and, for invalid
        TOML, a column."""
        return Problem(Severity.ERROR, None, self.message, Location(self.path, self.line, self.column), self.hint)

    def render(self) -> str:
        """For people (`render.text`): the path, message and hint may echo
        a test file's text, so each of its lines is `printable`."""
        return render_text(self.to_problem())

    def to_dict(self) -> dict[str, Any]:
        return problem_dict(self.to_problem(), _KEYS)


#: The keys of a test problem's JSON form, in their order.
_KEYS = ("path", "line", "column", "message", "help")


class TestFileError(Exception):
    """A test file that cannot be run; carries every problem found."""

    __test__ = False

    def __init__(self, problems: list[TestProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(p.render() for p in problems))


class CaseInputError(TestFileError):
    """A case whose ledger is invalid (reported at the lines of the test file)."""


# -- the test file -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pattern:
    """A partial award: matches an award whose named fields are all equal
    (amounts by value, ``at`` by instant)."""

    fields: dict[str, Any]  # as written, for display
    wanted: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)  # comparable forms
    #: an actual record's field in the comparable form (`Records.normal`; None: an award's)
    normal: Callable[[str, Any], Any] | None = field(repr=False, compare=False, default=None)

    def matches(self, award: dict[str, Any]) -> bool:
        normal = self.normal or _normal
        return all(normal(name, award.get(name)) == value for name, value in self.wanted.items())

    def differences(self, award: dict[str, Any]) -> list[tuple[str, Any, Any]]:
        """(field, expected, actual) for every field that differs."""
        normal = self.normal or _normal
        return [
            (name, self.fields[name], award.get(name))
            for name, value in self.wanted.items()
            if normal(name, award.get(name)) != value
        ]

    def show(self) -> str:
        """The pattern as a TOML inline table, the way it was written."""
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in self.fields.items()) + "}"


@dataclass(frozen=True, slots=True)
class Records:
    """What a test file's expectations are about: the awards of a reward
    rule file, or the assignments of a matching file (`report.match_testing`)."""

    #: "award" or "assignment", for messages
    noun: str
    #: the fields an expectation may name
    fields: tuple[str, ...]
    #: an expected field's comparable form, or `_Invalid` saying what is wrong
    value: Callable[[str, Any], Any]
    #: an actual record's field in that form
    normal: Callable[[str, Any], Any]
    #: an expectation as written, for hints
    example: str


@dataclass(slots=True)
class Case:
    name: str
    line: int | None
    as_of: str | None
    events: list[Any]  # dicts (inline tables) or JSON text lines
    expect: list[Pattern]
    expect_none: list[Pattern]
    exact: bool = False
    description: str | None = None
    #: where the events came from, to put ledger problems at file lines
    ledger: str | None = None  # a `ledger = "..."` file
    text_line: int | None = None  # file line of the first line of an `events` string


@dataclass(slots=True)
class TestFile:
    __test__ = False

    path: str
    rules: str
    cases: list[Case]
    #: "award", or "assignment" when `rules` is a matching file
    kind: str = "award"


def tests_for(rules: str | Path) -> Path:
    """Where the tests of a rule file live: ``NAME.test.toml`` beside it."""
    p = Path(rules)
    return p.with_name(p.stem + SUFFIX)


def rules_for(test_file: str | Path) -> Path:
    """The rule file a test file tests by default: ``NAME.rules`` beside it."""
    p = Path(test_file)
    return p.with_name(p.name[: -len(SUFFIX)] + ".rules") if p.name.endswith(SUFFIX) else p.with_suffix(".rules")


def read_test_file(path: str | Path) -> TestFile:
    """Read and validate a test file; raise TestFileError with every problem
    (OSError and UnicodeDecodeError pass through)."""
    name = str(path)
    text = read_text(path, limits.MAX_TEST_FILE_CHARS, "a test file")  # bounded, regular files only
    return parse_test_file(text, name, records_of)


def _confinement_problem(
    test_file: str | Path, named: str, key: str, rule_file: bool = False
) -> tuple[str, str] | None:
    """Why a path that a test file names may not be read, or None.

    A test file is untrusted (it comes with a pull request): the paths it
    names are read only inside its own folder, so that `rules =
    "/proc/self/environ"` or `ledger = "../../.env"` cannot make a test run
    read, and a diagnostic echo, a file from anywhere else. Refused:
    absolute paths, paths that leave the folder (`..`, or a symbolic link
    anywhere on the way that points outside), anything other than a regular
    file, and for `rules` a file not named `*.rules` (diagnostics quote the
    lines of a rule file; they must never quote another file's bytes).
    Returns (message, hint)."""
    folder = Path(test_file).parent
    hint = "name a file beside the test file, or in a folder below it, by a relative path"
    pure = Path(named)
    if pure.is_absolute() or pure.drive or named.startswith(("/", "\\")):
        return f"{quoted(key)} must be a path relative to the test file, not the absolute path {quoted(named)}", hint
    if ".." in pure.parts:
        return f"{quoted(key)} may not leave the test file's folder: {quoted(named)} goes up with `..`", hint
    try:
        base = folder.resolve()
        target = (folder / pure).resolve()
        if not target.is_relative_to(base):
            return (
                f"{quoted(key)}: {quoted(named)} leads outside the test file's folder (through a symbolic link)",
                hint,
            )
        if rule_file and target.suffix != ".rules":
            return f"{quoted(key)} must name a rule file (`*.rules`), not {quoted(named)}", hint
        if target.exists() and not target.is_file():
            return f"{quoted(key)}: {quoted(named)} is not a regular file", hint
    except ValueError:  # os.path refuses a NUL
        return f"`{key}`: {named!r} holds a NUL character", hint
    except (OSError, RuntimeError) as error:  # RuntimeError: a symbolic link loop, before Python 3.13
        reason = error.strerror.lower() if isinstance(error, OSError) and error.strerror else "a symbolic link loop"
        return f"{quoted(key)}: {quoted(named)} cannot be resolved: {reason}", hint
    return None


@in_context
def parse_test_file(text: str, path: str = "<tests>", kind_of: Callable[[str], Records] | None = None) -> TestFile:
    """A test file's cases, or `TestFileError` with every problem.
    ``kind_of`` says what the rule file at a path is tested for (awards,
    or a matching file's assignments: `records_of` reads the file); without
    it, awards, and no file is read (the language server reads none)."""
    try:
        data = load_toml(text, exact_decimal)
    except ValueError as error:  # TOMLDecodeError, a number Decimal refuses, nesting too deep
        message = str(error)
        found = _TOML_POSITION.search(message)
        line = column = None
        if found:
            line, column = int(found.group(1)), int(found.group(2))
            message = message[: found.start()]
        raise TestFileError([TestProblem(path, line, "invalid TOML: " + _lower(message), column)]) from None
    problems: list[TestProblem] = []
    for key in data:
        if key not in _FILE_KEYS:
            problems.append(
                TestProblem(
                    path, _key_line(text, key), f"unknown key {quoted(key)}", hint=did_you_mean(key, _FILE_KEYS)
                )
            )
    rules = data.get("rules")
    if rules is not None and not isinstance(rules, str):
        problems.append(TestProblem(path, _key_line(text, "rules"), "`rules` must be a string: the rule file's path"))
        rules = None
    rules_path = str(Path(path).parent / rules) if rules else str(rules_for(path))
    refused = _confinement_problem(path, rules or Path(rules_path).name, "rules", rule_file=True)
    if refused is not None:
        problems.append(TestProblem(path, _key_line(text, "rules") if rules else None, refused[0], hint=refused[1]))
    records = AWARDS if refused is not None or kind_of is None else kind_of(rules_path)
    raw_cases = data.get("case", [])
    if not isinstance(raw_cases, list):
        problems.append(TestProblem(path, _key_line(text, "case"), "`case` must be written `[[case]]` (one per case)"))
        raise TestFileError(problems)
    if not raw_cases:
        problems.append(TestProblem(path, None, "no test cases", hint="add a `[[case]]` table (see docs/testing.md)"))
        raise TestFileError(problems)
    headers = [n for n, line in enumerate(split_lines(text), start=1) if _CASE_HEADER.match(line)]
    lines: Sequence[int | None] = headers if len(headers) == len(raw_cases) else [None] * len(raw_cases)
    cases: list[Case] = []
    names: dict[str, int | None] = {}
    for index, (raw, line) in enumerate(zip(raw_cases, lines, strict=True), start=1):
        case = _case(raw, index, line, path, text, problems, records)
        if case is None:
            continue
        if case.name in names:
            problems.append(
                TestProblem(path, line, f"case `{case.name}` is defined twice", hint="give it another name")
            )
        names[case.name] = line
        cases.append(case)
    if problems:
        raise TestFileError(problems)
    return TestFile(path, rules_path, cases, records.noun)


def _case(
    raw: Any, index: int, line: int | None, path: str, text: str, problems: list[TestProblem], records: Records
) -> Case | None:
    start = len(problems)

    def problem(message: str, hint: str | None = None) -> None:
        problems.append(TestProblem(path, line, message, hint=hint))

    if not isinstance(raw, dict):
        problem(f"case {index} must be a table: `[[case]]`")
        return None
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        problem(f"case {index} needs a `name`", 'name = "what this case shows"')
        name = f"#{index}"
    label = f"case `{name}`"
    for key in raw:
        if key not in _CASE_KEYS:
            problem(f"{label}: unknown key {quoted(key)}", did_you_mean(key, _CASE_KEYS))
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        problem(f"{label}: `description` must be a string")
    as_of = _as_of(raw.get("as_of"), label, problem)
    events: list[Any] = []
    ledger: str | None = None
    text_line: int | None = None
    if ("events" in raw) == ("ledger" in raw):
        problem(f"{label} needs either `events` or `ledger`", "events = [ { id = ..., at = ..., type = ... }, ... ]")
    elif "ledger" in raw:
        if isinstance(raw["ledger"], str) and raw["ledger"]:
            ledger = str(Path(path).parent / raw["ledger"])
            refused = _confinement_problem(path, raw["ledger"], "ledger")
            if refused is not None:
                problem(f"{label}: {refused[0]}", refused[1])
        else:
            problem(f"{label}: `ledger` must be a path (a string)")
    else:
        value = raw["events"]
        if isinstance(value, str):
            events = split_lines(value)
            text_line = _events_line(text, line)
        elif isinstance(value, list) and all(isinstance(e, dict) for e in value):
            events = [_event(e) for e in value]
        else:
            problem(
                f"{label}: `events` must be a list of inline tables or a string of JSON lines",
                'events = [ { id = "r1", at = 2026-03-01T09:00:00Z, type = "referral", ... } ]',
            )
    expect = _patterns(raw.get("expect", []), f"{label}: `expect`", problem, records)
    expect_none = _patterns(raw.get("expect_none", []), f"{label}: `expect_none`", problem, records)
    exact = raw.get("exact", False)
    if not isinstance(exact, bool):
        problem(f"{label}: `exact` must be true or false")
        exact = False
    if not expect and not expect_none and not exact and len(problems) == start:
        problem(
            f"{label} expects nothing",
            f"add `expect`, `expect_none`, or `exact = true` (with no `expect`: no {records.noun} at all)",
        )
    if len(problems) > start:
        return None
    return Case(name, line, as_of, events, expect, expect_none, exact, description, ledger, text_line)


def _as_of(value: Any, label: str, problem: Callable[..., None]) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return _iso(value)
    if isinstance(value, str):
        try:
            parse_timestamp(value)
        except TimestampError as error:
            problem(f"{label}: `as_of`: {error}", "as_of = 2026-03-31T23:59:59Z (with an offset: Z or +02:00)")
            return None
        return value
    problem(f"{label}: `as_of` must be a timestamp with an offset", "as_of = 2026-03-31T23:59:59Z")
    return None


def _patterns(value: Any, label: str, problem: Callable[..., None], records: Records) -> list[Pattern]:
    if not isinstance(value, list):
        problem(f"{label} must be a list of inline tables", f"[ {records.example} ]")
        return []
    out = []
    for n, raw in enumerate(value, start=1):
        where = f"{label} #{n}"
        if not isinstance(raw, dict):
            problem(f"{where} must be an inline table", records.example)
            continue
        if not raw:
            problem(
                f"{where} is empty: it would match any {records.noun}", f"name at least one field: {records.example}"
            )
            continue
        wanted: dict[str, Any] = {}
        shown: dict[str, Any] = {}
        for name, item in raw.items():
            if name not in records.fields:
                problem(f"{where}: unknown {records.noun} field `{name}`", did_you_mean(name, records.fields))
                continue
            normal = records.value(name, item)
            if isinstance(normal, _Invalid):
                problem(f"{where}: `{name}`: {normal.message}", normal.hint)
                continue
            wanted[name] = normal
            shown[name] = item
        out.append(Pattern(shown, wanted, None if records is AWARDS else records.normal))
    return out


@dataclass(frozen=True, slots=True)
class _Invalid:
    message: str
    hint: str | None = None


def _pattern_value(name: str, value: Any) -> Any:
    """The comparable form of an expected field, or what is wrong with it."""
    if name == "amount":
        if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
            return _Invalid("must be a number", 'amount = "500.00" or amount = 500')
        try:
            number = Decimal(value) if not isinstance(value, Decimal) else value
        except InvalidOperation:
            return _Invalid(f"{quoted(value)} is not a number", 'amount = "500.00"')
        return number if number.is_finite() else _Invalid(f"{quoted(value)} is not a number")
    if name == "at":
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            return parse_timestamp(_iso(value))
        if isinstance(value, str):
            try:
                return parse_timestamp(value)
            except TimestampError as error:
                return _Invalid(str(error), "at = 2026-03-01T09:30:00Z")
        return _Invalid("must be a timestamp with an offset", "at = 2026-03-01T09:30:00Z")
    return text_value(name, value, _CHOICES)


def text_value(name: str, value: Any, choices_of: dict[str, tuple[str, ...]]) -> Any:
    """An expected text field: a string, one of its choices when it has any
    (a `status`, a `kind`), else `_Invalid` with the nearest choice."""
    if not isinstance(value, str):
        return _Invalid("must be a string", f'{name} = "..."')
    choices = choices_of.get(name)
    if choices is not None and value not in choices:
        return _Invalid(
            f"{quoted(value)} is not a {name.replace('_', ' ')}",
            did_you_mean(value, choices, "one of " + ", ".join(f"`{c}`" for c in choices)),
        )
    return value


def _normal(name: str, value: Any) -> Any:
    """An actual award field in the comparable form of `_pattern_value`."""
    if value is None:
        return None
    if name == "amount":
        return Decimal(value)
    if name == "at":
        return parse_timestamp(value)
    return value


#: The expectations of a reward rule file's tests: awards.
AWARDS = Records("award", AWARD_FIELDS, _pattern_value, _normal, '{ milestone = "...", beneficiary = "..." }')


def records_of(rules: str) -> Records:
    """What the tests of the rule file at ``rules`` expect (`records_in`),
    read in bounded size; awards when it cannot be read (running the tests
    reports that)."""
    try:
        text = read_text(rules, limits.MAX_RULE_FILE_CHARS)
    except (OSError, UnicodeDecodeError):
        return AWARDS
    return records_in(text)


def records_in(rules_text: str) -> Records:
    """What the tests of a rule file with this text expect: assignments for
    a matching file (`report.match_testing`), else awards."""
    from ..match.parse import is_matching_file

    if not is_matching_file(rules_text):
        return AWARDS
    from .match_testing import ASSIGNMENTS

    return ASSIGNMENTS


def _event(table: dict[str, Any]) -> dict[str, Any]:
    """A TOML inline table as a ledger event: datetimes become RFC 3339
    text (one without an offset stays without, for the ledger to refuse)."""
    return {k: _iso(v) if isinstance(v, (dt.datetime, dt.date, dt.time)) else v for k, v in table.items()}


def _iso(value: dt.datetime | dt.date | dt.time) -> str:
    text = value.isoformat()
    if isinstance(value, dt.datetime) and value.utcoffset() == dt.timedelta(0):
        text = text.removesuffix("+00:00") + "Z"
    return text


def _toml(value: Any) -> str:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return _iso(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, (list, tuple)):  # an assignment's workloads
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _lower(message: str) -> str:
    return message[:1].lower() + message[1:]


def _key_line(text: str, key: str) -> int | None:
    pattern = re.compile(rf"^\s*(\[\[?\s*)?{re.escape(key)}\b")
    for n, line in enumerate(split_lines(text), start=1):
        if pattern.match(line):
            return n
    return None


def _events_line(text: str, case_line: int | None) -> int | None:
    """The file line of the first line of a case's `events` string."""
    if case_line is None:
        return None
    lines = split_lines(text)
    for n in range(case_line, len(lines)):
        if n > case_line and _CASE_HEADER.match(lines[n]):
            return None
        found = _EVENTS_KEY.match(lines[n])
        if found:
            multiline = len(found.group(1)) == 3
            # TOML drops a newline right after the opening quotes
            return n + 2 if multiline and not found.group(2).strip() else n + 1
    return None


# -- running -------------------------------------------------------------


@dataclass(slots=True)
class Miss:
    """An expected award that did not happen, and the nearest one that did."""

    pattern: Pattern
    nearest: dict[str, Any] | None
    differences: list[tuple[str, Any, Any]]


@dataclass(slots=True)
class CaseResult:
    """A case's run matched with its expectations; or, when scoring stopped
    at an award limit (`limits.AwardLimitError`), no run (`traced` None) and
    the `error` that stopped it: the case fails, and the other cases run."""

    case: Case
    traced: Traced | None
    missing: list[Miss] = field(default_factory=list)
    unexpected: list[dict[str, Any]] = field(default_factory=list)
    forbidden: list[tuple[Pattern, dict[str, Any]]] = field(default_factory=list)
    error: str | None = None

    @property
    def awards(self) -> list[dict[str, Any]]:
        return [] if self.traced is None else list(self.traced.data["awards"])

    @property
    def passed(self) -> bool:
        return not (self.error or self.missing or self.unexpected or self.forbidden)


def check_names(program: Program, test_file: TestFile) -> None:
    """Refuse expectations that name a milestone or program the rule file
    does not have: an `expect_none` with a typo would pass forever."""
    problems = unknown_names(program.compiled.checked, test_file)
    if problems:
        raise TestFileError(problems)


def unknown_names(checked: CheckedRuleset, test_file: TestFile) -> list[TestProblem]:
    """The expectations of `test_file` that name a milestone or program
    `checked` does not have (`check_names`; the language server asks this
    of the rule file open beside the test, without compiling it)."""
    known = {
        "milestone": [m.name for m in checked.milestones],
        "program": [p.name for p in checked.programs],
    }
    problems: list[TestProblem] = []
    for case in test_file.cases:
        for key, patterns in (("expect", case.expect), ("expect_none", case.expect_none)):
            for n, pattern in enumerate(patterns, start=1):
                for name, names in known.items():
                    value = pattern.fields.get(name)
                    if value is not None and value not in names:
                        problems.append(
                            TestProblem(
                                test_file.path,
                                case.line,
                                f"case {quoted(case.name)}: {quoted(key)} #{n}: {quoted(checked.name)} has no {name} {quoted(value)}",
                                hint=did_you_mean(value, names, f"{name}s: " + ", ".join(f"`{x}`" for x in names)),
                            )
                        )
    return problems


@in_context
def run_cases(program: Program, test_file: TestFile, *, max_awards_per_event: int | None = None) -> list[CaseResult]:
    """Score every case; raise CaseInputError for invalid ledgers (every
    case is scored first, so all of them are reported).
    `max_awards_per_event`: as for `Program.score`; a case past it fails."""
    limit = limits.per_event_limit(max_awards_per_event)  # a bad limit, before any case
    check_names(program, test_file)
    results: list[CaseResult] = []
    problems: list[TestProblem] = []
    for case in test_file.cases:
        try:
            results.append(run_case(program, case, test_file.path, max_awards_per_event=limit))
        except CaseInputError as error:
            problems.extend(error.problems)
    if problems:
        raise CaseInputError(problems)
    return results


@in_context
def run_case(
    program: Program, case: Case, path: str = "<tests>", *, max_awards_per_event: int | None = None
) -> CaseResult:
    """Score one case and match it; raise CaseInputError for an invalid
    ledger. A case whose events ask for more awards than a limit allows
    (`max_awards_per_event`, as for `Program.score`) fails with the limit's
    message: it is the case's outcome, not a broken test file."""
    limit = max_awards_per_event
    try:
        if case.ledger is not None:
            with open(case.ledger, "rb") as handle:
                traced = score_traced(program, handle, case.as_of, case.ledger, max_awards_per_event=limit)
        else:
            traced = score_traced(program, case.events, case.as_of, path, max_awards_per_event=limit)
    except limits.AwardLimitError as error:
        return CaseResult(case, None, error=str(error))
    except (LedgerError, OSError) as error:
        raise case_input_error(case, path, error) from None
    return compare(case, traced)


def case_input_error(case: Case, path: str, error: LedgerError | OSError) -> CaseInputError:
    """A case's ledger that cannot be used: its problems at the lines of
    the test file (or of the case's `ledger` file), or why it cannot be read."""
    if isinstance(error, LedgerError):
        return CaseInputError([_ledger_problem(case, path, p) for p in error.problems])
    reason = (error.strerror or str(error)).lower()
    return CaseInputError(
        [TestProblem(path, case.line, f"case {quoted(case.name)}: cannot read {quoted(case.ledger)}: {reason}")]
    )


def _ledger_problem(case: Case, path: str, problem: Any) -> TestProblem:
    label = f"case `{case.name}`: "
    what = (f"field `{problem.field}`: " if problem.field else "") + problem.message
    if case.ledger is not None:
        return TestProblem(case.ledger, problem.line or None, label + what, hint=problem.hint)
    if case.text_line is not None and problem.line:
        return TestProblem(path, case.text_line + problem.line - 1, label + what, hint=problem.hint)
    event = f"event {problem.line}: " if problem.line else ""
    return TestProblem(path, case.line, label + event + what, hint=problem.hint)


def compare(case: Case, traced: Traced) -> CaseResult:
    """Match expectations with the case's awards."""
    result = CaseResult(case, traced)
    expect_records(case, traced.data["awards"], result)
    return result


def expect_records(case: Case, awards: list[dict[str, Any]], result: CaseResult) -> None:
    """Fill ``result`` with what ``awards`` (a case's records: awards, or a
    matching file's assignments) lacks of, or has beyond, the case's
    expectations."""
    assigned = _assign(case.expect, awards)  # expectation -> award
    taken = set(assigned.values())
    for i, pattern in enumerate(case.expect):
        if i not in assigned:
            nearest = _nearest(pattern, [a for j, a in enumerate(awards) if j not in taken] or awards)
            result.missing.append(Miss(pattern, nearest, pattern.differences(nearest) if nearest else []))
    if case.exact:
        result.unexpected = [a for j, a in enumerate(awards) if j not in taken]
    for pattern in case.expect_none:
        result.forbidden.extend((pattern, a) for a in awards if pattern.matches(a))


def _assign(patterns: list[Pattern], awards: list[dict[str, Any]]) -> dict[int, int]:
    """A largest one-to-one matching of expectations to awards (two equal
    expectations need two awards): Kuhn's augmenting paths, in list order."""
    candidates = [[j for j, a in enumerate(awards) if p.matches(a)] for p in patterns]
    owner: dict[int, int] = {}  # award -> expectation

    def place(i: int, seen: set[int]) -> bool:
        for j in candidates[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or place(owner[j], seen):
                owner[j] = i
                return True
        return False

    for i in range(len(patterns)):
        place(i, set())
    return {i: j for j, i in owner.items()}


def _nearest(pattern: Pattern, awards: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The award that agrees on the most fields (the milestone first);
    None when no award agrees on any."""
    best: tuple[bool, int] = (False, 0)
    found = None
    for award in awards:
        equal = len(pattern.fields) - len(pattern.differences(award))
        score = (award.get("milestone") == pattern.fields.get("milestone"), equal)
        if equal and score > best:
            best, found = score, award
    return found


# -- coverage ------------------------------------------------------------


@dataclass(slots=True)
class Item:
    """One thing a rule file's tests should exercise."""

    kind: str  # milestone | reward | eligibility | void
    program: str
    milestone: str | None
    label: str
    covered: bool = False


@dataclass(slots=True)
class Coverage:
    rules: str
    items: list[Item]

    @property
    def covered(self) -> int:
        return sum(item.covered for item in self.items)

    @property
    def total(self) -> int:
        return len(self.items)


@in_context
def coverage(program: Program, rules: str, results: Iterable[CaseResult]) -> Coverage:
    """What the cases exercised: a milestone is covered if some case awards
    it; a reward if some case issues it; a program's eligibility if some
    case has a referral that is eligible and some case one that is not; a
    `void if` if some case voids an award by it."""
    checked = program.compiled.checked
    awarded: set[str] = set()
    rewards: set[tuple[str, int]] = set()
    eligible: dict[str, set[bool]] = {}
    voided: set[tuple[str, int]] = set()
    milestones = {m.name: m for m in checked.milestones}
    for result in results:
        if result.traced is None:  # stopped at an award limit: it exercised nothing
            continue
        data = result.traced.data
        for award in data["awards"]:
            awarded.add(award["milestone"])
            info = milestones.get(award["milestone"])
            for k, reward in enumerate(info.rewards if info else ()):
                if (reward.role, reward.kind, reward.unit, reward.item) == (
                    award["role"],
                    award["kind"],
                    award["unit"],
                    award["item"],
                ):
                    rewards.add((award["milestone"], k))
            cause = result.traced.voids.get(award["id"])
            if cause is not None:
                voided.add((award["milestone"], cause.index))
        for referral in data.get("referrals", []):
            for entry in referral["programs"]:
                eligible.setdefault(entry["program"], set()).add(bool(entry["eligible"]))
    items: list[Item] = []
    for p in checked.programs:
        if p.eligible:
            conditions = " and ".join(f"`{_text(c)}`" for c in p.eligible)
            covered = eligible.get(p.name, set()) == {True, False}
            items.append(Item("eligibility", p.name, None, f"eligibility of `{p.name}`: {conditions}", covered))
        for m in p.milestones:
            items.append(Item("milestone", p.name, m.name, f"milestone `{m.name}`", m.name in awarded))
            for k, r in enumerate(m.rewards):
                label = f"`{m.name}`: `{_text(r.decl)}`"
                items.append(Item("reward", p.name, m.name, label, (m.name, k) in rewards))
            for k, v in enumerate(m.voids):
                label = f"`{m.name}`: `{_text(v.decl)}`"
                items.append(Item("void", p.name, m.name, label, (m.name, k) in voided))
    return Coverage(rules, items)


def _text(node: Any) -> str:
    span = getattr(node, "span", None)
    return " ".join(span.text.split()) if span is not None else "?"


#: a failed case shows at most this many of its awards
SHOWN_AWARDS = 20


def failure_lines(result: CaseResult) -> list[str]:
    """How a failed case is told, a line each (`rewardrules test` prints
    them; the language server shows them at the case): what was missing
    and the nearest award, what was unexpected or forbidden, the awards."""
    case = result.case
    where = f" (line {case.line})" if case.line else ""
    out = [f"  FAIL  `{case.name}`{where}"]
    if result.traced is None:  # scoring stopped at an award limit: its message, then its help
        first, *rest = split_lines(result.error or "") or [""]
        return [*out, f"    {first}", *(f"      {line.strip()}" for line in rest)]
    awards = result.awards
    return [*out, *outcome_lines(result, awards, result.traced.data["as_of"], award_line, "award")]


def outcome_lines(
    result: CaseResult,
    records: list[dict[str, Any]],
    as_of: str | None,
    line: Callable[[dict[str, Any]], str],
    noun: str,
) -> list[str]:
    """The body of a failed case's report (awards, or a matching file's
    assignments, each shown by ``line``): what was missing and the nearest
    record with the fields that differ, what was unexpected or forbidden,
    then the records the case made (at most `SHOWN_AWARDS`)."""
    out = []
    for miss in result.missing:
        out.append(f"    missing: {miss.pattern.show()}")
        if miss.nearest is None:
            out.append(f"      no {noun} comes close")
        else:
            out.append(f"      nearest: {line(miss.nearest)}")
            for name, expected, actual in miss.differences:
                out.append(f"        {name}: expected {show_value(expected)}, got {show_value(actual)}")
    shown = [id(m.nearest) for m in result.missing]
    for record in result.unexpected:
        if id(record) not in shown:  # a nearest match above is unexpected too: say it once
            out.append(f"    unexpected: {line(record)}")
    for pattern, record in result.forbidden:
        out.append(f"    must not happen: {pattern.show()}")
        out.append(f"      but got: {line(record)}")
    when = f"as of {as_of}" if as_of else "with no events"  # a matching case of no events has no instant
    out.append(f"    {noun}s {when}: {len(records) if records else 'none'}")
    out.extend(f"      {line(r)}" for r in records[:SHOWN_AWARDS])
    if len(records) > SHOWN_AWARDS:
        out.append(f"      ... and {len(records) - SHOWN_AWARDS} more")
    return out


def award_line(award: dict[str, Any]) -> str:
    """One award in a line, for failure reports."""
    what = (
        f'item "{award["item"]}"' if award["kind"] == "item" else f"{award['kind']} {award['amount']} {award['unit']}"
    )
    return (
        f"{award['milestone']}: {what} to {award['beneficiary']} ({award['role']}), "
        f"referral {award['referrer']} -> {award['referee']}, {award['status']}, at {award['at']}"
    )


def show_value(value: Any) -> str:
    """An award field as in a TOML test file."""
    if value is None:
        return "(none)"
    return _toml(value)


__all__ = [
    "SUFFIX",
    "Case",
    "CaseInputError",
    "CaseResult",
    "Coverage",
    "Item",
    "Miss",
    "Pattern",
    "TestFile",
    "TestFileError",
    "TestProblem",
    "award_line",
    "compare",
    "coverage",
    "parse_test_file",
    "read_test_file",
    "rules_for",
    "run_case",
    "run_cases",
    "tests_for",
]
