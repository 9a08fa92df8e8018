"""Counts that follow reversals (`unless voided M`) and `void` conditions
reading the referral's fields, with the SQL back end (docs/sql.md, "Counts
that follow reversals"): the same bytes as the Python engine, on the golden
and cookbook ledgers, on hand-written ledgers at the edges (a void at the
award's instant, before and after its hold ends, ties broken by id) and on
generated ledgers."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.sql.compile import Unsupported, compile_query
from rewardrules.sql.diagnose import refusals

from .test_properties import DIFFERENTIAL, as_ofs, ledgers
from .test_sql_backend import GOLDEN, ROOT, duckdb_json, python_json
from .test_sql_timers2 import HELD

#: over partner_and_customer's events: a conversion award taken back whole
#: by a refund of its payment (in or after the hold), or by the next
#: payment when the referral came from a partner (read on the referral's
#: own event); two counts that follow it and milestones on them
KEPT = """\
ruleset kept

event referral { source: optional text }
event payment { amount: money USD }
event refund { payment: text }

metric paid = count payment where payment.amount > 0
metric spent = sum payment.amount
metric conversions = count referrals where paid >= 1
metric kept = count referrals where paid >= 1 unless voided first_paid
metric kept_spend = sum referrals.spent unless voided first_paid

milestone first_paid {
  first payment where payment.amount > 0
  reward referrer cash 10 USD
  reward referee credit 5 USD { void if payment where referral.source == "partner" within 2 days }
  hold 14 days
  void if refund where refund.payment == payment.id within 60 days
}

milestone every_two {
  every 2 kept
  reward referrer gift_card 25 USD
}

milestone two_kept {
  when kept >= 2 and conversions >= 2
  reward referrer cash 7 USD
}

milestone big_spend {
  whenever kept_spend increases
  reward referrer cash 1 USD
}
"""

#: the award's own event voids it (a `void if payment` without a window
#: matches the payment that triggered it): the count drops only at the
#: next payment, when the Python engine looks again
SELF_VOID = """\
ruleset self_void

event payment { amount: money USD }
event refund { payment: text }

metric paid = count payment
metric kept = count referrals where paid >= 1 unless voided paid_once

milestone paid_once {
  first payment
  reward referrer cash 10 USD
  void if payment where payment.amount > 100 USD
}

milestone two {
  when kept >= 2
  reward referrer cash 1 USD
}
"""


def written(tmp_path: Path, name: str, text: str) -> rewardrules.Program:
    path = tmp_path / f"{name}.rules"
    path.write_text(text, encoding="utf-8")
    return rewardrules.load(path)


def same(prog: rewardrules.Program, events: list[Any], as_of: str | None = None) -> dict[str, Any]:
    """The SQL result, after checking it is the Python engine's, byte for byte."""
    sql = duckdb_json(prog, events, as_of)
    assert sql == python_json(prog, events, as_of)
    result: dict[str, Any] = json.loads(sql)
    return result


def event(event_id: str, day: str, kind: str, referee: str, **fields: Any) -> dict[str, Any]:
    return {"id": event_id, "at": f"2026-{day}T00:00:00Z", "type": kind, "referee": referee, **fields}


def referral(event_id: str, referee: str, source: str | None = None, referrer: str = "ann") -> dict[str, Any]:
    found = {**event(event_id, "01-01", "referral", referee), "referrer": referrer}
    return found if source is None else {**found, "source": source}


def pay(event_id: str, day: str, referee: str, amount: str = "20.00") -> dict[str, Any]:
    return event(event_id, day, "payment", referee, amount=amount)


def refund(event_id: str, day: str, referee: str, payment: str) -> dict[str, Any]:
    return event(event_id, day, "refund", referee, payment=payment)


def paid(result: dict[str, Any], milestone: str) -> list[tuple[str, str]]:
    return [
        (a["at"][5:10], a["status"])
        for a in result["awards"]
        if a["milestone"] == milestone and a["role"] == "referrer"
    ]


# -- the golden and cookbook programs ------------------------------------------


