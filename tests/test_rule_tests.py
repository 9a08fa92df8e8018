"""Rule tests (`rewardrules test`, docs/testing.md): the test-file format,
matching expected awards, failure reports, coverage and exit codes
(0 all pass, 1 a case fails or coverage is below the threshold, 2 a bad
path, an invalid test file or an invalid ledger in a case)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import rewardrules
from rewardrules.cli import main
from rewardrules.testing import TestFileError, parse_test_file, run_cases
from rewardrules.trace import score_traced

from .conftest import GOLDEN, ROOT, RULESETS

SAAS = (RULESETS / "saas_milestones.rules").read_text()
HOLD = (RULESETS / "partner_and_customer.rules").read_text()
REFERRAL = '{ id = "r1", at = 2026-01-05T09:00:00Z, type = "referral", referrer = "alice", referee = "acme" }'
MRR_1000 = '{ id = "s1", at = 2026-02-01T09:00:00Z, type = "subscription", referee = "acme", mrr = 1000 }'


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def project(tmp_path: Path, tests: str, rules: str = SAAS, name: str = "saas") -> Path:
    """A rule file and its test file in a temporary folder; returns the rule file."""
    (tmp_path / f"{name}.rules").write_text(rules)
    (tmp_path / f"{name}.test.toml").write_text(tests)
    return tmp_path / f"{name}.rules"


def case(body: str, events: str = f"{REFERRAL},\n  {MRR_1000},", name: str = "mrr of 1000") -> str:
    return f'[[case]]\nname = "{name}"\nevents = [\n  {events}\n]\n{body}\n'


# ---------------------------------------------------------------------------
# the repository's own rule sets


def test_every_ruleset_has_passing_tests_with_full_coverage(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "test", RULESETS, "--coverage", "--threshold", "100")
    assert code == 0, out + err
    assert "(100.0%)" in out
    assert "failed" not in out and "no tests" not in out


@pytest.mark.parametrize("rules", sorted(RULESETS.glob("*.rules")), ids=lambda p: p.stem)
def test_every_ruleset_has_a_test_file(rules: Path) -> None:
    assert rules.with_name(rules.stem + ".test.toml").exists()


# ---------------------------------------------------------------------------
# matching


def test_passing_case_and_verbose_listing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = project(tmp_path, case('expect = [ { milestone = "mrr_1k", beneficiary = "alice", amount = 500 } ]'))
    code, out, _ = run_cli(capsys, "test", rules, "-v")
    assert code == 0
    assert out.splitlines()[:2] == [f"{tmp_path / 'saas.test.toml'}: 1 passed", "  ok    `mrr of 1000`"]
    assert out.endswith("\n1 test file, 1 case: 1 passed\n")


def test_amounts_match_by_value_and_instants_across_offsets(tmp_path: Path) -> None:
    text = case(
        "expect = [\n"
        '  { milestone = "mrr_1k", amount = "500", at = "2026-02-01T11:00:00+02:00" },\n'
        '  { milestone = "arr_5k", amount = 1000.0, at = 2026-02-01T09:00:00Z },\n'
        '  { milestone = "arr_10k", amount = 2000 },\n'
        "]\nexact = true\n"
    )
    test_file = parse_test_file(text, str(tmp_path / "x.test.toml"))
    results = run_cases(rewardrules.compile(SAAS), test_file)
    assert [r.passed for r in results] == [True]


def test_two_equal_expectations_need_two_awards() -> None:
    # mrr 1000 reaches mrr_1k, arr_5k and arr_10k: three awards to alice
    program = rewardrules.compile(SAAS)
    alice = '{ beneficiary = "alice" }'
    three = case(f"expect = [ {alice}, {alice}, {alice} ]")
    assert run_cases(program, parse_test_file(three))[0].passed
    four = case(f"expect = [ {alice}, {alice}, {alice}, {alice} ]")
    result = run_cases(program, parse_test_file(four))[0]
    assert not result.passed and len(result.missing) == 1


def test_a_specific_expectation_is_not_starved_by_general_ones() -> None:
    # taken in order, the general patterns would take mrr_1k (the first
    # award) and leave the specific one without: the matching reassigns
    alice = '{ beneficiary = "alice" }'
    text = case(f'expect = [ {alice}, {alice}, {{ milestone = "mrr_1k" }} ]\nexact = true')
    assert run_cases(rewardrules.compile(SAAS), parse_test_file(text))[0].passed


def test_failure_report_shows_missing_nearest_unexpected_and_forbidden(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = (
        "exact = true\n"
        'expect = [ { milestone = "mrr_1k", beneficiary = "alice", amount = "600.00" } ]\n'
        'expect_none = [ { milestone = "arr_10k" } ]\n'
    )
    rules = project(tmp_path, "# a comment line\n" + case(body))
    code, out, _ = run_cli(capsys, "test", rules)
    assert code == 1
    assert out == (
        f"{tmp_path / 'saas.test.toml'}: 1 failed, 0 passed\n"
        "  FAIL  `mrr of 1000` (line 2)\n"
        '    missing: {milestone = "mrr_1k", beneficiary = "alice", amount = "600.00"}\n'
        "      nearest: mrr_1k: cash 500.00 USD to alice (referrer), referral alice -> acme, confirmed, "
        "at 2026-02-01T09:00:00Z\n"
        '        amount: expected "600.00", got "500.00"\n'
        "    unexpected: arr_5k: cash 1000.00 USD to alice (referrer), referral alice -> acme, confirmed, "
        "at 2026-02-01T09:00:00Z\n"
        "    unexpected: arr_10k: cash 2000.00 USD to alice (referrer), referral alice -> acme, confirmed, "
        "at 2026-02-01T09:00:00Z\n"
        '    must not happen: {milestone = "arr_10k"}\n'
        "      but got: arr_10k: cash 2000.00 USD to alice (referrer), referral alice -> acme, confirmed, "
        "at 2026-02-01T09:00:00Z\n"
        "    awards as of 2026-02-01T09:00:00Z: 3\n"
        "      mrr_1k: cash 500.00 USD to alice (referrer), referral alice -> acme, confirmed, at 2026-02-01T09:00:00Z\n"
        "      arr_5k: cash 1000.00 USD to alice (referrer), referral alice -> acme, confirmed, at 2026-02-01T09:00:00Z\n"
        "      arr_10k: cash 2000.00 USD to alice (referrer), referral alice -> acme, confirmed, "
        "at 2026-02-01T09:00:00Z\n"
        "\n"
        "1 test file, 1 case: 1 failed, 0 passed\n"
    )


def test_missing_award_with_nothing_close(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = REFERRAL + ","
    rules = project(tmp_path, case('expect = [ { milestone = "mrr_1k" } ]', events))
    code, out, _ = run_cli(capsys, "test", rules)
    assert code == 1
    assert "      no award comes close\n    awards as of 2026-01-05T09:00:00Z: none\n" in out


def test_exact_with_no_expectations_means_no_awards(tmp_path: Path) -> None:
    program = rewardrules.compile(SAAS)
    result = run_cases(program, parse_test_file(case("exact = true")))[0]
    assert not result.passed and len(result.unexpected) == 3
    quiet = case("exact = true", REFERRAL + ",")
    assert run_cases(program, parse_test_file(quiet))[0].passed


def test_events_as_json_lines_and_as_of(tmp_path: Path) -> None:
    text = (
        "[[case]]\n"
        'name = "json lines"\n'
        'as_of = "2026-01-31T00:00:00+01:00"\n'
        'events = """\n'
        '{"id": "r1", "at": "2026-01-05T09:00:00Z", "type": "referral", "referrer": "alice", "referee": "acme"}\n'
        '{"id": "s1", "at": "2026-01-30T23:00:00Z", "type": "subscription", "referee": "acme", "mrr": 1000}\n'
        '{"id": "s2", "at": "2026-01-30T23:00:01Z", "type": "subscription", "referee": "acme", "mrr": 2000}\n'
        '"""\n'
        'expect = [ { milestone = "mrr_1k", at = 2026-01-30T23:00:00Z } ]\n'
    )
    result = run_cases(rewardrules.compile(SAAS), parse_test_file(text))[0]
    assert result.passed
    assert result.traced.data["as_of"] == "2026-01-30T23:00:00Z"


