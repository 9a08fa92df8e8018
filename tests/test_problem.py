"""One problem type and one renderer for every stage (`core.problem`,
`core.render`): each stage's problem converts to a `Problem`, and its
text, JSON and GitHub forms come from the same functions."""

from __future__ import annotations

import json

import pytest

from rewardrules.core import diagnostics, render
from rewardrules.core.diagnostics import Diagnostic
from rewardrules.core.problem import Location, Problem, Related, Severity
from rewardrules.core.source import Source
from rewardrules.ledger.events import LedgerError, LedgerProblem
from rewardrules.report.testing import TestFileError, TestProblem
from rewardrules.sources.stripe import Problem as StripeProblem
from rewardrules.sources.stripe import StripeError

SOURCE = Source("a.rules", "event payment {\n  amout: money\n}\n")


def test_every_stage_place_fits_one_location() -> None:
    """A rule file's span, a ledger's line and field, a payload's item
    and field, a test file's line and column: all are a `Location`."""
    span = SOURCE.span(18, 23)
    assert Diagnostic("RR102", "unknown field", span).to_problem().location == Location("a.rules", 2, 3, span=span)
    assert LedgerProblem(4, "amount", "not a number").to_problem("l.jsonl").location == Location(
        "l.jsonl", 4, field="amount"
    )
    stripe = StripeProblem("hooks/1.json", "event evt_1", "data.object.customer", "missing")
    assert stripe.to_problem().location == Location("hooks/1.json", field="data.object.customer", item="event evt_1")
    assert TestProblem("t.rrtest", 7, "invalid TOML", column=5).to_problem().location == Location("t.rrtest", 7, 5)


@pytest.mark.parametrize(
    ("problem", "rendered"),
    [
        (LedgerProblem(4, "amount", "not a number", "write 500.00"), "l.jsonl:4: error: field `amount`: not a number"),
        (LedgerProblem(0, None, "empty ledger"), "l.jsonl: error: empty ledger"),
        (TestProblem("t.rrtest", 7, "invalid TOML", column=5), "t.rrtest:7:5: error: invalid TOML"),
        (TestProblem("t.rrtest", None, "no test cases"), "t.rrtest: error: no test cases"),
        (StripeProblem("h.json", "event evt_1", "object", "missing"), "h.json: event evt_1: field `object`: missing"),
    ],
)
def test_each_stage_renders_through_the_one_renderer(problem: object, rendered: str) -> None:
    """Each type's `render` is the shared `render.text` of its Problem
    (the Stripe one without `error:`, listed under the CLI's error line)."""
    if isinstance(problem, LedgerProblem):
        text, shared = problem.render("l.jsonl"), render.text(problem.to_problem("l.jsonl"))
    elif isinstance(problem, StripeProblem):
        text, shared = problem.render(), render.text(problem.to_problem(), label=False)
    else:
        assert isinstance(problem, TestProblem)
        text, shared = problem.render(), render.text(problem.to_problem())
    assert text == shared
    assert text.split("\n")[0] == rendered


def test_errors_carry_the_shared_rendering() -> None:
    ledger = LedgerProblem(2, "at", "not a timestamp", "use RFC 3339")
    assert (
        str(LedgerError([ledger], "l.jsonl"))
        == "l.jsonl:2: error: field `at`: not a timestamp\n     = help: use RFC 3339"
    )
    test = TestProblem("t.rrtest", 3, "unknown key `cse`", hint="did you mean `case`?")
    assert str(TestFileError([test])) == "t.rrtest:3: error: unknown key `cse`\n     = help: did you mean `case`?"
    stripe = StripeProblem("h.json", "object x_1", None, "not a Stripe event")
    assert str(StripeError([stripe])) == "h.json: object x_1: not a Stripe event"


def test_text_escapes_every_part_from_outside() -> None:
    """Path, item, field, message and help may come from a file: no
    control character of any of them reaches a terminal, whatever the stage."""
    evil = "x\x1b[2J\ny"
    problems = [
        LedgerProblem(1, evil, evil, evil).to_problem(evil),
        TestProblem(evil, 1, evil, hint=evil).to_problem(),
        StripeProblem(evil, evil, evil, evil).to_problem(),
        Problem(Severity.WARNING, "RR604", evil, Location(evil, 1, 1, field=evil, item=evil), evil),
    ]
    for problem in problems:
        for output in (render.text(problem), render.text(problem, color=True), render.github(problem)):
            assert "\x1b[2J" not in output
            assert "x\\x1b[2J\\ny" in output
        assert "\n" not in render.github(problem)
        assert render.text(problem).count("\n") == (1 if problem.help else 0)


def test_github_annotates_any_stage() -> None:
    """A ledger's problem as a workflow command: its line, and the field
    leading the message as in the text; `,` and `:` of the path encoded."""
    problem = LedgerProblem(4, "amount", "not a number", "write 500.00").to_problem("in,out:1.jsonl")
    assert render.github(problem) == (
        "::error file=in%2Cout%3A1.jsonl,line=4::field `amount`: not a number (help: write 500.00)"
    )
    stripe = StripeProblem("h.json", "event evt_1", "object", "missing").to_problem()
    assert render.github(stripe) == "::error file=h.json::field `object`: missing"


def test_github_of_a_diagnostic_without_span_names_the_checked_file() -> None:
    bare = Diagnostic("RR306", "no milestone", None)
    assert render.github(bare.to_problem("r.rules")) == "::error file=r.rules,line=1,col=1,title=RR306::no milestone"
    assert render.text(bare.to_problem()) == "<unknown>:1:1: error[RR306]: no milestone"


def test_json_forms_keep_their_keys() -> None:
    """One `to_dict`, each output with the keys it always had."""
    ledger = LedgerProblem(0, None, "empty", None).to_dict("l.jsonl")
    assert ledger == {"path": "l.jsonl", "line": 0, "field": None, "message": "empty", "help": None}
    test = TestProblem("t.rrtest", 2, "bad", column=4, hint="fix").to_dict()
    assert list(test) == ["path", "line", "column", "message", "help"]
    span = SOURCE.span(18, 23)
    first = SOURCE.span(6, 13)
    found = Diagnostic("RR104", "duplicate", span, related=(Related("first here", first),)).to_dict()
    assert list(found) == list(render.DIAGNOSTIC_KEYS)
    assert (found["line"], found["column"], found["end_line"], found["end_column"]) == (2, 3, 2, 8)
    assert found["related"] == [{"line": 1, "column": 7, "end_line": 1, "end_column": 14, "message": "first here"}]
    json.dumps([ledger, test, found])


def test_sarif_result_from_the_shared_problem() -> None:
    span = SOURCE.span(18, 23)
    problem = Diagnostic("RR102", "unknown field", span, "did you mean `amount`?").to_problem()
    result = render.sarif_result(problem, "a.rules", {"RR102": 7})
    assert result["ruleIndex"] == 7
    assert result["message"] == {"text": "unknown field\nhelp: did you mean `amount`?"}
    region = {"startLine": 2, "startColumn": 3, "endLine": 2, "endColumn": 8}
    assert result["locations"] == [{"physicalLocation": {"artifactLocation": {"uri": "a.rules"}, "region": region}}]


def test_old_names_are_the_shared_ones() -> None:
    """`diagnostics` re-exports what moved, as the same objects."""
    assert diagnostics.Severity is Severity
    assert diagnostics.Related is Related
    assert diagnostics.echo_window is render.echo_window
    assert diagnostics.ECHO_WIDTH == render.ECHO_WIDTH