@pytest.mark.parametrize("ledger", sorted((GOLDEN / "counts_voided" / "ledgers").glob("*.jsonl")), ids=lambda p: p.stem)
def test_golden_ledgers_give_the_same_bytes(ledger: Path) -> None:
    prog = rewardrules.load(GOLDEN / "counts_voided" / "counts_voided.rules")
    expected = json.loads(ledger.with_suffix("").with_suffix(".expected.json").read_text())
    lines = ledger.read_text(encoding="utf-8").splitlines()
    result = same(prog, lines, expected["as_of"])
    keys = ("at", "milestone", "beneficiary", "referee", "amount", "status")
    got = sorted((tuple(a[k] for k in keys) for a in result["awards"]), key=str)
    assert got == sorted((tuple(a[k] for k in keys) for a in expected["awards"]), key=str)  # the hand-worked answer


def cookbook_block(name: str) -> str:
    """The text of a `<!-- file: NAME -->` block of docs/cookbook.md."""
    text = (ROOT / "docs" / "cookbook.md").read_text(encoding="utf-8")
    start = text.index("\n", text.index(f"<!-- file: {name} -->") + 1)  # the fence
    body = text[text.index("\n", start + 1) + 1 :]
    return body[: body.index("```")]


def test_the_cookbook_tiers_that_follow_refunds(tmp_path: Path) -> None:
    prog = written(tmp_path, "kept", cookbook_block("patterns/kept.rules"))
    result = same(prog, cookbook_block("patterns/kept.jsonl").splitlines())
    assert [a["milestone"] for a in result["awards"]].count("every_two") == 1  # b's refund took one conversion out


# -- hand-written edges -------------------------------------------------------------


def test_a_void_in_the_hold_and_one_after_it_both_take_the_referral_out(tmp_path: Path) -> None:
    prog = written(tmp_path, "kept", KEPT)
    events = [
        *(referral(f"r{n}", who) for n, who in enumerate("abcd")),
        pay("p1", "01-02", "a"),
        pay("p2", "01-02", "b"),  # two kept: the first bonus
        refund("f1", "01-05", "a", "p1"),  # in a's hold: void
        pay("p3", "01-06", "c"),  # two kept again: no second bonus of two (every 2: at 4)
        refund("f2", "02-01", "b", "p2"),  # after b's hold: reversed, out as well
        pay("p4", "02-02", "d"),  # c, d: two kept
        pay("p5", "02-03", "a"),  # a pays again: still out
    ]
    result = same(prog, events, "2026-03-01T00:00:00Z")
    assert paid(result, "every_two") == [("01-02", "confirmed")]
    assert paid(result, "two_kept") == [("01-02", "confirmed")]
    assert len(result["reversals"]) == 1


def test_a_void_at_the_awards_instant_counts_from_the_next_void_event(tmp_path: Path) -> None:
    """A refund at the payment's instant with a smaller id is processed
    before the award exists: the Python engine finds the award taken back
    only at the next refund of the referral, and the count drops then."""
    prog = written(tmp_path, "kept", KEPT)
    early = [*(referral(f"r{n}", who) for n, who in enumerate("abc")), pay("p2", "01-02", "b")]
    events = [
        *early,
        refund("f0", "01-03", "a", "p1"),  # same instant as p1, id before it
        pay("p1", "01-03", "a"),
        pay("p3", "01-04", "c"),  # three kept until a's next refund
        refund("f9", "01-05", "a", "zzz"),  # matches nothing: the flag is computed again
    ]
    result = same(prog, events, "2026-03-01T00:00:00Z")
    assert paid(result, "first_paid")[1] == ("01-03", "void")
    late = [*events[:-1], refund("f9", "01-05", "a", "zzz"), pay("p4", "01-06", "a", "5.00")]
    same(prog, late, "2026-03-01T00:00:00Z")
    after = [e for e in events if e["id"] != "f0"] + [refund("q0", "01-03", "a", "p1")]  # id after p1's
    same(prog, after, "2026-03-01T00:00:00Z")


