"""A referral's own number field read on another row of the referral (a
milestone's condition on a payment, an amount): what the query
writes beside its value, its decimals (exponent) and the sign of a zero,
is carried from the referral's row as the value is (`sql/referral_fields`).
Both were read from the row at hand, where they are NULL: the award's
`why` came back empty (`"why": ` and nothing, invalid JSON, from
`score --engine duckdb --format json`; a traceback from the text output)
and a money field's `-0.00` was written `0.00`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rewardrules.cli import main

LEDGER = [
    {
        "id": "r1",
        "at": "2026-01-01T00:00:00Z",
        "type": "referral",
        "referee": "bob",
        "referrer": "fay",
        "seats": "2.50",
        "deal": "-0.00",
    },
    {
        "id": "r2",
        "at": "2026-01-01T00:00:00Z",
        "type": "referral",
        "referee": "cy",
        "referrer": "fay",
        "seats": "3",
        "deal": "12.5",
    },
    {"id": "p1", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "bob", "amount": "5"},
    {"id": "p2", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "cy", "amount": "7.25"},
]

MILESTONES = {
    "decimals in why": "first payment where referral.seats >= 2\n  reward referee credit 1 USD",
    "a negative zero in why": "first payment where referral.deal >= 0 USD\n  reward referee credit 1 USD",
    "arithmetic in why": "first payment where referral.seats * 1.5 > 0\n  reward referrer cash 1 USD",
    "a sum with the event's money in why": "first payment where referral.deal + payment.amount > 0 USD\n  reward referrer cash 1 USD",
    "an amount": "first payment where referral.seats > 0\n  reward referrer cash referral.seats * 2 USD",
}


@pytest.mark.parametrize("name", sorted(MILESTONES))
def test_duckdb_writes_what_the_python_engine_writes(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "p.rules"
    rules.write_text(
        "ruleset s\nevent referral {\n  seats: number\n  deal: money USD\n}\n"
        f"event payment {{ amount: money USD }}\nmilestone m {{\n  {MILESTONES[name]}\n}}\n"
    )
    ledger = tmp_path / "l.jsonl"
    ledger.write_text("".join(json.dumps(event) + "\n" for event in LEDGER))
    outputs = []
    for engine in ("python", "duckdb"):
        for form in ("json", "text"):
            assert main(["score", str(rules), str(ledger), "--engine", engine, "--format", form]) == 0
            outputs.append(capsys.readouterr().out)
    python_json, python_text, duckdb_json, duckdb_text = outputs
    assert duckdb_json == python_json and duckdb_text == python_text
    awards = json.loads(duckdb_json)["awards"]
    assert len(awards) == 2 and all(award["why"]["values"] is not None for award in awards)
