"""Review of issue 17, scoring side: counts that follow reversals (`unless
voided M`) in a program whose attribution moves. A referral whose referee
a later referral took keeps its metrics as they were, but a void of its
award of M still takes it out of its referrer's count, from the void event
on (docs/semantics.md, "Counts that follow reversals"): the count must not
pay a bonus on a conversion the app was told was reversed, and a held
condition per referrer that the drop breaks stops."""

from __future__ import annotations

from typing import Any

import rewardrules

from .test_review17_engine import ev, every_way, paid, referral

RULES = """\
ruleset t
event payment { amount: money USD }
event refund { payment: text }
metric paid = count payment where payment.amount > 0
metric conversions = count referrals where paid >= 1 unless voided first_paid
program p {
  attribution last referral before first payment where payment.amount > 100
  milestone first_paid {
    first payment where payment.amount > 0
    reward referrer cash 10 USD
    void if refund where refund.payment == payment.id within 60 days
  }
  milestone two { when conversions >= 2  reward referrer cash 100 USD }
}
"""


def ledger(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        referral("r1", "01-01", "alice", "bob"),
        referral("r2", "01-01", "alice", "cat"),
        ev("p1", "01-02", "payment", "bob", amount=50),  # alice converts bob (50: not bob's conversion)
        referral("r3", "01-03", "carol", "bob"),  # carol takes bob, before its conversion
        ev("f1", "01-04", "refund", "bob", payment="p1"),  # alice's award for bob: reversed
        *extra,
    ]


def test_a_void_after_the_referee_was_taken_still_drops_the_count() -> None:
    program = rewardrules.compile(RULES, "t.rules")
    result = every_way(program, ledger(ev("p2", "01-05", "payment", "cat", amount=50)), "2026-03-01T00:00:00Z")
    assert [r["reverses"] for r in result["reversals"]] == [result["awards"][0]["id"]]
    # bob no longer counts for alice: cat is her one conversion, no bonus of two
    assert paid(result) == [
        ("2026-01-02", "first_paid", "alice", "10.00"),
        ("2026-01-05", "first_paid", "alice", "10.00"),
    ]


def test_a_void_after_the_referee_was_taken_stops_a_held_count() -> None:
    rules = RULES.replace("when conversions >= 2  reward", "when conversions >= 2 for 10 days  reward")
    program = rewardrules.compile(rules, "t.rules")
    events = [
        referral("r1", "01-01", "alice", "bob"),
        referral("r2", "01-01", "alice", "cat"),
        ev("p1", "01-02", "payment", "bob", amount=50),
        ev("p2", "01-02", "payment", "cat", amount=50),  # two conversions: the clock starts
        referral("r3", "01-03", "carol", "bob"),
        ev("f1", "01-04", "refund", "bob", payment="p1"),  # one again: the clock stops
    ]
    result = every_way(program, events, "2026-03-01T00:00:00Z")
    assert [a[1] for a in paid(result)] == ["first_paid", "first_paid"]