def test_ledger_file_relative_to_the_test_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = GOLDEN / "saas_milestones" / "basic.jsonl"
    (tmp_path / "ledgers").mkdir()
    (tmp_path / "ledgers" / "basic.jsonl").write_text(ledger.read_text())
    text = '[[case]]\nname = "golden"\nledger = "ledgers/basic.jsonl"\nexpect = [ { milestone = "arr_10k" } ]\n'
    code, out, err = run_cli(capsys, "test", project(tmp_path, text))
    assert code == 0, out + err


# ---------------------------------------------------------------------------
# coverage


def test_coverage_lists_what_no_case_exercised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (
        "[[case]]\n"
        'name = "customer pays"\n'
        "events = [\n"
        '  { id = "r1", at = 2026-01-10T09:00:00Z, type = "referral", referrer = "alice", referee = "bob", '
        'source = "customer" },\n'
        '  { id = "p1", at = 2026-02-01T09:00:00Z, type = "payment", referee = "bob", amount = 20 },\n'
        "]\n"
        'expect = [ { milestone = "customer_conversion" } ]\n'
    )
    rules = project(tmp_path, text, HOLD, "hold")
    code, out, _ = run_cli(capsys, "test", rules, "--coverage")
    assert code == 0
    lines = out.splitlines()
    start = lines.index("coverage: 2 of 7 items (28.5%): milestones 1/2, rewards 1/2, eligibility 0/2, voids 0/1")
    assert lines[start + 1 :] == [
        f"  {rules}: 2 of 7 covered",
        '    not covered: eligibility of `customers`: `referral.source == "customer"`',
        "    not covered: `customer_conversion`: `void if refund where refund.payment == payment.id within 30 days`",
        '    not covered: eligibility of `partners`: `referral.source == "partner"`',
        "    not covered: milestone `partner_commission`",
        "    not covered: `partner_commission`: `reward referrer cash 15% of payment.amount`",
        "",
        "1 test file, 1 case: 1 passed",
    ]
    code, out, _ = run_cli(capsys, "test", rules, "--threshold", "28.6")
    assert code == 1
    assert "coverage 28.5% is below the threshold of 28.6%" in out
    code, _, _ = run_cli(capsys, "test", rules, "--threshold", "28.5")
    assert code == 0


