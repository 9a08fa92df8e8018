"""A duration over a number in SQL (`(payment.at - referral.at) / 3 <= 1
days`), refused before as "a division of durations": the Python engine
makes it whole nanoseconds toward zero (`runtime.to_ns` of `n_div`), so
the query computes that integer exactly (`sql/expressions.py`,
`whole_ns`: the quotient of the two values' digits), NULL for a divisor
of 0 or none. In triggers, `void` conditions, formulas of metrics read by
conditions, messages and explanations; byte for byte the Python engine's
result on hand-written and drawn ledgers, on DuckDB and ClickHouse."""

from __future__ import annotations

import json
import random
from functools import cache
from typing import Any

import pytest

import rewardrules
from rewardrules.sql.compile import Unsupported, compile_query
from rewardrules.sql.diagnose import refusals
from rewardrules.sql.sections import compile_explained

from .conftest import engine_cases
from .test_sql_rate_table_decimals import clickhouse_alike, explained_alike
from .test_sql_referrer_sums import same

#: a duration over 3, over 2.5 in a `void` condition, over 0.7 beside an
#: instant, over a count (`span`, no value before a payment: 0), over a
#: sum of seats with decimals (`per_seat`, 0 seats: no value) times 2, in
#: a condition, a message and a timer's message
RULES = """\
ruleset halves

event payment { amount: money USD, seats: number }
event refund { amount: money USD }

metric paid = count payment
metric seats = sum payment.seats
metric last = latest payment.at
metric first_paid = first payment.at
metric span = (last - first_paid) / paid
metric third = (last - first_paid) / 3
metric per_seat = (last - first_paid) / seats * 2

milestone quick {
  each payment where (payment.at - referral.at) / 3 <= 1 days
  reward referrer cash 1 USD
  void if refund where (refund.at - referral.at) / 2.5 <= 2 days
}

milestone steady {
  when span >= 1 days and paid >= 2 and per_seat > 1 hours
  reward referrer cash 2 USD
  message "{{ span }} {{ third }} {{ per_seat }}"
}

milestone later {
  first payment where referral.at + (payment.at - referral.at) / 0.7 > referral.at + 12 hours / 3
  reward referrer cash 3 USD
}

milestone wait {
  after 10 days
  reward referrer credit 1 USD
  message "{{ third }}"
}
"""


@cache
def _prog() -> rewardrules.Program:
    return rewardrules.compile(RULES, "halves.rules")


def _event(kind: str, event_id: str, at: str, **fields: str) -> dict[str, Any]:
    return {"id": event_id, "type": kind, "at": f"2026-03-{at}Z", "referee": "bob", **fields}


def _hand_written() -> list[dict[str, Any]]:
    """p2 at 3 days: / 3 is 1 day exactly; p3 one nanosecond later: 1 day
    and a third of a nanosecond, whole: 1 day, still `<= 1 days`; p4 at 3
    days and 3 ns: 1 day and 1 ns, not; f1 at 5 days: / 2.5 is 2 days."""
    referral = {"id": "r1", "type": "referral", "at": "2026-03-01T00:00:00Z", "referrer": "ann", "referee": "bob"}
    return [
        referral,
        _event("payment", "p1", "02T00:00:00", amount="10.00", seats="1.5"),
        _event("payment", "p2", "04T00:00:00", amount="10.00", seats="0.25"),
        _event("payment", "p3", "04T00:00:00.000000001", amount="10.00", seats="0"),
        _event("payment", "p4", "04T00:00:00.000000003", amount="10.00", seats="1"),
        _event("refund", "f1", "06T00:00:00", amount="10.00"),
    ]


def test_it_compiles_and_check_reports_nothing() -> None:
    compile_explained(_prog().compiled)
    assert refusals(_prog().compiled, explain=True) == []


def test_whole_nanoseconds_toward_zero() -> None:
    awards = same(_hand_written(), "2026-04-01T00:00:00Z", _prog())
    quick = [a["why"]["event"] for a in awards if a["milestone"] == "quick"]
    assert quick == ["p1", "p2", "p3"]  # p3: a third of a nanosecond less, p4: 1 ns more
    steady = next(a for a in awards if a["milestone"] == "steady")
    assert steady["why"]["event"] == "p2"
    # span: 2 days / 2; third: 2 days / 3; per_seat: 2 days / 1.75 * 2, to the nanosecond
    assert steady["message"] == "1 days 16 hours 2 days 6 hours 51 minutes 25.714285714 seconds"


