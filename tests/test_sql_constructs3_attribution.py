"""Timers and per-referrer metrics in a program whose attribution moves
(docs/sql.md, "Attribution"), refused before: a referral's timer stops
when it loses its referee (to the next referral that takes it, at or
before the timer's instant; or by its lapse, unless it converted within
it), as the Python engine drops it; a referral that lost its referee
still counts in its referrer's `count referrals` as it was then. Byte for
byte the Python engine's `--no-explain` result, on hand-written ties and
generated ledgers."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.sql.compile import compile_query
from rewardrules.sql.diagnose import refusals

from .test_properties import DIFFERENTIAL
from .test_sql_backend import duckdb_json, python_json
from .test_sql_constructs3_timers import event, same_on_generated, written_for_postgres

#: `last` with a lapse, `first` with a lapse, `last ... before` (no lapse):
#: each with `after D`, `after D from EVENT` and `when C for D` timers
MOVING = """\
ruleset moving_timers

event referral { source: optional text }
event payment { amount: money USD }

program last_click {
  attribution last referral lapses after 30 days unless first payment where payment.amount > 1000 USD
  metric spent = sum payment.amount
  milestone later { after 20 days if spent >= 0 USD  reward referrer cash 2 USD }
  milestone anchored {
    after 5 days from payment
    reward referrer cash 3 USD
    void if payment where payment.amount < 0 USD
  }
  milestone held { when spent >= 100 USD for 10 days  reward referrer cash 4 USD  message "{{ spent }}" }
}

program cookie {
  attribution first referral lapses after 30 days unless first payment
  metric paid = count payment
  milestone kept { after 30 days  reward referee credit 1 USD }
  milestone steady { when paid >= 1 for 31 days  reward referrer cash 6 USD }
}

program before {
  attribution last referral before first payment where payment.amount >= 50 USD
  eligible when referral.source is set
  milestone waited { after 10 days  reward referrer cash 5 USD }
}
"""


@cache
def _prog() -> rewardrules.Program:
    return rewardrules.compile(MOVING, "moving_timers.rules")


def referral(eid: str, at: str, referrer: str, referee: str = "bob", source: str = "x") -> dict[str, Any]:
    return {**event(eid, at, "referral", referee), "referrer": referrer, "source": source}


def pay(eid: str, at: str, amount: str, referee: str = "bob") -> dict[str, Any]:
    return event(eid, at, "payment", referee, amount=amount)


def awards(events: list[dict[str, Any]], as_of: str = "2026-12-31T00:00:00Z") -> list[tuple[str, str, str]]:
    """(day, milestone, referrer) of each award, the SQL result checked equal to the Python engine's."""
    sql = duckdb_json(_prog(), events, as_of)
    assert sql == python_json(_prog(), events, as_of)
    return [(a["at"][5:10], a["milestone"], a["referrer"]) for a in json.loads(sql)["awards"]]


def test_it_compiles_and_check_reports_nothing() -> None:
    compile_query(_prog().compiled)
    assert refusals(_prog().compiled) == []


@pytest.mark.parametrize(
    ("second", "paid_to"),
    [("01-21T00:00:00", "cat"), ("01-21T00:00:00.000000001", "ann"), ("01-20T23:59:59", "cat")],
    ids=["at_the_instant", "a_nanosecond_later", "before"],
)
def test_a_referral_that_takes_the_referee_stops_the_timer(second: str, paid_to: str) -> None:
    """ann's `after 20 days` is due on 01-21 (`last_click`); cat's referral
    at that instant takes bob first (events before timers) and ann's timer
    never pays; a nanosecond later, ann's does. cat's own timer starts at
    its referral."""
    events = [referral("r1", "01-01", "ann"), pay("p1", "01-02T00:00:00", "5.00"), referral("r2", second, "cat")]
    events.append(pay("p2", "01-25T00:00:00", "7.00"))
    later = [a for a in awards(events) if a[1] == "later"]
    assert later[0][2] == paid_to
    assert ("ann" in [a[2] for a in later]) == (paid_to == "ann")


def test_a_lapse_is_judged_at_the_timers_instant() -> None:
    """`cookie`'s `kept` is due 30 days after the referral, the lapse's
    last instant (inclusive): paid. `steady` (31 days after bob's first
    payment) comes after the lapse: paid when that payment converted him
    within it (the referral then holds him for good), not when it came a
    nanosecond after the lapse."""
    events = [referral("r1", "01-01", "ann"), referral("r2", "01-01", "cat")]
    got = awards(events)
    assert ("01-31", "kept", "ann") in got
    paid = awards([*events, pay("p1", "01-10T00:00:00", "1.00")])
    assert ("02-10", "steady", "ann") in paid
    late = awards([*events, pay("p1", "01-31T00:00:00.000000001", "1.00")])
    assert [a for a in late if a[1] == "steady"] == []