def test_coverage_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = project(tmp_path, case('expect = [ { milestone = "mrr_1k" } ]'))
    code, out, _ = run_cli(capsys, "test", rules, "--threshold", "100", "--format", "json")
    assert code == 0
    payload = json.loads(out)
    assert payload["summary"] == {"files": 1, "cases": 1, "passed": 1, "failed": 0, "unread": 0}
    assert payload["coverage"]["percent"] == "100.0"
    assert payload["coverage"]["below_threshold"] is False
    kinds = [(i["kind"], i["milestone"], i["covered"]) for i in payload["coverage"]["rulesets"][0]["items"]]
    assert kinds == [
        ("milestone", "mrr_1k", True),
        ("reward", "mrr_1k", True),
        ("milestone", "arr_5k", True),
        ("reward", "arr_5k", True),
        ("milestone", "arr_10k", True),
        ("reward", "arr_10k", True),
    ]


def test_untested_rule_file_in_a_folder_counts_as_uncovered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project(tmp_path, case('expect = [ { milestone = "mrr_1k" } ]'))
    (tmp_path / "prezi.rules").write_text((RULESETS / "prezi.rules").read_text())
    code, out, _ = run_cli(capsys, "test", tmp_path)
    assert code == 0
    assert f"{tmp_path / 'prezi.rules'}: no tests (expected `{tmp_path / 'prezi.test.toml'}`)" in out
    code, out, _ = run_cli(capsys, "test", tmp_path, "--threshold", "100")
    assert code == 1
    assert "coverage: 6 of 8 items (75.0%)" in out


