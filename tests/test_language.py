"""Language features beyond the reference programs, end to end: a small rule
file and a small ledger each, with the awards worked out by hand."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

import rewardrules
from rewardrules.core.diagnostics import RuleError


def ledger(*events: dict) -> list[str]:
    return [json.dumps(e) for e in events]


def ref(i: str, day: int, referrer: str, referee: str, **extra: object) -> dict:
    return {
        "id": i,
        "at": f"2026-01-{day:02d}T00:00:00Z",
        "type": "referral",
        "referrer": referrer,
        "referee": referee,
        **extra,
    }


def pay(i: str, day: int, referee: str, amount: object, month: int = 1) -> dict:
    return {
        "id": i,
        "at": f"2026-{month:02d}-{day:02d}T00:00:00Z",
        "type": "payment",
        "referee": referee,
        "amount": amount,
    }


def awards(text: str, lines: list[str], as_of: str | None = None) -> list[tuple[str, ...]]:
    result = rewardrules.compile(text, "case.rules").score(lines, as_of=as_of)
    return [(a["milestone"], a["role"], a["beneficiary"], a["amount"], a["status"]) for a in result.data["awards"]]


PAYMENT = "event payment { amount: money USD }\n"


def test_every_n_gives_one_award_per_multiple() -> None:
    text = (
        PAYMENT
        + """
metric paid = count payment where payment.amount > 0
metric conversions = count referrals where paid >= 1
milestone every_two { every 2 conversions  reward referrer gift_card 25 USD }
"""
    )
    events = [ref(f"r{i}", 1, "ann", f"c{i}") for i in range(5)]
    events += [pay(f"p{i}", 2 + i, f"c{i}", 10) for i in range(5)]
    assert awards(text, ledger(*events)) == [("every_two", "referrer", "ann", "25.00", "confirmed")] * 2


def test_sum_over_referrals_and_per_milestone_cap() -> None:
    text = (
        PAYMENT
        + """
metric spent = sum payment.amount
metric team_spend = sum referrals.spent
milestone share {
  whenever team_spend increases
  reward referrer cash 10% of increase
  cap referrer 15 USD per month
}
"""
    )
    events = [
        ref("r1", 1, "ann", "bob"),
        ref("r2", 1, "ann", "cat"),
        pay("p1", 2, "bob", 100),
        pay("p2", 3, "cat", "60.00"),
        pay("p3", 4, "bob", 5),
        pay("p4", 2, "bob", 20, month=2),
    ]
    assert awards(text, ledger(*events)) == [
        ("share", "referrer", "ann", "10.00", "confirmed"),
        ("share", "referrer", "ann", "5.00", "confirmed"),  # 6.00 cut to the 5.00 left in January
        ("share", "referrer", "ann", "2.00", "confirmed"),  # February: a new period
    ]


def test_void_without_hold_and_hold_without_void() -> None:
    text = (
        PAYMENT
        + """
event refund { payment: text }
milestone voidable { first payment  reward referrer cash 10 USD  void if refund where refund.payment == payment.id }
milestone held { first payment  reward referee credit 5 USD  hold 7 days }
"""
    )
    events = [
        ref("r1", 1, "ann", "bob"),
        pay("p1", 2, "bob", 10),
        {"id": "x1", "at": "2026-01-05T00:00:00Z", "type": "refund", "referee": "bob", "payment": "p1"},
    ]
    # No hold: the award is confirmed when issued, so the refund cannot
    # rewrite it; it is taken back by a reversal entry instead (see below).
    assert awards(text, ledger(*events)) == [
        ("voidable", "referrer", "ann", "10.00", "confirmed"),
        ("held", "referee", "bob", "5.00", "pending"),
    ]
    assert awards(text, ledger(*events), as_of="2026-01-09T00:00:00Z")[1][-1] == "confirmed"
    assert awards(text, ledger(*events), as_of="2026-01-04T00:00:00Z")[0][-1] == "confirmed"


def test_a_confirmed_award_taken_back_gets_a_reversal_entry() -> None:
    text = (
        PAYMENT
        + """
