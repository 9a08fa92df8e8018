"""Golden ledgers: every reference program scores exactly as the contract
says. Each case in tests/golden/<program>/ is a ledger and the awards worked
out by hand (see tests/golden/README.md); ids are checked separately."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

import rewardrules

from .conftest import GOLDEN, RULESETS

FIELDS = ("at", "milestone", "role", "beneficiary", "referrer", "referee", "kind", "amount", "unit", "item", "status")
CASES = sorted(GOLDEN.glob("*/*.jsonl"))


@cache
def program(name: str) -> rewardrules.Program:
    """The reference program NAME, or the rule file of the folder's own
    (constructs beyond the contract's reference programs)."""
    own = GOLDEN / name / f"{name}.rules"
    return rewardrules.load(own if own.exists() else RULESETS / f"{name}.rules")


def _key(award: dict[str, object]) -> tuple[str, ...]:
    return tuple(str(award[f]) for f in FIELDS)


@pytest.mark.parametrize("ledger", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_golden_case(ledger: Path) -> None:
    expected = json.loads(ledger.with_suffix("").with_suffix(".expected.json").read_text())
    lines = ledger.read_text().splitlines()
    result = program(ledger.parent.name).score(lines, as_of=expected["as_of"])
    got = sorted((_key(a) for a in result.data["awards"]), key=lambda k: k)
    want = sorted((_key(a) for a in expected["awards"]), key=lambda k: k)
    assert got == want, expected["notes"]


def test_every_reference_program_has_golden_cases() -> None:
    programs = {p.stem for p in RULESETS.glob("*.rules")}
    covered = {p.parent.name for p in CASES if not (p.parent / f"{p.parent.name}.rules").exists()}
    assert programs == covered
    # the contract's twelve, and the reference programs of later constructs
    # (subscription_loyalty: time triggers; referral_fraud: behaviour;
    # affiliate_attribution: attribution that moves)
    assert len(programs) == 15


#: Golden cases of language features (tests/golden/features/NAME/): each
#: folder has its own rule file, NAME.rules, beside its cases.
FEATURE_CASES = sorted((GOLDEN / "features").glob("*/*.jsonl"))


@pytest.mark.parametrize("ledger", FEATURE_CASES, ids=[f"{p.parent.name}/{p.stem}" for p in FEATURE_CASES])
def test_feature_golden_case(ledger: Path) -> None:
    expected = json.loads(ledger.with_suffix("").with_suffix(".expected.json").read_text())
    rules = rewardrules.load(ledger.parent / f"{ledger.parent.name}.rules")
    result = rules.score(ledger.read_text().splitlines(), as_of=expected["as_of"])
    got = sorted(_key(a) for a in result.data["awards"])
    want = sorted(_key(a) for a in expected["awards"])
    assert got == want, expected["notes"]
