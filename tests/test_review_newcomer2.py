"""Newcomer review after the merges of match, simulate, sql and lsp: what a
user meets following README and docs as written.

A partner-matching file given to a command that reads reward rules
(`score`, `explain`, `simulate`, `sql`, ...) was answered with the rule
grammar's list of expected keywords, where `match` given a reward rule
file says what the file is and which command reads it.
"""

from __future__ import annotations

import pytest

from rewardrules.cli import main

from .conftest import ROOT, RULESETS

MATCHING = str(RULESETS / "matching" / "fasttrack_matching.rules")
PARTNERS = str(ROOT / "examples" / "matching" / "partners.jsonl")
SCENARIO = str(ROOT / "examples" / "simulate" / "launch.toml")


@pytest.mark.parametrize(
    "argv",
    [
        ["score", MATCHING, PARTNERS],
        ["explain", MATCHING, PARTNERS],
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
