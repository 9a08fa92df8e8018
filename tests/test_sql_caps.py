"""Caps in the SQL back end (docs/sql.md, "Caps"): per calendar period, in
UTC and in a time zone, on a number of rewards, and allowances shared by
programs; the Python engine's result byte for byte."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rewardrules
from rewardrules.core.timeutil import period_key
from rewardrules.sql.caps import dated
from rewardrules.sql.caps import period as period_sql
from rewardrules.sql.run import connect, seal

from .test_properties import DIFFERENTIAL, as_ofs, ledgers
from .test_sql_exprs import same

#: the cookbook's tiered commission: a rate by the referrer's conversions,
#: a cap per quarter
TIERED = """ruleset tiered "Tiered"

event payment { amount: money USD }

metric paying = count payment where payment.amount > 0
metric converted = count referrals where paying > 0
metric rate = tiers of converted { 1 to 4: 10%  5 to 9: 15%  10 or more: 20% }

milestone commission {
  each payment where payment.amount > 0
  reward referrer cash rate of payment.amount
  cap referrer 500 USD per quarter
}
"""

#: the cookbook's commission by referred revenue: `sum referrals.M`, a
#: rate table of it, a cap per month
BY_REVENUE = """ruleset by_revenue "By revenue"

event payment { amount: money USD }

metric revenue = sum payment.amount
metric referred_revenue = sum referrals.revenue
metric rate = tiers of referred_revenue {
  0 USD to 999.99 USD: 10%
  1000 USD or more: 15%
}

milestone commission {
  each payment
  reward referrer cash rate of payment.amount
  cap referrer 200 USD per month
}

milestone gold_partner {
  when referred_revenue >= 5000 USD
  reward referrer gift_card 200 USD
}
"""

#: caps on a number of rewards per month and per ISO week, an amount cap
#: per day in a time zone with daylight-saving changes
COUNTED = """ruleset counted "Counted" timezone "America/New_York"

event payment { amount: money USD }

cap referrer 2 rewards per month

milestone each_payment {
  each payment where payment.amount > 0
  reward referrer cash 10 USD
}

milestone big_payment {
  each payment where payment.amount >= 100 USD
  reward referee credit 3 points
  cap referee 1 rewards per week
}

milestone daily {
  each payment
  reward referee cash 20% of payment.amount
  cap referee 50.5 USD per day
}
"""

#: one allowance for two programs (each reward counted by it alone)
SHARED = """ruleset shared "Shared"

event referral { source: optional text }
event payment { amount: money USD }

allowance monthly "Three rewards a month, both programs together" referrer 3 rewards per month

program customers {
  eligible when referral.source == "customer" or referral.source is not set
  draw from monthly
  milestone customer_paid {
    first payment where payment.amount > 0
    reward referrer cash 50 USD
  }
}

