"""`rewardrules test PATH...`: run the rule tests beside rule files.

A `.rules` file runs the `NAME.test.toml` beside it; a `.test.toml` file
runs itself; a folder runs every test file below it (and, with
--coverage, counts its untested rule files as not covered). Exit codes: 0
every case passed (and coverage reached --threshold); 1 a case failed, a
rule file has errors, or coverage is below the threshold; 2 a bad path, an
invalid test file, or an invalid ledger in a case.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..core.diagnostics import RuleError
from ..core.formatting import percent_tenths, printable, printable_lines, quoted
from ..report.testing import (
    AWARD_FIELDS,
    SUFFIX,
    CaseResult,
    Coverage,
    TestFile,
    TestFileError,
    TestProblem,
    coverage,
    failure_lines,
    read_test_file,
    rules_for,
    run_cases,
    show_value,
    tests_for,
)
from .common import add_format_argument, add_limit_argument, describe_os_error, print_diagnostics, write_json

if TYPE_CHECKING:
    from ..match.check import MatchRules
    from ..score.api import Program

_KINDS = (("milestone", "milestones"), ("reward", "rewards"), ("eligibility", "eligibility"), ("void", "voids"))


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "test",
        help="run the rule tests (NAME.test.toml) of rule files",
        description="Run rule tests: NAME.test.toml beside NAME.rules (see docs/testing.md).",
        epilog="exit codes: 0 all cases pass, 1 a case fails, a rule file has errors or coverage is below "
        "--threshold, 2 bad path, invalid test file or invalid ledger in a case",
    )
    parser.add_argument("paths", metavar="PATH", nargs="+", help=".rules or .test.toml files, or folders")
    parser.add_argument(
        "--coverage", action="store_true", help="report the milestones, rewards and conditions no case exercised"
    )
    parser.add_argument(
        "--threshold",
        metavar="N",
        type=_percent,
        help="fail (exit 1) when coverage is below N percent; implies --coverage",
    )
    add_format_argument(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="list every case, not only the failures")
    add_limit_argument(parser)  # a case past it fails, with the limit's message
    parser.set_defaults(run=run)


def _percent(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"`{text}` is not a number") from None
    if not value.is_finite() or not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"`{text}` is not a percentage from 0 to 100")
    return value


@dataclass(slots=True)
class _FileRun:
    path: str
    rules: str
    results: list[CaseResult]


@dataclass(slots=True)
class _Run:
    test_files: list[str] = field(default_factory=list)
    folder_rules: list[str] = field(default_factory=list)
    #: input problems (exit 2): a message, or a problem at a line of a test file
    errors: list[str | TestProblem] = field(default_factory=list)
    files: list[_FileRun] = field(default_factory=list)
    rule_errors: bool = False
    programs: dict[str, Program | None] = field(default_factory=dict)
    #: matching files loaded, by resolved path (None: could not be)
    matchings: dict[str, MatchRules | None] = field(default_factory=dict)
    coverages: list[Coverage] = field(default_factory=list)
    untested: list[str] = field(default_factory=list)
    #: rule files named by a readable test file, and the own rule file (NAME.rules) of an unreadable one
    referenced: set[Path] = field(default_factory=set)
    #: test files that could not be read (their problems are in `errors`)
    unread: int = 0


def collect(paths: list[str], run: _Run) -> None:
    seen: set[Path] = set()

    def add(path: Path) -> None:
        if path.resolve() not in seen:
            seen.add(path.resolve())
            run.test_files.append(str(path))

    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for found in _inside(path, "*" + SUFFIX, run):
                add(found)
            run.folder_rules.extend(str(p) for p in _inside(path, "*.rules", run))
        elif not path.exists():
            run.errors.append(f"{quoted(raw)} does not exist")
        elif raw.endswith(SUFFIX):
            add(path)
        elif raw.endswith(".rules"):
            tests = tests_for(path)
            if tests.exists():
                add(tests)
            else:
                run.errors.append(f"{quoted(raw)} has no tests: expected {quoted(tests)} beside it")
        else:
            run.errors.append(f"{quoted(raw)} is neither a rule file (.rules) nor a test file ({SUFFIX})")


def _matching(path: str) -> bool:
    """Whether a rule file is a matching file: its tests expect assignments
    (`report.match_testing`), and it has no coverage items."""
    from ..core import limits
    from ..ledger import reading
    from ..match.parse import is_matching_file

    try:
        return is_matching_file(reading.read_text(path, limits.MAX_RULE_FILE_CHARS))
    except (OSError, UnicodeDecodeError):
        return False  # reported when the file is read as a rule file


def _inside(folder: Path, pattern: str, run: _Run) -> list[Path]:
    """The files of a folder that match, in name order; a symbolic link
    leading outside the folder is reported and not read: a folder holds
    untrusted files, and a diagnostic would quote the bytes of whatever
    file the link names (`x.rules -> /proc/self/environ`)."""
    base = folder.resolve()
    found = []
    for path in sorted(folder.rglob(pattern)):
        try:
            inside = path.resolve().is_relative_to(base)
        except (OSError, RuntimeError):  # RuntimeError: a symbolic link loop, before Python 3.13
            run.errors.append(f"{quoted(str(path))} cannot be resolved (a symbolic link loop?): not read")
            continue
        if inside:
            found.append(path)
        else:
            run.errors.append(f"{quoted(str(path))} is a symbolic link leading outside {quoted(str(folder))}: not read")
    return found


def run(args: argparse.Namespace) -> int:
    state = _Run()
    collect(args.paths, state)
    want_coverage = args.coverage or args.threshold is not None
    for path in state.test_files:
        _run_file(path, state, args.max_awards_per_event)
    # one rule file named twice (`test . ../td`) is one rule file: by its resolved path
    folder_rules: dict[Path, str] = {}
    for rules in state.folder_rules:
        folder_rules.setdefault(Path(rules).resolve(), rules)
    state.untested = [r for key, r in folder_rules.items() if key not in state.referenced]
    if want_coverage:
        _coverage(state)
    for problem in state.errors:
        text = problem.render() if isinstance(problem, TestProblem) else printable(f"rewardrules: error: {problem}")
        print(text, file=sys.stderr)
    if not state.test_files and not state.untested and not state.errors:
        print(f"rewardrules: error: no test files ({SUFFIX}) found", file=sys.stderr)
        return 2
    percent = _total_percent(state.coverages) if want_coverage else None
    below = args.threshold is not None and not _reaches(state.coverages, args.threshold)
    if args.format == "json":
        write_json(json.dumps(_json(state, want_coverage, args.threshold, below), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(_text(state, args.verbose, want_coverage, percent, args.threshold, below))
    if state.errors:
        return 2
    failed = any(not r.passed for f in state.files for r in f.results)
    return 1 if failed or state.rule_errors or below else 0


def _program(rules: str, state: _Run, test_file: str | None) -> Program | None:
    """Load a rule file once; None when it cannot be scored (reported)."""
    from ..score.api import load

    return _load_once(rules, state, test_file, load, state.programs)


_Loaded = TypeVar("_Loaded")


def _load_once(
    rules: str,
    state: _Run,
    test_file: str | None,
    load: Callable[[str], _Loaded],
    cache: dict[str, _Loaded | None],
) -> _Loaded | None:
    """Load a rule file (reward rules or a matching file) once; None when it
    has errors (printed: exit 1) or cannot be read (exit 2)."""
    key = str(Path(rules).resolve())
    if key in cache:
        return cache[key]
    loaded: _Loaded | None = None
    try:
        loaded = load(rules)
    except RuleError as error:
        print_diagnostics(error.diagnostics, sys.stderr)
        state.rule_errors = True
    except FileNotFoundError as error:
        if test_file is None:
            state.errors.append(describe_os_error(error, rules))
        else:
            state.errors.append(
                f'{quoted(test_file)} tests {quoted(rules)}, which does not exist (name the rule file with `rules = "..."`)'
            )
    except OSError as error:
        state.errors.append(describe_os_error(error, rules))
    except UnicodeDecodeError:
        state.errors.append(f"{quoted(rules)} is not UTF-8 text")
    cache[key] = loaded
    return loaded


def _run_file(path: str, state: _Run, limit: int | None = None) -> None:
    try:
        test_file = read_test_file(path)
    except (TestFileError, OSError, UnicodeDecodeError) as error:
        if isinstance(error, TestFileError):
            state.errors.extend(error.problems)
        elif isinstance(error, OSError):
            state.errors.append(describe_os_error(error, path))
        else:
            state.errors.append(f"{quoted(str(path))} is not UTF-8 text")
        # which rule file it names cannot be read: its own (NAME.rules) is
        # not called untested, since the file it would be told to add is there
        state.referenced.add(rules_for(path).resolve())
        state.unread += 1
        return
    state.referenced.add(Path(test_file.rules).resolve())
    if test_file.kind == "assignment":
        _run_matching_file(path, test_file, state)
        return
    program = _program(test_file.rules, state, path)
    if program is None:
        return
    try:
        results = run_cases(program, test_file, max_awards_per_event=limit)
    except TestFileError as error:  # and CaseInputError: an invalid ledger in a case
        state.errors.extend(error.problems)
        return
    state.files.append(_FileRun(path, test_file.rules, results))


def _run_matching_file(path: str, test_file: TestFile, state: _Run) -> None:
    """Run the cases of a matching file's tests (`report.match_testing`)."""
    from ..report.match_testing import run_match_cases

    rules = _matching_rules(test_file.rules, state)
    if rules is None:
        return
    try:
        results = run_match_cases(rules, test_file)
    except TestFileError as error:  # and CaseInputError: an invalid ledger in a case
        state.errors.extend(error.problems)
        return
    state.files.append(_FileRun(path, test_file.rules, list(results)))


