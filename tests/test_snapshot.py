"""Session snapshots: an app can stop and resume without re-reading the
ledger, and a restored session gives exactly what one that never stopped
gives (awards, ids, statuses, explanations: the same bytes)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

import rewardrules
from rewardrules.snapshot import SnapshotError
from rewardrules.timeutil import parse_timestamp

from .conftest import GOLDEN, RULESETS

CASES = sorted(GOLDEN.glob("*/*.jsonl"))


def _ordered(path: Path) -> list[dict]:
    events = [json.loads(line, parse_float=Decimal) for line in path.read_text().splitlines() if line.strip()]
    return sorted(events, key=lambda e: (parse_timestamp(e["at"]), e["id"]))


@pytest.mark.parametrize("ledger", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_restored_session_equals_one_that_never_stopped(ledger: Path) -> None:
    program = rewardrules.load(RULESETS / f"{ledger.parent.name}.rules")
    events = _ordered(ledger)
    straight = program.session()
    for event in events:
        straight.add(event)
    expected = straight.result().to_json()
    for split in sorted({0, 1, len(events) // 3, len(events) // 2, len(events) - 1}):
        first = program.session()
        issued = [a.id for e in events[:split] for a in first.add(e)]
        resumed = program.restore(first.snapshot())
        issued += [a.id for e in events[split:] for a in resumed.add(e)]
        assert resumed.result().to_json() == expected, f"split at {split}"
        assert issued == [a["id"] for a in json.loads(expected)["awards"]]


def test_snapshot_is_exact_json_and_keeps_refusing_duplicates_and_disorder() -> None:
    program = rewardrules.load(RULESETS / "partner_and_customer.rules")
    session = program.session()
    session.add(
        {
            "id": "r",
            "at": "2026-01-01T00:00:00Z",
            "type": "referral",
            "referrer": "acme",
            "referee": "c1",
            "source": "partner",
        }
    )
    session.add(
        {"id": "p", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "c1", "amount": Decimal("0.10")}
    )
    data = session.snapshot()
    assert b'"$d":"0.10"' in data and b"0.1," not in data  # decimals as text, exactly
    restored = program.restore(data)
    repeat = {"id": "p", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "c1", "amount": Decimal("0.10")}
    assert restored.add(repeat) == []  # a webhook retry after the restart counts once
    with pytest.raises(rewardrules.LedgerError, match="comes before the last event"):
        restored.add({"id": "q", "at": "2026-01-01T12:00:00Z", "type": "payment", "referee": "c1", "amount": 1})


def test_snapshot_of_other_rules_or_damaged_is_refused() -> None:
    prezi = rewardrules.load(RULESETS / "prezi.rules")
    zoom = rewardrules.load(RULESETS / "zoom.rules")
    data = prezi.session().snapshot()
    with pytest.raises(SnapshotError, match="another version of the rules"):
        zoom.restore(data)
    with pytest.raises(SnapshotError, match="not a session snapshot"):
        prezi.restore(b"{not json")
    damaged = json.loads(data)
    damaged["referrals"] = [{"id": "x"}]
    with pytest.raises(SnapshotError, match="damaged"):
        prezi.restore(json.dumps(damaged))
