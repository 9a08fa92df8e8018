"""Streaming mode: on a ledger already in (at, id) order it gives exactly
what a batch score gives, and it refuses unordered input clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rewardrules
from rewardrules.timeutil import parse_timestamp

from .conftest import GOLDEN, RULESETS

CASES = sorted(GOLDEN.glob("*/*.jsonl"))


def _sorted_lines(path: Path) -> list[str]:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return sorted(lines, key=lambda line: (parse_timestamp(json.loads(line)["at"]), json.loads(line)["id"]))


@pytest.mark.parametrize("ledger", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_stream_equals_batch_on_sorted_golden_ledgers(ledger: Path) -> None:
    expected = json.loads(ledger.with_suffix("").with_suffix(".expected.json").read_text())
    program = rewardrules.load(RULESETS / f"{ledger.parent.name}.rules")
    lines = _sorted_lines(ledger)
    batch = program.score(lines, as_of=expected["as_of"])
    stream = program.score_stream(lines, as_of=expected["as_of"])
    assert stream.to_json() == batch.to_json()


def test_stream_refuses_unordered_input_once() -> None:
    program = rewardrules.load(RULESETS / "prezi.rules")
    lines = [
        '{"id":"b","at":"2026-01-02T00:00:00Z","type":"referral","referrer":"x","referee":"y"}',
        '{"id":"a","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"x","referee":"z"}',
        '{"id":"c","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"x","referee":"w"}',
    ]
    with pytest.raises(rewardrules.LedgerError, match="comes before the line above") as info:
        program.score_stream(lines)
    assert [(p.line, p.field) for p in info.value.problems] == [(2, "at")]


def test_stream_counts_exact_duplicates_once_and_rejects_conflicts() -> None:
    program = rewardrules.load(RULESETS / "prezi.rules")
    referral = '{"id":"r","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"x","referee":"y"}'
    payment = '{"id":"p","at":"2026-01-02T00:00:00Z","type":"payment","referee":"y","amount":5}'
    assert len(program.score_stream([referral, payment, payment]).data["awards"]) == 1
    conflicting = payment.replace('"amount":5', '"amount":6')
    with pytest.raises(rewardrules.LedgerError, match="already used on line 2"):
        program.score_stream([referral, payment, conflicting])
