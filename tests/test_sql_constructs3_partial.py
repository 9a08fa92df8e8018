"""Partial voids of rewards that are not money in a currency, with the SQL
back end (docs/sql.md, "Partial voids"), refused before: a constant (`2.50
MB`, `7 points`, `3 months`) no cap on an amount cuts. What each void event
takes back is rounded to the last decimal of the engine's Decimal (`2.50`:
hundredths, though the award is written `2.5`). Byte for byte the Python
engine's `--no-explain` result, on hand-written ties and generated ledgers."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.sql.compile import Unsupported, compile_query
from rewardrules.sql.diagnose import refusals

from .test_properties import DIFFERENTIAL
from .test_sql_backend import duckdb_json, python_json
from .test_sql_constructs3_timers import event, same_on_generated, written_for_postgres

PARTIAL = """\
ruleset partial_units

event payment { amount: money USD }
event refund { payment: text }

milestone first_pay {
  first payment where payment.amount > 0 USD
  reward referrer storage 2.50 MB { void 1 USD of payment.amount if refund where refund.payment == payment.id }
  reward referee credit 7 points { hold 10 days  void 1 USD of 3 * payment.amount if refund }
  reward referrer upgrade 3 months { void 0.5 USD of payment.amount if refund }
  cap referrer 4 rewards
}
"""


@cache
def _prog() -> rewardrules.Program:
    return rewardrules.compile(PARTIAL, "partial_units.rules")


def referral(eid: str, at: str, referee: str) -> dict[str, Any]:
    return {**event(eid, at, "referral", referee), "referrer": "ann"}


def test_it_compiles_and_check_reports_nothing() -> None:
    compile_query(_prog().compiled)
    assert refusals(_prog().compiled) == []
    written_for_postgres(compile_query(_prog().compiled))


def test_what_is_taken_back_keeps_the_awards_decimals() -> None:
    """A payment of 3.00 USD refunded 1 USD at a time, twice at one instant
    (by id: `f1` then `f2`): a third of 2.50 MB is 0.83 (hundredths, as
    the Decimal 2.50 has them), then 1.67 in all; the credit (7 points,
    a ninth each) is taken during its hold, at its confirmation."""
    events = [
        referral("r1", "01-01", "a"),
        event("p1", "01-02", "payment", "a", amount="3.00"),
        event("f2", "01-03", "refund", "a", payment="p1"),
        event("f1", "01-03", "refund", "a", payment="p1"),
    ]
    sql = duckdb_json(_prog(), events, "2026-03-01T00:00:00Z")
    assert sql == python_json(_prog(), events, "2026-03-01T00:00:00Z")
    taken = [(r["kind"], r["amount"], r["why"]["event"]) for r in json.loads(sql)["reversals"]]
    assert [t for t in taken if t[0] == "storage"] == [("storage", "0.83", "f1"), ("storage", "0.84", "f2")]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("reward referrer storage 2.50 MB", "reward referrer storage 2.50 MB * paid"),
        ("cap referrer 4 rewards", "cap referrer 4 MB"),
    ],
    ids=["computed", "capped"],
)
def test_a_computed_or_capped_amount_is_still_refused(old: str, new: str) -> None:
    """What is taken back is rounded to the last decimal of the award's
    Decimal, which a computed amount's or a cut amount's text does not
    tell: refused at the reward, by `check --engine sql` too."""
    text = PARTIAL.replace(old, new) + "metric paid = count payment\n"
    prog = rewardrules.compile(text, "refused.rules")
    with pytest.raises(Unsupported, match="a partial void of a computed or capped amount"):
        compile_query(prog.compiled)
    assert any("a partial void of a computed or capped amount" in r.construct for r in refusals(prog.compiled))


@settings(DIFFERENTIAL, max_examples=min(DIFFERENTIAL.max_examples, 25))
@given(data=st.data())
def test_generated_ledgers_give_the_same_bytes(data: st.DataObject) -> None:
    same_on_generated(_prog(), "partner_and_customer", data)