def test_an_invalid_test_file_is_not_also_called_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project(tmp_path, '[[case]]\nname = "a"\nevents = []\nexactt = true\n')
    code, out, err = run_cli(capsys, "test", tmp_path)
    assert code == 2
    assert "unknown key `exactt`" in err
    assert "no tests" not in out + err  # saas.test.toml is there: it is invalid, not missing
    assert out.splitlines()[-1] == "0 test files, 0 cases: 0 passed; 1 test file could not be read"
    code, out, err = run_cli(capsys, "test", tmp_path, "--format", "json")
    assert code == 2 and json.loads(out)["summary"]["unread"] == 1


def test_one_folder_named_twice_lists_each_untested_rule_file_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "td"
    folder.mkdir()
    project(folder, case('expect = [ { milestone = "mrr_1k" } ]'))
    (folder / "prezi.rules").write_text((RULESETS / "prezi.rules").read_text())
    monkeypatch.chdir(folder)
    code, out, _ = run_cli(capsys, "test", ".", "../td")
    assert code == 0
    assert out.count("no tests") == 1 and "prezi.rules: no tests (expected `prezi.test.toml`)" in out
    assert "1 test file, 1 case: 1 passed" in out


def test_eligibility_needs_an_eligible_and_an_ineligible_referral(tmp_path: Path) -> None:
    rules = (RULESETS / "microsoft_referral.rules").read_text()
    program = rewardrules.compile(rules)
    only_us = (
        '[[case]]\nname = "us"\nevents = [ { id = "r1", at = 2026-01-05T10:00:00Z, type = "referral", '
        'referrer = "a", referee = "b", country = "US" } ]\nexpect = [ { milestone = "link_offer" } ]\n'
    )
    from rewardrules.testing import coverage

    results = run_cases(program, parse_test_file(only_us))
    items = {i.kind: i.covered for i in coverage(program, "x.rules", results).items if i.kind == "eligibility"}
    assert items == {"eligibility": False}
    brazil = only_us.replace('"US"', '"BR"').replace('name = "us"', 'name = "br"')
    brazil = brazil.replace('expect = [ { milestone = "link_offer" } ]', "exact = true")
    results = run_cases(program, parse_test_file(only_us + brazil))
    items = {i.kind: i.covered for i in coverage(program, "x.rules", results).items if i.kind == "eligibility"}
    assert items == {"eligibility": True}


# ---------------------------------------------------------------------------
# bad input: exit 2, with the file and line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[case]\nname = 1\n", "saas.test.toml:1:7: error: invalid TOML: "),
        ("[[cases]]\nname = 'x'\n", "saas.test.toml:1: error: unknown key `cases`\n     = help: did you mean `case`?"),
        ("", "saas.test.toml: error: no test cases"),
        (case("expected = []"), "saas.test.toml:1: error: case `mrr of 1000`: unknown key `expected`"),
        (case(""), "case `mrr of 1000` expects nothing"),
        (case('expect = [ { benificiary = "a" } ]'), "did you mean `beneficiary`?"),
        (case('expect = [ { status = "confirm" } ]'), "`confirm` is not a status\n     = help: did you mean"),
        (case('expect = [ { amount = "lots" } ]'), "`amount`: `lots` is not a number"),
        (case("expect = [ {} ]"), "`expect` #1 is empty: it would match any award"),
        (case("exact = true\nas_of = 2026-01-01T00:00:00"), "`as_of` must be a timestamp with an offset"),
        (case("exact = true") + case("exact = true"), "saas.test.toml:8: error: case `mrr of 1000` is defined twice"),
        (case('expect_none = [ { milestone = "mrr_1K" } ]'), "has no milestone `mrr_1K`\n     = help: did you mean"),
        ('[[case]]\nname = "x"\nexact = true\n', "case `x` needs either `events` or `ledger`"),
    ],
    ids=[
        "toml-syntax",
        "unknown-top-key",
        "no-cases",
        "unknown-case-key",
        "expects-nothing",
        "unknown-award-field",
        "bad-status",
        "bad-amount",
        "empty-pattern",
        "as-of-without-offset",
        "duplicate-case",
        "unknown-milestone",
        "no-events",
    ],
)
def test_invalid_test_file_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    rules = project(tmp_path, text)
    code, _, err = run_cli(capsys, "test", rules)
    assert code == 2
    assert expected in err
    assert "Traceback" not in err


