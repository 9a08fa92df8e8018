"""A hostile review of the matching tooling (`score --match`, `explain`,
`test` and `report` for matching files): what a newcomer or an attacker
gets wrong, and how it is told."""

from __future__ import annotations

from pathlib import Path

import pytest

from .test_match_tooling import CPOR, LICENSES, MATCHING, PARTNERS, run

#: payout rules whose `referral` events need a field that no referral
#: `--match` makes has: every generated referral is a ledger problem
NEEDS_CHANNEL = """\
ruleset needs_channel "Referrals need a channel"

event referral {
  channel: text
}
event licenses { active: number }

milestone big "Big" {
  first licenses where licenses.active >= 1
  reward referrer cash 5 USD
}
"""


def _ledger_lines() -> int:
    return len(LICENSES.read_text(encoding="utf-8").splitlines())


def test_a_problem_in_a_referral_of_match_is_not_told_as_a_line_of_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The referrals come after LEDGER's lines; one the payout rules refuse
    was told as `licenses.jsonl:4`, a line the file does not have."""
    rules = tmp_path / "needs_channel.rules"
    rules.write_text(NEEDS_CHANNEL, encoding="utf-8")
    code, _, err = run(capsys, "score", str(rules), str(LICENSES), "--match", str(MATCHING), str(PARTNERS))
    assert code == 2
    beyond = f"{LICENSES}:{_ledger_lines() + 1}:"
    assert beyond not in err
    assert f"<referrals --match made from {PARTNERS}>:1: error: field `channel`" in err
    assert "1 problem(s) (1 in the referrals of --match); nothing was scored" in err


def test_an_id_of_ledger_taken_by_a_referral_of_match_is_told_at_both_places(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """LEDGER holds an event with the id of a referral `--match` makes
    (another referrer): refused, the referral told as the referral's, the
    LEDGER line it collides with by its number in LEDGER."""
    code, out, _ = run(capsys, "match", str(MATCHING), str(PARTNERS), "--format", "referrals")
    assert code == 0
    referral = out.splitlines()[0].replace('"contoso"', '"mallory"')
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(LICENSES.read_text(encoding="utf-8") + referral + "\n", encoding="utf-8")
    code, _, err = run(capsys, "score", str(CPOR), str(ledger), "--match", str(MATCHING), str(PARTNERS))
    assert code == 2
    assert f"{ledger}:{_ledger_lines() + 2}:" not in err
    assert f"<referrals --match made from {PARTNERS}>:1: error: field `id`" in err
    assert f"already used on line {_ledger_lines() + 1}" in err


def test_problems_in_ledger_and_in_the_referrals_are_each_at_their_own_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "needs_channel.rules"
    rules.write_text(NEEDS_CHANNEL, encoding="utf-8")
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text("{not json\n\n", encoding="utf-8")
    code, _, err = run(capsys, "score", str(rules), str(ledger), "--match", str(MATCHING), str(PARTNERS))
    assert code == 2
    assert f"{ledger}:1: error: invalid JSON" in err
    assert f"<referrals --match made from {PARTNERS}>:1: error: field `channel`" in err
    assert f"{ledger}:3:" not in err
    assert "2 problem(s) (1 in the referrals of --match)" in err
