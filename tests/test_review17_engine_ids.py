"""Review of issue 17, scoring side: award ids never collide. A milestone
may give several rewards of one role (hold and void per reward made it the
natural way to write "the friend's discount at once and a credit after a
hold"); each is an award of its own, paid once, with an id of its own
(docs/semantics.md, "Award ids": the second and later rewards of a role
have their place as a tenth field)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import rewardrules

from .test_review17_engine import ev, every_way, referral

GOLDEN = Path(__file__).parent / "golden" / "reward_holds" / "reward_holds.rules"


def recipe(*fields: str) -> str:
    """The id recipe of docs/semantics.md, written out independently."""
    data = b"".join(b"%d:%s," % (len(f.encode()), f.encode()) for f in fields)
    return "aw_" + hashlib.sha256(data).hexdigest()[:32]


def test_two_rewards_of_one_role_have_two_ids() -> None:
    program = rewardrules.compile(GOLDEN.read_text(), str(GOLDEN))
    events = [referral("r1", "01-01", "ann", "c1"), ev("p1", "01-02", "payment", "c1", amount=100)]
    result = every_way(program, events, "2026-03-01T00:00:00Z")
    first_paid = [a for a in result["awards"] if a["milestone"] == "first_paid"]
    head = ("award", "reward_holds", "reward_holds", "first_paid", "ann", "c1", "")
    assert [(a["kind"], a["id"]) for a in first_paid] == [
        ("cash", recipe(*head, "referrer", "ann")),
        ("discount", recipe(*head, "referee", "c1")),
        ("credit", recipe(*head, "referee", "c1", "2")),
    ]
    ids = [a["id"] for a in result["awards"]]
    assert len(ids) == len(set(ids))


def test_a_settled_statement_of_both_rewards_takes_nothing_back() -> None:
    program = rewardrules.compile(GOLDEN.read_text(), str(GOLDEN))
    events = [referral("r1", "01-01", "ann", "c1"), ev("p1", "01-02", "payment", "c1", amount=100)]
    first = json.loads(program.score(events, as_of="2026-03-01T00:00:00Z").to_json())
    paid = [a for a in first["awards"] if a["status"] == "confirmed"]
    again = json.loads(program.score(events, as_of="2026-03-01T00:00:00Z", settled={"awards": paid}).to_json())
    assert again["reversals"] == []
    assert [a["id"] for a in again["awards"]] == [a["id"] for a in first["awards"]]
