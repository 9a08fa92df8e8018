"""Review of issue 19's SQL constructs where they meet (docs/sql.md): each
case a reviewer found, DuckDB against the Python engine byte for byte, and
`check --engine sql` reporting exactly what the compiler refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.sql.compile import compile_query
from rewardrules.sql.diagnose import refusals

from .conftest import examples
from .test_properties import as_ofs
from .test_review_sql_mix import mixed_ledgers
from .test_sql_backend import duckdb_json, python_json


def same_bytes(rules: str, events: list[dict[str, Any]], as_of: str | None = None) -> dict[str, Any]:
    """Both engines' `--no-explain` JSON, equal; the program compiles and
    `check --engine sql` reports nothing."""
    prog = rewardrules.compile(rules)
    assert refusals(prog.compiled) == []
    compile_query(prog.compiled)
    sql = duckdb_json(prog, events, as_of)
    assert sql == python_json(prog, events, as_of)
    result: dict[str, Any] = json.loads(sql)
    return result


def referral(id: str, at: str, referrer: str, referee: str, **fields: Any) -> dict[str, Any]:
    return {"id": id, "at": f"2026-01-{at}", "type": "referral", "referrer": referrer, "referee": referee, **fields}


def event(type: str, id: str, at: str, referee: str, **fields: Any) -> dict[str, Any]:
    return {"id": id, "at": f"2026-01-{at}", "type": type, "referee": referee, **fields}


# -- `unless voided M` of a milestone paying a computed amount in points -----

POINTS = """ruleset points
event referral { source: optional text }
event payment { amount: money USD, pts: quantity points }
event refund { payment: text }
metric kept = count referrals unless voided earned
milestone earned { first payment  reward referrer credit payment.pts * 1  void if refund }
milestone bonus { each payment where kept >= 1  reward referrer cash 1 USD }
"""


@pytest.mark.parametrize("points", ["0.001", "0", "2.5"])
def test_unless_voided_follows_an_exact_amount_in_points(points: str) -> None:
    """The award of `earned` is exact (0.001 points is an award, 0 is none):
    the count leaves the referral out after its refund only when there was
    an award to take back. The compiler used to take the amount for money
    and fail with a KeyError (no currency `points`) in `score --engine
    duckdb` and `check --engine sql` alike."""
    events = [
        referral("r1", "01T00:00:00Z", "ann", "bob"),
        event("payment", "p1", "02T00:00:00Z", "bob", amount="5", pts=points),
        event("refund", "f1", "03T00:00:00Z", "bob", payment="p1"),
        event("payment", "p2", "04T00:00:00Z", "bob", amount="5", pts="1"),
    ]
    result = same_bytes(POINTS, events)
    bonuses = [a["at"] for a in result["awards"] if a["milestone"] == "bonus"]
    # the second payment's bonus only when the first award was never issued
    assert (bonuses[-1] == "2026-01-04T00:00:00Z") == (points == "0")


# -- `increase` outside `whenever` -------------------------------------------

EVERY_INCREASE = """ruleset rise
event referral { source: optional text }
event payment { amount: money USD }
metric paid = sum payment.amount
milestone m { every 10 paid  reward referrer cash increase / 2 }
"""


def test_increase_is_refused_in_every_at_its_line() -> None:
    """`increase` is the rise of a `whenever` milestone. The checker used to
    accept it in an `every N M` amount, where the Python engine has no rise
    (no award, silently) and the SQL query failed in DuckDB's binder
    (`score --engine duckdb` exit 2, no line): now RR204 at the name."""
    with pytest.raises(rewardrules.RuleError) as raised:
        rewardrules.compile(EVERY_INCREASE)
    text = str(raised.value)
    assert "RR204" in text and "<rules>:5:51" in text
    assert "whenever" in text  # the hint says where `increase` is
    same_bytes(
        EVERY_INCREASE.replace("every 10 paid", "whenever paid increases"),
        [
            referral("r1", "01T00:00:00Z", "ann", "bob"),
            event("payment", "p1", "02T00:00:00Z", "bob", amount="25"),
        ],
    )


# -- attribution meeting an allowance, holds, voids reading the referral ------

MOVING = """ruleset moving timezone "Asia/Kolkata"

event referral { source: optional text }
event payment { amount: money USD }
event refund { payment: text, reason: optional text }

allowance pot referrer 2 rewards per month

program a {
  attribution last referral before first payment where payment.amount >= 20 USD
  draw from pot
  metric paid = sum payment.amount
  metric most = max payment.amount
  milestone sale {
    each payment where payment.amount > 0 USD
    reward referrer cash 10% of most
    hold 1 days
    void if refund where referral.source == "partner" ignoring case or refund.payment == payment.id
    message "{{ referrer }} {{ referee }} {{ most }} {{ payment.at }}"
  }
  milestone up { whenever paid increases  reward referrer cash increase / 3 }
  milestone step { every 5000 paid  reward referee credit 1 USD }
}

program b {
  attribution first referral lapses after 2 days unless first payment
  draw from pot
  eligible when referral.source is set
  milestone f { first payment  reward referrer cash 2 USD  void if refund where refund.reason == "fraud" }
}

program c {
  draw from pot
  milestone g { after 2 days from payment  reward referee credit 1 USD }
}
"""


@settings(max_examples=examples(12), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_moving_attribution_with_an_allowance_holds_and_voids(data: st.DataObject) -> None:
    """Three programs (two moving) drawing from one allowance, per-month in a
    zone, on partner_and_customer's generated ledgers (duplicate and
    self-referrals, ties at one instant, events before the referral)."""
    events = data.draw(mixed_ledgers(), label="ledger")
    same_bytes(MOVING, events, data.draw(as_ofs(events), label="as_of"))