event refund { payment: text }
milestone bonus {
  first payment
  reward referrer cash 10 USD
  hold 7 days
  void if refund where refund.payment == payment.id within 60 days
}
"""
    )
    program = rewardrules.compile(text)

    def refund(day: int, month: int = 1) -> dict:
        return {
            "id": f"x{day}",
            "at": f"2026-{month:02d}-{day:02d}T00:00:00Z",
            "type": "refund",
            "referee": "bob",
            "payment": "p1",
        }

    base = [ref("r1", 1, "ann", "bob"), pay("p1", 2, "bob", 10)]
    # refunded during the hold: void, and nothing to reverse
    during = program.score(ledger(*base, refund(5))).data
    assert [a["status"] for a in during["awards"]] == ["void"] and during["reversals"] == []
    # refunded after the hold: the award stays confirmed, a reversal takes it back
    after = program.score(ledger(*base, refund(20))).data
    (award,) = after["awards"]
    assert award["status"] == "confirmed"
    (reversal,) = after["reversals"]
    assert reversal["reverses"] == award["id"] and reversal["id"].startswith("rv_")
    assert (reversal["at"], reversal["amount"], reversal["why"]) == ("2026-01-20T00:00:00Z", "10.00", {"event": "x20"})
    assert {"unit": "USD", "kind": "cash", "status": "reversed", "count": 1, "amount": "10.00"} in after["totals"]
    # before the refund happened, nothing is reversed; past the window, nothing either
    assert program.score(ledger(*base, refund(20)), as_of="2026-01-19T00:00:00Z").data["reversals"] == []
    assert program.score(ledger(*base, refund(15, month=3))).data["reversals"] == []
    # the reversal's id is stable: the same whatever else the ledger holds
    other = [ref("r9", 1, "cy", "dee"), pay("p9", 3, "dee", 99)]
    assert program.score(ledger(*other, *base, refund(20))).data["reversals"] == after["reversals"]


def test_optional_field_absent_makes_conditions_false() -> None:
    text = """
event referral { tier: optional text }
milestone gold { when referral.tier == "gold"  reward referee discount 5 percent }
milestone not_gold { when referral.tier != "gold"  reward referee discount 1 percent }
milestone untiered { when referral.tier is not set  reward referee discount 2 percent }
"""
    events = [ref("r1", 1, "ann", "bob", tier="gold"), ref("r2", 1, "ann", "cat"), ref("r3", 1, "ann", "dan", tier="x")]
    assert awards(text, ledger(*events)) == [
        ("gold", "referee", "bob", "5", "confirmed"),
        ("untiered", "referee", "cat", "2", "confirmed"),
        ("not_gold", "referee", "dan", "1", "confirmed"),
    ]


def test_time_arithmetic_and_division_by_zero() -> None:
    text = (
        PAYMENT
        + """
metric first_paid = first payment.at where payment.amount > 0
metric paid = count payment
metric spent = sum payment.amount
metric avg = spent / paid
milestone fast { when first_paid - referral.at <= 2 days  reward referrer cash 7 USD }
milestone average { first payment  reward referrer cash avg / 0 }
"""
    )
    result = rewardrules.compile(text).score(ledger(ref("r1", 1, "ann", "bob"), pay("p1", 3, "bob", 50)))
    assert [a["milestone"] for a in result.data["awards"]] == ["fast"]
    (withheld,) = result.data["withheld"]
    assert withheld["milestone"] == "average" and "no value" in withheld["reason"]


def test_message_renders_values_at_award_time() -> None:
    text = (
        PAYMENT
        + """
