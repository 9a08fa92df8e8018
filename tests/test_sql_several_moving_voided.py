"""Counts `unless voided` in a file of several programs, one whose
attribution moves (docs/semantics.md, "Counts that follow reversals"),
refused by the SQL backend before: the Python engine set a referral's
"taken back" flags again after an event's awards when the referral had
lost its referee in some program, so a program's counts depended on
another's attribution; and it computed the referral's contribution in the
program where it lost the referee again from its metrics then, which had
gone on in a program it still held. Now a program's counts are the same
whatever another's attribution, the contribution stays as it was where the
referral lost the referee (a void of its award still drops it), and the
query gives the Python engine's bytes, explained too."""

from __future__ import annotations

import json
import random
from functools import cache
from typing import Any

import pytest

import rewardrules
from rewardrules.sql.compile import compile_query

from .test_review_rev1_drawn import same_explained
from .test_sql_backend import python_json
from .test_sql_several_moving import AS_OF, _random, on, paid
from .test_sql_several_moving import RULES as SEVERAL
from .test_sql_voids_metrics import same

#: the events of tests/test_sql_several_moving.py's file, two programs of ours
RULES = (
    SEVERAL[: SEVERAL.index("program partner")]
    + """\
program partner {
  attribution last referral before first payment
  metric used = count usage
  metric kept = count referrals where used >= 2 unless voided first_use
  milestone first_use {
    first usage
    reward referrer cash 1 USD
    void if refund where refund.amount > 5 USD
  }
  milestone kept_one { when kept >= 1  reward referrer cash 5 USD  message "{{ kept }}" }
  milestone kept_two { when kept >= 2  reward referrer cash 6 USD }
}

program customer {
  metric used = count usage
  metric kept = count referrals where used >= 1 unless voided bought
  milestone bought {
    first payment
    reward referrer cash 3 USD
    void if payment where payment.amount > 100 USD
  }
  milestone loyal { when kept >= 2  reward referrer cash 4 USD  message "{{ kept }}" }
}
"""
)

#: payments and refunds: taking nothing back, `first_use` back, `bought` back too
AMOUNTS = ("1.00", "10.00", "150.00")

#: the same file where `partner`'s attribution does not move
STILL = RULES.replace("  attribution last referral before first payment\n", "")


@cache
def _prog(text: str = RULES) -> rewardrules.Program:
    return rewardrules.compile(text, "several.rules")


def test_it_compiles() -> None:
    compile_query(_prog().compiled)


def _in(result: dict[str, Any], program: str) -> list[dict[str, Any]]:
    return [a for a in result["awards"] if a["program"] == program]


def test_an_award_voided_by_its_own_event_leaves_the_count_at_the_next_such_event() -> None:
    """bob refers dan and eve; ann takes dan in `partner`, bob keeps him in
    `customer`. eve uses; dan pays 150 USD: bob's `bought` for dan, voided
    by that payment. The flag is set at the next payment of dan, whatever
    `partner`'s attribution: dan's use before it still counts, and
    `loyal` pays bob (2 kept); dan's next payment takes him out."""
    events = [
        on(0, 1, "referral", referrer="bob"),
        on(1, 1, "referral", "eve", referrer="bob"),
        on(2, 2, "referral", referrer="ann"),
        on(3, 3, "usage", "eve"),
        on(4, 4, "payment", amount="150.00"),
        on(5, 5, "usage"),
        on(6, 6, "payment", amount="1.00"),
        on(7, 7, "usage", "eve"),
    ]
    moving = same(_prog(), events, AS_OF)
    assert [
        (a["at"][5:10], a["referrer"], a["message"]) for a in _in(moving, "customer") if a["milestone"] == "loyal"
    ] == [("01-05", "bob", "2")]
    still = json.loads(python_json(_prog(STILL), events, AS_OF))
    assert _in(moving, "customer") == _in(still, "customer")
    same_explained(_prog(), events)


