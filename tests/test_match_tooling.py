"""The tooling of matching files (issue 18, "Interfaces"): `score --match`
(match then score in one command), `explain` for a matching file, rule
tests of matching files (`rewardrules test`) and the HTML `report`."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from rewardrules.cli import main
from rewardrules.match.api import load, match
from rewardrules.report.match_explain import explain_matches
from rewardrules.report.match_html import render_match_html

from .conftest import ROOT, RULESETS

MATCHING = RULESETS / "matching" / "fasttrack_matching.rules"
PARTNERS = ROOT / "examples" / "matching" / "partners.jsonl"
LICENSES = ROOT / "examples" / "matching" / "licenses.jsonl"
CPOR = RULESETS / "fasttrack_cpor.rules"
GOLDEN = ROOT / "tests" / "golden_matching" / "fasttrack_matching"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def shuffled(ledger: Path, folder: Path, seed: int) -> Path:
    """A copy of ``ledger`` in ``folder`` with its lines in another order."""
    lines = ledger.read_text(encoding="utf-8").splitlines(keepends=True)
    random.Random(seed).shuffle(lines)
    copy = folder / f"shuffled-{ledger.name}"
    copy.write_text("".join(lines), encoding="utf-8")
    return copy


# -- match then score ------------------------------------------------------


@pytest.mark.parametrize("form", ["text", "json"])
def test_score_match_is_byte_identical_with_the_two_steps_by_hand(
    form: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, referrals, _ = run(capsys, "match", str(MATCHING), str(PARTNERS), "--format", "referrals")
    assert code == 0 and referrals
    merged = tmp_path / "merged.jsonl"
    merged.write_text(LICENSES.read_text(encoding="utf-8") + referrals, encoding="utf-8")
    code, by_hand, _ = run(capsys, "score", str(CPOR), str(merged), "--format", form)
    assert code == 0
    code, at_once, _ = run(
        capsys, "score", str(CPOR), str(LICENSES), "--match", str(MATCHING), str(PARTNERS), "--format", form
    )
    assert code == 0
    assert at_once == by_hand
    # contoso accepted tailspin's Exchange part: it is the referrer paid for tailspin's licenses
    assert "contoso" in at_once and "640.00" in at_once


def test_score_match_reads_a_raw_line_separator_in_a_name_as_the_two_steps_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # U+2028 may stand raw in a JSON string: `match --format referrals` writes it so, and the
    # ledger reader ends a line at `\n` only; `--match` splits the referrals the same way
    partners, licenses = tmp_path / "partners.jsonl", tmp_path / "licenses.jsonl"
    for copy, original in ((partners, PARTNERS), (licenses, LICENSES)):
        copy.write_text(original.read_text(encoding="utf-8").replace("tailspin", "tail\u2028spin"), encoding="utf-8")
    code, referrals, _ = run(capsys, "match", str(MATCHING), str(partners), "--format", "referrals")
    assert code == 0 and "tail\u2028spin" in referrals
    merged = tmp_path / "merged.jsonl"
    merged.write_text(licenses.read_text(encoding="utf-8") + referrals, encoding="utf-8")
    code, by_hand, _ = run(capsys, "score", str(CPOR), str(merged), "--format", "json")
    assert code == 0
    code, at_once, err = run(
        capsys, "score", str(CPOR), str(licenses), "--match", str(MATCHING), str(partners), "--format", "json"
    )
    assert (code, err) == (0, "")
    assert at_once == by_hand
    assert "tail\u2028spin" in json.loads(at_once)["awards"][0]["referee"]


def test_score_match_does_not_depend_on_line_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for events in (PARTNERS, shuffled(PARTNERS, tmp_path, 18)):
        code, out, _ = run(
            capsys, "score", str(CPOR), str(LICENSES), "--match", str(MATCHING), str(events), "--format", "json"
        )
        assert code == 0
        outputs.append(out)
    assert outputs[0] == outputs[1]


def test_score_match_with_as_of_matches_and_scores_up_to_that_instant(capsys: pytest.CaptureFixture[str]) -> None:
    # before contoso accepted (2026-01-14T09:00), no referral exists: nothing is paid
    code, out, _ = run(
        capsys,
        "score",
        str(CPOR),
        str(LICENSES),
        "--match",
        str(MATCHING),
        str(PARTNERS),
        "--as-of",
        "2026-01-14T08:00:00Z",
        "--format",
        "json",
    )
    assert code == 0
    assert json.loads(out)["awards"] == []


def test_score_match_problems_are_told_with_their_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.rules"
    broken.write_text("matching broken\nworkload teams\nrequire endorsment\n", encoding="utf-8")
    code, _, err = run(capsys, "score", str(CPOR), str(LICENSES), "--match", str(broken), str(PARTNERS))
    assert code == 1 and "RR804" in err
    code, _, err = run(capsys, "score", str(CPOR), str(LICENSES), "--match", str(MATCHING), str(tmp_path / "no.jsonl"))
    assert code == 2 and "cannot read" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "type": "request", "at": "2026-01-01T00:00:00Z"}\n', encoding="utf-8")
    code, _, err = run(capsys, "score", str(CPOR), str(LICENSES), "--match", str(MATCHING), str(bad))
    assert code == 2 and "nothing was matched" in err
    code, _, err = run(capsys, "score", str(CPOR), "-", "--match", str(MATCHING), "-")
    assert code == 2 and "standard input" in err
    code, _, err = run(
        capsys, "score", str(CPOR), str(LICENSES), "--match", str(MATCHING), str(PARTNERS), "--engine", "duckdb"
    )
    assert code == 2 and "python engine" in err


def test_a_problem_in_the_ledger_keeps_its_line_number(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The referrals come after the ledger's lines: line 2 of LEDGER is told as line 2."""
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(
        LICENSES.read_text(encoding="utf-8").splitlines()[0] + "\n{not json\n",
        encoding="utf-8",
    )
    code, _, err = run(capsys, "score", str(CPOR), str(ledger), "--match", str(MATCHING), str(PARTNERS))
    assert code == 2
    assert "line 2" in err or ":2:" in err