def test_an_award_voided_by_its_own_event(tmp_path: Path) -> None:
    prog = written(tmp_path, "self_void", SELF_VOID)
    events = [
        *(referral(f"r{n}", who) for n, who in enumerate("abc")),
        pay("p1", "01-02", "a", "500.00"),  # voids its own award
        pay("p2", "01-03", "b"),  # two kept (a not yet out): the bonus
        pay("p3", "01-04", "a"),  # a's next payment: a is out
        pay("p4", "01-05", "c"),
    ]
    result = same(prog, events)
    assert paid(result, "paid_once")[0] == ("01-02", "void")
    assert paid(result, "two") == [("01-03", "confirmed")]


def test_an_award_that_rounds_to_nothing_is_never_taken_back() -> None:
    """1% of 0.40 USD rounds to 0.00: withheld, so a's refund takes
    nothing back and a stays in the count; b's 0.60 rounds to 0.01,
    voided by b's refund: b is out."""
    prog = _variant("hold 14 days", "within 60 days", TRIGGERS[0], AMOUNTS[1])
    events = [
        *(referral(f"r{n}", who) for n, who in enumerate("abcde")),
        pay("p1", "01-02", "a", "0.40"),
        pay("p2", "01-02", "b", "0.60"),
        refund("f1", "01-03", "a", "p1"),
        refund("f2", "01-03", "b", "p2"),
        pay("p3", "01-04", "c"),
        pay("p4", "01-05", "d"),
        pay("p5", "01-06", "e"),
    ]
    result = same(prog, events, "2026-03-01T00:00:00Z")
    cash = [
        (a["referee"], a["status"]) for a in result["awards"] if a["milestone"] == "first_paid" and a["kind"] == "cash"
    ]
    assert cash == [("b", "void"), ("c", "confirmed"), ("d", "confirmed"), ("e", "confirmed")]  # none for a
    # a, c, d, e kept: the second bonus of two at e's payment
    assert paid(result, "every_two") == [("01-02", "confirmed"), ("01-06", "confirmed")]


def test_ties_are_broken_by_id(tmp_path: Path) -> None:
    """Events at one instant: the refund before or after the payments of
    other referrals, by id, decides what the milestones see at each."""
    prog = written(tmp_path, "kept", KEPT)
    for refund_id in ("e0", "e5", "e9"):
        events = [
            *(referral(f"r{n}", who) for n, who in enumerate("abcd")),
            pay("e1", "01-02", "a"),
            pay("e4", "01-03", "b"),
            refund(refund_id, "01-03", "a", "e1"),
            pay("e6", "01-03", "c"),
            pay("e8", "01-03", "d"),
        ]
        same(prog, events, "2026-01-10T00:00:00Z")


def test_referral_fields_in_void_conditions(tmp_path: Path) -> None:
    """`referral.source` in a `void` condition is the referral event's own
    field: a partner's referee's credit is void (by its own payment)."""
    prog = written(tmp_path, "kept", KEPT)
    events = [
        referral("r1", "a", "partner"),
        referral("r2", "b", "customer"),
        referral("r3", "c"),
        pay("p1", "01-02", "a"),
        pay("p2", "01-02", "b"),
        pay("p3", "01-02", "c"),
        pay("p4", "01-03", "a"),
        pay("p5", "01-03", "b"),
        pay("p6", "01-03", "c"),
    ]
    result = same(prog, events)
    credits = [(a["referee"], a["status"]) for a in result["awards"] if a["role"] == "referee"]
    assert credits == [("a", "void"), ("b", "confirmed"), ("c", "confirmed")]  # its own terms: no hold


# -- generated ledgers ---------------------------------------------------------------

#: the hold and the window of the refund's `void`, and the followed
#: milestone's trigger with the refund's condition
HOLDS = ["", "hold 14 days", "hold 1 day"]
WINDOWS = ["within 60 days", "", "within 1 day"]
#: the followed milestone's amount: constant, or computed (an award that
#: rounds to nothing is not issued, so never taken back)
AMOUNTS = ["cash 10 USD", "cash 1% of spent"]
TRIGGERS = [
    ("first payment where payment.amount > 0", "refund.payment == payment.id"),
    ("each payment where payment.amount > 0", "refund.payment == payment.id"),
    ("when paid >= 1", 'referral.source != "partner"'),
    ("whenever spent increases", "refund.payment == referral.id or referral.source is set"),
]


