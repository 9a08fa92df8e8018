"""The referral's own fields read outside `eligible when` in SQL (docs/sql.md,
"What compiles"), refused before (`a referral value`): in a milestone's
condition and amount, an aggregate's `where`, a count over referrals, a
timer's condition, compared `ignoring case` too. Byte for byte the Python
engine's `--no-explain` result, on hand-written ties and generated
ledgers."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.sql.compile import compile_query
from rewardrules.sql.diagnose import refusals

from .test_properties import DIFFERENTIAL
from .test_sql_backend import duckdb_json, python_json
from .test_sql_constructs3_timers import event, same_on_generated, written_for_postgres

FIELDS = """\
ruleset referral_fields

event referral { source: optional text  seats: optional number  vip: optional boolean }
event payment { amount: money USD }

metric spent = sum payment.amount where referral.source != "friend"
metric partners = count referrals where referral.source == "partner" ignoring case

milestone partner_pay {
  each payment where payment.amount > 0 USD and referral.source in ["partner", "affiliate"] ignoring case
  reward referrer cash 10% of payment.amount
}
milestone seats {
  first payment where referral.seats is set and referral.seats >= 2
  reward referee credit 1 USD * referral.seats
}
milestone vip { when referral.vip and spent > 0 USD  reward referrer cash 3 USD }
milestone two { when partners >= 2  reward referrer cash 5 USD }
milestone not_self {
  first payment where referral.referrer != referral.referee and referral.id != payment.id
  reward referrer cash 1 USD
}
milestone later { after 3 days if referral.source is set  reward referrer cash 2 USD }
"""


@cache
def _prog() -> rewardrules.Program:
    return rewardrules.compile(FIELDS, "referral_fields.rules")


def referral(eid: str, at: str, referee: str, **fields: Any) -> dict[str, Any]:
    return {**event(eid, at, "referral", referee), "referrer": "ann", **fields}


def pay(eid: str, at: str, referee: str, amount: str) -> dict[str, Any]:
    return event(eid, at, "payment", referee, amount=amount)


def awards(events: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    sql = duckdb_json(_prog(), events, "2026-03-01T00:00:00Z")
    assert sql == python_json(_prog(), events, "2026-03-01T00:00:00Z")
    return [(a["at"][5:10], a["milestone"], a["referee"], a["amount"]) for a in json.loads(sql)["awards"]]


def test_it_compiles_and_check_reports_nothing() -> None:
    compile_query(_prog().compiled)
    assert refusals(_prog().compiled) == []
    written_for_postgres(compile_query(_prog().compiled))


def test_each_row_reads_its_own_referrals_fields() -> None:
    """a (`Partner`, 3 seats, vip) and b (a friend) pay at one instant; c
    (`partner`, 1.5 seats) the next day: partner commissions for a and c,
    b's payment left out of `spent`, two partners from c's referral on."""
    events = [
        referral("r1", "01-01", "a", source="Partner", seats=3, vip=True),
        referral("r2", "01-01", "b", source="friend"),
        referral("r3", "01-02", "c", source="partner", seats="1.5"),
        pay("p2", "01-03", "b", "5.00"),
        pay("p1", "01-03", "a", "10.00"),
        pay("p3", "01-04", "c", "7.00"),
    ]
    found = awards(events)
    assert [f for f in found if f[1] == "partner_pay"] == [
        ("01-03", "partner_pay", "a", "1.00"),
        ("01-04", "partner_pay", "c", "0.70"),
    ]
    assert [f for f in found if f[1] in ("seats", "vip", "two")] == [
        ("01-02", "two", "c", "5.00"),
        ("01-03", "seats", "a", "3.00"),
        ("01-03", "vip", "a", "3.00"),
    ]


def test_a_referee_referred_again_keeps_its_first_referrals_fields() -> None:
    """A second referral of b (a duplicate, `partner`) changes nothing: b's
    rows read its accepted referral's `friend`."""
    events = [referral("r1", "01-01", "b", source="friend"), referral("r0", "01-02", "b", source="partner")]
    assert [f for f in awards([*events, pay("p1", "01-03", "b", "9.00")]) if f[1] == "partner_pay"] == []


@settings(DIFFERENTIAL, max_examples=min(DIFFERENTIAL.max_examples, 25))
@given(data=st.data())
def test_generated_ledgers_give_the_same_bytes(data: st.DataObject) -> None:
    same_on_generated(_prog(), "affiliate_attribution", data)
