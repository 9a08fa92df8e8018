"""`check` for CI: strict warnings (lint.py), payout bounds (bounds.py),
SARIF and GitHub output, `--fail-level`, and the pre-commit hooks.

Strict fixtures live in tests/fixtures/check/strict: `RR6xx.warn.rules`
marks every line where a warning is due with `# warning: CODE` (and the
warnings must be exactly those), `RR6xx.ok.rules` holds near misses that
must stay silent.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import json
import random
import re
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest

from rewardrules.bounds import bounds, periods_spanned
from rewardrules.check import check_text
from rewardrules.cli import build_parser, main
from rewardrules.diagnostics import CODES, Severity
from rewardrules.lint import UNKNOWN, fold, lint
from rewardrules.match.parse import is_matching_file
from rewardrules.model import CheckedRuleset
from rewardrules.parse import parse
from rewardrules.sarif import RULE_HELP, artifact_uri
from rewardrules.source import Source

from .conftest import ROOT, RULESETS

FIXTURES = ROOT / "tests" / "fixtures" / "check"
STRICT = FIXTURES / "strict"
SARIF_SCHEMA = FIXTURES / "sarif-schema-2.1.0.json"
TWO_ERRORS = ROOT / "tests" / "fixtures" / "cli" / "two_errors.rules"
SYNTAX_ERROR = ROOT / "tests" / "fixtures" / "cli" / "syntax_error.rules"
LINT_CODES = sorted(code for code in CODES if code.startswith("RR6"))
MARKER = re.compile(r"#\s*warning:\s*(RR\d{3})")
GITHUB_WARNING = re.compile(
    r"^::warning file=(?P<file>[^,]+),line=(?P<line>\d+),col=(?P<col>\d+),title=(?P<code>RR\d{3})::(?P<message>.+)$"
)
DAY = 86400 * 10**9


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def checked_of(path: Path, text: str | None = None) -> CheckedRuleset:
    checked, diagnostics = check_text(path.read_text() if text is None else text, str(path))
    assert diagnostics == [], "\n".join(str(d) for d in diagnostics)
    assert checked is not None
    return checked


def checked_text(text: str) -> CheckedRuleset:
    return checked_of(Path("inline.rules"), text)


# ---------------------------------------------------------------------------
# strict warnings, one fixture pair per code


def expected_markers(path: Path) -> set[tuple[int, str]]:
    return {
        (number, match.group(1))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        for match in MARKER.finditer(line)
    }


@pytest.mark.parametrize("code", LINT_CODES)
def test_strict_warning_fixture_triggers_exactly_its_marks(code: str) -> None:
    path = STRICT / f"{code}.warn.rules"
    expected = expected_markers(path)
    assert expected and {c for _, c in expected} == {code}
    warnings = lint(checked_of(path))
    assert {(w.line, w.code) for w in warnings} == expected, "\n".join(str(w) for w in warnings)
    for w in warnings:
        assert w.severity is Severity.WARNING
        assert w.help, f"{w.code} has no help line"
        assert w.message == w.message.strip() and "\n" not in w.message
        assert w.message[0].islower() or w.message[0] == "`"


@pytest.mark.parametrize("code", LINT_CODES)
def test_strict_near_misses_stay_silent(code: str) -> None:
    warnings = lint(checked_of(STRICT / f"{code}.ok.rules"))
    assert warnings == [], "\n".join(str(w) for w in warnings)


def test_every_lint_code_has_fixtures_and_docs() -> None:
    # RR601-RR610, and the warnings of later constructs (RR612-RR614:
    # behaviour; RR615-RR616: clawbacks; RR617-RR619: tables and allowances;
    # RR620-RR621: attribution)
    later = {f"RR6{i}" for i in range(12, 22)}
    assert sorted(LINT_CODES) == sorted({f"RR6{i:02d}" for i in range(1, 11)} | later)
    errors_md = (ROOT / "docs" / "errors.md").read_text()
    for code in LINT_CODES:
        assert (STRICT / f"{code}.warn.rules").exists() and (STRICT / f"{code}.ok.rules").exists()
        assert f"`{code}`" in errors_md


#: The reference programs' strict warnings, each one deliberate: the rules
#: pay money that no cap bounds, per referral.
REFERENCE_WARNINGS = {
    ("fasttrack_cpor.rules", "RR605", "cpor_payout"),  # 2 USD per new license, no cap
    ("microsoft_referral.rules", "RR605", "qualifying_purchase"),  # 5% of one purchase, no cap
}


def test_reference_rulesets_warn_only_where_intended() -> None:
    found = set()
    for path in sorted(RULESETS.glob("*.rules")):
        for w in lint(checked_of(path)):
            milestone = re.search(r"milestone `(\w+)`", w.message)
            found.add((path.name, w.code, milestone.group(1) if milestone else ""))
    assert found == REFERENCE_WARNINGS


def test_lint_runs_only_with_strict(capsys: pytest.CaptureFixture[str]) -> None:
    path = STRICT / "RR605.warn.rules"
    code, out, err = run_cli(capsys, "check", path)
    assert (code, out) == (0, "") and "0 errors, 0 warnings" in err
    code, out, err = run_cli(capsys, "check", "--strict", path)
    assert code == 0 and "warning[RR605]" in out and "0 errors, 4 warnings" in err
    assert "= help: add a cap" in out


def test_strict_skips_files_with_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "check", "--strict", "--format", "json", TWO_ERRORS)
    payload = json.loads(out)
    assert code == 1 and payload["warnings"] == 0 and payload["errors"] == 2


# ---------------------------------------------------------------------------
# --fail-level


@pytest.mark.parametrize(
    ("argv", "exit_code"),
    [
        (["check", RULESETS], 0),
        (["check", "--strict", RULESETS], 0),
        (["check", "--strict", "--fail-level", "error", RULESETS], 0),
        (["check", "--strict", "--fail-level", "warning", RULESETS], 1),
        (["check", "--strict", "--fail-level", "warning", RULESETS / "dropbox.rules"], 0),
        (["check", "--fail-level", "warning", STRICT / "RR607.warn.rules"], 0),
        (["check", "--strict", "--fail-level", "warning", STRICT / "RR607.warn.rules"], 1),
        (["check", "--strict", "--fail-level", "warning", STRICT / "RR607.ok.rules"], 0),
        (["check", "--strict", TWO_ERRORS], 1),
        (["check", "--strict", "--fail-level", "warning", TWO_ERRORS], 1),
        (["check", "--strict", "--fail-level", "warning", ROOT / "missing.rules"], 2),
    ],
    ids=[
        "plain",
        "strict",
        "fail-on-error",
        "fail-on-warning",
        "clean-file",
        "no-strict-no-warnings",
        "warnings-fail",
        "near-misses-pass",
        "errors",
        "errors-fail-level-warning",
        "missing-file",
    ],
)
def test_fail_level_exit_codes(capsys: pytest.CaptureFixture[str], argv: list[str | Path], exit_code: int) -> None:
    code, _, _ = run_cli(capsys, *argv)
    assert code == exit_code


def test_fail_level_refuses_other_values(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["check", "--fail-level", "notice", str(RULESETS)])
    assert exit.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# output formats


def test_github_format_annotates_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    path = STRICT / "RR606.warn.rules"
    code, out, _ = run_cli(capsys, "check", "--strict", "--format", "github", path)
    assert code == 0
    matches = [GITHUB_WARNING.match(line) for line in out.splitlines()]
    assert all(matches), out
    assert [(m["file"], int(m["line"]), m["code"]) for m in matches if m] == [
        (str(path), line, code) for line, code in sorted(expected_markers(path))
    ]
    assert all("(help: " in m["message"] for m in matches if m)


def test_json_format_has_warnings_and_bounds(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "check", "--strict", "--format", "json", RULESETS)
    payload = json.loads(out)
    assert code == 0
    assert list(payload) == ["files", "diagnostics", "errors", "warnings", "bounds", "unread"]
    assert payload["errors"] == 0 and payload["warnings"] == len(REFERENCE_WARNINGS)
    assert {d["severity"] for d in payload["diagnostics"]} == {"warning"}
    # every reward rule file has bounds; a matching file (rulesets/matching/) pays nothing
    rewarding = [f for f in payload["files"] if not is_matching_file(Path(f).read_text(encoding="utf-8"))]
    assert [b["path"] for b in payload["bounds"]] == rewarding and len(rewarding) < len(payload["files"])
    saas = next(b for b in payload["bounds"] if b["ruleset"] == "saas_milestones")
    assert saas["programs"][0]["per_referral"] == [
        {
            "role": "referrer",
            "unit": "USD",
            "item": None,
            "max": "3500.00",
            "per_period": {},
            "unbounded_because": [],
        }
    ]
    (referrer,) = saas["programs"][0]["per_referrer"]
    assert referrer["max"] is None and "number of referrals has no limit" in referrer["unbounded_because"][0]


def test_json_bounds_leave_out_files_with_errors(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(capsys, "check", "--format", "json", TWO_ERRORS, RULESETS / "zoom.rules")
    assert [b["ruleset"] for b in json.loads(out)["bounds"]] == ["zoom"]


def test_text_bounds(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "check", "--bounds", RULESETS / "partner_and_customer.rules")
    assert code == 0 and "0 errors, 0 warnings" in err
    assert out.splitlines() == [
        f"{RULESETS / 'partner_and_customer.rules'}: payout bounds of `partner_and_customer`",
        "  program `customers`",
        "    per referral, to the referrer: 100.00 USD",
        "    per referrer: unbounded USD: `customer_conversion` pays 100.00 USD for every referral with no cap, "
        "and the number of referrals has no limit",
        "  program `partners`",
        "    per referral, to the referrer: 25000.00 USD, and 5000.00 USD per quarter",
        "    per referrer: 5000.00 USD per quarter; no limit for life: `partner_commission` pays "
        "`15% of payment.amount` (no upper bound) at every `payment` for every referral with no lifetime cap, "
        "and the number of referrals has no limit",
    ]


def test_text_bounds_keep_a_path_on_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a U+2028 or a form feed in a file's name is shown escaped, not as a line break
    rules = tmp_path / "saas\u2028\x0cmilestones.rules"
    rules.write_text((RULESETS / "saas_milestones.rules").read_text())
    code, out, _ = run_cli(capsys, "check", "--bounds", rules)
    assert code == 0
    assert out.split("\n")[0] == f"{tmp_path}/saas\\u2028\\x0cmilestones.rules: payout bounds of `saas_milestones`"


def test_bounds_of_a_sub_nanosecond_velocity_window_is_an_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`within 0.000000000001 minutes` passed RR304 (it is above zero) but
    is 0 ns, and `check --bounds` divided by it (ZeroDivisionError) until
    2026-12-08: now `check` refuses it at its line."""
    rules = tmp_path / "vel.rules"
    rules.write_text(
        "event payment { amount: money USD }\n"
        "metric recent = count earlier referrals within 0.000000000001 minutes\n"
        "eligible when recent < 3\n"
        "milestone paid { first payment within 1 days reward referrer cash 1 USD }\n"
    )
    code, out, err = run_cli(capsys, "check", "--bounds", rules)
    assert code == 1 and "Traceback" not in out + err
    assert out.startswith(f"{rules}:2:48: error[RR304]: a duration must be a whole number of nanoseconds")
    assert err == "checked 1 file: 1 error, 0 warnings\n"


