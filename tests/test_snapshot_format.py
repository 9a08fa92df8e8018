"""Snapshot format /4: what it adds to /3, and /3 snapshots still restore.

/4 adds the keys of timers (`clock`, `timers`, `anchored`), the referrers'
histories (`history`) and each award's and withheld reward's `referrer`.
A /3 snapshot (taken by the previous release) lacks them; rules it could
compile never needed them, so it restores to the same session."""

from __future__ import annotations

import contextlib
import json

import pytest

import rewardrules
from rewardrules.score.snapshot import FORMAT, SnapshotError

from .conftest import GOLDEN, RULESETS

ADDED_TOP = ("clock", "timers", "anchored", "history")


def _as_format_3(blob: bytes) -> bytes:
    """What the previous release wrote for the same session."""
    data = json.loads(blob)
    data["format"] = "rewardrules-session/3"
    for key in ADDED_TOP:
        data.pop(key, None)
    for record in [*data["awards"], *data["withheld"]]:
        record.pop("referrer", None)
    return json.dumps(data).encode()


def _ledger(name: str) -> list[str]:
    return [line for case in sorted((GOLDEN / name).glob("*.jsonl")) for line in case.read_text().splitlines()][:40]


@pytest.mark.parametrize("name", ["referral_milestones", "dropbox", "partner_and_customer"])
def test_a_format_3_snapshot_restores_to_the_same_session(name: str) -> None:
    program = rewardrules.load(RULESETS / f"{name}.rules")
    lines = sorted((json.loads(line) for line in _ledger(name) if line.strip()), key=lambda e: (e["at"], e["id"]))
    half = len(lines) // 2
    session = program.session()
    for event in lines[:half]:
        # golden cases hold duplicates on purpose; a refused event changes nothing
        with contextlib.suppress(rewardrules.LedgerError):
            session.add(event)
    blob = session.snapshot()
    assert json.loads(blob)["format"] == FORMAT == "rewardrules-session/4"
    old = program.restore(_as_format_3(blob))
    new = program.restore(blob)
    assert old.result().to_json() == new.result().to_json() == session.result().to_json()
    assert json.loads(old.snapshot()) == json.loads(blob)


@pytest.mark.parametrize("value", ["rewardrules-session/2", ["rewardrules-session/4"], {"v": 4}, 4, None])
def test_other_formats_are_refused_with_a_message(value: object) -> None:
    program = rewardrules.load(RULESETS / "dropbox.rules")
    data = json.loads(program.session().snapshot())
    data["format"] = value
    with pytest.raises(SnapshotError, match="not a session snapshot"):
        program.restore(json.dumps(data).encode())
