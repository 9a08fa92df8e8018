"""Golden ledgers of matching: each case in tests/golden_matching/<rules>/
is a ledger of partner and customer events and the assignments worked out
by hand (the `notes` say how), matched with rulesets/matching/<rules>.rules.

An expected assignment lists only the fields it checks; besides the
record's own fields it may give `decided_by` (the key that decided), `dropped`
(partner -> the gate that dropped it), `claims` (partner -> whether its claim
counted), `counts` and `raw_counts` (partner -> its levelled and its own count)
and `replaces` (the partner of the declined assignment it replaces)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from rewardrules.match.api import MatchResult, load, match
from rewardrules.match.check import MatchRules

from .conftest import ROOT, RULESETS

GOLDEN = ROOT / "tests" / "golden_matching"
CASES = sorted(GOLDEN.glob("*/*.jsonl"))


@cache
def rules(name: str) -> MatchRules:
    return load(RULESETS / "matching" / f"{name}.rules")


def run_case(ledger: Path) -> tuple[MatchResult, dict[str, Any]]:
    expected = json.loads(ledger.with_suffix("").with_suffix(".expected.json").read_text(encoding="utf-8"))
    result = match(rules(ledger.parent.name), ledger.read_text(encoding="utf-8").splitlines(), expected["as_of"])
    return result, expected


def derived(record: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The record with the facts of its `why` that golden cases check."""
    why = record["why"]
    decided = why.get("decided_by")
    for step in why.get("split", ()):
        if step["workloads"] == record["workloads"] and record["kind"] == "partner":
            decided = step["decided_by"]
    eligible = [c for c in why["candidates"] if c["dropped_by"] is None]
    return {
        **record,
        "decided_by": decided,
        "dropped": {c["partner"]: c["dropped_by"] for c in why["candidates"] if c["dropped_by"] is not None},
        "claims": {c["partner"]: c["counts"] for c in why.get("claims", ())},
        "counts": {c["partner"]: c["effective_count"] for c in eligible},
        "raw_counts": {c["partner"]: c["count"] for c in eligible},
        "replaces": by_id[record["replaces"]]["partner"] if record["replaces"] else None,
    }


@pytest.mark.parametrize("ledger", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_golden_matching_case(ledger: Path) -> None:
    result, expected = run_case(ledger)
    records = result.to_dict()["assignments"]
    by_id = {r["id"]: r for r in records}
    got = [derived(r, by_id) for r in records]
    assert len(got) == len(expected["assignments"]), expected["notes"]
    for number, (record, want) in enumerate(zip(got, expected["assignments"], strict=True)):
        assert {k: record[k] for k in want} == want, f"assignment {number}: {expected['notes']}"
    if "acceptance" in expected:
        assert result.to_dict()["acceptance"]["rows"] == expected["acceptance"], expected["notes"]


def test_every_faq_behaviour_has_a_golden_case() -> None:
    """The FAQ's behaviours, each shown by at least one case."""
    bases = set()
    gates = set()
    for ledger in CASES:
        result, _ = run_case(ledger)
        for record in result.to_dict()["assignments"]:
            bases.add(record["basis"])
            gates.update(c["dropped_by"] for c in record["why"]["candidates"])
    assert {"claim", "round_robin", "split", "fallback"} <= bases
    assert {"endorsement", "location", "language", "customer_size", "industry", "paused", "declined", "left"} <= gates
    assert {p.stem for p in CASES} >= {"gates_and_claims", "round_robin", "split", "pause", "decline_and_acceptance"}
