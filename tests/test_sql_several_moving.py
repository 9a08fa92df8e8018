"""Per-referrer metrics in a file of several programs, one whose
attribution moves (docs/sql.md, "Attribution"), refused before: a
referral that lost its referee in the moving program keeps its
contribution there as it was, while its metrics go on in a program it
still holds (a count `unless voided` there: test_sql_several_moving_voided.py).
A per-referrer held condition reading one under an attribution that
moves, tested again at the void events of a referral that lost its
referee, as the Python engine's `_follow` does. And partial voids of the timers of two referrals of one
referee, each taken back once (the query matched each award with the
other's void events too). Byte for byte the Python engine's result,
explained too, on hand-written and random ledgers."""

from __future__ import annotations

import random
from functools import cache
from typing import Any

import pytest

import rewardrules
from rewardrules.sql.compile import Unsupported, compile_query
from rewardrules.sql.diagnose import refusals

from .test_review_rev1_drawn import same_explained
from .test_sql_explain_drawn import reported_as_compiled
from .test_sql_voids_metrics import same

RULES = """\
ruleset several_moving

event referral { source: optional text }
event payment { amount: money USD }
event usage { seats: optional number }
event refund { amount: money USD }

program partner {
  attribution last referral before first payment
  metric used = count usage
  metric uses = sum referrals.used
  metric busy_ones = count referrals where used >= 3
  milestone first_use {
    first usage
    reward referrer cash 1 USD
    void if refund where refund.amount > 5 USD
  }
  milestone busy { when uses >= 3  reward referrer cash 5 USD  message "{{ uses }}" }
  milestone steady { when busy_ones >= 1  reward referrer cash 7 USD }
}

program customer {
  metric used = count usage
  metric total = sum referrals.used
  milestone heavy { when total >= 4  reward referrer cash 2 USD  message "{{ total }}" }
}
"""

#: two referrals of one referee, each with a timer's award voided in part
WAITED = """\
ruleset waited

event referral
event payment { amount: money USD }
event refund { amount: money USD }

attribution last referral before first payment

milestone waited {
  after 1 days
  reward referee credit 3 USD { void refund.amount of 3 USD if refund }
}
"""

AS_OF = "2026-03-01T00:00:00Z"


@cache
def _prog(text: str = RULES) -> rewardrules.Program:
    return rewardrules.compile(text, "several.rules")


def on(n: int, day: int, kind: str, referee: str = "dan", **fields: Any) -> dict[str, Any]:
    return {"id": f"e{n:02d}", "at": f"2026-01-{day:02d}T00:00:00Z", "type": kind, "referee": referee, **fields}


def paid(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(a["at"][5:10], a["milestone"], a["referrer"]) for a in result["awards"]]


def test_it_compiles_explained_too() -> None:
    compile_query(_prog().compiled)
    assert reported_as_compiled(_prog())


def test_a_referral_keeps_its_contribution_where_it_lost_the_referee() -> None:
    """bob refers dan in both programs; dan uses twice; ann takes dan in
    `partner` (before his first payment), bob keeps him in `customer`;
    dan uses three more times. In `partner` bob's `uses` stays 2 (his
    referral's `used` as it was) and dan is not one of his `busy_ones`,
    ann's `uses` is 3: `busy` and `steady` pay ann, and bob only once
    eve's uses make his `uses` 3 and eve one of his busy ones; in
    `customer` bob's `total` is 5."""
    events = [
        on(0, 1, "referral", referrer="bob"),
        on(1, 2, "usage"),
        on(2, 3, "usage"),
        on(3, 5, "referral", referrer="ann"),
        *(on(4 + n, 6 + n, "usage") for n in range(3)),
        on(7, 9, "refund", amount="1.00"),
        on(8, 10, "referral", "eve", referrer="bob"),
        *(on(9 + n, 11 + n, "usage", "eve") for n in range(3)),
    ]
    result = same(_prog(), events, AS_OF)
    assert paid(result) == [
        ("01-02", "first_use", "bob"),
        ("01-06", "first_use", "ann"),
        ("01-07", "heavy", "bob"),
        ("01-08", "busy", "ann"),
        ("01-08", "steady", "ann"),
        ("01-11", "first_use", "bob"),
        ("01-11", "busy", "bob"),
        ("01-13", "steady", "bob"),
    ]
    assert [a["message"] for a in result["awards"] if a["milestone"] in ("heavy", "busy")] == ["4", "3", "3"]
    same_explained(_prog(), events)


#: a per-referrer held condition reading a count `unless voided` of the timer
HELD = WAITED.replace(
    "\nmilestone waited {",
    "\nmetric kept = count referrals unless voided waited\n"
    "milestone held { when kept >= 1 for 4 days  reward referrer cash 1 USD }\nmilestone waited {",
)


