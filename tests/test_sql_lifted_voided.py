"""`count referrals ... unless voided M` where M's reward has a partial
void (`void PART of WHOLE if ...`), refused before (docs/sql.md, "Counts
that follow reversals"): the referral leaves the count at the first event
after which the Python engine's `score.clawback.take` has taken the award
back whole, its parts added up and rounded half to even (a half-cent tie
taken whole only when the award's cents are even). Also `unless voided` in
a file of several programs. Byte for byte the Python engine's result, on
hand-written ties and generated ledgers."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.sql.compile import Unsupported, compile_query
from rewardrules.sql.diagnose import refusals

from .test_properties import DIFFERENTIAL
from .test_sql_constructs3_timers import same_on_generated
from .test_sql_voids_metrics import KEPT, event, paid, pay, referral, same

#: a conversion award taken back in parts by refunds of its payment; a
#: count of paying referrals that follows it, and a milestone on it
PARTS = """\
ruleset parts

event referral { source: optional text }
event payment { amount: money USD }
event refund { amount: money USD }

metric paid = count payment
metric kept = count referrals where paid >= 1 unless voided first_paid

milestone first_paid {
  first payment
  reward referrer cash AMOUNT
  void refund.amount of payment.amount if refund within 60 days
  void if payment where payment.amount > 1000 USD
}

milestone three_kept {
  when kept >= 3
  reward referrer gift_card 25 USD
}
"""


@cache
def parts(amount: str = "10.00 USD", hold: str = "") -> rewardrules.Program:
    text = PARTS.replace("AMOUNT", amount)
    if hold:
        text = text.replace("  void refund.amount", f"  {hold}\n  void refund.amount")
    return rewardrules.compile(text, "parts.rules")


def refund(event_id: str, day: str, referee: str, amount: str, time: str = "00:00:00") -> dict[str, Any]:
    found = event(event_id, day, "refund", referee, amount=amount)
    return {**found, "at": found["at"].replace("00:00:00", time)}


AS_OF = "2026-03-01T00:00:00Z"


def _three_paying(*refunds: dict[str, Any]) -> list[dict[str, Any]]:
    """a pays 20.02 on 01-02 and is refunded in parts; b and c pay on 01-06
    (the third paying referral: `three_kept` while a is still counted)."""
    return [
        *(referral(f"r{n}", who) for n, who in enumerate("abc")),
        pay("p1", "01-02", "a", "20.02"),
        *refunds,
        pay("p2", "01-06", "b"),
        pay("p3", "01-06", "c"),
    ]


@pytest.mark.parametrize("hold", ["", "hold 30 days"])
def test_a_share_just_short_of_the_whole_rounds_to_it(hold: str) -> None:
    """10.00 USD, refunds of 10.01 and 10.00 of a payment of 20.02: 1,000
    cents times 20.01 / 20.02 is 999.5005, which rounds to 1,000, the whole:
    a is out before b and c pay (in the hold, its award is void)."""
    events = _three_paying(refund("f1", "01-03", "a", "10.01"), refund("f2", "01-04", "a", "10.00"))
    assert paid(same(parts("10.00 USD", hold), events, AS_OF), "three_kept") == []


@pytest.mark.parametrize("hold", ["", "hold 30 days"])
def test_a_half_cent_tie_rounds_to_even(hold: str) -> None:
    """10.01 USD (1,001 cents, odd) and 20.01 of 20.02 refunded: exactly
    1,000.5 cents, which rounds half to even to 1,000, not the whole: a
    stays counted, and b and c make three. 10.00 USD on a payment of 20.00
    with 19.99 refunded: exactly 999.5, which rounds to 1,000 (even), the
    whole: a is out."""
    odd = _three_paying(refund("f1", "01-03", "a", "10.01"), refund("f2", "01-04", "a", "10.00"))
    assert paid(same(parts("10.01 USD", hold), odd, AS_OF), "three_kept") == [("01-06", "confirmed")]
    even = [e if e["id"] != "p1" else pay("p1", "01-02", "a", "20.00") for e in odd]
    even = [e if e["id"] != "f2" else refund("f2", "01-04", "a", "9.99") for e in even]
    assert paid(same(parts("10.00 USD", hold), even, AS_OF), "three_kept") == []


def test_the_last_cent_takes_it_whole_at_its_own_event_among_ties() -> None:
    """With 10.01 USD the tie leaves a counted; a last refund of 0.01 at b's
    and c's instant takes the award whole at its own place in processing
    order: with the id `p25` (between b's `p2` and c's `p3`) a is out when
    c pays, so no third paying referral; with `q1` (after `p3`), a still
    counts when c pays."""
    base = _three_paying(refund("f1", "01-03", "a", "10.01"), refund("f2", "01-04", "a", "10.00"))
    before = [*base, refund("p25", "01-06", "a", "0.01")]
    assert paid(same(parts("10.01 USD"), before, AS_OF), "three_kept") == []
    after = [*base, refund("q1", "01-06", "a", "0.01")]
    assert paid(same(parts("10.01 USD"), after, AS_OF), "three_kept") == [("01-06", "confirmed")]


def test_refunds_of_nothing_or_without_a_whole_take_nothing() -> None:
    """A refund of 0.00 (and one of a negative amount) adds no part; the
    `void if` of a payment over 1,000 USD takes the award whole at once."""
    zero = _three_paying(refund("f1", "01-03", "a", "0.00"), refund("f2", "01-04", "a", "-5.00"))
    assert paid(same(parts(), zero, AS_OF), "three_kept") == [("01-06", "confirmed")]
    whole = _three_paying(pay("p9", "01-04", "a", "2000.00"))
    assert paid(same(parts(), whole, AS_OF), "three_kept") == []


def test_a_computed_amount_and_a_constant_in_another_unit() -> None:
    """3% of the payment (60 cents of 20.02: even) and 7 MB (whole MB)."""
    events = _three_paying(refund("f1", "01-03", "a", "10.01"), refund("f2", "01-04", "a", "10.00"))
    same(parts("3% of payment.amount"), events, AS_OF)
    text = PARTS.replace("AMOUNT", "10 USD").replace("reward referrer cash 10 USD", "reward referrer storage 7 MB")
    same(rewardrules.compile(text, "mb.rules"), events, AS_OF)


#: KEPT (tests/test_sql_voids_metrics.py) with its refund taking half the
#: award, or a fixed share of the payment: the referral is out after two
#: refunds, or after as many as its payment's amount needs
SHARES = ["void 1 USD of 2 USD if refund where", "void 7.50 USD of payment.amount if refund where"]


@cache
def kept(share: str) -> rewardrules.Program:
    return rewardrules.compile(KEPT.replace("void if refund where", share), "kept.rules")


@pytest.mark.parametrize("share", SHARES)
def test_these_compile_and_check_reports_nothing(share: str) -> None:
    compile_query(kept(share).compiled)
    compile_query(kept(share).compiled, explain=True)
    assert refusals(kept(share).compiled, explain=True) == []


@settings(DIFFERENTIAL, max_examples=min(DIFFERENTIAL.max_examples, 20))
@given(data=st.data(), share=st.sampled_from(SHARES))
def test_generated_ledgers_give_the_same_bytes(data: st.DataObject, share: str) -> None:
    same_on_generated(kept(share), "partner_and_customer", data)


#: two programs, each counting its own referrers' paying referrals that
#: its own milestone did not pay and take back whole
TWO_PROGRAMS = """\
ruleset two