@settings(DIFFERENTIAL, max_examples=min(DIFFERENTIAL.max_examples, 15))
@given(data=st.data())
def test_generated_ledgers_give_the_same_bytes(data: st.DataObject) -> None:
    hold = data.draw(st.sampled_from(HOLDS), label="hold")
    window = data.draw(st.sampled_from(WINDOWS), label="window")
    trigger = data.draw(st.sampled_from(TRIGGERS), label="trigger")
    amount = data.draw(st.sampled_from(AMOUNTS), label="amount")
    prog = _variant(hold, window, trigger, amount)
    events = data.draw(ledgers("partner_and_customer"), label="ledger")
    as_of = data.draw(as_ofs(events), label="as_of")
    assert duckdb_json(prog, events, as_of) == python_json(prog, events, as_of)


@cache
def _variant(hold: str, window: str, trigger: tuple[str, str], amount: str) -> rewardrules.Program:
    text = KEPT.replace("hold 14 days", hold).replace("within 60 days", window)
    text = text.replace("reward referrer cash 10 USD", f"reward referrer {amount}")
    text = text.replace("first payment where payment.amount > 0", trigger[0])
    text = text.replace("refund.payment == payment.id", trigger[1])
    if trigger[0].startswith(("when", "whenever")):  # no triggering event: the credit's void reads none
        text = text.replace("reward referee credit 5 USD { void if payment where", "reward referee credit 5 USD {")
        text = text.replace('referral.source == "partner" within 2 days }', "}")
    return rewardrules.compile(text, "kept.rules")


# -- what stays refused ------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        [("  hold 14 days\n", "  hold 14 days\n  cap referrer 15 USD\n")],
        [
            ("void if refund where", "void 1 USD of 2 USD if refund where"),
            ("  hold 14 days\n", "  hold 14 days\n  void 1 USD of 3 USD if payment\n"),
        ],
    ],
    # a timer compiles now (tests/test_sql_constructs3_voided.py), and one
    # partial void per reward (tests/test_sql_lifted_voided.py)
    ids=["cap", "two partial voids"],
)
def test_what_does_not_compile_yet_is_refused_at_the_unless(tmp_path: Path, changes: list[tuple[str, str]]) -> None:
    text = KEPT
    for old, new in changes:
        text = text.replace(old, new, 1)
    prog = written(tmp_path, "refused", text)
    with pytest.raises(Unsupported, match="unless voided first_paid") as refused:
        compile_query(prog.compiled)
    line = text[: text.index("unless voided first_paid")].count("\n") + 1
    assert refused.value.span is not None and refused.value.span.line == line
    assert any(r.construct == refused.value.construct for r in refusals(prog.compiled))  # `check --engine sql`


# -- timers reading per-referrer metrics -------------------------------------------

#: test_sql_timers2's held timers, their amounts and message reading the
#: referrer's count of paying referrals
TIMED = HELD.replace("reward referrer cash 7 USD", "reward referrer cash 7 USD * paying").replace(
    "subscription(s)", "subscription(s), {{ paying }} paying"
)


def test_a_timer_reads_the_referrers_value_at_its_instant() -> None:
    """bob's `after 30 days` timer is due on 01-31: his own last event is
    on 01-02 (ann had one paying referral then), cat pays on 01-20, so the
    timer pays 7 USD times 2."""
    prog = rewardrules.compile(TIMED, "timed.rules")
    events = [
        {**referral("r1", "bob"), "at": "2026-01-01T00:00:00Z"},
        {**referral("r2", "cat"), "at": "2026-01-01T00:00:01Z"},
        event("s1", "01-02", "subscription", "bob", mrr="100.00"),
        event("s2", "01-20", "subscription", "cat", mrr="1500.00"),
        event("s3", "02-25", "subscription", "cat", mrr="0.00"),  # after bob's timer: not counted
    ]
    result = same(prog, events, "2026-04-01T00:00:00Z")
    later = [(a["referee"], a["amount"]) for a in result["awards"] if a["milestone"] == "later"]
    assert later == [("bob", "14.00"), ("cat", "14.00")]
    assert any("2 paying" in (a["message"] or "") for a in result["awards"] if a["milestone"] == "held")


