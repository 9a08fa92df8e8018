"""Per-referrer metrics and milestones in a file of several programs
(docs/sql.md, "How the compilation works"), refused before: each program
keeps its own referrers' values, a referral counting in the programs that
took it, as the Python engine keeps a referrer state per program. Byte for
byte the Python engine's `--no-explain` result, on hand-written ties and
generated ledgers."""

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

#: one count and one sum over referrals, read by milestones of three
#: programs (`when`, `each`, `whenever`, a held condition, `every`, a
#: per-referrer `after`)
PROGRAMS = """\
ruleset two_programs

event referral { source: optional text }
event payment { amount: money USD }

metric spent = sum payment.amount
metric paying = count referrals where spent > 0 USD
metric total = sum referrals.spent

program partners {
  eligible when referral.source in ["partner", "affiliate"] ignoring case
  milestone two { when paying >= 2  reward referrer cash 5 USD  message "{{ paying }} {{ total }}" }
  milestone each_pay { each payment where payment.amount > 0 USD  reward referrer cash 1 USD * paying }
}

program friends {
  eligible when referral.source == "friend" ignoring case
  milestone grown { whenever total increases  reward referrer cash 1 USD }
  milestone held { when paying >= 1 for 5 days  reward referrer cash 4 USD }
  milestone many { every 2 paying  reward referrer cash 1 USD }
}

program anyone {
  milestone later { after 10 days if paying >= 1  reward referee credit 2 USD }
  milestone more { when paying >= 2  reward referrer cash 7 USD }
}
"""


@cache
def _prog() -> rewardrules.Program:
    return rewardrules.compile(PROGRAMS, "two_programs.rules")


def referral(eid: str, day: str, referee: str, source: str, referrer: str = "ann") -> dict[str, Any]:
    return {**event(eid, day, "referral", referee), "referrer": referrer, "source": source}


def pay(eid: str, day: str, referee: str, amount: str) -> dict[str, Any]:
    return event(eid, day, "payment", referee, amount=amount)


def test_it_compiles_and_check_reports_nothing() -> None:
    compile_query(_prog().compiled)
    assert refusals(_prog().compiled) == []
    written_for_postgres(compile_query(_prog().compiled))


def test_each_program_counts_its_own_referrals() -> None:
    """ann's partners a and c, her friend b: `partners` reaches two paying
    on 01-04 (a, c), `anyone` on 01-03 (a and b pay at one instant, by id);
    `friends` never (b alone); `later` pays once, a's timer first."""
    events = [
        referral("r1", "01-01", "a", "partner"),
        referral("r2", "01-01", "b", "friend"),
        referral("r3", "01-02", "c", "PARTNER"),
        pay("p1", "01-03", "a", "10.00"),
        pay("p2", "01-03", "b", "5.00"),
        pay("p3", "01-04", "c", "7.00"),
        pay("p4", "01-05", "b", "1.00"),
    ]
    sql = duckdb_json(_prog(), events, "2026-03-01T00:00:00Z")
    assert sql == python_json(_prog(), events, "2026-03-01T00:00:00Z")
    found = [(a["at"][5:10], a["milestone"], a["referee"], a["amount"]) for a in json.loads(sql)["awards"]]
    assert ("01-04", "two", "c", "5.00") in found and ("01-04", "each_pay", "c", "2.00") in found
    assert ("01-03", "more", "b", "7.00") in found
    assert [f for f in found if f[1] in ("many", "later")] == [("01-11", "later", "a", "2.00")]


@cache
def _moving() -> rewardrules.Program:
    """The same file with an attribution that moves in `anyone`: refused
    before (a referral that lost its referee there keeps its contribution
    as it was, while its metrics go on in a program it still holds;
    tests/test_sql_several_moving.py)."""
    text = PROGRAMS.replace(
        "program anyone {\n",
        "program anyone {\n  attribution last referral lapses after 30 days unless first payment\n",
    )
    return rewardrules.compile(text, "moving.rules")


def test_an_attribution_that_moves_beside_them_compiles() -> None:
    compile_query(_moving().compiled)
    assert refusals(_moving().compiled) == []


@settings(DIFFERENTIAL, max_examples=min(DIFFERENTIAL.max_examples, 25))
@given(data=st.data())
def test_an_attribution_that_moves_beside_them_on_generated_ledgers(data: st.DataObject) -> None:
    same_on_generated(_moving(), "affiliate_attribution", data)


@settings(DIFFERENTIAL, max_examples=min(DIFFERENTIAL.max_examples, 25))
@given(data=st.data())
def test_generated_ledgers_give_the_same_bytes(data: st.DataObject) -> None:
    same_on_generated(_prog(), "affiliate_attribution", data)