# -- explain ---------------------------------------------------------------


def test_explain_reads_each_decision_from_the_recorded_why() -> None:
    rules = load(MATCHING)
    result = match(rules, PARTNERS.read_bytes().splitlines())
    explained = explain_matches(result).to_dict()["explanations"]
    assert [e["id"] for e in explained] == [a.id for a in result.assignments]
    for entry, assignment in zip(explained, result.assignments, strict=True):
        why = assignment.why
        dropped = [(c["partner"], c["dropped_by"], c["detail"]) for c in why["candidates"] if c["dropped_by"]]
        assert [(d["partner"], d["gate"], d["detail"]) for d in entry["dropped"]] == dropped
        eligible = [(c["partner"], c["count"], c["effective_count"]) for c in why["candidates"] if not c["dropped_by"]]
        assert [(e["partner"], e["count"], e["effective_count"]) for e in entry["eligible"]] == eligible
        orders = ([why["order"]] if "order" in why else []) + [s["order"] for s in why.get("split", ())]
        assert [d["order"] for d in entry["decisions"]] == orders
    # RFA-2's Exchange part: contoso before northwind, both at count 0, by the longest idle
    exchange = next(e for e in explained if e["workloads"] == ["exchange"])
    first = exchange["decisions"][0]
    assert first["decided_by"] == "longest_idle"
    assert first["compared"] == [
        {"partner": "contoso", "value": "never"},
        {"partner": "northwind", "value": "2026-01-10T09:00:00Z"},
    ]