def test_a_void_where_the_referral_lost_its_referee_breaks_its_referrer_s_held_condition() -> None:
    """bob refers dan on 01-01 (his `kept` is 1: his `held` clock starts),
    `waited` pays dan on 01-02; ann takes dan on 01-03; dan's 3 USD refund
    on 01-04 takes bob's award back whole: bob's referral lost dan, yet the
    refund takes it out of his `kept` and breaks his clock then (the Python
    engine tests the condition again at that void event). bob refers eve
    on 01-05: the clock starts again, and `held` pays him on 01-09, not on
    01-05."""
    events = [
        on(0, 1, "referral", referrer="bob"),
        on(1, 3, "referral", referrer="ann"),
        on(2, 4, "refund", amount="3.00"),
        on(3, 5, "referral", "eve", referrer="bob"),
    ]
    result = same(_prog(HELD), events, AS_OF)
    assert [(day, who) for day, m, who in paid(result) if m == "held"] == [("01-07", "ann"), ("01-09", "bob")]
    assert [r["referrer"] for r in result["reversals"]] == ["bob"]
    same_explained(_prog(HELD), events)


def test_partial_voids_of_two_referrals_timers_are_taken_once_each() -> None:
    """bob's and ann's `after 1 days` both pay (ann took dan on 01-05);
    the refund takes a third of each award back, once."""
    events = [
        on(0, 1, "referral", referrer="bob"),
        on(1, 5, "referral", referrer="ann"),
        on(2, 9, "refund", amount="1.00"),
    ]
    result = same(_prog(WAITED), events, AS_OF)
    assert [(r["referrer"], r["amount"]) for r in result["reversals"]] == [("bob", "1.00"), ("ann", "1.00")]


def _random(rng: random.Random, amounts: tuple[str, ...] = ("1.00", "10.00")) -> list[dict[str, Any]]:
    """Up to 30 events of three referees over two weeks (ties too):
    referrals of three referrers, uses, payments, refunds."""
    events: list[dict[str, Any]] = []
    for n in range(rng.randint(1, 30)):
        day, referee, roll = rng.choice([1, 1, 2, 3, 5, 8, 13]), rng.choice("abc"), rng.random()
        if roll < 0.3:
            events.append(on(n, day, "referral", referee, referrer=rng.choice(["ann", "bob", "cat"])))
        elif roll < 0.7:
            events.append(on(n, day, "usage", referee))
        else:
            kind = "payment" if roll < 0.8 else "refund"
            events.append(on(n, day, kind, referee, amount=rng.choice(amounts)))
    return events


@pytest.mark.parametrize("seed", range(3))
def test_random_ledgers_give_the_same_awards(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(4):
        events = _random(rng)
        same(_prog(), events, AS_OF)
        same(_prog(), events, "2026-01-05T00:00:00Z")
        same_explained(_prog(), events)
        same(_prog(WAITED), events, AS_OF)
        same(_prog(HELD), events, AS_OF)


#: `h` per referrer reads `used`, a per-referral metric that goes on in
#: `q` for a referral that lost its referee in `p` (found by review)
MIXED = (
    RULES[: RULES.index("program partner")]
    + """\
program p {
  attribution last referral before first payment
  metric used = count usage
  metric plain = count referrals
  milestone h { when used < 2 and plain >= 1 for 2 days  reward referrer cash 1 USD }
}

program q {
  metric used = count usage
  milestone mq { first usage  reward referrer cash 4 USD }
}
"""
)


def test_a_per_referrer_held_condition_reading_a_per_referral_metric_is_refused_at_its_line() -> None:
    """bob refers dan, who uses once; ann takes dan in `p` (bob's clock
    runs); dan uses again, in `q` only for bob's referral, where nothing
    tests `h`: when bob's clock falls due `used < 2` no longer holds, and
    the Python engine drops it, then starts a new one at bob's next
    referral, where C holds, which the query's runs of C do not follow
    (it paid bob nothing): refused at the milestone's line, and `check
    --engine sql` says so."""
    construct = (
        "a per-referrer held condition reading the per-referral metric `used` in a file of several programs, "
        "one whose attribution moves"
    )
    prog = rewardrules.compile(MIXED, "mixed.rules")
    with pytest.raises(Unsupported) as refused:
        compile_query(prog.compiled)
    assert refused.value.construct == construct
    assert (
        refused.value.span is not None
        and refused.value.span.line
        == MIXED.splitlines().index(next(line for line in MIXED.splitlines() if "milestone h {" in line)) + 1
    )
    assert [r.construct for r in refusals(prog.compiled)] == [construct]