metric spent = sum payment.amount
milestone big {
  when spent >= 100 USD
  reward referrer cash 10 USD
  message "{{ referee|upper }} spent {{ spent }} {% if role == 'referrer' %}(thanks {{ beneficiary }}){% endif %}"
}
milestone each_payment {
  each payment
  reward referee credit 1 USD
  message "payment {{ payment.id }} of {{ payment.amount }} at {{ payment.at }}"
}
"""
    )
    result = rewardrules.compile(text).score(
        ledger(ref("r1", 1, "ann", "bob"), pay("p1", 2, "bob", 150), pay("p2", 3, "bob", "20.5"))
    )
    messages = [a["message"] for a in result.data["awards"]]
    assert messages == [
        "BOB spent 150.00 (thanks ann)",
        "payment p1 of 150.00 at 2026-01-02T00:00:00Z",
        "payment p2 of 20.50 at 2026-01-03T00:00:00Z",
    ]


def test_a_message_reads_an_event_field_by_field() -> None:
    """`{{ referral }}` alone wrote the event as a Python mapping (`{'id':
    'r1', 'at': ..., 'source': 'x'}`, its fields in one order whichever
    reader path the event took), and `--engine duckdb` wrote `{}`: it is
    refused at its place, with a field to read instead."""
    with pytest.raises(RuleError) as refused:
        rewardrules.compile(
            "event referral { source: optional text }\n"
            'milestone joined { first referral  reward referrer cash 1 USD  message "{{ referral }}" }\n'
        )
    (problem,) = refused.value.diagnostics
    assert problem.code == "RR501" and (problem.line, problem.column) == (2, 76)
    assert "read the event `referral` field by field, such as `{{ referral.at }}`" in problem.message


def test_totals_add_amounts_in_award_order() -> None:
    """A computed amount can hold 100 digits; their sum then rounds, so the
    total is the sum in award order, never a regrouping (3.33...3 six times
    is 19.99...98 exactly, 19.99...9 rounded step by step, 20 from 6 x)."""
    program = rewardrules.compile(
        PAYMENT + "milestone per_payment { each payment  reward referrer storage 10 MB / 3 }\n"
    )
    result = program.score(ledger(ref("r1", 1, "ann", "bob"), *(pay(f"p{d}", d, "bob", 5) for d in range(2, 8))))
    (total,) = result.data["totals"]
    assert total["count"] == 6
    assert total["amount"] == "19." + "9" * 98


def test_explanations_say_why_and_how_far() -> None:
    text = """
event referral { country: optional text }
event subscription { mrr: money USD }
eligible when referral.country == "US"
metric mrr = latest subscription.mrr
milestone mrr_1k { when mrr >= 1000 USD  reward referrer cash 500 USD }
"""
    events = [
        ref("r1", 1, "ann", "bob", country="US"),
        ref("r2", 1, "ann", "cat", country="BR"),
        {"id": "s1", "at": "2026-01-03T00:00:00Z", "type": "subscription", "referee": "bob", "mrr": 800},
    ]
    data = rewardrules.compile(text).score(ledger(*events)).data
    bob, cat = data["referrals"]
    (progress,) = bob["programs"][0]["milestones"]
    assert progress["progress"] == "`mrr` is 800.00 USD of 1000 USD"
    assert cat["programs"][0]["eligible"] is False
    assert cat["programs"][0]["why"] == 'not eligible: `referral.country == "US"` is false (country = "BR")'
    assert data["rejected"][0]["reason"] == "ineligible"


def test_award_why_names_the_event_and_values() -> None:
    text = (
        "event subscription { mrr: money USD }\nmetric mrr = latest subscription.mrr\n"
        "milestone m { when mrr >= 1000 USD  reward referrer cash 1 USD }"
    )
    events = [
        ref("r1", 1, "ann", "bob"),
        {"id": "s9", "at": "2026-01-02T00:00:00Z", "type": "subscription", "referee": "bob", "mrr": "1200.5"},
    ]
    (award,) = rewardrules.compile(text).score(ledger(*events)).data["awards"]
    assert award["why"] == {"event": "s9", "values": {"mrr": "1200.50"}}


def test_money_rounds_half_even_to_the_currency_exponent() -> None:
    text = """
