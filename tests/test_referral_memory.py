"""What the engine keeps per referral (docs/performance.md, "A batch at
10M events under 2 GB"): the referral event's record rather than a dict of
its fields, one shared read-only empty for what most referrals never fill
(kept events, contributions, conversions) until one is written, one link
tuple per referrer and program. The sharing must never let one referral's
state reach another's; and a referral's explanation, which now reads the
referral's own awards, must list exactly the awards of its scope."""

from __future__ import annotations

import json
from decimal import localcontext
from typing import Any

import pytest

import rewardrules
from rewardrules.core.runtime import CONTEXT, NO_CONTRIBUTIONS, NOTHING_KEPT, Referral
from rewardrules.score.engine import Engine, run

REVENUE = """\
ruleset t
event subscription { mrr: money USD }
metric mrr = latest subscription.mrr otherwise 0 USD
program p {
  eligible when referral.source == "web"
  milestone m { when mrr >= 100 USD  reward referrer cash 5 USD }
}
event referral { source: text }
"""

VOIDS = """\
ruleset t
event payment { amount: money USD }
event refund { payment: text }
program p {
  milestone paid {
    first payment where payment.amount > 0
    reward referrer cash 5 USD
    void if refund where refund.payment == payment.id within 30 days
  }
}
"""

PER_REFERRER = """\
ruleset t
event payment { amount: money USD }
metric paid = count payment where payment.amount > 0 USD
metric conversions = count referrals where paid >= 1
program p {
  milestone two { when conversions >= 2  reward referrer cash 9 USD }
}
"""

MOVING = """\
ruleset t
event subscription { mrr: money USD }
metric mrr = latest subscription.mrr otherwise 0 USD
program p {
  attribution last referral before first subscription where subscription.mrr >= 500 USD
  milestone small { when mrr >= 100 USD  reward referrer cash 5 USD }
  milestone large { when mrr >= 500 USD  reward referrer cash 50 USD }
}
"""


def ev(event_id: str, day: int, kind: str, referee: str, **fields: Any) -> dict[str, Any]:
    return {"id": event_id, "at": f"2026-01-{day:02d}T00:00:00Z", "type": kind, "referee": referee, **fields}


def scored(rules: str, events: list[dict[str, Any]]) -> Engine:
    """The engine after a batch of `events`, as `score` runs it."""
    program = rewardrules.compile(rules)
    records, _ = program._read(events, "<ledger>")
    engine = Engine(program.compiled, None)
    with localcontext(CONTEXT):
        run(engine, sorted(records))
    return engine


def referrals(engine: Engine) -> dict[str, Referral]:
    return {r.id: r for r in engine.state.every_referral()}


def test_a_referral_keeps_its_record_and_shares_what_it_never_fills() -> None:
    engine = scored(
        REVENUE,
        [
            ev("r1", 1, "referral", "bob", referrer="alice", source="web"),
            ev("r2", 2, "referral", "cat", referrer="alice", source="web"),
            ev("s1", 3, "subscription", "bob", mrr="120.00"),
        ],
    )
    first, second = referrals(engine)["r1"], referrals(engine)["r2"]
    assert first.rec[:5] == (first.at, "r1", "referral", "bob", "alice")
    assert first.fields == {"id": "r1", "at": first.at, "referee": "bob", "referrer": "alice", "source": "web"}
    for referral in (first, second):
        assert referral.kept is NOTHING_KEPT
        assert referral.contrib is NO_CONTRIBUTIONS
        assert referral.converted == ()
    assert first.links[0] is second.links[0]  # one (program, state) tuple for alice
    assert [a.referral.id for a in engine.state.awards] == ["r1"]


def test_the_shared_empties_refuse_a_write() -> None:
    with pytest.raises(TypeError):
        NOTHING_KEPT["payment"] = []
    with pytest.raises(TypeError):
        NO_CONTRIBUTIONS[0] = []
    assert len(NOTHING_KEPT) == 0
    assert len(NO_CONTRIBUTIONS) == 0


def test_a_kept_event_is_its_referrals_alone() -> None:
    engine = scored(
        VOIDS,
        [
            ev("r1", 1, "referral", "bob", referrer="alice"),
            ev("r2", 1, "referral", "cat", referrer="alice"),
            ev("p1", 2, "payment", "bob", amount="10.00"),
            ev("f1", 3, "refund", "bob", payment="p1"),
        ],
    )
    bob, cat = referrals(engine)["r1"], referrals(engine)["r2"]
    assert [event["id"] for event in bob.kept["refund"]] == ["f1"]
    assert cat.kept is NOTHING_KEPT
    assert len(NOTHING_KEPT) == 0


def test_contributions_are_each_referrals_own() -> None:
    engine = scored(
        PER_REFERRER,
        [
            ev("r1", 1, "referral", "bob", referrer="alice"),
            ev("r2", 1, "referral", "cat", referrer="alice"),
            ev("p1", 2, "payment", "bob", amount="10.00"),
            ev("p2", 3, "payment", "cat", amount="10.00"),
        ],
    )
    bob, cat = referrals(engine)["r1"], referrals(engine)["r2"]
    assert bob.contrib is not NO_CONTRIBUTIONS and cat.contrib is not NO_CONTRIBUTIONS
    assert bob.contrib is not cat.contrib
    assert bob.contrib[0] is not cat.contrib[0]
    assert [a.amount for a in engine.state.awards] == [9]


def test_a_snapshot_restores_the_record_and_what_was_kept() -> None:
    program = rewardrules.compile(VOIDS)
    session = program.session()
    session.add(ev("r1", 1, "referral", "bob", referrer="alice"))
    session.add(ev("p1", 2, "payment", "bob", amount="10.00"))
    session.add(ev("f1", 3, "refund", "bob", payment="p1"))
    snapshot = session.snapshot()
    fields = json.loads(snapshot)["referrals"][0]["fields"]["$o"]
    assert fields == {"id": "r1", "at": 1767225600000000000, "referee": "bob", "referrer": "alice"}
    restored = program.restore(snapshot)
    assert restored.snapshot() == snapshot
    kept = restored.engine.state.referrals["bob"].kept
    assert [event["id"] for event in kept["refund"]] == ["f1"]
    assert restored.result().to_json() == session.result().to_json()
    # the kept refund takes the paid award back (a reversal: it had no hold)
    assert [r["why"] for r in json.loads(session.result().to_json())["reversals"]] == [{"event": "f1"}]


def test_an_explained_referral_lists_exactly_the_awards_of_its_scope() -> None:
    """Two referrals of one referee, each earning while it holds it: each
    referral's explanation lists its own awards, in issue order, as the
    index of every award did."""
    program = rewardrules.compile(MOVING)
    result = program.score(
        [
            ev("r1", 1, "referral", "bob", referrer="alice"),
            ev("s1", 2, "subscription", "bob", mrr="100.00"),
            ev("r2", 3, "referral", "bob", referrer="carol"),
            ev("s2", 4, "subscription", "bob", mrr="600.00"),
        ]
    ).data
    awards = result["awards"]
    assert {(a["referrer"], a["milestone"]) for a in awards} >= {("alice", "small"), ("carol", "large")}
    for entry in result["referrals"]:
        for program_entry in entry["programs"]:
            for milestone in program_entry.get("milestones", []):
                expected = [
                    a["id"]
                    for a in awards
                    if (a["referrer"], a["referee"], a["milestone"])
                    == (entry["referrer"], entry["referee"], milestone["milestone"])
                ]
                assert milestone["awards"] == expected
                assert milestone["reached"] == bool(expected)