event referral { source: optional text }
event payment { amount: money USD }
event refund { payment: text }

metric paid = count payment

program partners {
  eligible when referral.source == "partner"
  metric kept = count referrals where paid >= 1 unless voided paid_once
  milestone paid_once {
    first payment
    reward referrer cash 10 USD
    void if refund where refund.payment == payment.id
  }
  milestone two_kept {
    when kept >= 2
    reward referrer cash 1 USD
  }
}

program everyone {
  metric kept_all = count referrals where paid >= 1 unless voided paid_big
  milestone paid_big {
    first payment where payment.amount > 10 USD
    reward referrer cash 5 USD
    void 1 USD of 2 USD if refund
  }
  milestone two_all {
    when kept_all >= 2
    reward referrer cash 2 USD
  }
}
"""


def test_several_programs_each_follow_their_own_milestone() -> None:
    prog = rewardrules.compile(TWO_PROGRAMS, "two.rules")
    assert refusals(prog.compiled) == []
    events = [
        referral("r0", "a", "partner"),
        referral("r1", "b", "partner"),
        referral("r2", "c"),
        pay("p1", "01-02", "a"),
        event("f1", "01-03", "refund", "a", payment="p1"),  # a out of `partners` at once, half back in `everyone`
        pay("p2", "01-03", "c"),
        event("f2", "01-04", "refund", "a", payment="zz"),  # the second half: a out of `everyone` too
        pay("p3", "01-05", "b"),
    ]
    result = same(prog, events, AS_OF)
    # `partners`: a out at f1, b alone when it pays; `everyone`: a and c on 01-03, a out only at f2
    assert [a["milestone"] for a in result["awards"] if a["milestone"].startswith("two")] == ["two_all"]
    assert paid(result, "two_all") == [("01-03", "confirmed")]


@settings(DIFFERENTIAL, max_examples=min(DIFFERENTIAL.max_examples, 15))
@given(data=st.data())
def test_several_programs_on_generated_ledgers(data: st.DataObject) -> None:
    same_on_generated(rewardrules.compile(TWO_PROGRAMS, "two.rules"), "partner_and_customer", data)


def test_two_partial_voids_of_one_reward_stay_refused_at_the_unless() -> None:
    """Their shares add up as quotients the engine rounds to 100 digits
    each: an exact sum may fall on the other side of a half-cent tie."""
    text = KEPT.replace("void if refund where", "void 1 USD of 2 USD if refund where").replace(
        "  hold 14 days\n", "  hold 14 days\n  void 1 USD of 3 USD if payment\n"
    )
    prog = rewardrules.compile(text, "two_parts.rules")
    with pytest.raises(Unsupported, match="more than one partial void") as refused:
        compile_query(prog.compiled)
    line = text[: text.index("unless voided first_paid")].count("\n") + 1
    assert refused.value.span is not None and refused.value.span.line == line
