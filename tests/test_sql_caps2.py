"""A reward counted by several caps in the SQL back end (docs/sql.md,
"Caps"): each award takes the least of what every cap it draws from has
left, in issue order, per beneficiary (the fold); the Python engine's
result byte for byte."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rewardrules

from .test_docs_examples import blocks
from .test_properties import DIFFERENTIAL, as_ofs, ledgers
from .test_sql_backend import ROOT, duckdb_json, python_json
from .test_sql_exprs import amounts, payments, referral, same

#: a program's cap per month on an amount and a milestone's for life, a
#: milestone's cap on a number of rewards beside the program's
LAYERED = """ruleset layered "Layered caps"

event payment { amount: money USD }

cap referrer 300 USD per month

milestone commission {
  each payment where payment.amount > 0
  reward referrer cash 25% of payment.amount
  reward referee credit 1 points
  cap referrer 700 USD
}

milestone big {
  each payment where payment.amount >= 500 USD
  reward referrer cash 40 USD
  cap referrer 3 rewards per quarter
}
"""

#: an allowance on a number of rewards shared by two programs, one of
#: which has its own cap on an amount per week, in a time zone
SHARED = """ruleset shared "Shared" timezone "America/New_York"

event referral { source: optional text }
event payment { amount: money USD }

allowance monthly "Four rewards a month" referrer 4 rewards per month

program customers "Customers" {
  eligible when referral.source is not set or referral.source == "customer"
  draw from monthly

  milestone customer_paid {
    first payment where payment.amount > 0
    reward referrer cash 50 USD
  }
}

program partners "Partners" {
  eligible when referral.source == "partner"
  draw from monthly
  cap referrer 150 USD per week

  milestone commission {
    each payment where payment.amount > 0
    reward referrer cash 20% of payment.amount
  }
}
"""


def test_the_least_of_what_each_cap_has_left() -> None:
    """Each month 1,600 USD: commission asks 400; the month's cap (300,
    counting `big` too) cuts it to 300, which the life cap (700) counts;
    the third month the life cap has 100 left: 100; the fourth, nothing.
    `big` draws from the month's cap after the commission: nothing left in
    the first two months, 200 left in the third, 300 in the fourth."""
    events = [referral(), *payments(["1600", "1600", "1600", "1600"])]
    for event, month in zip(events[1:], ["01", "02", "03", "04"], strict=True):
        event["at"] = f"2026-{month}-10T00:00:00Z"
    awards = same(LAYERED, events)
    assert amounts(awards, "commission") == ["300.00", "300.00", "100.00"]
    assert [a["at"][:7] for a in awards if a["milestone"] == "big"] == ["2026-03", "2026-04"]


def test_a_cut_by_one_cap_is_what_the_next_one_counts() -> None:
    """January: 200 (both caps), `big` 40, then 200 cut to 60 by the
    month's cap: the life cap counts 60, not 200; February 300; March the
    life cap has 140 left (700 - 200 - 60 - 300): 140. Counting what was
    asked, as one cap's closed form does, would leave none."""
    events = [referral(), *payments(["800", "800", "1200", "1200", "1200"])]
    for event, at in zip(events[1:], ["01-10", "01-20", "02-10", "03-10", "04-10"], strict=True):
        event["at"] = f"2026-{at}T00:00:00Z"
    awards = same(LAYERED, events)
    assert amounts(awards, "commission") == ["200.00", "60.00", "300.00", "140.00"]
    assert amounts(awards, "big") == ["40.00", "40.00", "40.00"]


def test_cookbook_allowance_gives_the_python_engine_s_bytes() -> None:
    """The cookbook's allowance beside a program's cap, on its ledger."""
    found = {b.file: b.text for b in blocks(ROOT / "docs" / "cookbook.md") if b.file}
    prog = rewardrules.compile(found["patterns/allowance.rules"], "allowance.rules")
    lines = found["patterns/allowance.jsonl"].splitlines()
    sql = duckdb_json(prog, lines, None)
    assert sql == python_json(prog, lines, None)
    assert '"amount": "300.00"' in sql  # the commission cut by the program's cap


#: a daily cap on a number of rewards and an allowance, in a zone whose
#: clocks went back at 00:01 (Goose Bay, until 2011): an award's local
#: date went back to the day before, whose use the Python engine resumes
GOOSE_BAY = """ruleset goose "Goose Bay" timezone "America/Goose_Bay"

event payment { amount: money USD }

allowance yearly "Ten a year" referrer 10 rewards per year

draw from yearly
cap referrer 1 rewards per day

milestone each_payment {
  each payment
  reward referrer cash 5 USD
}
"""


def test_a_local_date_that_goes_back_resumes_that_day_s_use() -> None:
    """On 2010-11-07 Goose Bay's clocks went from 00:01 ADT back to 23:01
    AST: 03:00:30Z is 00:00:30 on the 7th, 03:30Z is 23:30 on the 6th
    again. The Python engine keys use by day, so the second award of the
    6th is withheld; the fold keeps the day before's use beside the
    current day's, and agrees."""
    events: list[dict[str, Any]] = [referral(at="2010-11-06T00:00:00Z")]
    for n, at in enumerate(["02:30:00", "03:00:30", "03:30:00", "05:00:00"]):
        events.append(
            {"id": f"p{n}", "at": f"2010-11-07T{at}Z", "type": "payment", "referee": "bob", "amount": "10.00"}
        )
    awards = same(GOOSE_BAY, events)
    assert [a["at"] for a in awards] == ["2010-11-07T02:30:00Z", "2010-11-07T03:00:30Z"]


@pytest.mark.parametrize("rules", [LAYERED, SHARED], ids=["layered", "shared"])
@DIFFERENTIAL
@given(data=st.data())
def test_generated_ledgers(rules: str, data: st.DataObject) -> None:
    events = data.draw(ledgers("prezi"), label="ledger")  # two years, ties and period boundaries
    as_of = data.draw(as_ofs(events), label="as_of")
    same(rules, events, as_of)


def test_generated_ledgers_with_sources() -> None:
    """The cookbook's allowance program on ledgers whose referrals carry a
    source, so that both programs draw from the allowance."""
    found = {b.file: b.text for b in blocks(ROOT / "docs" / "cookbook.md") if b.file}
    rules = found["patterns/allowance.rules"]

    @DIFFERENTIAL
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        events = data.draw(ledgers("prezi"), label="ledger")
        for event in events:
            if event["type"] == "referral":
                event["source"] = data.draw(st.sampled_from(["partner", "customer"]), label="source")
        same(rules, events, data.draw(as_ofs(events), label="as_of"))

    check()
