"""Review of the refusals lifted by refuse-b (rev-refb): `X in earlier
referrals.F` whose X reads a count of earlier referrals (the engine settles
the counts first, then the tests, `at_referral`), which the query read
from a column not yet made ("k0 not found", in `eligible when` and
outside it); and the exact half-even test that tells when a partial void
takes an award back whole, against `score.clawback.take` on constructed
ties (P / W = (2A - 1) / 2A, and one step off it, at many scales)."""

from __future__ import annotations

import random
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

import pytest

import rewardrules
from rewardrules.core.runtime import CONTEXT
from rewardrules.score.clawback import take
from rewardrules.sql.diagnose import refusals

from .test_sql_voids_metrics import same

OPERAND = """\
ruleset operand

event referral { source: optional text, score: optional number }
event payment { amount: money USD }

metric velocity = count earlier referrals within 2 days

WHERE
milestone first_paid {
  first payment IF
  reward referrer cash 1 USD
}
"""

VARIANTS = {
    "outside": OPERAND.replace("WHERE\n", "").replace("IF", "where velocity in earlier referrals.score"),
    "eligible": OPERAND.replace("WHERE", "eligible when not (velocity + 1 in earlier referrals.score)").replace(
        " IF", ""
    ),
}


def _event(n: int, day: str, kind: str, referee: str, **fields: Any) -> dict[str, Any]:
    return {"id": f"e{n:02d}", "at": f"2026-01-{day}T00:00:00Z", "type": kind, "referee": referee, **fields}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_an_operand_of_in_earlier_may_read_an_earlier_count(variant: str) -> None:
    """ann's referrals at one instant: b has one earlier (a, score 1), c
    two (c's score 1 matches a's): `velocity` of b is 1, in a's score."""
    prog = rewardrules.compile(VARIANTS[variant], "operand.rules")
    assert refusals(prog.compiled) == []
    events = [
        _event(0, "01", "referral", "a", referrer="ann", score="1"),
        _event(1, "01", "referral", "b", referrer="ann", score="2.0"),
        _event(2, "01", "referral", "c", referrer="ann"),
        _event(3, "04", "referral", "d", referrer="ann", score="0"),
        *(_event(4 + n, "05", "payment", who, amount="10.00") for n, who in enumerate("abcd")),
    ]
    result = same(prog, events)
    paid = [a["referee"] for a in result["awards"]]
    # outside: b (1 earlier: a's score 1), c (2: b's 2.0); d has 0 within 2 days, no score 0 before
    # eligible: d's velocity + 1 (1) is a's score, so d is ineligible; a's, b's, c's (1, 2, 3) are not before
    assert paid == (["b", "c"] if variant == "outside" else ["a", "b", "c"])


def _engine_whole(amount: Decimal, scale: Decimal, parts: list[Decimal], whole: Decimal) -> bool:
    shares = [({"at": n, "id": str(n)}, 0, (part, whole)) for n, part in enumerate(parts)]
    with localcontext(CONTEXT):
        claw = take(amount, scale, -1, shares)
    return claw.voided is not None or bool(claw.takings and claw.takings[-1].taken == amount)


def _query_whole(units: int, parts: list[Decimal], whole: Decimal) -> bool:
    """`g{k}_{r}`'s test (sql/voided.py), in exact fractions."""
    so_far = Fraction(0)
    for part in parts:
        so_far += Fraction(part)
        twice, less = 2 * units * so_far, (2 * units - 1) * Fraction(whole)
        if twice > less or (twice == less and units % 2 == 0):
            return True
    return False


def test_the_half_even_test_is_the_engines_on_ties_at_many_scales() -> None:
    """A of 1 to 29 digits, P / W on the tie (2A - 1) / 2A or one step off,
    parts and wholes of at most 30 digits at scales 0 to 30: P / W is a
    repeating fraction unless 2A is 2^a 5^b, and the engine's quotient
    rounded to 100 digits never crosses the tie."""
    rng = random.Random(19)
    checked = 0
    while checked < 2000:
        digits = rng.randint(1, 29)
        units = rng.randint(10 ** (digits - 1), 10**digits - 1)
        places = rng.randint(0, 30 - digits)
        most = 10**30 // (2 * units)
        if most < 1:
            continue
        c = rng.randint(1, min(most, 10 ** rng.randint(0, 30)))
        scale = rng.randint(0, 30)
        total = (2 * units - 1) * c + rng.choice([0, 0, 1, -1])
        whole = Decimal(2 * units * c).scaleb(-scale)
        cuts = sorted(rng.randint(0, total) for _ in range(rng.randint(0, 2)))
        parts = [Decimal(b - a).scaleb(-scale) for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
        if total <= 0 or any(len(p.as_tuple().digits) > 30 for p in [whole, *parts]):
            continue
        amount = Decimal(units).scaleb(-places)
        assert _engine_whole(amount, Decimal(1).scaleb(-places), parts, whole) == _query_whole(units, parts, whole)
        checked += 1
