"""Review of issue 18: what a newcomer to matching files is told.

A reward rule file given to `rewardrules match` was refused with the
generic "each clause starts with a keyword" help, which does not say that
the file is of the other kind; and `pause at most 0.5 days` was "a pause of
at most zero".
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import rewardrules
from rewardrules.match.check import check_text

from .conftest import ROOT, RULESETS

BASE = """\
matching m
workload teams
attribute location
require endorsement, location
tie break partner
"""


def run_match(*arguments: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(rewardrules.__file__).resolve().parents[1])}
    command = [sys.executable, "-m", "rewardrules", "match", *map(str, arguments)]
    return subprocess.run(command, capture_output=True, text=True, env=env, check=False)


def test_a_reward_rule_file_given_to_match_is_named_for_what_it_is() -> None:
    done = run_match(RULESETS / "fasttrack_cpor.rules", ROOT / "examples" / "matching" / "partners.jsonl")
    assert done.returncode == 1 and done.stdout == ""
    assert "error[RR801]: unexpected `ruleset`" in done.stderr
    assert "this is a reward rule file (it starts with `ruleset`)" in done.stderr
    assert "rewardrules score" in done.stderr


def test_a_fractional_pause_is_not_called_zero() -> None:
    rules, found = check_text(BASE + "pause at most 0.5 days\n")
    assert rules is None
    assert [(d.code, d.message, d.help) for d in found] == [
        ("RR808", "a pause of at most 0.5 days is not whole", "give a whole number of days above 0")
    ]
    rules, found = check_text(BASE + "pause at most 0 weeks\n")
    assert [(d.code, d.message) for d in found] == [("RR808", "a pause of at most zero is no pause")]


def test_swapped_arguments_of_match_are_a_bad_invocation_said_so() -> None:
    """As `score` does: the ledger given as the matching file and the
    matching file as the ledger is exit 2, and the CLI says which is which."""
    done = run_match(
        ROOT / "examples" / "matching" / "partners.jsonl", RULESETS / "matching" / "fasttrack_matching.rules"
    )
    assert done.returncode == 2 and done.stdout == ""
    assert "help: this file looks like a JSON Lines ledger, not a rule file" in done.stderr
    assert "are the arguments swapped? the rule file comes first: RULES LEDGER" in done.stderr