event sale { amount: money JPY, fee: money KWD }
milestone yen { each sale  reward referrer cash 5% of sale.amount }
milestone dinar { each sale  reward referrer credit 10% of sale.fee }
"""
    events = [
        ref("r1", 1, "ann", "bob"),
        {"id": "s1", "at": "2026-01-02T00:00:00Z", "type": "sale", "referee": "bob", "amount": 250, "fee": "0.0125"},
        {"id": "s2", "at": "2026-01-03T00:00:00Z", "type": "sale", "referee": "bob", "amount": 350, "fee": "0.0135"},
    ]
    got = [
        (a["milestone"], a["amount"], a["unit"])
        for a in rewardrules.compile(text).score(ledger(*events)).data["awards"]
    ]
    assert got == [("yen", "12", "JPY"), ("dinar", "0.001", "KWD"), ("yen", "18", "JPY"), ("dinar", "0.001", "KWD")]


def test_session_equals_batch_and_refuses_out_of_order() -> None:
    program = rewardrules.load("rulesets/referral_milestones.rules")
    events = [ref("r1", 1, "ann", "bob"), pay("p1", 2, "bob", 10), pay("p2", 3, "bob", 10)]
    session = program.session()
    ids = [a.id for e in events for a in session.add(e)]
    batch = program.score(ledger(*events))
    assert ids == [a["id"] for a in batch.data["awards"]]
    assert session.result().to_json() == batch.to_json()
    assert session.add(events[1]) == []  # an exact repeat is ignored
    with pytest.raises(rewardrules.LedgerError, match="comes before the last event"):
        session.add(pay("p0", 1, "bob", 10))
    with pytest.raises(rewardrules.LedgerError, match="different content"):
        session.add(pay("p2", 3, "bob", 11))


def test_awards_are_typed_records() -> None:
    program = rewardrules.load("rulesets/prezi.rules")
    (award,) = program.score([ref("r1", 1, "ann", "bob"), pay("p1", 2, "bob", Decimal("9.99"))]).awards
    assert isinstance(award, rewardrules.Award)
    assert (award.milestone, award.kind, award.amount, award.unit, award.item) == (
        "paid_upgrade",
        "upgrade",
        "3",
        "months",
        None,
    )


def test_json_schemas_are_exported() -> None:
    for name in ("ledger", "award", "result"):
        schema = rewardrules.json_schema(name)
        assert schema["type"] == "object" and schema["properties"]
    assert "amount" in rewardrules.json_schema("award")["required"]


def test_session_refuses_an_as_of_before_its_last_event() -> None:
    program = rewardrules.load("rulesets/saas_milestones.rules")
    session = program.session()
    session.add(ref("r1", 1, "ann", "bob"))
    session.add({"id": "s1", "at": "2026-01-05T00:00:00Z", "type": "subscription", "referee": "bob", "mrr": 2000})
    assert len(session.result(as_of="2026-02-01T00:00:00Z").data["awards"]) == 3
    with pytest.raises(rewardrules.LedgerError, match="as of its last event or later"):
        session.result(as_of="2026-01-03T00:00:00Z")


CAP_PER_DAY = """
ruleset paris "Paris partners"{zone}
event payment {{ amount: money EUR }}
cap referrer 100 EUR per day
milestone commission {{ each payment  reward referrer cash 60% of payment.amount }}
"""


@pytest.mark.parametrize(
    ("zone", "first", "second", "amounts"),
    [
        # 22:30Z and 23:30Z are one UTC day, but 23:30 and 00:30 in Paris (UTC+1)
        ("", "2026-03-28T22:30:00Z", "2026-03-28T23:30:00Z", ["60.00", "40.00"]),
        (' timezone "Europe/Paris"', "2026-03-28T22:30:00Z", "2026-03-28T23:30:00Z", ["60.00", "60.00"]),
        # the night clocks go forward (29 March 2026): the Paris day is 23 hours long
        (' timezone "Europe/Paris"', "2026-03-28T23:30:00Z", "2026-03-29T21:59:00Z", ["60.00", "40.00"]),
        (' timezone "Europe/Paris"', "2026-03-28T23:30:00Z", "2026-03-29T22:00:00Z", ["60.00", "60.00"]),
        # New York, the night clocks go back (1 November 2026): a 25-hour day
        (' timezone "America/New_York"', "2026-11-01T04:30:00Z", "2026-11-02T04:59:00Z", ["60.00", "40.00"]),
        (' timezone "America/New_York"', "2026-11-01T04:30:00Z", "2026-11-02T05:00:00Z", ["60.00", "60.00"]),
    ],
    ids=["utc", "paris-midnight", "paris-dst-last-minute", "paris-dst-next-day", "ny-dst-last-minute", "ny-next-day"],
)
def test_calendar_periods_follow_the_ruleset_time_zone(zone: str, first: str, second: str, amounts: list[str]) -> None:
    program = rewardrules.compile(CAP_PER_DAY.format(zone=zone))
    events = [
        {"id": "r", "at": "2026-03-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"},
        {"id": "p1", "at": first, "type": "payment", "referee": "bob", "amount": 100},
        {"id": "p2", "at": second, "type": "payment", "referee": "bob", "amount": 100},
    ]
    assert [a["amount"] for a in program.score(events).data["awards"]] == amounts


@pytest.mark.parametrize("capped", [False, True], ids=["no-cap", "cap"])
def test_withheld_rewards_say_why_nothing_was_given(capped: bool) -> None:
    text = (
        "ruleset withheld\n"
        + PAYMENT
        + "milestone commission {\n  each payment\n  reward referrer cash 10% of payment.amount\n"
        + ("  cap referrer 100 USD per month\n" if capped else "")
        + "}\n"
    )
    events = [
        ref("r1", 1, "ann", "bob"),
        pay("p1", 2, "bob", "0"),
        pay("p2", 3, "bob", "-50.00"),
        pay("p3", 4, "bob", "20"),
    ]
    result = rewardrules.compile(text, "case.rules").score(ledger(*events)).data
    assert [a["amount"] for a in result["awards"]] == ["2.00"]
    assert [w["reason"] for w in result["withheld"]] == ["the amount is zero", "the amount is negative"]


def test_an_amount_too_large_to_round_is_withheld_not_a_crash() -> None:
    """An amount with more digits than the scoring context holds cannot be
    rounded to the cent: it is withheld with the reason, and the event's
    other rewards (here another program's) are still issued."""
    text = (
        "ruleset big\n"
        "event payment { amount: money USD, n: number }\n"
        'program a "A" {\n'
        "  milestone huge { each payment  reward referrer cash 1 USD * payment.n * payment.n * payment.n * payment.n }\n"
        "}\n"
        'program b "B" {\n  milestone welcome { first payment  reward referee cash 1 USD }\n}\n'
    )
    events = [ref("r1", 1, "ann", "bob"), {**pay("p1", 2, "bob", "5"), "n": "1" + "0" * 27}]
    result = rewardrules.compile(text, "case.rules").score(ledger(*events)).data
    assert [(a["milestone"], a["amount"]) for a in result["awards"]] == [("welcome", "1.00")]
    assert [w["reason"] for w in result["withheld"]] == [
        "the amount is too large (more than 100 digits to the unit's smallest step)"
    ]


def test_a_ledger_before_1677_reports_as_of_its_last_event() -> None:
    """Instants are int nanoseconds from 1970 and go back to year 1: the
    default as-of is the ledger's latest event, however early."""
    text = "ruleset early\n" + PAYMENT + "milestone paid { first payment  reward referrer cash 5 USD }\n"
    events = [
        {"id": "r1", "at": "1600-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"},
        {"id": "p1", "at": "1600-01-02T00:00:00Z", "type": "payment", "referee": "bob", "amount": "20"},
    ]
    result = rewardrules.compile(text, "case.rules").score(ledger(*events)).data
    assert result["as_of"] == "1600-01-02T00:00:00Z"
    assert [(a["at"], a["status"]) for a in result["awards"]] == [("1600-01-02T00:00:00Z", "confirmed")]
