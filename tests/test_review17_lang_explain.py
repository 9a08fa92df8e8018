"""Review of issue 17, `explain`: a timer that rang and found its condition
false pays nothing ever (docs/language.md#time-triggers), so it is told as
not earned, like a closed window, never as what comes next."""

from __future__ import annotations

import rewardrules
from rewardrules.explain import explain

RULES = """
event subscription { mrr: money USD }
metric mrr = latest subscription.mrr otherwise 0 USD
milestone later "Still subscribed after 30 days" {
  after 30 days if mrr > 0 USD
  reward referrer cash 5 USD
}
"""
LEDGER = [{"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bo"}]


def later(data: dict) -> dict:
    [entry] = [m for m in data["referrals"][0]["programs"][0]["milestones"] if m["milestone"] == "later"]
    return entry


def test_a_timer_that_rang_without_its_condition_is_closed() -> None:
    program = rewardrules.compile(RULES)
    data = program.score(LEDGER, as_of="2026-03-01T00:00:00Z").data
    assert later(data)["closed"] is True
    told = explain(data)
    assert "not earned: `later`: the timer rang" in told
    assert "next: `later`" not in told


def test_a_timer_still_running_is_what_comes_next() -> None:
    program = rewardrules.compile(RULES)
    data = program.score(LEDGER, as_of="2026-01-15T00:00:00Z").data
    assert "closed" not in later(data)
    assert "next: `later`: timer started" in explain(data)