def test_anchored_and_held_timers_of_a_referral_that_lost_the_referee() -> None:
    """ann's `anchored` timer (from bob's first payment, 01-05) and her
    held `spent >= 100 USD` (from 01-05) are due on 01-10 and 01-15; cat
    takes bob on 01-08: neither pays ann; cat's anchored timer starts at
    bob's first payment after his referral, and his held condition reads
    his own `spent` (from 0)."""
    events = [
        referral("r1", "01-01", "ann"),
        pay("p1", "01-05T00:00:00", "150.00"),
        referral("r2", "01-08T00:00:00", "cat"),
        pay("p2", "01-09T00:00:00", "100.00"),
    ]
    got = awards(events)
    assert [a for a in got if a[1] in ("anchored", "held")] == [
        ("01-14", "anchored", "cat"),
        ("01-19", "held", "cat"),
    ]
    assert [a for a in awards(events[:2]) if a[1] in ("anchored", "held")] == [
        ("01-10", "anchored", "ann"),
        ("01-15", "held", "ann"),
    ]


def test_the_query_is_written_for_postgres() -> None:
    written_for_postgres(compile_query(_prog().compiled))


@settings(DIFFERENTIAL, max_examples=min(DIFFERENTIAL.max_examples, 25))
@given(data=st.data())
def test_generated_ledgers_give_the_same_bytes(data: st.DataObject) -> None:
    same_on_generated(_prog(), "affiliate_attribution", data)


#: per-referrer metrics under `last referral ... lapses`: counts (one
#: `unless voided`), a sum of a per-referral metric, milestones on them
#: (a per-referrer `after` and held condition among them; a held condition
#: reading the count `unless voided` is refused, tests/test_sql_several_moving.py)
COUNTS = """\
ruleset moving_counts

event referral { source: optional text }
event payment { amount: money USD }

attribution last referral lapses after 30 days unless first payment where payment.amount > 1000 USD

metric spent = sum payment.amount
metric paying = count referrals where spent > 0 USD
metric total = sum referrals.spent
metric kept = count referrals where spent > 0 USD unless voided first_pay

milestone first_pay {
  first payment where payment.amount > 0 USD
  reward referrer cash 3 USD
  void if payment where payment.amount < 0 USD
}
milestone two { when paying >= 2  reward referrer cash 5 USD  message "{{ paying }} {{ total }}" }
milestone each_pay { each payment where payment.amount > 0 USD  reward referrer cash 1 USD * paying }
milestone later { after 10 days if paying >= 1  reward referrer cash 2 USD }
milestone held { when paying >= 2 for 5 days  reward referrer cash 4 USD }
milestone many { every 2 kept  reward referrer cash 1 USD }
"""


@cache
def _counts() -> rewardrules.Program:
    return rewardrules.compile(COUNTS, "moving_counts.rules")


def test_a_referral_that_lost_its_referee_still_counts() -> None:
    """ann refers bob and cat, both pay: two paying. dan takes bob from
    ann (the last referral): ann's count keeps bob (his contribution as it
    was), dan's counts him too; bob's later payment counts for dan only."""
    events = [
        referral("r1", "01-01", "ann"),
        referral("r2", "01-01", "ann", "cat"),
        pay("p1", "01-02T00:00:00", "10.00"),
        pay("p2", "01-02T00:00:00", "10.00", "cat"),
        referral("r3", "01-05", "dan"),
        pay("p3", "01-06T00:00:00", "20.00"),
        pay("p4", "01-07T00:00:00", "20.00", "cat"),
    ]
    sql = duckdb_json(_counts(), events, "2026-03-01T00:00:00Z")
    assert sql == python_json(_counts(), events, "2026-03-01T00:00:00Z")
    found = [(a["at"][5:10], a["milestone"], a["referrer"], a["amount"]) for a in json.loads(sql)["awards"]]
    assert ("01-07", "each_pay", "ann", "2.00") in found  # bob still counted for ann
    assert ("01-06", "each_pay", "dan", "1.00") in found


def test_counts_compile_and_check_reports_nothing() -> None:
    compile_query(_counts().compiled)
    assert refusals(_counts().compiled) == []


@settings(DIFFERENTIAL, max_examples=min(DIFFERENTIAL.max_examples, 25))
@given(data=st.data())
def test_counts_on_generated_ledgers_give_the_same_bytes(data: st.DataObject) -> None:
    same_on_generated(_counts(), "affiliate_attribution", data)
