"""Review of the order rewards are issued in when several referrals of a
referee count at one event (tests/test_allowance_draw_order.py): the limit
of awards per event, checked as SQL's `volume` checks it (sql/every.py),
once every referral's step has run: the first `every` milestone in the
file whose multiples alone pass the limit, else the hits of all the
referrals together. The engine checked after each referral in the chain's
order: it counted only the hits so far (2 where SQL says 3), and named the
`every` milestone of the first referral in the chain, not the first in the
file."""

from __future__ import annotations

import dataclasses
import json
import pickle
from typing import Any

import pytest

import rewardrules
from rewardrules.cli.sql import duckdb_result
from rewardrules.core.limits import AwardLimitError
from rewardrules.sql.compile import compile_query

from .test_allowance_draw_order import both_engines
from .test_sql_sections_lifted import pay, ref

HEAD = """ruleset order "Order"

event referral { source: optional text }
event payment { amount: money USD }
"""

#: program NAME, crediting the referrals of source NAME; BODY: its milestones
PROGRAM = """
program NAME "NAME" {
  attribution last referral before first payment where payment.amount > 0
  eligible when referral.source == "NAME"
  metric paid = sum payment.amount
BODY
}
"""

#: two milestones reached at each payment
TWO = """  milestone NAME1 { each payment  reward referee cash 1 USD }
  milestone NAME2 { each payment  reward referee cash 1 USD }"""

#: one milestone per dollar paid: 3 multiples at once for a payment of 3.00
EVERY = "  milestone mNAME { every 1 paid  reward referee cash 1 USD }"


def program(name: str, body: str) -> str:
    return PROGRAM.replace("BODY", body).replace("NAME", name)


#: `bo` refers `q` for `b` (later in the file), `di` for `a`; `q` pays 3.00:
#: the chain's first referral is `bo`'s, in the file's second program
EVENTS = [
    ref("r1", "2026-01-01T00:00:00Z", "bo", "q", source="b"),
    ref("r2", "2026-01-02T00:00:00Z", "di", "q", source="a"),
    pay("p1", "2026-01-03T00:00:00Z", "q", "3.00"),
]


def stopped(text: str, events: list[dict[str, Any]], most: int) -> tuple[str, str]:
    """The `AwardLimitError` message of each engine, Python's then DuckDB's
    (the milestone they name, `milestone`, the same too)."""
    prog = rewardrules.compile(text)
    query = dataclasses.replace(compile_query(prog.compiled), most=most)
    with pytest.raises(AwardLimitError) as python:
        prog.score(events, explain=False, max_awards_per_event=most)
    with pytest.raises(AwardLimitError) as duckdb:
        duckdb_result(prog, query, events, None, "<ledger>")
    assert python.value.milestone == duckdb.value.milestone
    return python.value.message, duckdb.value.message


def test_the_limit_counts_every_referrals_hits_though_the_first_alone_passes_it() -> None:
    """`bo`'s referral reaches `b1` and `b2`, `di`'s `a1`: 3 hits, more
    than 1. The engine stopped at `bo`'s 2 and said 2."""
    text = HEAD + program("a", EVERY.replace("every 1 paid", "each payment")) + program("b", TWO)
    python, duckdb = stopped(text, EVENTS, 1)
    assert python == duckdb
    assert python.startswith("event `p1` would give 3 awards, more than the limit of 1")


def test_the_every_milestone_named_is_the_first_in_the_file_not_the_chains() -> None:
    """Both referrals reach 3 multiples of their `every` milestone, over a
    limit of 2: `ma` is named (the engine named `bo`'s `mb`)."""
    python, duckdb = stopped(HEAD + program("a", EVERY) + program("b", EVERY), EVENTS, 2)
    assert python == duckdb
    assert python.startswith("event `p1` would give 3 awards of milestone `ma`, more than the limit of 2")


def test_an_every_milestone_past_the_limit_is_named_before_the_total() -> None:
    """`bo`'s two hits pass a limit of 1 before `di`'s `ma` is looked at;
    `ma`'s 3 multiples alone pass it too: `ma` is named, as SQL does (the
    engine said the event would give 2 awards)."""
    python, duckdb = stopped(HEAD + program("a", EVERY) + program("b", TWO), EVENTS, 1)
    assert python == duckdb
    assert python.startswith("event `p1` would give 3 awards of milestone `ma`, more than the limit of 1")


def test_under_the_limit_both_engines_pay_the_same() -> None:
    """The same file and events under a limit of 5: nothing stops, and
    the awards are those of SQL, in its order."""
    prog = rewardrules.compile(HEAD + program("a", EVERY) + program("b", TWO))
    query = dataclasses.replace(compile_query(prog.compiled), most=5)
    python = prog.score(EVENTS, explain=False, max_awards_per_event=5).to_json()
    awards = json.loads(python)["awards"]
    assert json.loads(python) == duckdb_result(prog, query, EVENTS, None, "<ledger>")
    assert [(a["milestone"], a["beneficiary"]) for a in awards] == [("ma", "q")] * 3 + [("b1", "q"), ("b2", "q")]


def test_the_milestone_of_the_error_survives_pickling() -> None:
    """`simulate --jobs` raises the error in a worker: the milestone it
    names comes back with it."""
    error = AwardLimitError("m", "h", "p1", 2, "ma")
    again = pickle.loads(pickle.dumps(error))
    assert (again.message, again.event, again.limit, again.milestone) == ("m", "p1", 2, "ma")


def test_the_multiples_of_an_every_milestone_reached_at_one_event_keep_their_order() -> None:
    """A referee of two referrals (`di`'s took `q` from `bo`'s), whose
    payment reaches two multiples of an `every` milestone of two rewards:
    by multiple, then reward, as SQL orders them (`nth`, then
    `reward_index`), not by reward then multiple (main's engine sorted an
    event of several referrals by milestone and reward: other bytes)."""
    text = HEAD + program("a", EVERY.replace("cash 1 USD", "cash 1 USD  reward referrer cash 2 USD"))
    events = [
        ref("r1", "2026-01-01T00:00:00Z", "bo", "q", source="a"),
        ref("r2", "2026-01-02T00:00:00Z", "di", "q", source="a"),
        pay("p1", "2026-01-03T00:00:00Z", "q", "2.00"),
    ]
    python, duckdb = both_engines(text, events)
    assert python == duckdb
    assert [(a["role"], a["amount"]) for a in json.loads(python)["awards"]] == [
        ("referee", "1.00"),
        ("referrer", "2.00"),
        ("referee", "1.00"),
        ("referrer", "2.00"),
    ]