def _matching_rules(rules: str, state: _Run) -> MatchRules | None:
    """Load a matching file once (`_load_once`)."""
    from ..match.api import load

    return _load_once(rules, state, None, load, state.matchings)


def _coverage(state: _Run) -> None:
    by_rules: dict[str, tuple[str, list[CaseResult]]] = {}
    for f in state.files:
        key = str(Path(f.rules).resolve())
        by_rules.setdefault(key, (f.rules, []))[1].extend(f.results)
    for rules in state.untested:
        by_rules.setdefault(str(Path(rules).resolve()), (rules, []))
    for key, (rules, results) in by_rules.items():
        if _matching(rules):
            continue  # a matching file has no coverage items (docs/matching.md)
        program = state.programs.get(key) if key in state.programs else _program(rules, state, None)
        if program is not None:
            state.coverages.append(coverage(program, rules, results))


def _reaches(coverages: list[Coverage], threshold: Decimal) -> bool:
    covered = sum(c.covered for c in coverages)
    total = sum(c.total for c in coverages)
    return total == 0 or covered * 100 >= threshold * total


def _total_percent(coverages: list[Coverage]) -> Decimal:
    covered = sum(c.covered for c in coverages)
    total = sum(c.total for c in coverages)
    if total == 0:
        return Decimal(100)
    return percent_tenths(covered, total, down=True)  # 99.96% must not print as 100.0%