@settings(DIFFERENTIAL, max_examples=min(DIFFERENTIAL.max_examples, 10))
@given(data=st.data())
def test_timers_reading_per_referrer_metrics_on_generated_ledgers(data: st.DataObject) -> None:
    prog = _timed()
    events = data.draw(ledgers("subscription_loyalty"), label="ledger")
    as_of = data.draw(as_ofs(events), label="as_of")
    assert duckdb_json(prog, events, as_of) == python_json(prog, events, as_of)


@cache
def _timed() -> rewardrules.Program:
    return rewardrules.compile(TIMED, "timed.rules")


# -- held conditions per referrer ---------------------------------------------------

#: a held condition on the referrer's count of paying referrals: one clock
#: for all its referrals, started and stopped by any of their events
PER_REFERRER = """\
ruleset per_referrer

event subscription { mrr: money USD }

metric mrr = latest subscription.mrr otherwise 0 USD
metric paying = count referrals where mrr > 0 USD
metric doubled = paying * 2

milestone two_paying {
  when paying >= 2 for 10 days
  reward referrer cash 3 USD * doubled
  reward referee credit 1 USD
  message "{{ paying }} paying"
  cap referrer 10 USD
}

milestone one {
  when mrr > 0 USD for 5 days
  reward referrer cash 4 USD
  cap referrer 10 USD
}
"""


def sub(event_id: str, day: str, referee: str, mrr: str) -> dict[str, Any]:
    return event(event_id, day, "subscription", referee, mrr=mrr)


def test_a_held_condition_per_referrer() -> None:
    """ann's two paying referrals hold from 01-03, break on 01-05 (a stops
    paying), hold again from a's event on 01-06: paid on 01-16, to ann,
    the award's referee a (whose event started the clock). bo's clock
    breaks at its due instant: nothing. 3 USD * 4 is cut to the cap."""
    prog = _per_referrer()
    events = [
        *(
            referral(f"r{n}", who, referrer=by)
            for n, (who, by) in enumerate(zip("abcd", ["ann", "ann", "bo", "bo"], strict=True))
        ),
        sub("s1", "01-02", "a", "10.00"),
        sub("s2", "01-03", "b", "10.00"),
        sub("s3", "01-05", "a", "0.00"),
        sub("s4", "01-06", "a", "5.00"),
        sub("s5", "01-03", "c", "10.00"),
        sub("s6", "01-03", "d", "10.00"),
        sub("s7", "01-13", "d", "0.00"),
    ]
    result = same(prog, events, "2026-02-01T00:00:00Z")
    held = [(a["at"][5:10], a["beneficiary"], a["referee"], a["amount"]) for a in result["awards"]]
    assert [h for h in held if h[0] == "01-16"] == [("01-16", "ann", "a", "10.00"), ("01-16", "a", "a", "1.00")]
    same(prog, events, "2026-01-13T00:00:00Z")


@settings(DIFFERENTIAL, max_examples=min(DIFFERENTIAL.max_examples, 10))
@given(data=st.data())
def test_held_conditions_per_referrer_on_generated_ledgers(data: st.DataObject) -> None:
    prog = _per_referrer()
    events = data.draw(ledgers("subscription_loyalty"), label="ledger")
    as_of = data.draw(as_ofs(events), label="as_of")
    assert duckdb_json(prog, events, as_of) == python_json(prog, events, as_of)


@cache
def _per_referrer() -> rewardrules.Program:
    return rewardrules.compile(PER_REFERRER, "per_referrer.rules")


def test_an_after_timer_per_referrer_compiles() -> None:
    """Refused before (`the per-referrer timer`); differential tests in
    tests/test_sql_constructs3_timers.py."""
    text = PER_REFERRER.replace("when paying >= 2 for 10 days", "after 10 days if paying >= 2")
    prog = rewardrules.compile(text, "after.rules")
    compile_query(prog.compiled)
    assert refusals(prog.compiled) == []


@pytest.mark.parametrize("text", [KEPT, SELF_VOID, TIMED, PER_REFERRER], ids=["kept", "self_void", "timed", "held"])
def test_check_engine_sql_reports_nothing_for_these(text: str) -> None:
    """`check --engine sql` reports a file exactly when `compile_query` refuses it."""
    prog = rewardrules.compile(text, "x.rules")
    compile_query(prog.compiled)
    assert refusals(prog.compiled) == []


