"""`X in earlier referrals.F` in a `void` condition (docs/sql.md, "Earlier
referrals"), refused before: the Python engine settles the test once, when
the referral is made, so the query reads the referral's value from the
void event's row, which carries it as every row of the referral does.
Byte for byte the Python engine's result, explained too, on a milestone's
`void`, a reward's own, a timer's, a partial void, a per-referrer
milestone's, under a count that follows reversals, with a moving
attribution too; on hand-written ties and tie-heavy random ledgers."""

from __future__ import annotations

import random
from functools import cache
from typing import Any

import pytest

import rewardrules
from rewardrules.sql.compile import compile_query
from rewardrules.sql.diagnose import refusals
from rewardrules.sql.spark import Spark

from .test_review_rev1_drawn import same_explained
from .test_sql_backend import python_json
from .test_sql_explain_drawn import reported_as_compiled
from .test_sql_lifted_earlier import event_on, moving
from .test_sql_spark import spark_json
from .test_sql_voids_metrics import paid, same

VOIDED = """\
ruleset void_earlier

event referral { ip: optional text, score: optional number }
event payment { amount: money USD }
event refund { payment: text }

metric paid = count payment
metric kept = count referrals where paid >= 1 unless voided first_paid

milestone first_paid {
  first payment
  reward referrer cash 10 USD
  reward referee credit 5 USD { void if payment where referral.score not in earlier referrals.score within 2 days }
  hold 3 days
  void if refund where referral.ip in earlier referrals.ip within 30 days
}

milestone waited {
  after 2 days from payment
  reward referrer cash 2 USD
  void if refund where refund.payment == referral.id or referral.ip not in earlier referrals.ip
}

milestone shared {
  first payment where payment.amount >= 10 USD
  reward referrer cash 20 USD { void 1 of 2 if refund where referral.ip in earlier referrals.ip }
}

milestone two {
  when kept >= 2
  reward referrer cash 3 USD
  void if refund where referral.ip in earlier referrals.ip
}
"""

#: the same, where a later referral takes an unconverted referee
MOVING = moving(VOIDED)


@cache
def program(moving: bool) -> rewardrules.Program:
    return rewardrules.compile(MOVING if moving else VOIDED, "void_earlier.rules")


@pytest.mark.parametrize("moving", [False, True])
def test_it_compiles_and_check_reports_nothing(moving: bool) -> None:
    compile_query(program(moving).compiled)
    assert refusals(program(moving).compiled) == []
    assert reported_as_compiled(program(moving))  # the explained query and its sections too


#: two referrals of one referrer at one instant, sharing an ip; a later one
TIES = [
    event_on(0, "01", "referral", "a", referrer="ann", ip="1.1", score="1"),
    event_on(1, "01", "referral", "b", referrer="ann", ip="1.1", score="1.0"),
    *(event_on(2 + n, "02", "payment", who, amount="20.00") for n, who in enumerate("ab")),
    event_on(4, "03", "refund", "a", payment="e02"),
    event_on(5, "03", "refund", "b", payment="e03"),
    event_on(6, "04", "referral", "c", referrer="ann", ip="1.1"),
    event_on(7, "05", "payment", "c", amount="20.00"),
]


def test_the_test_is_the_referrals_own_settled_at_the_referral() -> None:
    """ann refers a (ip 1.1) and b (ip 1.1) at one instant: b's ip is in
    its earlier referrals (a's, the lower id), a's is not. One refund each:
    b's `first_paid` award is voided (within its 3-day hold), a's stays.
    `shared` (no hold) gives half of b's back, and
    `two` (reached at b's payment) all of it. `waited`, a timer due on
    01-04, stays for both: a void event comes at or after its award."""
    events = TIES
    result = same(program(False), events, "2026-02-01T00:00:00Z")
    assert paid(result, "first_paid") == [("01-02", "confirmed"), ("01-02", "void"), ("01-05", "confirmed")]
    assert paid(result, "waited") == [("01-04", "confirmed"), ("01-04", "confirmed"), ("01-07", "confirmed")]
    assert paid(result, "shared") == [("01-02", "confirmed")] * 2 + [("01-05", "confirmed")]  # no hold
    taken = [(r["milestone"], r["referee"], r["amount"], r["at"][5:10]) for r in result["reversals"]]
    assert taken == [("two", "b", "3.00", "01-03"), ("shared", "b", "10.00", "01-03")]  # half of b's
    same_explained(program(False), events)


def _crowded(rng: random.Random) -> list[dict[str, Any]]:
    """Up to 30 events on five days, referrals of two referrers (and some
    self-referrals), fields drawn from values that match as numbers,
    payments and refunds naming payments or referrals."""
    events: list[dict[str, Any]] = []
    for n in range(rng.randint(1, 30)):
        day, referee = rng.choice(["01", "01", "02", "03", "05", "09"]), rng.choice("abcdef")
        roll = rng.random()
        if roll < 0.4:
            fields = {"referrer": rng.choice(["ann", "bob", "ann", referee])}
            for name, values in (("ip", ["1.1", "2.2"]), ("score", ["1", "1.0", "-0"])):
                if rng.random() < 0.7:
                    fields[name] = rng.choice(values)
            events.append(event_on(n, day, "referral", referee, **fields))
        elif roll < 0.75:
            events.append(event_on(n, day, "payment", referee, amount=rng.choice(["10.00", "33.33", "0.50"])))
        else:
            named = [e["id"] for e in events] or ["none"]
            events.append(event_on(n, day, "refund", referee, payment=rng.choice(named)))
    return events


@pytest.mark.parametrize("moving", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_random_tie_heavy_ledgers_give_the_same_awards(moving: bool, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(3):
        events = _crowded(rng)
        same(program(moving), events, "2026-02-01T00:00:00Z")
        same(program(moving), events, "2026-01-04T00:00:00Z")  # holds and timers still open
        same_explained(program(moving), events)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")
def test_the_same_on_spark(spark: Spark) -> None:
    """The query written in Spark's dialect, of `first_paid` alone (Spark
    plans the whole file's query in over a minute)."""
    as_of = "2026-02-01T00:00:00Z"
    prog = rewardrules.compile(VOIDED.split("milestone waited")[0], "void_earlier.rules")
    assert spark_json(spark, prog, TIES, as_of) == python_json(prog, TIES, as_of)