# -- text ----------------------------------------------------------------


def _text(
    state: _Run, verbose: bool, want_coverage: bool, percent: Decimal | None, threshold: Decimal | None, below: bool
) -> str:
    out: list[str] = []
    for f in state.files:
        failed = [r for r in f.results if not r.passed]
        passed = len(f.results) - len(failed)
        counts = (f"{len(failed)} failed, " if failed else "") + f"{passed} passed"
        out.append(f"{f.path}: {counts}")
        for result in f.results:
            if not result.passed:
                out.extend(_failure_lines(result))
            elif verbose:
                out.append(f"  ok    `{result.case.name}`")
    for rules in state.untested:
        out.append(f"{rules}: no tests (expected `{tests_for(rules)}`)")
    if want_coverage and percent is not None:
        out.append("")
        out.extend(_coverage_text(state.coverages, percent))
    cases = [r for f in state.files for r in f.results]
    failed_count = sum(not r.passed for r in cases)
    noun = "file" if len(state.files) == 1 else "files"
    summary = f"{len(state.files)} test {noun}, {len(cases)} case{'s' if len(cases) != 1 else ''}: "
    summary += (f"{failed_count} failed, " if failed_count else "") + f"{len(cases) - failed_count} passed"
    if state.unread:  # (a passed summary beside exit 2 read as a success)
        summary += f"; {state.unread} test {'file' if state.unread == 1 else 'files'} could not be read"
    out.append("")
    out.append(summary)
    if below and percent is not None and threshold is not None:
        out.append(f"coverage {percent}% is below the threshold of {threshold}%")
    return printable_lines(out)