# -- SARIF -------------------------------------------------------------------


@pytest.fixture(scope="module")
def sarif_validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    assert schema["id"].endswith("/sarif-schema-2.1.0.json") and "definitions" in schema
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def sarif_of(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, Any]:
    code, out, _ = run_cli(capsys, "check", "--format", "sarif", *argv)
    return code, json.loads(out)


@pytest.mark.parametrize(
    "argv",
    [
        ["rulesets"],
        ["--strict", "rulesets", "tests/fixtures/check/strict"],
        ["tests/fixtures/cli/two_errors.rules", "tests/fixtures/cli/syntax_error.rules"],
    ],
    ids=["clean", "warnings", "errors"],
)
def test_sarif_is_valid_sarif_2_1_0(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    sarif_validator: jsonschema.Draft4Validator,
    argv: list[str],
) -> None:
    monkeypatch.chdir(ROOT)
    _, log = sarif_of(capsys, *argv)
    problems = sorted(sarif_validator.iter_errors(log), key=str)
    assert problems == [], "\n".join(f"{list(p.absolute_path)}: {p.message}" for p in problems[:5])
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(CODES)
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning")
        (location,) = result["locations"]
        uri = location["physicalLocation"]["artifactLocation"]["uri"]
        assert urlsplit(uri).scheme == "" and not uri.startswith("/") and "\\" not in uri
        assert (ROOT / uri).is_file()
        region = location["physicalLocation"]["region"]
        assert region["startLine"] <= region["endLine"]
        assert region["startLine"] < region["endLine"] or region["startColumn"] <= region["endColumn"]