def test_invalid_ledger_in_a_case_points_at_the_test_file_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "[[case]]\n"
        'name = "lines"\n'
        'events = """\n'
        '{"id": "r1", "at": "2026-01-05T09:00:00Z", "type": "referral", "referrer": "a", "referee": "b"}\n'
        '{"id": "s1", "at": "2026-01-06T09:00:00", "type": "subscription", "referee": "b", "mrr": 10}\n'
        '"""\n'
        "exact = true\n"
        "\n"
        "[[case]]\n"
        'name = "tables"\n'
        "events = [\n"
        f"  {REFERRAL},\n"
        '  { id = "s1", at = 2026-01-06T09:00:00Z, type = "subscription", referee = "acme", mrr = "lots" },\n'
        "]\n"
        "exact = true\n"
    )
    code, _, err = run_cli(capsys, "test", project(tmp_path, text))
    assert code == 2
    path = tmp_path / "saas.test.toml"
    assert f"{path}:5: error: case `lines`: field `at`: " in err
    assert f"{path}:9: error: case `tables`: event 2: field `mrr`: `mrr` must be a number" in err


def test_a_raw_line_separator_in_the_test_file_moves_no_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # U+2028 and U+0085 may stand raw in a TOML string and in a JSON one: neither ends a
    # line of the file, nor of an `events` string (the ledger reader ends lines at `\n` only)
    text = (
        "# a comment with a raw \u2028 line separator\n"
        "[[case]]\n"
        'name = "lines"\n'
        'description = "one\u2028two\u0085three"\n'
        'events = """\n'
        '{"id": "r1", "at": "2026-01-05T09:00:00Z", "type": "referral", "referrer": "a\u2028b", "referee": "c"}\n'
        '{"id": "s1", "at": "2026-01-06T09:00:00", "type": "subscription", "referee": "c", "mrr": 10}\n'
        '"""\n'
        "exact = true\n"
    )
    code, _, err = run_cli(capsys, "test", project(tmp_path, text))
    assert code == 2
    path = tmp_path / "saas.test.toml"
    assert f"{path}:7: error: case `lines`: field `at`: " in err
    assert "invalid JSON" not in err


def test_a_raw_line_separator_in_a_toml_string_moves_no_case_or_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = case('description = "one\u2028two\u2029three"\nexact = true')
    code, _, err = run_cli(capsys, "test", project(tmp_path, first + case("exact = true")))
    assert code == 2
    assert f"{tmp_path / 'saas.test.toml'}:9: error: case `mrr of 1000` is defined twice" in err
    text = '# a comment with a raw \u2028 line separator\nrulez = "saas.rules"\n' + case("exact = true")
    code, _, err = run_cli(capsys, "test", project(tmp_path, text))
    assert code == 2
    assert f"{tmp_path / 'saas.test.toml'}:2: error: unknown key `rulez`" in err