def _drawn(seed: int) -> list[dict[str, Any]]:
    """Payments and refunds at instants with nanoseconds, seats with 0 to
    3 decimals (0 and below 0 too), over two referees."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = [
        {"id": f"r{n}", "type": "referral", "at": "2026-03-01T00:00:00Z", "referrer": "ann", "referee": name}
        for n, name in enumerate(("bob", "cat"))
    ]
    for n in range(rng.randint(1, 10)):
        day, ns = rng.randint(1, 20), rng.choice([0, 1, 2, 3, rng.randint(0, 999_999_999)])
        at = f"{day:02d}T{rng.randint(0, 23):02d}:00:00.{ns:09d}"
        referee = rng.choice(("bob", "cat"))
        if rng.random() < 0.2:
            events.append({**_event("refund", f"f{n}", at, amount="1.00"), "referee": referee})
            continue
        seats = rng.choice(["0", "1", "2.5", "0.001", "3", "1.50", "-2", "-0.5"])
        events.append({**_event("payment", f"p{n}", at, amount="1.00", seats=seats), "referee": referee})
    return events


@pytest.mark.parametrize("seed", range(15))
def test_drawn_ledgers_give_the_same_bytes(seed: int) -> None:
    for as_of in ("2026-03-08T00:00:00Z", "2026-05-01T00:00:00Z"):
        same(_drawn(seed), as_of, _prog())


def _ledgers() -> list[list[str]]:
    return [[json.dumps(event) for event in events] for events in (_hand_written(), *(_drawn(s) for s in range(4)))]


def test_the_explained_result_with_its_sections_is_the_engine_s() -> None:
    """The `referrals` section gives each metric, the quotients too."""
    explained_alike(_prog(), _ledgers())


def test_clickhouse_gives_the_same_bytes() -> None:
    clickhouse_alike(_prog(), engine_cases(_ledgers()))  # the hand-written; all in the long run


def test_a_divisor_that_divides_is_refused_in_a_condition() -> None:
    """The engine rounds `paid / 3` to 100 digits before the duration is
    divided by it and made whole: the truncation could fall otherwise."""
    text = RULES.replace("when span >= 1 days and", "when (last - first_paid) / (paid / 3) >= 1 days and")
    prog = rewardrules.compile(text, "halves.rules")
    with pytest.raises(Unsupported) as refused:
        compile_query(prog.compiled)
    assert "arithmetic on a quotient" in refused.value.construct
    assert refused.value.span is not None and refused.value.span.line == 21


def test_a_message_reading_one_over_a_quotient_is_refused_at_the_instant() -> None:
    """A message's formula that divides numbers is computed from the values
    it reads (`sql.quotients`), which carry no instant: refused at it (it
    was a DuckDB binder error when run)."""
    text = RULES.replace("metric third = (last - first_paid) / 3", "metric third = (last - first_paid) / (paid / 3)")
    prog = rewardrules.compile(text, "halves.rules")
    with pytest.raises(Unsupported) as refused:
        compile_query(prog.compiled)
    assert refused.value.construct == "`first_paid` (a time) in a message's number"
    assert refused.value.span is not None and refused.value.span.line == 11  # the metric `third`


def test_a_divisor_is_read_without_the_zeros_of_its_column_s_scale() -> None:
    """A ledger column's DECIMAL has the decimals of its widest value: `2`
    was `2.0000000000000000000000000000` beside a seat of 28 decimals, and
    a day times 10^28 passed HUGEINT (DuckDB: "Overflow in multiplication
    of INT128"; review). A second over 1/7 is 7 seconds."""
    text = (
        "ruleset seats\nevent payment { amount: money USD, seats: number }\n"
        "milestone quick {\n  each payment where (payment.at - referral.at) / payment.seats <= 1 days\n"
        "  reward referrer cash 1 USD\n}\n"
    )
    prog = rewardrules.compile(text, "seats.rules")
    events = [
        *_hand_written()[:1],
        _event("payment", "p1", "02T12:00:00", amount="1.00", seats="2"),
        _event("payment", "p2", "01T00:00:01", amount="1.00", seats="0.1428571428571428571428571429"),
    ]
    awards = same(events, None, prog)
    assert [a["why"]["event"] for a in awards] == ["p2", "p1"]  # p1: 36 hours / 2 is 18 hours


def test_a_chain_of_duration_quotients_stays_small() -> None:
    """Each quotient reads the duration once: seven in a chain were 18 MB
    of SQL (each read it four times; review), now a few kilobytes each."""
    chain = "".join(f"metric a{i} = a{i - 1} / 3\n" for i in range(1, 8))
    text = RULES.replace(
        "metric third = (last - first_paid) / 3", f"metric a0 = last - first_paid\n{chain}metric third = a7"
    )
    prog = rewardrules.compile(text, "halves.rules")
    assert len(compile_query(prog.compiled).text()) < 200_000
    same(_hand_written(), "2026-04-01T00:00:00Z", prog)
