"""Newcomer review after the merges of match, simulate, sql and lsp: what a
user meets following README and docs as written.

A partner-matching file given to a command that reads reward rules
(`score`, `explain`, `simulate`, `sql`, ...) was answered with the rule
grammar's list of expected keywords, where `match` given a reward rule
file says what the file is and which command reads it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rewardrules.cli import main
from rewardrules.diagnostics import CODES

from .conftest import ROOT, RULESETS

MATCHING = str(RULESETS / "matching" / "fasttrack_matching.rules")
PARTNERS = str(ROOT / "examples" / "matching" / "partners.jsonl")
SCENARIO = str(ROOT / "examples" / "simulate" / "launch.toml")


@pytest.mark.parametrize(
    "argv",
    [
        ["score", MATCHING, PARTNERS],
        ["sql", MATCHING],
        ["simulate", MATCHING, "--scenario", SCENARIO, "--runs", "1"],
    ],
)
def test_a_matching_file_where_rules_are_read_names_the_match_command(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "partner-matching file" in err
    assert "rewardrules match" in err
    assert "expected `allowance`" not in err  # not the grammar's keyword list


def test_a_comment_with_a_raw_line_separator_still_names_the_match_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a comment runs to `\n` (the grammar's `#[^\n]*`): a U+2028 in it starts no line
    text = Path(MATCHING).read_text(encoding="utf-8")
    matching = tmp_path / "matching.rules"
    matching.write_text("# partners\u2028 and customers, \u0085 matched\n" + text, encoding="utf-8")
    assert main(["score", str(matching), PARTNERS]) == 1
    err = capsys.readouterr().err
    assert "partner-matching file" in err and "rewardrules match" in err


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_rule_file_reading_events_the_scenario_never_writes_is_refused(
    jobs: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/simulate.md: a rule file that names its events otherwise is an
    error. It forecast nothing paid instead: a ledger without `licenses`
    lines is a valid ledger, so nothing was refused."""
    argv = ["simulate", str(RULESETS / "fasttrack_cpor.rules"), "--scenario", SCENARIO, "--runs", "2", "--jobs", jobs]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "`fasttrack_cpor` reads `licenses` events, which the scenario does not write" in captured.err
    assert "[events]" in captured.err


def test_a_renamed_event_type_in_the_scenario_is_forecast(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The way out the error names: [events] gives the rule file's names."""
    scenario = tmp_path / "sub.toml"
    text = (ROOT / "examples" / "simulate" / "launch.toml").read_text(encoding="utf-8")
    scenario.write_text(text.replace("[[referrers]]", '[events]\nsubscription = "sub"\n\n[[referrers]]', 1))
    rules = tmp_path / "sub.rules"
    rules.write_text((RULESETS / "saas_milestones.rules").read_text(encoding="utf-8").replace("subscription", "sub"))
    assert main(["simulate", str(rules), "--scenario", str(scenario), "--runs", "1"]) == 0
    assert "saas_milestones.mrr_1k" in capsys.readouterr().out


def test_a_scenario_that_renames_the_referral_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A referral is a `referral` event in every rule file: a scenario that
    writes its referrals under another name gave a forecast of nothing."""
    scenario = tmp_path / "ref.toml"
    text = (ROOT / "examples" / "simulate" / "launch.toml").read_text(encoding="utf-8")
    scenario.write_text(text.replace("[[referrers]]", '[events]\nreferral = "ref"\n\n[[referrers]]', 1))
    argv = ["simulate", str(RULESETS / "partner_and_customer.rules"), "--scenario", str(scenario), "--runs", "1"]
    assert main(argv) == 2
    assert "reads `referral` events, which the scenario does not write" in capsys.readouterr().err


def test_the_cli_page_names_every_strict_warning() -> None:
    """docs/cli.md's `--strict` row gave code ranges that left out the
    warnings added since (RR615, RR616, RR620, RR621)."""
    row = next(line for line in (ROOT / "docs" / "cli.md").read_text().splitlines() if line.startswith("| `--strict`"))
    named: set[str] = set()
    for first, last in re.findall(r"`RR(\d+)`-`RR(\d+)`", row):
        named.update(f"RR{n}" for n in range(int(first), int(last) + 1))
    named.update(re.findall(r"`(RR\d+)`(?!-)", row))
    assert sorted(code for code in CODES if code.startswith("RR6") and code not in named) == []


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--scenario", SCENARIO, "--currency", "EUR"], "--currency is for a backtest (--ledger)"),
        (["--ledger", str(ROOT / "examples" / "ledger.jsonl"), "--runs", "5"], "--runs is for a forecast"),
        (["--ledger", str(ROOT / "examples" / "ledger.jsonl"), "--seed", "3"], "--seed is for a forecast"),
        (["--ledger", str(ROOT / "examples" / "ledger.jsonl"), "--jobs", "2"], "--jobs is for a forecast"),
    ],
)
def test_an_option_of_the_other_simulate_mode_is_a_usage_error(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--currency EUR` beside a scenario forecast in the scenario's USD, and
    `--runs 50` beside a ledger gave one run, without a word."""
    assert main(["simulate", str(RULESETS / "partner_and_customer.rules"), *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and said in captured.err


@pytest.mark.parametrize("currency", ["eur", "EURO", "U D"])
def test_a_backtest_currency_is_a_currency_code(currency: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`--currency eur` backtested with no payment counted (their unit is
    `EUR`), where a scenario's `currency = "eur"` is refused."""
    ledger = str(ROOT / "examples" / "ledger.jsonl")
    argv = ["simulate", str(RULESETS / "partner_and_customer.rules"), "--ledger", ledger, "--currency", currency]
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert "expected a currency code of three capital letters" in capsys.readouterr().err
