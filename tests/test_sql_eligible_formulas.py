"""`eligible when` reading metrics computed from the referrer's earlier
referrals and the referral's fields (`metric allowance = 3 - recent`,
a quotient, a rate table), refused before (docs/sql.md, "Earlier
referrals"): the checker lets eligibility read only such formulas, settled
when the referral is made (RR209), so the query computes each on the
referral's row of `refs`, as it computes the counts they read. Byte for
byte the Python engine's result, explained too, the same formulas read by
a milestone and its message as well, with a moving attribution too; on
hand-written ties and tie-heavy random ledgers, and on Spark."""

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
from .test_sql_voids_metrics import same

FORMULAS = """\
ruleset eligible_formulas

event referral { ip: optional text, seats: optional number }
event payment { amount: money USD }

metric recent = count earlier referrals within 2 days
metric allowance = 4 - recent
metric partner = count earlier referrals where referral.ip == "1.1"
metric per_seat = partner / (recent + 1)
metric seats2 = referral.seats * 2 - recent
metric band = tiers of partner { 0 to 1: 1, 2 or more: 5 }

eligible when allowance > 0
eligible when per_seat < 1 or seats2 >= 4
eligible when band < 5 or referral.ip == "2.2"

milestone paid {
  first payment where allowance >= 2
  reward referrer cash 10 USD
  message "{{ referee }}: {{ allowance }} left, {{ seats2 }}"
}

milestone any_paid {
  first payment
  reward referee credit 1 USD
}
"""

#: the same, where a later referral takes an unconverted referee
MOVING = moving(FORMULAS)


@cache
def program(moving: bool) -> rewardrules.Program:
    return rewardrules.compile(MOVING if moving else FORMULAS, "eligible_formulas.rules")


@pytest.mark.parametrize("moving", [False, True])
def test_it_compiles_and_check_reports_nothing(moving: bool) -> None:
    compile_query(program(moving).compiled)
    assert refusals(program(moving).compiled) == []
    assert reported_as_compiled(program(moving))


#: ann's referrals: six at one instant (ids order them), two days on
TIES = [
    event_on(0, "01", "referral", "a", referrer="ann", ip="1.1"),
    event_on(1, "01", "referral", "b", referrer="ann", ip="1.1"),
    event_on(2, "01", "referral", "c", referrer="ann", ip="1.1", seats="2.5"),
    event_on(3, "01", "referral", "d", referrer="ann", ip="2.2"),
    event_on(4, "01", "referral", "f", referrer="ann", ip="2.2"),
    event_on(5, "05", "referral", "g", referrer="ann", ip="2.2", seats="1"),
    event_on(6, "05", "referral", "h", referrer="ann", ip="2.2", seats="2.5"),
    *(event_on(7 + n, "06", "payment", who, amount="5.00") for n, who in enumerate("abcdfgh")),
]


def test_each_clause_decides_one_referral() -> None:
    """a and b are eligible (b's `partner` 1). c: `partner` 2, so `band`
    5, and its ip is not 2.2. d: the same band, but ip 2.2; `allowance`
    1. f: four earlier within 2 days, `allowance` 0. g, four days on:
    `recent` 0, `per_seat` 2/1 and `seats2` 2. h: `per_seat` 2/2, but
    `seats2` 2.5 * 2 - 1 = 4. The referrer's award needs `allowance` 2:
    not d's."""
    result = same(program(False), TIES)
    assert sorted(r["referee"] for r in result["rejected"]) == ["c", "f", "g"]
    assert [a["referee"] for a in result["awards"] if a["milestone"] == "any_paid"] == ["a", "b", "d", "h"]
    assert [(a["referee"], a["message"]) for a in result["awards"] if a["milestone"] == "paid"] == [
        ("a", "a: 4 left, "),
        ("b", "b: 3 left, "),
        ("h", "h: 3 left, 4"),
    ]
    same_explained(program(False), TIES)


def _crowded(rng: random.Random) -> list[dict[str, Any]]:
    """Up to 40 events on six days: referrals of two referrers (and some
    self-referrals) with or without an ip and seats, and payments."""
    events = []
    for n in range(rng.randint(1, 40)):
        day, referee = rng.choice(["01", "01", "02", "03", "05", "08"]), rng.choice("abcdefghij")
        if rng.random() < 0.55:
            fields = {"referrer": rng.choice(["ann", "bob", "ann", referee])}
            for name, values in (("ip", ["1.1", "2.2"]), ("seats", ["1", "2.5", "-0", "4"])):
                if rng.random() < 0.7:
                    fields[name] = rng.choice(values)
            events.append(event_on(n, day, "referral", referee, **fields))
        else:
            events.append(event_on(n, day, "payment", referee, amount=rng.choice(["10.00", "0.50"])))
    return events


@pytest.mark.parametrize("moving", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_random_tie_heavy_ledgers_give_the_same_awards(moving: bool, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(3):
        events = _crowded(rng)
        same(program(moving), events)
        same_explained(program(moving), events)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")
def test_the_same_on_spark(spark: Spark) -> None:
    """The query written in Spark's dialect (one run: Spark is slow to plan)."""
    assert spark_json(spark, program(False), TIES, None) == python_json(program(False), TIES, None)