def test_a_referral_that_lost_its_referee_keeps_its_contribution_there() -> None:
    """bob refers dan, who uses once; ann takes dan in `partner` (bob keeps
    him in `customer`, where his uses go on). dan uses twice more (ann's
    `kept` is 1: `kept_one` pays her) and a small refund (a void event of
    `first_use`, taking nothing back) comes: in `partner` bob's referral
    keeps `used` 1 as it was, so bob's `kept` stays 0 there: his next
    event (he refers eve) pays him no `kept_one`."""
    events = [
        on(0, 1, "referral", referrer="bob"),
        on(1, 2, "usage"),
        on(2, 3, "referral", referrer="ann"),
        on(3, 4, "usage"),
        on(4, 5, "usage"),
        on(5, 6, "refund", amount="1.00"),
        on(6, 7, "usage"),
        on(7, 8, "referral", "eve", referrer="bob"),
    ]
    result = same(_prog(), events, AS_OF)
    assert [(day, m, who) for day, m, who in paid(result) if m == "kept_one"] == [("01-05", "kept_one", "ann")]
    same_explained(_prog(), events)


def test_a_void_still_drops_the_referral_where_it_lost_the_referee() -> None:
    """bob refers dan, who uses twice (`first_use` and `kept_one` pay bob);
    ann takes dan in `partner`; a 10 USD refund voids bob's `first_use`:
    bob's referral leaves his `kept` there at that refund, though it lost
    dan. bob refers eve, who uses twice: his `kept` is 1 again, not 2, so
    `kept_two` does not pay him."""
    events = [
        on(0, 1, "referral", referrer="bob"),
        on(1, 2, "usage"),
        on(2, 3, "usage"),
        on(3, 4, "referral", referrer="ann"),
        on(4, 5, "refund", amount="10.00"),
        on(5, 6, "referral", "eve", referrer="bob"),
        on(6, 7, "usage", "eve"),
        on(7, 8, "usage", "eve"),
    ]
    result = same(_prog(), events, AS_OF)
    assert [(a["referrer"], a["milestone"]) for a in result["reversals"]] == [("bob", "first_use")]
    assert [(m, who) for _, m, who in paid(result) if m.startswith("kept")] == [("kept_one", "bob")]
    same_explained(_prog(), events)


@pytest.mark.parametrize("seed", range(2))
def test_random_ledgers_give_the_same_awards(seed: int) -> None:
    rng = random.Random(seed)
    for n in range(4):
        events = _random(rng, AMOUNTS) if n % 2 else _both_referred(rng)
        same(_prog(), events, AS_OF)
        same(_prog(), events, "2026-01-05T00:00:00Z")
        same_explained(_prog(), events)


def _both_referred(rng: random.Random) -> list[dict[str, Any]]:
    """bob refers dan and eve; then up to 14 events of theirs over a week:
    ann's referrals (taking one in `partner` before its first payment),
    uses, payments of 1 or 150 USD, refunds."""
    events = [on(0, 1, "referral", referrer="bob"), on(1, 1, "referral", "eve", referrer="bob")]
    for n in range(2, rng.randint(3, 16)):
        day, referee, roll = rng.randint(2, 8), rng.choice(["dan", "eve"]), rng.random()
        if roll < 0.15:
            events.append(on(n, day, "referral", referee, referrer="ann"))
        elif roll < 0.6:
            events.append(on(n, day, "usage", referee))
        else:
            kind = "payment" if roll < 0.9 else "refund"
            events.append(on(n, day, kind, referee, amount=rng.choice(["1.00", "150.00"])))
    return events


def test_a_program_s_awards_do_not_depend_on_another_s_attribution() -> None:
    """`customer`'s awards are the same whether `partner`'s attribution
    moves or not (the Python engine alone, on 300 random ledgers)."""
    rng = random.Random(100)
    for _ in range(300):
        events = _both_referred(rng)
        moving = json.loads(python_json(_prog(), events, AS_OF))
        still = json.loads(python_json(_prog(STILL), events, AS_OF))
        assert _in(moving, "customer") == _in(still, "customer")