# -- voids of milestones counted per referrer -----------------------------------------

#: per-referrer milestones with voids: a `when` on the referrer's count
#: (its triggering event one referral's), whole and partial, reading that
#: referral's field; and an `each` reading the count in its filter
VOIDED_PER_REFERRER = """\
ruleset voided_per_referrer

event referral { source: optional text }
event payment { amount: money USD }
event refund { payment: text }

metric paid = count payment where payment.amount > 0
metric conversions = count referrals where paid >= 1

milestone two {
  when conversions >= 2
  reward referrer cash 5 USD
  reward referrer credit 3 USD { void 10 USD of 20 USD if refund }
  hold 3 days
  void if refund where referral.source == "partner" within 30 days
}

milestone big {
  each payment where conversions >= 1 and payment.amount > 0
  reward referrer cash 2 USD
  void if refund where refund.payment == payment.id
}
"""


def test_a_per_referrer_award_is_taken_back_by_its_triggering_referrals_events() -> None:
    """b's payment makes ann's second conversion: the award's referral is
    b's, so a's refund takes nothing back and b's does (in the hold: void;
    the credit in two halves, the second after the hold)."""
    prog = _voided_per_referrer()
    events = [
        referral("r1", "a", "partner"),
        referral("r2", "b", "partner"),
        pay("p1", "01-02", "a"),
        pay("p2", "01-03", "b"),
        refund("f1", "01-04", "a", "p1"),
        refund("f2", "01-05", "b", "x"),
        refund("f3", "01-10", "b", "x"),
    ]
    result = same(prog, events, "2026-02-01T00:00:00Z")
    two = [(a["kind"], a["referee"], a["status"]) for a in result["awards"] if a["milestone"] == "two"]
    assert two == [("cash", "b", "void"), ("credit", "b", "confirmed")]
    assert [r["amount"] for r in result["reversals"] if r["milestone"] == "two"] == ["1.50", "1.50"]


@settings(DIFFERENTIAL, max_examples=min(DIFFERENTIAL.max_examples, 10))
@given(data=st.data())
def test_voids_per_referrer_on_generated_ledgers(data: st.DataObject) -> None:
    prog = _voided_per_referrer()
    events = data.draw(ledgers("partner_and_customer"), label="ledger")
    as_of = data.draw(as_ofs(events), label="as_of")
    assert duckdb_json(prog, events, as_of) == python_json(prog, events, as_of)


@cache
def _voided_per_referrer() -> rewardrules.Program:
    return rewardrules.compile(VOIDED_PER_REFERRER, "voided_per_referrer.rules")


def test_a_per_referrer_timers_award_is_taken_back_by_its_referrals_events() -> None:
    """The held condition's award belongs to the referral whose event
    started its clock (a's): b's drop takes nothing back, a's voids it."""
    text = PER_REFERRER.replace(
        "  cap referrer 10 USD\n}\n\nmilestone one",
        "  cap referrer 10 USD\n  hold 5 days\n  void if subscription where subscription.mrr < 5 USD within 40 days\n"
        "}\n\nmilestone one",
    )
    prog = rewardrules.compile(text, "held_voids.rules")
    events = [
        *(referral(f"r{n}", who) for n, who in enumerate("ab")),
        sub("s1", "01-02", "a", "10.00"),
        sub("s2", "01-03", "b", "10.00"),
        sub("s3", "01-05", "a", "0.00"),
        sub("s4", "01-06", "a", "5.00"),
        sub("s5", "01-17", "b", "0.00"),
    ]
    kept = same(prog, events, "2026-02-01T00:00:00Z")
    assert [a["status"] for a in kept["awards"] if a["milestone"] == "two_paying"] == ["confirmed", "confirmed"]
    voided = same(prog, [*events, sub("s6", "01-18", "a", "1.00")], "2026-02-01T00:00:00Z")
    assert [a["status"] for a in voided["awards"] if a["milestone"] == "two_paying"] == ["void", "void"]
