"""`count referrals ... unless voided M` where M is a timer (docs/sql.md,
"Counts that follow reversals"), refused before: the timer's award comes
after the events of its instant, so a void event at that instant (or
before the award, at the referral's own row) takes the referral out of
the count only at the next event of the void's types after the instant.
Byte for byte the Python engine's `--no-explain` result, on hand-written
ties and generated ledgers."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.sql.compile import compile_query
from rewardrules.sql.diagnose import refusals

from .test_properties import DIFFERENTIAL
from .test_sql_constructs3_timers import same_on_generated, written_for_postgres
from .test_sql_voids_metrics import KEPT, paid, pay, referral, refund, same

#: the followed milestone as timers: a held condition, `after D if C`,
#: `after D from EVENT`; the refund's `void` reads the referral's id (a
#: timer has no triggering event)
TIMERS = [
    "when paid >= 1 for 1 day",
    "after 3 days if paid >= 1",
    "after 2 days from payment",
]


@cache
def timed(trigger: str, hold: str = "hold 14 days", window: str = "within 60 days") -> rewardrules.Program:
    text = KEPT.replace("first payment where payment.amount > 0\n", f"{trigger}\n")
    text = text.replace("refund.payment == payment.id", "refund.payment == referral.id")
    text = text.replace("hold 14 days", hold).replace("within 60 days", window)
    return rewardrules.compile(text, "timed.rules")


@pytest.mark.parametrize("trigger", TIMERS)
def test_these_compile_and_check_reports_nothing(trigger: str) -> None:
    compile_query(timed(trigger).compiled)
    assert refusals(timed(trigger).compiled) == []


def test_a_refund_at_the_timers_instant_counts_from_the_next_refund() -> None:
    """a's held timer is due on 01-03 (paid on 01-02): a refund at that
    very instant voids its award (the window starts at the instant) but is
    processed before the award exists, so a stays in `kept` until its next
    refund (01-06). Without that refund, a, b, c and d make four kept on
    01-08 and a second `every 2`; with it, three."""
    prog = timed("when paid >= 1 for 1 day")
    events = [
        *(referral(f"r{n}", who) for n, who in enumerate("abcd")),
        pay("p1", "01-02", "a"),
        refund("f1", "01-03", "a", "r0"),
        pay("p2", "01-04", "b"),
        refund("f2", "01-06", "a", "none"),  # matches nothing: the flag is computed again, a is out
        pay("p3", "01-07", "c"),
        pay("p4", "01-08", "d"),
    ]
    result = same(prog, events, "2026-03-01T00:00:00Z")
    assert paid(result, "first_paid")[0] == ("01-03", "void")
    assert paid(result, "every_two") == [("01-04", "confirmed")]
    without = [e for e in events if e["id"] != "f2"]  # no later refund: a is never out
    assert paid(same(prog, without, "2026-03-01T00:00:00Z"), "every_two") == [
        ("01-04", "confirmed"),
        ("01-08", "confirmed"),
    ]


def test_a_refund_after_the_instant_takes_the_referral_out_at_once() -> None:
    """A refund a nanosecond after the timer's instant is processed after
    its award: the count drops at it, and the referrer's third kept
    referral (c) reaches no second `every 2`."""
    prog = timed("after 3 days if paid >= 1")
    events = [
        *(referral(f"r{n}", who) for n, who in enumerate("abcd")),
        pay("p1", "01-02", "a"),
        pay("p2", "01-02", "b"),
        pay("p3", "01-02", "c"),
        pay("p4", "01-02", "d"),
        {**refund("f1", "01-04", "a", "r0"), "at": "2026-01-04T00:00:00.000000001Z"},
    ]
    result = same(prog, events, "2026-03-01T00:00:00Z")
    assert [s for _, s in paid(result, "first_paid")] == ["void", "confirmed", "confirmed", "confirmed"]
    at_once = [*events[:-1], refund("f1", "01-04", "a", "r0")]  # at the instant: a counts at 01-04
    same(prog, at_once, "2026-03-01T00:00:00Z")


def test_timers_of_one_instant_and_ties_by_id() -> None:
    """Two referrals' `after ... from payment` timers due at one instant,
    refunds at one instant ordered by id, one before the payment that
    starts the clock (it voids nothing: before the award)."""
    prog = timed("after 2 days from payment", hold="", window="")
    events = [
        *(referral(f"r{n}", who) for n, who in enumerate("ab")),
        refund("f0", "01-01", "a", "r0"),
        pay("p2", "01-02", "b"),
        pay("p1", "01-02", "a"),
        refund("g2", "01-05", "b", "r1"),
        refund("g1", "01-05", "a", "r0"),
        pay("p3", "01-06", "a"),
    ]
    result = same(prog, events, "2026-03-01T00:00:00Z")
    assert paid(result, "first_paid") == [("01-04", "confirmed"), ("01-04", "confirmed")]
    assert len(result["reversals"]) == 2


def test_the_query_is_written_for_postgres() -> None:
    written_for_postgres(compile_query(timed("when paid >= 1 for 1 day").compiled))


@settings(DIFFERENTIAL, max_examples=min(DIFFERENTIAL.max_examples, 25))
@given(data=st.data())
def test_generated_ledgers_give_the_same_bytes(data: st.DataObject) -> None:
    trigger = data.draw(st.sampled_from(TIMERS), label="trigger")
    hold = data.draw(st.sampled_from(["", "hold 14 days"]), label="hold")
    window = data.draw(st.sampled_from(["within 60 days", "", "within 1 day"]), label="window")
    prog = timed(trigger, hold, window)
    same_on_generated(prog, "partner_and_customer", data)