program partners {
  eligible when referral.source == "partner" or referral.source is not set
  draw from monthly
  milestone commission {
    each payment where payment.amount > 0
    reward referrer cash 20% of payment.amount
  }
}
"""


def event(kind: str, n: int, at: str, referee: str = "bob", **fields: Any) -> dict[str, Any]:
    return {"id": f"{kind[0]}{n:03}", "at": at, "type": kind, "referee": referee, **fields}


def test_a_cap_per_quarter_starts_again_each_quarter() -> None:
    """500 USD per quarter: 10% of 3000 (300), then 10% of 3000 cut to 200,
    a third withheld; the next quarter starts from nothing."""
    events = [{"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"}]
    for n, day in enumerate(["2026-02-01T00:00:00", "2026-03-01T00:00:00", "2026-03-31T23:59:59.999999999"]):
        events.append(event("payment", n, f"{day}Z", amount="3000"))
    events.append(event("payment", 3, "2026-04-01T00:00:00Z", amount="3000"))
    awards = same(TIERED, events)
    assert [a["amount"] for a in awards] == ["300.00", "200.00", "300.00"]


def test_counted_caps_and_a_daily_cap_in_a_time_zone() -> None:
    """Two rewards a month for the referrer, one a week for the referee;
    50.5 USD a day, days starting at midnight in New York (05:00 UTC in
    winter, 04:00 after the change of 2026-03-08)."""
    events = [{"id": "r1", "at": "2026-03-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"}]
    instants = [
        "2026-03-07T04:59:59Z",  # still 2026-03-06 in New York
        "2026-03-07T05:00:00Z",  # 2026-03-07 there
        "2026-03-07T23:00:00Z",
        "2026-03-09T03:59:59Z",  # 2026-03-08 (EDT from 07:00 UTC that day)
        "2026-03-09T04:00:00Z",  # 2026-03-09
        "2026-04-01T03:59:59Z",  # still March there
        "2026-04-01T04:00:00Z",  # April
    ]
    for n, at in enumerate(instants):
        events.append(event("payment", n, at, amount="150.00"))
    awards = same(COUNTED, events)
    assert [a["at"] for a in awards if a["milestone"] == "each_payment"] == [instants[0], instants[1], instants[6]]
    daily = [a["amount"] for a in awards if a["milestone"] == "daily"]
    assert daily == ["30.00", "30.00", "20.50", "30.00", "30.00", "30.00", "30.00"]
    weekly = [a["at"] for a in awards if a["milestone"] == "big_payment"]
    # ISO weeks from Monday 2026-03-02, Monday 03-09 (from midnight in New
    # York: 04:00 UTC) and Monday 03-30
    assert weekly == [instants[0], instants[4], instants[5]]


def test_an_allowance_is_shared_by_the_programs_that_draw_from_it() -> None:
    """Three rewards a month for Ann, whichever program gives them."""
    events = [{"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"}]
    for n in range(4):
        events.append(event("payment", n, f"2026-01-0{n + 2}T00:00:00Z", amount="10"))
    events.append(event("payment", 9, "2026-02-01T00:00:00Z", amount="10"))
    awards = same(SHARED, events)
    assert [(a["milestone"], a["at"][:10]) for a in awards] == [
        ("customer_paid", "2026-01-02"),
        ("commission", "2026-01-02"),
        ("commission", "2026-01-03"),
        ("commission", "2026-02-01"),
    ]


def test_a_rate_by_the_revenue_of_all_referred_customers() -> None:
    """Bob's 600 USD then Cat's 600 USD: the referred revenue is 1200 USD
    after Cat's payment, so it pays 15% (90.00); a refund of Bob's
    (-300 USD) takes the revenue back under 1000 USD: 10% of -300 is
    withheld; the cap is 200 USD per month: 60 + 90, then 50 of the next 90."""
    events = [
        {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"},
        {"id": "r2", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "cat"},
        event("payment", 1, "2026-01-02T00:00:00Z", amount="600"),
        event("payment", 2, "2026-01-03T00:00:00Z", referee="cat", amount="600"),
        event("payment", 3, "2026-01-04T00:00:00Z", amount="-300"),
        event("payment", 4, "2026-01-05T00:00:00Z", referee="cat", amount="900"),
    ]
    awards = same(BY_REVENUE, events)
    assert [a["amount"] for a in awards] == ["60.00", "90.00", "50.00"]


@pytest.mark.parametrize("zone", [None, "America/New_York", "Europe/Paris", "Australia/Lord_Howe", "Asia/Kathmandu"])
@pytest.mark.parametrize("period", ["day", "week", "month", "quarter", "year"])
def test_period_keys_name_the_python_engine_s_periods(zone: str | None, period: str) -> None:
    """Two instants are in one SQL period exactly when `period_key` puts
    them in one: around every local midnight of 2025-2027 (DST changes
    included, a half-hour one at Lord Howe) and before 1970."""
    instants = [-1, 0, -86_400 * 10**9 * 400]
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for hours in range(0, 3 * 366 * 24, 7):
        base = int((start + timedelta(hours=hours)).timestamp()) * 10**9
        instants.extend([base, base - 1])
    cap = replace(rewardrules.compile(COUNTED).compiled.checked.programs[0].caps[0], period=period)
    rows_sql = dated('SELECT * FROM UNNEST(?) AS t("at")', zone)
    db = connect("/nonexistent")
    seal(db)
    rows = db.execute(f'SELECT "at", {period_sql(cap)} FROM ({rows_sql}) AS d', [instants]).fetchall()
    db.close()
    pairs = {(at, key) for at, key in rows}
    by_sql: dict[str, set[str]] = {}
    for at, key in pairs:
        by_sql.setdefault(key, set()).add(period_key(at, period, zone))
    assert all(len(keys) == 1 for keys in by_sql.values())
    assert len(by_sql) == len({period_key(at, period, zone) for at in instants})


@pytest.mark.parametrize(
    "rules", [TIERED, COUNTED, SHARED, BY_REVENUE], ids=["tiered", "counted", "shared", "by_revenue"]
)
@DIFFERENTIAL
@given(data=st.data())
def test_generated_ledgers(rules: str, data: st.DataObject) -> None:
    events = data.draw(ledgers("prezi"), label="ledger")  # two years, ties and period boundaries
    as_of = data.draw(as_ofs(events), label="as_of")
    same(rules, events, as_of)