def _failure_lines(result: CaseResult) -> list[str]:
    """A failed case's lines: an award case's, or a matching case's."""
    from ..report.match_testing import MatchCaseResult, match_failure_lines

    if isinstance(result, MatchCaseResult):
        return match_failure_lines(result)
    return failure_lines(result)


def _coverage_text(coverages: list[Coverage], percent: Decimal) -> list[str]:
    items = [i for c in coverages for i in c.items]
    parts = []
    for kind, plural in _KINDS:
        of_kind = [i for i in items if i.kind == kind]
        if of_kind:
            parts.append(f"{plural} {sum(i.covered for i in of_kind)}/{len(of_kind)}")
    covered = sum(i.covered for i in items)
    if not items:  # only matching files, or no reward rule file that compiled: nothing to count
        return [
            "coverage: no items to cover (coverage counts the milestones, rewards, eligibility and voids of "
            "reward rule files that compile; matching files have none)"
        ]
    out = [f"coverage: {covered} of {len(items)} items ({percent}%): " + ", ".join(parts)]
    for c in coverages:
        missing = [i for i in c.items if not i.covered]
        if missing:
            out.append(f"  {c.rules}: {c.covered} of {c.total} covered")
            out.extend(f"    not covered: {i.label}" for i in missing)
    return out


# -- json ----------------------------------------------------------------


def _json(state: _Run, want_coverage: bool, threshold: Decimal | None, below: bool) -> dict[str, Any]:
    cases = [r for f in state.files for r in f.results]
    failed = sum(not r.passed for r in cases)
    payload: dict[str, Any] = {
        "files": [{"path": f.path, "rules": f.rules, "cases": [_case_json(r) for r in f.results]} for f in state.files],
        "untested": state.untested,
        "errors": [
            p.to_dict() if isinstance(p, TestProblem) else {"path": None, "line": None, "message": p}
            for p in state.errors
        ],
        "summary": {
            "files": len(state.files),
            "cases": len(cases),
            "passed": len(cases) - failed,
            "failed": failed,
            "unread": state.unread,  # test files that could not be read (each in `errors`)
        },
    }
    if want_coverage:
        covered = sum(c.covered for c in state.coverages)
        total = sum(c.total for c in state.coverages)
        payload["coverage"] = {
            "covered": covered,
            "total": total,
            "percent": str(_total_percent(state.coverages)),
            "threshold": str(threshold) if threshold is not None else None,
            "below_threshold": below,
            "rulesets": [
                {
                    "rules": c.rules,
                    "covered": c.covered,
                    "total": c.total,
                    "items": [
                        {
                            "kind": i.kind,
                            "program": i.program,
                            "milestone": i.milestone,
                            "label": i.label,
                            "covered": i.covered,
                        }
                        for i in c.items
                    ],
                }
                for c in state.coverages
            ],
        }
    return payload


def _case_json(result: CaseResult) -> dict[str, Any]:
    from ..report.match_testing import MatchCaseResult, assignment_fields

    record = assignment_fields if isinstance(result, MatchCaseResult) else _award
    return {
        "name": result.case.name,
        "line": result.case.line,
        "passed": result.passed,
        "missing": [
            {
                "expected": _plain(m.pattern.fields),
                "nearest": record(m.nearest) if m.nearest else None,
                "differences": [
                    {"field": name, "expected": _plain(expected), "actual": actual}
                    for name, expected, actual in m.differences
                ],
            }
            for m in result.missing
        ],
        "unexpected": [record(a) for a in result.unexpected],
        "forbidden": [{"expected": _plain(p.fields), "award": record(a)} for p, a in result.forbidden],
        "error": result.error,
    }


def _award(award: dict[str, Any]) -> dict[str, Any]:
    return {k: award.get(k) for k in AWARD_FIELDS}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return show_value(value)
    return value