def test_explain_command_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", str(MATCHING), str(PARTNERS), "--request", "RFA-1")
    assert code == 0
    assert "litware: dropped by location: location `US` is not among the partner's (DE)" in out
    assert "claim of northwind on fabrikam counts" in out
    assert "RFA-2" not in out
    code, out, _ = run(capsys, "explain", str(MATCHING), str(PARTNERS), "--customer", "tailspin", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["customer"] == "tailspin"
    assert [(e["partner"], e["status"]) for e in data["explanations"]] == [
        ("contoso", "accepted"),
        ("northwind", "declined"),
        ("ftc", "fallback"),
    ]
    fallback = data["explanations"][2]
    assert fallback["replaces"] == data["explanations"][1]["id"]
    assert {d["partner"]: d["gate"] for d in fallback["dropped"]} == {
        "contoso": "endorsement",
        "litware": "endorsement",
        "northwind": "declined",
    }


def test_explain_json_is_the_same_whatever_the_line_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = GOLDEN / "decline_and_acceptance.jsonl"
    outputs = []
    for path in (ledger, shuffled(ledger, tmp_path, 7)):
        code, out, _ = run(capsys, "explain", str(MATCHING), str(path), "--format", "json")
        assert code == 0
        outputs.append(out)
    assert outputs[0] == outputs[1]
    assert len(json.loads(outputs[0])["explanations"]) > 3


def test_explain_refuses_what_does_not_apply(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "explain", str(MATCHING), str(PARTNERS), "--customer", "tailspn")
    assert code == 2 and "no customer `tailspn`" in err and "did you mean `tailspin`?" in err
    code, _, err = run(capsys, "explain", str(MATCHING), str(PARTNERS), "--request", "RFA-9")
    assert code == 2 and "no request `RFA-9`" in err
    code, _, err = run(capsys, "explain", str(MATCHING), str(PARTNERS), "--referrer", "contoso")
    assert code == 2 and "--referrer explains reward rules" in err
    code, _, err = run(capsys, "explain", str(CPOR), str(LICENSES), "--request", "RFA-1")
    assert code == 2 and "--request explains a matching file" in err


# -- rule tests ------------------------------------------------------------


def test_the_reference_matching_ruleset_has_passing_rule_tests(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "test", str(MATCHING), "--verbose")
    assert code == 0, out
    assert "5 passed" in out


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


PARTNER_LINE = (
    '{"id": "e1", "type": "partner", "at": "2026-01-05T00:00:00Z", "partner": "contoso", '
    '"endorsements": {"teams": null}, "attributes": {"location": ["US"], "language": ["en"], '
    '"customer_size": ["smb"], "industry": ["retail"]}}'
)
REQUEST_LINE = (
    '{"id": "e4", "type": "request", "at": "2026-01-10T09:00:00Z", "request": "RFA-1", "customer": "fabrikam", '
    '"workloads": ["teams"], "attributes": {"location": "US", "language": "en", "customer_size": "smb", '
    '"industry": "retail"}}'
)


def _tested(tmp_path: Path, tests: str) -> Path:
    """The reference matching file as `m.rules` in ``tmp_path``, with ``tests`` beside it."""
    _write(tmp_path, "m.test.toml", tests)
    return _write(tmp_path, "m.rules", MATCHING.read_text(encoding="utf-8"))


def _matching_folder(tmp_path: Path, expect: str) -> Path:
    return _tested(tmp_path, f'[[case]]\nname = "one"\nevents = """\n{PARTNER_LINE}\n{REQUEST_LINE}\n"""\n{expect}\n')


def test_a_failing_matching_case_shows_the_nearest_assignment_and_the_fields_that_differ(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = _matching_folder(
        tmp_path,
        'expect = [ { request = "RFA-1", partner = "northwind", basis = "claim" } ]\n'
        'expect_none = [ { workloads = ["teams"], status = "pending" } ]',
    )
    code, out, _ = run(capsys, "test", str(rules))
    assert code == 1
    assert '    missing: {request = "RFA-1", partner = "northwind", basis = "claim"}' in out
    assert "      nearest: RFA-1: contoso takes teams (round_robin, pending), customer fabrikam" in out
    assert '        partner: expected "northwind", got "contoso"' in out
    assert '        basis: expected "claim", got "round_robin"' in out
    assert '    must not happen: {workloads = ["teams"], status = "pending"}' in out
    assert "    assignments as of 2026-01-10T09:00:00Z: 1" in out
    code, out, _ = run(capsys, "test", str(rules), "--format", "json")
    assert code == 1
    (case,) = json.loads(out)["files"][0]["cases"]
    assert case["missing"][0]["nearest"]["partner"] == "contoso"
    assert case["missing"][0]["differences"][0] == {"field": "partner", "expected": "northwind", "actual": "contoso"}
    assert "why" not in case["missing"][0]["nearest"]


def test_workloads_match_in_any_order_and_nested_toml_times_are_ledger_times(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = _tested(
        tmp_path,
        """[[case]]
name = "one partner endorsed for both until a TOML date-time"
events = [
  { id = "p", type = "partner", at = 2026-01-01T00:00:00Z, partner = "a", endorsements = { teams = 2027-01-01T00:00:00Z, exchange = 2027-01-01T00:00:00Z }, attributes = { location = ["US"], language = ["en"], customer_size = ["smb"], industry = ["retail"] } },
  { id = "r", type = "request", at = 2026-02-01T00:00:00Z, request = "R", customer = "c", workloads = ["teams", "exchange"], attributes = { location = "US", language = "en", customer_size = "smb", industry = "retail" } },
]
exact = true
expect = [ { partner = "a", workloads = ["exchange", "teams"], basis = "round_robin", at = 2026-02-01T00:00:00Z } ]
""",
    )
    code, out, _ = run(capsys, "test", str(rules))
    assert code == 0, out


def test_coverage_of_matching_files_alone_says_there_is_nothing_to_count(capsys: pytest.CaptureFixture[str]) -> None:
    """`coverage: 0 of 0 items (100%): ` ended at the colon: matching files
    have no coverage items, and the line now says so."""
    code, out, _ = run(capsys, "test", str(MATCHING), "--coverage")
    assert code == 0, out
    (line,) = [line for line in out.splitlines() if line.startswith("coverage")]
    assert line == (
        "coverage: no items to cover (coverage counts the milestones, rewards, eligibility and voids of "
        "reward rule files that compile; matching files have none)"
    )
    code, out, _ = run(capsys, "test", str(MATCHING), "--coverage", "--format", "json")
    assert code == 0 and json.loads(out)["coverage"]["total"] == 0


@pytest.mark.parametrize(
    ("expect", "message"),
    [
        ('expect = [ { partnr = "a" } ]', "unknown assignment field `partnr`"),
        ('expect = [ { status = "acepted" } ]', "`acepted` is not a status"),
        ('expect_none = [ { workloads = ["temas"] } ]', "has no workload `temas`"),
        ('expect = [ { workloads = "teams" } ]', "must be a list of workload names"),
    ],
)
def test_a_mistaken_expectation_is_an_invalid_test_file(
    expect: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = _matching_folder(tmp_path, expect)
    code, _, err = run(capsys, "test", str(rules))
    assert code == 2
    assert message in err


def test_a_workload_listed_twice_in_an_expectation_is_refused_at_the_case_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`workloads = ["teams", "teams"]` matched a record of `["teams"]`: the
    list was read as a set. A record lists each workload once, so a repeat
    is a mistake in the test file, told at its case's line."""
    decline = '{"id": "e5", "type": "decline", "at": "2026-01-11T09:00:00Z", "request": "RFA-1", "partner": "contoso"}'
    expect = 'expect = [ { partner = "contoso", workloads = ["teams", "teams"], status = "declined" } ]\n'
    head = '[[case]]\nname = "fine"\nevents = """\n' + f'{PARTNER_LINE}\n"""\nexact = true\n\n'
    case = f'[[case]]\nname = "declined"\nevents = """\n{PARTNER_LINE}\n{REQUEST_LINE}\n{decline}\n"""\n'
    rules = _tested(tmp_path, head + case + expect)
    code, _, err = run(capsys, "test", str(rules))
    assert code == 2
    assert "m.test.toml:8: error: case `declined`: `expect` #1: `workloads`: lists `teams` twice" in err
    assert "help: list each workload once" in err
    _tested(tmp_path, head + case + expect.replace('"teams", "teams"', '"teams"'))
    assert run(capsys, "test", str(rules))[0] == 0


def test_an_invalid_event_in_a_matching_case_is_told_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = _tested(
        tmp_path,
        f'[[case]]\nname = "bad"\nevents = """\n{PARTNER_LINE}\n{REQUEST_LINE.replace("teams", "temas")}\n"""\n'
        "exact = true\n",
    )
    code, _, err = run(capsys, "test", str(rules))
    assert code == 2
    assert "m.test.toml:5:" in err and "temas" in err


def test_a_raw_line_separator_in_a_matching_test_file_moves_no_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    partner = PARTNER_LINE.replace('"contoso"', '"con\u2028toso"')
    rules = _tested(
        tmp_path,
        f'[[case]]\nname = "bad"\ndescription = "one\u2028two"\nevents = """\n{partner}\n'
        f'{REQUEST_LINE.replace("teams", "temas")}\n"""\nexact = true\n',
    )
    code, _, err = run(capsys, "test", str(rules))
    assert code == 2
    assert "m.test.toml:6:" in err and "temas" in err and "invalid JSON" not in err


def test_a_folder_holds_both_kinds_and_an_untested_matching_file_is_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _matching_folder(tmp_path, 'expect = [ { request = "RFA-1", partner = "contoso" } ]')
    _write(tmp_path, "cpor.rules", CPOR.read_text(encoding="utf-8"))
    _write(tmp_path, "cpor.test.toml", (RULESETS / "fasttrack_cpor.test.toml").read_text(encoding="utf-8"))
    _write(tmp_path, "other.rules", "matching other\nworkload teams\ntie break partner\n")
    code, out, _ = run(capsys, "test", str(tmp_path), "--coverage")
    assert code == 0, out
    assert "m.test.toml: 1 passed" in out
    assert "cpor.test.toml:" in out
    assert "other.rules: no tests" in out
    # matching files have no coverage items: the coverage is the reward file's alone
    assert "other.rules: 0 of" not in out


# -- report ----------------------------------------------------------------


def test_the_report_page_shows_partners_acceptance_declines_and_whys() -> None:
    rules = load(MATCHING)
    result = match(rules, (GOLDEN / "decline_and_acceptance.jsonl").read_bytes().splitlines())
    page = render_match_html(result, "decline_and_acceptance.jsonl")
    data = result.to_dict()
    assert page.count('<tr id="ma_') == len(data["assignments"])
    rows = data["acceptance"]["rows"]
    below = [r for r in rows if r["below"]]
    assert below, "the golden case has partners below 80%"
    assert f'<strong id="below-count">{len(below)}</strong>' in page
    assert page.count('<tr class="below">') == len(below)
    declined = [a for a in data["assignments"] if a["status"] == "declined"]
    assert declined
    assert page.count("<time datetime") >= len(declined)
    assert "script-src &#39;none&#39;" in page  # no script may run


def test_the_report_escapes_hostile_names(tmp_path: Path) -> None:
    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    rules = load(MATCHING)
    line = json.loads(PARTNER_LINE)
    line["partner"] = hostile
    request = json.loads(REQUEST_LINE)
    request["customer"] = hostile
    page = render_match_html(match(rules, [json.dumps(line), json.dumps(request)]))
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;" in page


def test_report_command_writes_the_page_and_refuses_reward_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "m.html"
    code, said, _ = run(capsys, "report", str(MATCHING), str(PARTNERS), "-o", str(out))
    assert code == 0 and "4 assignments" in said
    page = out.read_text(encoding="utf-8")
    assert '<td class="num">2</td>' in page  # northwind received two parts
    assert "no security staff free this month" in page
    code, _, err = run(capsys, "report", str(MATCHING), str(PARTNERS), "-o", "-", "--max-awards-per-event", "5")
    assert code == 2 and "--max-awards-per-event reports reward rules" in err


def test_report_command_with_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "report", str(MATCHING), str(PARTNERS), "-o", "-")
    assert code == 0 and out.startswith("<!DOCTYPE html>")


# -- the language server ---------------------------------------------------


def test_the_language_server_reads_a_matching_test_file_as_one(tmp_path: Path) -> None:
    """Open beside its matching file, a test file expecting assignments has
    no "unknown award field" problem (the server reads no file: it asks the
    open documents), and its cases are left to `rewardrules test`."""
    from rewardrules.lsp.documents import analyse
    from rewardrules.lsp.runs import run as run_cases

    rules_path = tmp_path / "m.rules"
    tests_text = f'[[case]]\nname = "one"\nevents = """\n{PARTNER_LINE}\n"""\nexpect = [ {{ partner = "contoso" }} ]\n'
    opened: dict[str, object] = {}
    rules = analyse(rules_path.as_uri(), MATCHING.read_text(encoding="utf-8"), False, lambda _: None)
    opened[str(rules_path)] = rules

    def lookup(path: str) -> Any:
        return opened.get(str(Path(path)))

    tests = analyse((tmp_path / "m.test.toml").as_uri(), tests_text, False, lookup)
    assert [d.message for d in tests.diagnostics] == []
    assert run_cases(tests, lookup)[1] == "the tests of a matching file run with `rewardrules test`"
    # closed, the matching file is unknown: the test file reads as a matching file's tests
    # (tests/test_review_match_tooling.py)
    alone = analyse((tmp_path / "m.test.toml").as_uri(), tests_text, False, lambda _: None)
    assert [d.message for d in alone.diagnostics] == []


def test_a_ledger_with_no_events_is_said_so_not_as_of_a_dash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no events and no `--as-of` a run has no instant: `match`,
    `explain`, `diff`, `report` and a failing case printed `as of -`."""
    empty = _write(tmp_path, "empty.jsonl", "")
    code, out, _ = run(capsys, "match", str(MATCHING), str(empty))
    assert code == 0 and out.splitlines()[0] == "matching fasttrack_matching with no events: 0 assignments"
    code, out, _ = run(capsys, "explain", str(MATCHING), str(empty))
    assert code == 0 and out.splitlines()[0] == "matching fasttrack_matching with no events: 0 assignments explained"
    code, out, _ = run(capsys, "diff", str(MATCHING), str(MATCHING), str(empty))
    assert code == 0 and out.startswith("matching fasttrack_matching -> fasttrack_matching with no events: ")
    code, out, _ = run(capsys, "diff", str(MATCHING), str(MATCHING), str(empty), "--format", "markdown")
    assert code == 0 and "empty.jsonl`, with no events." in out
    code, _, err = run(capsys, "explain", str(MATCHING), str(empty), "--request", "R1")
    assert code == 2 and "no request `R1` in a ledger with no events" in err
    page = tmp_path / "page.html"
    code, out, err = run(capsys, "report", str(MATCHING), str(empty), "-o", str(page))
    assert code == 0 and "0 assignments with no events" in out + err
    html = page.read_text(encoding="utf-8")
    assert "assignments with no events</title>" in html and 'datetime="-"' not in html
    code, out, _ = run(capsys, "match", str(MATCHING), str(empty), "--as-of", "2026-01-01T00:00:00Z")
    assert out.splitlines()[0] == "matching fasttrack_matching as of 2026-01-01T00:00:00Z: 0 assignments"
    rules = _tested(tmp_path, '[[case]]\nname = "empty"\nevents = []\nexpect = [ { partner = "contoso" } ]\n')
    code, out, _ = run(capsys, "test", str(rules))
    assert code == 1 and "    assignments with no events: none" in out
    for text in (out, err):
        assert "as of -" not in text