def test_sarif_results_match_the_diagnostics(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    code, log = sarif_of(capsys, "tests/fixtures/cli/two_errors.rules")
    assert code == 1
    results = log["runs"][0]["results"]
    assert [
        (r["ruleId"], r["level"], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in results
    ] == [("RR102", "error", 9), ("RR101", "error", 14)]
    first = results[0]
    assert first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "tests/fixtures/cli/two_errors.rules"
    assert first["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 9,
        "startColumn": 31,
        "endLine": 9,
        "endColumn": 36,
    }
    assert first["message"]["text"] == "event `payment` has no field `amout`\nhelp: did you mean `amount`?"


def test_sarif_warnings_and_exit_code(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, log = sarif_of(capsys, "--strict", "--fail-level", "warning", "tests/fixtures/check/strict/RR604.warn.rules")
    assert code == 1
    results = log["runs"][0]["results"]
    assert {(r["ruleId"], r["level"]) for r in results} == {("RR604", "warning")}
    rules = {r["id"]: r for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["RR604"]["defaultConfiguration"] == {"level": "warning"}
    assert rules["RR101"]["defaultConfiguration"] == {"level": "error"}


def test_every_code_has_sarif_help() -> None:
    assert set(RULE_HELP) == set(CODES)
    for code, text in RULE_HELP.items():
        assert text.endswith(".") and len(text) > 30, code


def test_artifact_uri(tmp_path: Path) -> None:
    assert artifact_uri("rulesets/x.rules", str(ROOT)) == "rulesets/x.rules"
    assert artifact_uri(str(ROOT / "a b" / "c,d:e.rules"), str(ROOT)) == "a%20b/c%2Cd%3Ae.rules"
    outside = artifact_uri(str(tmp_path / "x.rules"), str(ROOT / "rulesets"))
    assert outside.startswith("file:///") and outside.endswith("/x.rules")


# ---------------------------------------------------------------------------
# payout bounds of the reference programs, worked out by hand

#: ruleset -> program -> (per referral: (role, unit, item, max, per period),
#: per referrer: (unit, item, max, per period)); max None is "unbounded".
Rows = list[tuple[object, ...]]
EXPECTED_BOUNDS: dict[str, dict[str, tuple[Rows, Rows]]] = {
    # affiliates: 20% of one sale per referral (a later click takes the referee,
    # each referral still pays once), at most 1000 USD a month; friends: 25 + 10 once.
    "affiliate_attribution": {
        "affiliates": ([("referrer", "USD", None, "1000.00", {})], [("USD", None, None, {"month": "1000.00"})]),
        "friends": (
            [("referrer", "USD", None, "25.00", {}), ("referee", "USD", None, "10.00", {})],
            [("USD", None, None, {})],
        ),
    },
    # 250 USD once per referral; referrals have no limit.
    "docusign": {"docusign": ([("referrer", "USD", None, "250.00", {})], [("USD", None, None, {})])},
    # 500 MB each side once; the referrer's lifetime cap of 16000 MB.
    "dropbox": {
        "dropbox": (
            [("referrer", "MB", None, "500", {}), ("referee", "MB", None, "500", {})],
            [("MB", None, "16000", {})],
        )
    },
    # 2 USD x each rise of an unbounded license count, no cap.
    "fasttrack_cpor": {"fasttrack_cpor": ([("referrer", "USD", None, None, {})], [("USD", None, None, {})])},
    "hubspot": {"hubspot": ([("referrer", "USD", None, "1000.00", {})], [("USD", None, None, {})])},
    # 25 USD to the referrer and 10 USD credit to the referee once per
    # eligible referral; `recent_referrals < 3` (earlier referrals within 24
    # hours) lets at most 3 referrals in any 24 hours be eligible, and each
    # pays within 30 days of its referral: a period's awards come from
    # referrals in its length + 30 days, 3 per day of that: per day
    # 31 x 3 x 25 = 2325, per week 37 x 75 = 2775, per month (31 days)
    # 61 x 75 = 4575, per quarter (92) 122 x 75 = 9150, per year (366)
    # 396 x 75 = 29700; none for life.
    "referral_fraud": {
        "referral_fraud": (
            [("referrer", "USD", None, "25.00", {}), ("referee", "USD", None, "10.00", {})],
            [
                (
                    "USD",
                    None,
                    None,
                    {"day": "2325.00", "week": "2775.00", "month": "4575.00", "quarter": "9150.00", "year": "29700.00"},
                )
            ],
        )
    },
    # 5% of one purchase (no upper bound); the referee's 10 percent once.
    "microsoft_referral": {
        "microsoft_referral": (
            [("referrer", "USD", None, None, {}), ("referee", "percent", None, "10", {})],
            [("USD", None, None, {})],
        )
    },
    # customers: 100 USD once. partners: 15% of every payment within 365 days,
    # at most 5000 USD per quarter; 365 days touch at most 5 quarters.
    "partner_and_customer": {
        "customers": ([("referrer", "USD", None, "100.00", {})], [("USD", None, None, {})]),
        "partners": (
            [("referrer", "USD", None, "25000.00", {"quarter": "5000.00"})],
            [("USD", None, None, {"quarter": "5000.00"})],
        ),
    },
    "prezi": {"prezi": ([("referrer", "months", None, "3", {})], [("months", None, None, {})])},
    # per referral: the welcome discount to both; the referee whose event makes
    # the first conversion gets 50 USD. Per referrer: the discount for every
    # referral, 50 USD once, each item once.
    "referral_milestones": {
        "referral_milestones": (
            [
                ("referrer", "percent", None, "10", {}),
                ("referee", "percent", None, "10", {}),
                ("referee", "USD", None, "50.00", {}),
            ],
            [
                ("percent", None, None, {}),
                ("USD", None, "50.00", {}),
                ("item", "Complimentary annual subscription", "1", {}),
                ("item", "Trip to Paris", "1", {}),
            ],
        )
    },
    # 500 + 1000 + 2000 once each.
    "saas_milestones": {"saas_milestones": ([("referrer", "USD", None, "3500.00", {})], [("USD", None, None, {})])},
    "salesforce": {
        "salesforce": (
            [("referrer", "USD", None, "1000.00", {}), ("referee", "percent", None, "15", {})],
            [("USD", None, None, {})],
        )
    },
    "tesla": {
        "tesla": (
            [
                ("referrer", "supercharger_miles", None, "1000", {}),
                ("referee", "supercharger_miles", None, "1000", {}),
            ],
            [("supercharger_miles", None, None, {})],
        )
    },
    "zoom": {"zoom": ([("referrer", "USD", None, "100.00", {})], [("USD", None, None, {})])},
    # 300 held + 50 after 30 days to the referrer, 10 to the referee, once each.
    "subscription_loyalty": {
        "subscription_loyalty": (
            [("referrer", "USD", None, "350.00", {}), ("referee", "USD", None, "10.00", {})],
            [("USD", None, None, {})],
        )
    },
}


def test_every_reference_ruleset_has_expected_bounds() -> None:
    assert set(EXPECTED_BOUNDS) == {p.stem for p in RULESETS.glob("*.rules")}


@pytest.mark.parametrize("name", sorted(EXPECTED_BOUNDS))
def test_reference_bounds(name: str) -> None:
    result: Any = bounds(checked_of(RULESETS / f"{name}.rules")).to_dict()
    found = {}
    for program in result["programs"]:
        referral = [(b["role"], b["unit"], b["item"], b["max"], b["per_period"]) for b in program["per_referral"]]
        referrer = [(b["unit"], b["item"], b["max"], b["per_period"]) for b in program["per_referrer"]]
        found[program["program"]] = (referral, referrer)
        for b in [*program["per_referral"], *program["per_referrer"]]:
            # every "unbounded" says why, naming a milestone
            assert (b["max"] is None) == bool(b["unbounded_because"])
            assert all(re.search(r"`\w+`", reason) for reason in b["unbounded_because"])
    assert found == EXPECTED_BOUNDS[name]


def test_unbounded_reasons_name_the_cause() -> None:
    fasttrack = bounds(checked_of(RULESETS / "fasttrack_cpor.rules")).programs[0]
    (_, referral), (referrer,) = fasttrack.per_referral[0], fasttrack.per_referrer
    assert referral.why() == [
        "`cpor_payout` pays `2 USD * increase` (no upper bound) at every rise of `paid_licenses` with no cap"
    ]
    assert "for every referral" in referrer.why()[0]
    microsoft = bounds(checked_of(RULESETS / "microsoft_referral.rules")).programs[0]
    assert microsoft.per_referral[0][1].why() == [
        "`qualifying_purchase` pays `5% of purchase.amount` (no upper bound) once with no cap"
    ]
    saas = bounds(checked_of(RULESETS / "saas_milestones.rules")).programs[0]
    assert saas.per_referrer[0].why() == [
        "`mrr_1k`, `arr_5k` and `arr_10k` pay for every referral with no cap, and the number of referrals has no limit"
    ]


HEAD = """
event payment { amount: money USD }
event usage { data: quantity MB }
metric paid = count payment where payment.amount > 0
metric conversions = count referrals where paid >= 1
metric used = max usage.data within 30 days otherwise 0 MB
"""


def one_program(text: str) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    (program,) = bounds(checked_text(HEAD + text)).programs
    return (
        [(role, b.unit, b.total, b.per_period) for role, b in program.per_referral],
        [(b.unit, b.total, b.per_period) for b in program.per_referrer],
    )


D = Decimal


@pytest.mark.parametrize(
    ("rules", "referral", "referrer"),
    [
        (
            "milestone m { first payment  reward referrer cash 10.005 USD  reward referrer cash 1 USD }",
            [("referrer", "USD", D("11.00"), {})],  # each amount rounded half-even first
            [("USD", None, {})],
        ),
        (
            "cap referrer 100 USD per month  milestone m { first payment  reward referrer cash 50% of payment.amount }",
            [("referrer", "USD", D(100), {})],  # one award, cut to one month's cap
            [("USD", None, {"month": D(100)})],
        ),
        (
            "milestone m { each payment within 31 days  reward referee cash 1% of payment.amount  cap referee 10 USD per month }",
            [("referee", "USD", D(30), {"month": D(10)})],  # 31 days touch at most 3 months
            [],
        ),
        (
            "milestone m { each payment within 1 day  reward referee storage 5 MB  cap referee 7 MB per day }",
            [("referee", "MB", D(14), {"day": D(7)})],
            [],
        ),
        (
            "milestone m { whenever used increases  reward referrer storage 2 * increase  cap referrer 5 MB per week }",
            [("referrer", "MB", D(30), {"week": D(5)})],  # `used` moves for 30 days: at most 6 weeks
            [("MB", None, {"week": D(5)})],
        ),
        (
            "milestone m { every 2 paid  reward referrer cash 1 USD  cap referrer 5 USD per week }",
            [("referrer", "USD", None, {"week": D(5)})],  # no window: unbounded for life
            [("USD", None, {"week": D(5)})],
        ),
        (
            "milestone m { each payment  reward referrer cash 3 USD  cap referrer 20 USD }  "
            "milestone n { first payment  reward referrer cash 5 USD }",
            [("referrer", "USD", D(25), {})],  # the milestone cap counts per referrer too
            [("USD", None, {})],
        ),
        (
            "cap referrer 1000 USD  milestone m { each payment  reward referrer cash 3 USD }",
            [("referrer", "USD", D(1000), {})],
            [("USD", D(1000), {})],
        ),
        (
            "milestone once { when conversions >= 3  reward referrer cash 100 USD  reward referee cash 10 USD }  "
            "milestone again { every 5 conversions  reward referrer gift_card 25 USD }",
            [("referee", "USD", D(10), {})],  # a per-referrer milestone pays one referee once
            [("USD", None, {})],
        ),
        (
            "milestone m { first payment  reward referrer cash 0 USD  reward referee cash 5 USD / 0 }",
            [("referrer", "USD", D(0), {}), ("referee", "USD", D(0), {})],  # never issued
            [("USD", D(0), {})],
        ),
    ],
    ids=[
        "rounding",
        "once-computed-periodic-cap",
        "window-months",
        "window-days",
        "whenever-metric-window",
        "every-no-window",
        "milestone-cap",
        "lifetime-program-cap",
        "per-referrer-milestones",
        "nothing-paid",
    ],
)
def test_bounds_method(rules: str, referral: list[tuple[object, ...]], referrer: list[tuple[object, ...]]) -> None:
    assert one_program(rules) == (referral, referrer)


def test_bounds_in_a_time_zone_allow_for_offset_changes() -> None:
    rules = "milestone m { each payment within 89 days  reward referee cash 1% of payment.amount  cap referee 10 USD per quarter }"
    utc = bounds(checked_text(HEAD + rules)).programs[0].per_referral[0][1]
    zoned = bounds(checked_text('ruleset z timezone "Pacific/Apia"\n' + HEAD + rules)).programs[0].per_referral[0][1]
    assert (utc.total, zoned.total) == (D(20), D(30))


@pytest.mark.parametrize(
    ("days", "period", "most"),
    [
        (1, "day", 2),
        (Decimal("0.5"), "day", 2),
        (7, "week", 2),
        (8, "week", 3),
        (27, "month", 2),
        (31, "month", 3),  # Jan 31 -> Feb -> Mar 3
        (89, "quarter", 2),
        (93, "quarter", 3),
        (365, "quarter", 5),
        (365, "year", 2),
        (366, "year", 3),  # a leap year's Dec 31 to the second next Jan 1
        (400 * 366, "year", 402),  # a whole 400-year cycle, then 303 days
        (0, "month", 1),
    ],
)
def test_periods_spanned(days: int | Decimal, period: str, most: int) -> None:
    assert periods_spanned(int(days * DAY), period) == most


def _period_index(when: dt.datetime, period: str) -> int:
    if period == "month":
        return when.year * 12 + when.month
    if period == "quarter":
        return when.year * 4 + (when.month - 1) // 3
    return when.year


@pytest.mark.parametrize("period", ["month", "quarter", "year"])
def test_periods_spanned_is_an_upper_bound_and_reached(period: str) -> None:
    """Random intervals never touch more periods than the bound, and an
    interval that starts a moment before a period reaches it."""
    rng = random.Random(20261123)
    epoch = dt.datetime(2001, 1, 1)
    for _ in range(3000):
        window = rng.randrange(1, 800 * DAY)
        start = epoch + dt.timedelta(microseconds=rng.randrange(0, 400 * 365 * DAY // 1000))
        end = start + dt.timedelta(microseconds=window // 1000)
        touched = _period_index(end, period) - _period_index(start, period) + 1
        assert touched <= periods_spanned(window, period)
    # 365 days from just before 1 January 2001 (2001 is not a leap year)
    assert _period_index(dt.datetime(2001, 12, 31, 23, 59), "quarter") - _period_index(
        dt.datetime(2000, 12, 31, 23, 59), "quarter"
    ) + 1 == periods_spanned(365 * DAY, "quarter")


@pytest.mark.parametrize("period", ["month", "quarter", "year"])
def test_periods_spanned_is_the_most_starts_any_window_holds(period: str) -> None:
    """The bound is reached, not only an upper bound: the most period starts
    in [b, b + window) over every start b of a 400-year cycle, plus one,
    counted here start by start (`_span`'s shortcut against it)."""
    from rewardrules.check.bounds import _period_starts

    starts = _period_starts(period)
    firsts = starts[: len(starts) // 2]
    rng = random.Random(20261207)
    windows = [1, DAY, 28 * DAY, 28 * DAY + 1, 92 * DAY, 365 * DAY, 366 * DAY + 1, 146096 * DAY]
    for window in windows + [rng.randrange(1, 3000 * DAY) for _ in range(60)]:
        most = max(bisect.bisect_left(starts, b + window) - i for i, b in enumerate(firsts))
        assert periods_spanned(window, period) == most + 1, window


# ---------------------------------------------------------------------------
# the constant folding lint relies on


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("1 > 2", False),
        ("2 * 3 USD >= 6 USD", True),
        ("15% of 200 USD", D(30)),
        ("1 / 0", None),
        ("1 / 0 > 0", False),
        ("not (1 / 0 > 0)", True),
        ('"a" in ["a", "b"]', True),
        ('"a" not in ["a", "b"]', False),
        ("1 days < 25 hours", True),
        ("true and false or true", True),
        ("mrr > 0 and false", False),
        ("mrr > 0 or true", True),
        ("mrr > 0", UNKNOWN),
        ("not mrr > 0", UNKNOWN),
    ],
)
def test_fold(expr: str, value: object) -> None:
    text = f"event s {{ mrr: money USD }}\nmilestone m {{ when true  reward referrer cash {expr} }}"
    tree, diagnostics = parse(Source("x.rules", text))
    assert diagnostics == [] and tree is not None and tree.implicit is not None
    assert fold(tree.implicit.milestones[0].rewards[0].amount) == value


# ---------------------------------------------------------------------------
# pre-commit hooks and the CI page


def test_pre_commit_hooks_name_real_commands() -> None:
    import yaml  # PyYAML comes with mkdocs, part of the test extra

    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert [h["id"] for h in hooks] == ["rewardrules-check", "rewardrules-fmt", "rewardrules-test"]
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for hook in hooks:
        assert {"id", "name", "entry", "language", "files"} <= hook.keys() and hook["language"] == "python"
        assert re.search(hook["files"], "rulesets/zoom.rules")
        program, command, *options = hook["entry"].split()
        assert program == "rewardrules" and command in commands
        files = [] if hook.get("pass_filenames") is False else ["x.rules"]
        commands[command].parse_args([*options, *hook.get("args", []), *files])  # the options exist
    assert [h["entry"] for h in hooks] == ["rewardrules check --strict", "rewardrules fmt --check", "rewardrules test"]


def test_ci_page_shows_every_step() -> None:
    text = (ROOT / "docs" / "ci.md").read_text()
    for step in (
        "rewardrules check --strict --format github",
        "--format sarif",
        "github/codeql-action/upload-sarif",
        "rewardrules fmt --check",
        "rewardrules test --coverage",
        ".pre-commit-hooks.yaml",
    ):
        assert step in text, step


# ---------------------------------------------------------------------------
# soundness and robustness of the analyses

_OPS = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
Condition = tuple[str, Any]  # the text, and a function of the value (None: missing)


def _random_condition(rng: random.Random, name: str, constants: list[Decimal], unit: str, depth: int) -> Condition:
    def lit(c: Decimal) -> str:
        return f"{c} {unit}".strip()

    roll = rng.random()
    if depth <= 0 or roll < 0.45:
        kind = rng.choice(["cmp", "cmp", "cmp", "in", "set"])
        if kind == "cmp":
            op, c = rng.choice(list(_OPS)), rng.choice(constants)
            if rng.random() < 0.3:
                flipped = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
                return f"{lit(c)} {flipped} {name}", lambda v, op=op, c=c: v is not None and _OPS[op](v, c)
            return f"{name} {op} {lit(c)}", lambda v, op=op, c=c: v is not None and _OPS[op](v, c)
        if kind == "in":
            items = rng.sample(constants, rng.randint(1, 3))
            negated = rng.random() < 0.5
            text = f"{name} {'not in' if negated else 'in'} [{', '.join(lit(c) for c in items)}]"
            return text, lambda v, items=items, negated=negated: v is not None and ((v in items) != negated)
        negated = rng.random() < 0.5
        return f"{name} is {'not ' if negated else ''}set", lambda v, negated=negated: (v is not None) != negated
    left = _random_condition(rng, name, constants, unit, depth - 1)
    if roll < 0.55:
        return f"not ({left[0]})", lambda v, f=left[1]: not f(v)
    right = _random_condition(rng, name, constants, unit, depth - 1)
    if roll < 0.8:
        return f"({left[0]}) and ({right[0]})", lambda v, f=left[1], g=right[1]: f(v) and g(v)
    return f"({left[0]}) or ({right[0]})", lambda v, f=left[1], g=right[1]: f(v) or g(v)


@pytest.mark.parametrize(
    ("variant", "head", "trigger", "name", "constants", "unit", "candidates"),
    [
        (
            "optional-money-field",
            "event payment { amount: optional money USD }",
            "first payment where {}",
            "payment.amount",
            [D(n) / 2 for n in range(-3, 8)],
            "USD",
            [None, *[D(n) / 4 for n in range(-10, 20)]],
        ),
        (
            "count-metric",
            "event payment { amount: money USD }\nmetric paid = count payment",
            "when {}",
            "paid",
            [D(n) for n in range(5)],
            "",
            [D(n) for n in range(7)],
        ),
    ],
)
def test_never_true_is_sound(
    variant: str, head: str, trigger: str, name: str, constants: list[Decimal], unit: str, candidates: list[Any]
) -> None:
    """Whenever lint says a condition is never true, no value makes it true
    (the candidates cover every region between the constants)."""
    from rewardrules.lint import Conditions

    rng = random.Random(f"never-true-{variant}")
    decided = 0
    for _ in range(400):
        text, holds = _random_condition(rng, name, constants, unit, depth=3)
        checked, diagnostics = check_text(
            f"{head}\nmilestone m {{ {trigger.format(text)}  reward referee discount 1 percent }}"
        )
        if checked is None or diagnostics:
            continue
        milestone_trigger = checked.milestones[0].trigger
        condition = getattr(milestone_trigger, "condition", None) or milestone_trigger.where  # type: ignore[union-attr]
        if Conditions(checked).never_true(condition):
            decided += 1
            assert not any(holds(v) for v in candidates), text
    assert decided >= 10  # the generator does reach contradictions


def test_lint_and_bounds_accept_every_valid_rule_file() -> None:
    """Every rule file of the repository and every rule snippet of the docs
    that checks clean goes through lint and bounds without failing."""
    texts = []
    for path in sorted(ROOT.rglob("*.rules")):
        if not {".venv", "site", ".git"} & set(path.relative_to(ROOT).parts):
            with contextlib.suppress(UnicodeDecodeError):  # the fuzz corpus holds non-UTF-8 files
                texts.append((str(path), path.read_text(encoding="utf-8")))
    for page in sorted((ROOT / "docs").glob("*.md")):
        texts += [(page.name, block) for block in re.findall(r"```rules\n(.*?)```", page.read_text(), re.S)]
    linted = 0
    for where, text in texts:
        checked, diagnostics = check_text(text, where)
        if checked is None or any(d.severity is Severity.ERROR for d in diagnostics):
            continue
        linted += 1
        for warning in lint(checked):
            assert warning.severity is Severity.WARNING and warning.code in CODES and warning.help
        result = bounds(checked)
        json.dumps(result.to_dict())
        assert result.render()
    assert linted >= 30
