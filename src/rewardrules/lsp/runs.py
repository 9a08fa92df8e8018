"""Running a rule test from the editor: a code lens on the test file, and
the command it runs (`rewardrules.runTests`).

The cases run as `rewardrules test` runs them (`report.testing`), against
the rule file's text as the editor has it open: the server reads no file,
so with the rule file closed the lens says to open it, and a case whose
events come from a file (`ledger = "..."`) is left to `rewardrules test`.
A failed case is shown at its `[[case]]` line, with the lines `rewardrules
test` prints for it, until the test file is edited again.
"""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from ..core.formatting import quoted
from ..report.testing import (
    CaseInputError,
    TestFileError,
    TestProblem,
    failure_lines,
    parse_test_file,
    run_cases,
)
from ..score.api import compile as compile_rules
from .documents import SOURCE, Document, Lookup, records_open, test_problem

#: the command the code lens runs; its one argument is the test file's URI
COMMAND = "rewardrules.runTests"


def lenses(document: Document, lookup: Lookup) -> list[types.CodeLens]:
    """One lens at the top of a rule test: run it, or open its rule file."""
    if not document.is_test:
        return []
    rules = _rules_path(document)
    if rules is not None and lookup(rules) is not None:
        title, arguments = "▶ Run the rule tests", [document.uri]
    else:
        name = Path(rules).name if rules else "its rule file"
        title, arguments = f"Open {name} to run these rule tests", []
    top = types.Range(start=types.Position(0, 0), end=types.Position(0, 0))
    return [types.CodeLens(range=top, command=types.Command(title=title, command=COMMAND, arguments=arguments))]


def _rules_path(document: Document) -> str | None:
    try:
        return parse_test_file(document.text, document.path).rules
    except TestFileError:
        return None


def run(document: Document, lookup: Lookup) -> tuple[list[types.Diagnostic], str]:
    """The test file's diagnostics after running its cases, and what to tell
    the user (`N passed, M failed`, or why nothing ran)."""
    try:
        tests = parse_test_file(document.text, document.path, lambda path: records_open(path, lookup))
    except TestFileError:
        return document.diagnostics, "the test file has problems: fix them first"
    rules = lookup(tests.rules)
    if rules is None:
        return document.diagnostics, f"open {Path(tests.rules).name} to run these tests (the server reads no file)"
    if tests.kind != "award":
        return document.diagnostics, "the tests of a matching file run with `rewardrules test`"
    if rules.checked is None:
        return document.diagnostics, f"{Path(tests.rules).name} has errors: fix them first"
    from_files = [case for case in tests.cases if case.ledger is not None]
    tests.cases = [case for case in tests.cases if case.ledger is None]
    skipped = [
        TestProblem(
            document.path,
            case.line,
            f"case {quoted(case.name)} reads its events from a file: run `rewardrules test` for it",
        )
        for case in from_files
    ]
    try:
        results = run_cases(compile_rules(rules.text, rules.path), tests)
    except TestFileError as error:  # and CaseInputError
        kind = "invalid events" if isinstance(error, CaseInputError) else "unknown names"
        return [test_problem(document.source, p) for p in [*error.problems, *skipped]], f"not run: {kind}"
    found = [test_problem(document.source, p, types.DiagnosticSeverity.Information) for p in skipped]
    for result in results:
        if not result.passed:
            line = (result.case.line or 1) - 1
            found.append(
                types.Diagnostic(
                    range=types.Range(start=types.Position(line, 0), end=types.Position(line, 8)),
                    message="\n".join(line_.strip() for line_ in failure_lines(result)),
                    severity=types.DiagnosticSeverity.Error,
                    source=SOURCE,
                )
            )
    failed = sum(not r.passed for r in results)
    summary = f"{len(results) - failed} passed, {failed} failed" + (f", {len(skipped)} not run" if skipped else "")
    return found, summary
