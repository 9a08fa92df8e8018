"""One open document, analysed: what `check` says of it, and its names.

A document is untrusted text: one longer than a rule file may be (or a
test file, `core.limits`) is refused with one diagnostic and not parsed;
anything else is checked the way `rewardrules check --strict` checks it
(`report.findings`), and a rule test (`NAME.test.toml`) the way
`rewardrules test` reads it. Nothing here reads a file: a test's rule file
is used only when the editor has it open.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlparse

from lsprotocol import types

from ..check.program import CheckedRuleset
from ..core import limits
from ..core.diagnostics import Diagnostic, Severity
from ..core.source import Source
from ..report.findings import findings
from ..report.testing import (
    AWARDS,
    SUFFIX,
    Records,
    TestFileError,
    TestProblem,
    parse_test_file,
    records_in,
    unknown_names,
)
from ..syntax import nodes as ast
from ..syntax.parser import parse
from .positions import span_range
from .symbols import Index, index

#: the name the diagnostics give as their source
SOURCE = "rewardrules"

#: what the server may be asked for the text of another open document
Lookup = Callable[[str], "Document | None"]


@dataclass(slots=True)
class Document:
    """A document as last seen, and what was found in it."""

    uri: str
    path: str
    text: str
    source: Source
    diagnostics: list[types.Diagnostic] = field(default_factory=list)
    #: the problems of `check`, for code actions (rule files only)
    found: list[Diagnostic] = field(default_factory=list)
    tree: ast.RuleFile | None = None
    checked: CheckedRuleset | None = None
    names: Index | None = None
    #: the names and checked program of the last text that parsed, while
    #: this one does not (a word half typed): what completion offers
    known: tuple[Index, CheckedRuleset | None] | None = None

    @property
    def is_test(self) -> bool:
        return self.path.endswith(SUFFIX)


def path_of(uri: str) -> str:
    """The file path of a `file:` URI (what `check` prints as the path);
    any other URI as it is."""
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else uri


def analyse(uri: str, text: str, strict: bool, lookup: Lookup, previous: Document | None = None) -> Document:
    """The analysis of a document's text (`lookup`: another open document
    by path, for the rule file a test file tests; `previous`: its analysis
    before this edit, whose names completion offers while this text does
    not parse)."""
    path = path_of(uri)
    document = Document(uri, path, text, Source(path, text))
    limit = limits.MAX_TEST_FILE_CHARS if document.is_test else limits.MAX_RULE_FILE_CHARS
    if len(text) > limit:
        what = "a test file" if document.is_test else "a rule file"
        document.diagnostics = [note(f"it is larger than {limit} characters, the limit for {what}")]
    elif document.is_test:
        document.diagnostics = [test_problem(document.source, p) for p in _test_problems(document, lookup)]
    else:
        _analyse_rules(document, strict)
    if document.names is not None:
        document.known = (document.names, document.checked)
    elif previous is not None:
        document.known = previous.known
    return document


def _analyse_rules(document: Document, strict: bool) -> None:
    checked, found = findings(document.path, document.text, strict)
    document.found = found
    document.diagnostics = [diagnostic(d) for d in found]
    if checked is not None:
        document.checked, document.tree, document.source = checked, checked.file, checked.source
    else:
        document.tree = parse(document.source)[0]
    if document.tree is not None:
        document.names = index(document.tree, checked)


def _test_problems(document: Document, lookup: Lookup) -> list[TestProblem]:
    try:
        tests = parse_test_file(document.text, document.path, lambda path: records_open(path, lookup))
    except TestFileError as error:
        return error.problems
    rules = lookup(tests.rules)
    if rules is None or rules.checked is None or tests.kind != "award":
        return []
    return unknown_names(rules.checked, tests)


def records_open(path: str, lookup: Lookup) -> Records:
    """What the tests of the rule file at ``path`` expect, from its open
    document (the server reads no file): awards unless it is an open
    matching file."""
    rules = lookup(path)
    return AWARDS if rules is None else records_in(rules.text)


def diagnostic(found: Diagnostic) -> types.Diagnostic:
    """A diagnostic of `check` as the editor shows it: its code, message
    and help (on a line of its own, as `check` prints it), its range, and
    the places it is also about."""
    source = found.span.source if found.span is not None else None
    related = [
        types.DiagnosticRelatedInformation(
            location=types.Location(uri=_uri(r.span.source.path), range=span_range(r.span)), message=r.message
        )
        for r in found.related
    ]
    return types.Diagnostic(
        range=span_range(found.span) if found.span is not None and source is not None else _start(),
        message=found.message + (f"\nhelp: {found.help}" if found.help else ""),
        severity=_SEVERITY[found.severity],
        code=found.code,
        source=SOURCE,
        related_information=related or None,
        data={"help": found.help} if found.help else None,
    )


def test_problem(
    source: Source, problem: TestProblem, severity: types.DiagnosticSeverity = types.DiagnosticSeverity.Error
) -> types.Diagnostic:
    """A test file's problem at its line (and column, for invalid TOML);
    the whole line when it has no column, the file's start when no line."""
    line = (problem.line or 1) - 1
    start = (problem.column or 1) - 1
    end = start + 1 if problem.column else len(source.line_text(line + 1))
    where = types.Range(start=types.Position(line, start), end=types.Position(line, max(end, start)))
    help_line = f"\nhelp: {problem.hint}" if problem.hint else ""
    return types.Diagnostic(range=where, message=problem.message + help_line, severity=severity, source=SOURCE)


def note(message: str) -> types.Diagnostic:
    return types.Diagnostic(range=_start(), message=message, severity=types.DiagnosticSeverity.Error, source=SOURCE)


def _start() -> types.Range:
    return types.Range(start=types.Position(0, 0), end=types.Position(0, 0))


def _uri(path: str) -> str:
    from pathlib import Path

    return Path(path).as_uri() if Path(path).is_absolute() else path


_SEVERITY = {Severity.ERROR: types.DiagnosticSeverity.Error, Severity.WARNING: types.DiagnosticSeverity.Warning}