def test_a_raw_line_separator_in_an_events_string_is_inside_its_line() -> None:
    text = (
        "[[case]]\n"
        'name = "a referrer with a line separator in its name"\n'
        'events = """\n'
        '{"id": "r1", "at": "2026-01-05T09:00:00Z", "type": "referral", "referrer": "al\u2028ice", "referee": "acme"}\n'
        '{"id": "s1", "at": "2026-02-01T09:00:00Z", "type": "subscription", "referee": "acme", "mrr": 1000}\n'
        '"""\n'
        'expect = [ { milestone = "mrr_1k", beneficiary = "al\u2028ice" } ]\n'
    )
    assert run_cases(rewardrules.compile(SAAS), parse_test_file(text))[0].passed


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("missing.rules", "does not exist"),
        ("prezi.rules", "has no tests: expected"),
        ("notes.txt", "is neither a rule file (.rules) nor a test file (.test.toml)"),
    ],
)
def test_bad_paths_are_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, expected: str) -> None:
    (tmp_path / "prezi.rules").write_text((RULESETS / "prezi.rules").read_text())
    (tmp_path / "notes.txt").write_text("hello")
    code, _, err = run_cli(capsys, "test", tmp_path / name)
    assert code == 2
    assert expected in err


def test_test_file_without_its_rule_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "lonely.test.toml").write_text(case("exact = true"))
    code, _, err = run_cli(capsys, "test", tmp_path / "lonely.test.toml")
    assert code == 2
    assert "which does not exist" in err and '`rules = "..."`' in err
    (tmp_path / "lonely.test.toml").write_text('rules = "elsewhere/saas.rules"\n' + case("exact = true"))
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "saas.rules").write_text(SAAS)
    code, _, err = run_cli(capsys, "test", tmp_path / "lonely.test.toml")
    assert code == 1  # three awards, exact = true expects none
    assert err == ""


def test_empty_folder_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "test", tmp_path)
    assert code == 2
    assert "no test files (.test.toml) found" in err


def test_rule_file_with_errors_is_a_finding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = project(
        tmp_path, case("exact = true"), rules=SAAS.replace("latest subscription.mrr", "latest subscription.mr")
    )
    code, _, err = run_cli(capsys, "test", rules)
    assert code == 1
    assert "error[RR102]" in err


def test_threshold_must_be_a_percentage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["test", str(RULESETS), "--threshold", "101"])
    assert exit_info.value.code == 2
    assert "not a percentage from 0 to 100" in capsys.readouterr().err


def test_no_traceback_end_to_end(tmp_path: Path) -> None:
    rules = project(tmp_path, "[[case]\n")
    result = subprocess.run(
        [sys.executable, "-m", "rewardrules", "test", str(rules)], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 2
    assert "invalid TOML" in result.stderr and "Traceback" not in result.stderr


def test_parse_errors_carry_every_problem() -> None:
    with pytest.raises(TestFileError) as error:
        parse_test_file(case('expect = [ { milestone = 1, role = "boss" } ]'), "t.test.toml")
    messages = [p.message for p in error.value.problems]
    assert len(messages) == 2
    assert "`milestone`: must be a string" in messages[0]
    assert "`boss` is not a role" in messages[1]


# ---------------------------------------------------------------------------
# trace: the scoring behind tests and explanations is the real one


@pytest.mark.parametrize("ledger", sorted(GOLDEN.glob("*/*.jsonl")), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_traced_scoring_matches_score(ledger: Path) -> None:
    program = rewardrules.load(RULESETS / f"{ledger.parent.name}.rules")
    expected = json.loads(ledger.with_suffix("").with_suffix(".expected.json").read_text())
    lines = ledger.read_bytes().splitlines()
    traced = score_traced(program, lines, expected["as_of"])
    assert traced.data == program.score(lines, as_of=expected["as_of"]).data
    void = {a["id"] for a in traced.data["awards"] if a["status"] == "void"}
    assert set(traced.voids) == void
