"""Division, `first` metrics and rate tables in the SQL back end
(docs/sql.md): the Python engine's result byte for byte, on hand-made
ledgers that hit the rounding and boundary cases and on generated ones."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rewardrules

from .test_properties import DIFFERENTIAL, as_ofs, ledgers
from .test_sql_backend import duckdb_json, python_json

#: division of fields and metrics, in conditions and amounts, by zero too
DIVISION = """ruleset div "Division"

event payment { amount: money USD }

metric paid = sum payment.amount
metric payments = count payment
metric average = paid / payments
metric nothing = paid / (payments - payments)

milestone third "A third of each payment over 3 USD" {
  each payment where payment.amount / 3 > 1 USD
  reward referrer cash payment.amount / 3
  reward referee cash payment.amount * 2 / 3 - 1 USD
}

milestone average_hit "Average payment reached 50 USD" {
  when average >= 50 USD and average * 2 / 4 != 30 USD
  reward referrer cash average * 2 / 7
}

milestone halves "Halves" {
  each payment where payment.amount / 2 in [0.015 USD, 0.045 USD, 0.5 USD, 2.5 USD]
  reward referrer cash payment.amount / 2
}

milestone never "Divided by zero" {
  when nothing is set or nothing > 0 USD or not (nothing < 0 USD)
  reward referrer cash 1 USD
}
"""


def referral(referee: str = "bob", at: str = "2026-01-01T00:00:00Z") -> dict[str, Any]:
    return {"id": f"r-{referee}", "at": at, "type": "referral", "referrer": "ann", "referee": referee}


def payments(amounts: list[str], referee: str = "bob") -> list[dict[str, Any]]:
    return [
        {"id": f"p{n:02}", "at": f"2026-01-{n + 2:02}T00:00:00Z", "type": "payment", "referee": referee, "amount": a}
        for n, a in enumerate(amounts)
    ]


def same(rules: str, events: list[dict[str, Any]], as_of: str | None = None) -> list[dict[str, Any]]:
    """Score with both engines, assert the same bytes, return the awards."""
    prog = rewardrules.compile(rules)
    sql = duckdb_json(prog, events, as_of)
    assert sql == python_json(prog, events, as_of)
    awards: list[dict[str, Any]] = json.loads(sql)["awards"]
    return awards


def amounts(awards: list[dict[str, Any]], milestone: str, role: str = "referrer") -> list[str]:
    return [a["amount"] for a in awards if a["milestone"] == milestone and a["role"] == role]


def test_division_is_exact_and_rounds_half_to_even() -> None:
    """0.03 / 2 = 0.015 -> 0.02 and 0.09 / 2 = 0.045 -> 0.04 (half to
    even, from the exact quotient); 10 / 3 = 3.33...; 5.01 / 3 = 1.67; a
    division by zero has no value: it is not set and compares false either
    way, so only `not (nothing < 0 USD)` holds, once (the Python engine's
    null rules, not SQL's)."""
    events = [referral(), *payments(["0.03", "0.09", "10", "5.01", "1", "5", "4.00", "-9"])]
    awards = same(DIVISION, events)
    assert amounts(awards, "halves") == ["0.02", "0.04", "0.50", "2.50"]
    assert amounts(awards, "third") == ["3.33", "1.67", "1.67", "1.33"]  # 10, 5.01, 5 and 4.00 over 3
    # 10 * 2 / 3 - 1 = 5.666...; of 5.01: 2.34; of 5: 2.333...; of 4: 1.666... (`2 / 3 * payment.amount`
    # is refused: the engine rounds 2 / 3 before it multiplies, docs/sql.md "Division")
    assert amounts(awards, "third", "referee") == ["5.67", "2.34", "2.33", "1.67"]
    assert amounts(awards, "never") == ["1.00"]


def test_a_quotient_compared_with_a_bound_it_only_nears() -> None:
    """An average of 50 - 1/300 USD is not 50 USD: exact comparisons, where
    a quotient rounded to a few decimals would reach the bound."""
    events = [referral(), *payments(["49.99", "49.99", "50.01"])]  # 149.99 / 3 = 49.99666...
    assert amounts(same(DIVISION, events), "average_hit") == []
    events = [referral(), *payments(["49.99", "49.99", "50.02"])]  # exactly 50
    assert amounts(same(DIVISION, events), "average_hit") == ["14.29"]  # 100 / 7


#: `first` metrics, of a required and of an optional field
FIRST = """ruleset firsts "First"

event payment { amount: money USD, seats: optional number }

metric opening = first payment.amount where payment.amount > 0 within 30 days
metric first_seats = first payment.seats

milestone big_opening "Opened with 100 USD" {
  each payment where opening >= 100 USD
  reward referrer cash 10% of opening
}

milestone seats_known "Seats of the first payment" {
  when first_seats is set and first_seats >= 2
  reward referrer cash 5 USD
}
"""


def test_first_keeps_the_first_value_even_when_it_is_missing() -> None:
    """`first payment.seats` is the first payment's seats, no value when it
    has none, whatever later payments carry (the Python engine keeps it);
    `first ... where` skips the events that do not match."""
    events = [referral(), *payments(["-5", "150", "20"])]
    events[2]["seats"] = 3  # the second payment: not the first
    events[3]["seats"] = 5
    awards = same(FIRST, events)
    assert amounts(awards, "seats_known") == []
    assert amounts(awards, "big_opening") == ["15.00", "15.00"]
    events[1]["seats"] = 2
    assert amounts(same(FIRST, events), "seats_known") == ["5.00"]


#: rate tables: a rate by count, by money with rows that meet, graduated
TABLES = """ruleset tables "Tables"

event payment { amount: money USD }

metric paid = sum payment.amount where payment.amount > 0
metric payments = count payment where payment.amount > 0
metric rate = tiers of payments {
  1 to 2: 10%
  3 to 4: 12.5%
  6 or more: 20%
}
metric bonus = tiers of paid {
  0 USD to 999.99 USD: 5 USD
  1000 USD to 1999.99 USD: 25.5 USD
}
metric owed = graduated tiers of paid {
  0 USD to 999.99 USD: 10%
  1000 USD to 4999.99 USD: 15%
  5000 USD or more: 20.5%
}

milestone commission "A rate of each payment" {
  each payment where payment.amount > 0
  reward referrer cash rate of payment.amount
  reward referee cash bonus
}

milestone owed_hit "Owed reached 150 USD" {
  when owed >= 150 USD
  reward referrer cash owed
}
"""


def test_rate_tables_pick_rows_as_the_python_engine_does() -> None:
    """The rate by count (no row at 5: withheld), the amount by money with
    rows that meet (999.995 USD is in the first row), none above the last
    row; the graduated sum across three rows, not rounded before the
    reward is."""
    events = [referral(), *payments(["999.995", "0.005", "100", "1000", "0.01", "4000", "0.02"])]
    awards = same(TABLES, events)
    rates = [a["amount"] for a in awards if a["milestone"] == "commission" and a["role"] == "referrer"]
    # 10% of 999.995, 10% of 0.005 (nothing: withheld), 12.5% of 100 and
    # of 1000, no row at 5, 20% of 4000 and of 0.02 (nothing)
    assert rates == ["100.00", "12.50", "125.00", "800.00"]
    bonuses = [a["amount"] for a in awards if a["milestone"] == "commission" and a["role"] == "referee"]
    assert bonuses == ["5.00", "25.50", "25.50"]  # 999.995 is in the first row; none from 2000 USD on
    # owed: 99.9995, 100 (at exactly 1000 USD the second row adds nothing),
    # 115, then 10% of 1000 + 15% of 1100 = 265 at 2100 USD
    assert amounts(awards, "owed_hit") == ["265.00"]


#: a rate table of a per-referrer metric (the cookbook's tiered commission,
#: without its cap per period)
BY_REFERRER = """ruleset tiered "Tiered"

event payment { amount: money USD }

metric paid = count payment where payment.amount > 0
metric conversions = count referrals where paid >= 1
metric rate = tiers of conversions { 1 to 1: 10%  2 to 3: 15%  4 or more: 20% }

milestone commission {
  each payment where payment.amount > 0
  reward referrer cash rate of payment.amount / 4
}
"""


def test_a_rate_by_the_referrer_s_conversions() -> None:
    """Cat's payment (its id sorts first at 01-02) converts one referral:
    10% of 30.2 / 4 = 0.755 -> 0.76 (half to even); Bob's then makes two:
    15% of 100 / 4 = 3.75, twice."""
    events = [referral("bob"), referral("cat", "2026-01-01T00:00:01Z"), *payments(["100", "100"])]
    events += [dict(p, id=f"c{p['id']}", referee="cat") for p in payments(["30.2"])]
    awards = same(BY_REFERRER, events)
    assert [(a["referee"], a["amount"]) for a in awards] == [("cat", "0.76"), ("bob", "3.75"), ("bob", "3.75")]


#: `ignoring case` on a referral's field (eligibility) and an event's
FOLDING = """ruleset folding "Folding"

event referral { source: optional text }
event payment { amount: money USD, street: optional text }

program partners {
  eligible when referral.source in ["partner", "Affiliate"] ignoring case
  milestone sale {
    each payment where payment.street == "STRASSE" ignoring case or payment.street not in ["x", "ﬁle"] ignoring case or payment.amount > 100 USD
    reward referrer cash 20% of payment.amount
  }
}

program friends {
  eligible when referral.source == "FRIEND" ignoring case and referral.source != "friends" ignoring case
  milestone friend_bonus {
    first payment where payment.amount > 0
    reward referrer cash 25 USD
  }
}
"""


def test_ignoring_case_is_unicode_case_folding() -> None:
    """`Straße` folds to `strasse` (DuckDB's LOWER would leave the ß), `FILE`
    is the folding of `ﬁle`; a missing street is in no list and not out of
    one either; sources match as the Python engine matches them."""
    events: list[dict[str, Any]] = []
    for n, source in enumerate(["PARTNER", "affiliate", "Friend", "friends", None, "ΣΊΣΥΦΟΣ"]):
        referee = f"u{n}"
        events.append(dict(referral(referee), source=source))
        for street in ["Straße", "FILE", None, "X"]:
            payment = payments(["10"], referee)[0]
            events.append(dict(payment, id=f"{payment['id']}-{referee}-{street}", street=street))
    awards = same(FOLDING, events)
    # u0 and u1, once each: `Straße` only (FILE and X are in the list, a
    # missing street is not out of it)
    assert [a["referee"] for a in awards if a["milestone"] == "sale"] == ["u0", "u1"]
    assert sorted(a["referee"] for a in awards if a["milestone"] == "friend_bonus") == ["u2"]


#: `whenever` on a sum that can fall, on a max with `otherwise`, and per
#: referrer
RISES = """ruleset rises "Rises"

event payment { amount: money USD }

metric balance = sum payment.amount
metric top = max payment.amount where payment.amount < 1000 USD otherwise 5.5 USD
metric paying = count payment where payment.amount > 0
metric converted = count referrals where paying >= 1

milestone rise {
  whenever balance increases
  reward referrer cash 10% of increase
}

milestone high {
  whenever top increases
  reward referee cash increase / 3
}

milestone more {
  whenever converted increases
  reward referrer cash 5 USD * increase
}
"""


def test_whenever_pays_each_rise_from_the_previous_test() -> None:
    """The balance 100, 40, 70: a rise of 100, a fall, then a rise of 30
    from 40 (not a high-water mark); `top` is 5.5 USD (`otherwise`) before
    any payment below 1000 USD, but a rise is counted from 0 at the first
    test: 100 / 3; per referrer, each newly converted referral pays once."""
    events = [referral(), *payments(["100", "-60", "30", "2000"])]
    awards = same(RISES, events)
    assert amounts(awards, "rise") == ["10.00", "3.00", "200.00"]
    assert amounts(awards, "high", "referee") == ["33.33"]
    assert amounts(awards, "more") == ["5.00"]


@pytest.mark.parametrize(
    "rules", [DIVISION, FIRST, TABLES, BY_REFERRER, RISES], ids=["division", "first", "tables", "by_referrer", "rises"]
)
@DIFFERENTIAL
@given(data=st.data())
def test_generated_ledgers(rules: str, data: st.DataObject) -> None:
    events = data.draw(ledgers("prezi"), label="ledger")  # payments of -50 to 40000 USD, ties included
    as_of = data.draw(as_ofs(events), label="as_of")
    same(rules, events, as_of)


#: the referrer's earlier referrals read by `eligible when`: a count with
#: `where` (on the earlier referral's field) and `within`, and a number
#: field `in earlier referrals`
EARLIER = """ruleset earlier "Earlier"

event referral { device: optional text, card: optional text, seats: optional number }
event payment { amount: money USD }

metric same_device = count earlier referrals where referral.device == "dev-A" within 2 days
metric all_before = count earlier referrals

eligible when same_device < 2 and all_before <= 6
eligible when referral.seats is not set or referral.seats not in earlier referrals.seats

milestone paid {
  first payment where payment.amount > 0
  reward referrer cash 10 USD
}
"""


def test_earlier_referrals_count_every_referral_event_before() -> None:
    """Self-referrals and duplicates are in the history too; an event at
    the same instant counts when its id sorts first; `within 2 days` keeps
    one exactly 2 days before; seats 1 and 1.0 are one value."""
    rows = [
        ("r1", "2026-01-01T00:00:00Z", "ann", "ann", "dev-A", 1),  # a self-referral: still history
        ("r2", "2026-01-03T00:00:00Z", "ann", "bob", "dev-A", None),  # exactly 2 days after r1
        ("r3", "2026-01-03T00:00:00Z", "ann", "cat", "dev-B", "1.0"),  # after r2 (same instant), seats as r1
        ("r4", "2026-01-03T00:00:01Z", "ann", "dan", "dev-A", 2),  # r1 is 2 days 1 s back: out of the window
    ]
    events: list[dict[str, Any]] = []
    for event_id, at, referrer, referee, device, seats in rows:
        events.append(
            {"id": event_id, "at": at, "type": "referral", "referrer": referrer, "referee": referee, "device": device}
        )
        if seats is not None:
            events[-1]["seats"] = seats
        events.append(
            {"id": f"p-{referee}", "at": "2026-02-01T00:00:00Z", "type": "payment", "referee": referee, "amount": 5}
        )
    prog = rewardrules.compile(EARLIER)
    sql = json.loads(duckdb_json(prog, events, None))
    assert duckdb_json(prog, events, None) == python_json(prog, events, None)
    assert [a["referee"] for a in sql["awards"]] == ["bob", "dan"]
    assert [(r["event"], r["reason"]) for r in sql["rejected"]] == [("r1", "self_referral"), ("r3", "ineligible")]


@pytest.mark.parametrize(
    ("rules", "ledger"),
    [(FOLDING, "affiliate_attribution"), (EARLIER, "referral_fraud")],  # sources in several cases; shared devices
    ids=["folding", "earlier"],
)
@DIFFERENTIAL
@given(data=st.data())
def test_referral_fields_on_generated_ledgers(rules: str, ledger: str, data: st.DataObject) -> None:
    events = data.draw(ledgers(ledger), label="ledger")
    as_of = data.draw(as_ofs(events), label="as_of")
    same(rules, events, as_of)
