"""Messages reading a number (not money) that divides, `rate of` or a
graduated table in SQL (docs/sql.md, "Messages"), refused before: the
query sends the values the formula reads and the message is computed from
them as the Python engine computes it (100 significant digits, the
Decimal's own exponent). Byte for byte the Python engine's `--no-explain`
result, on hand-written ties and generated ledgers."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.cli.sql import duckdb_result
from rewardrules.score.api import parse_as_of
from rewardrules.sql.compile import compile_query
from rewardrules.sql.diagnose import refusals

from .test_properties import DIFFERENTIAL
from .test_sql_backend import duckdb_json, python_json
from .test_sql_constructs3_timers import same_on_generated, written_for_postgres
from .test_sql_dialects_more import expanded

#: numbers that divide (a metric over a count, over a constant, a number
#: over a number, a formula over formulas), a rate table read with `rate
#: of`, a graduated table, a table whose rows hold one value with different
#: decimals (`12.5%`, `12.50%`: refused before too), `latest` and `max` whose ties decide the
#: decimals
QUOTIENTS = """\
ruleset quotients

event referral { country: optional text }
event purchase { amount: number }

metric total = sum purchase.amount
metric buys = count purchase
metric last = latest purchase.amount
metric top = max purchase.amount
metric per_buy = total / buys
metric third = last / 3
metric ratio = top / last
metric rate = tiers of total { 0 to 100: 5%  100.01 to 1000: 12.5%  1000.01 or more: 1% }
metric rated = rate of last
metric graded = graduated tiers of total { 0 to 100: 10%  100.01 or more: 3.3% }
metric mix = (per_buy + 1.50) * 2 / buys - third
metric same = tiers of total { 0 to 250: 12.5%  250.01 to 500: 12.50%  500.01 or more: 2.50% }

milestone bought {
  each purchase
  reward referrer cash 1 USD
  message "{{ per_buy }}|{{ third }}|{{ ratio }}|{{ rated }}|{{ graded }}|{{ mix }}"
}

milestone big {
  when total > 200
  reward referee credit 2 USD
  message "{{ per_buy }} {{ graded }} {{ same }}"
}
"""


@cache
def _prog() -> rewardrules.Program:
    return rewardrules.compile(QUOTIENTS, "quotients.rules")


def referral(event_id: str, referee: str) -> dict[str, Any]:
    return {"id": event_id, "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": referee}


def buy(event_id: str, at: str, referee: str, amount: Any) -> dict[str, Any]:
    return {"id": event_id, "at": f"2026-01-{at}Z", "type": "purchase", "referee": referee, "amount": amount}


def messages(events: list[dict[str, Any]], as_of: str | None = None) -> list[str]:
    """The awards' messages, the SQL result checked equal to the Python engine's."""
    sql = duckdb_json(_prog(), events, as_of)
    assert sql == python_json(_prog(), events, as_of)
    return [a["message"] for a in json.loads(sql)["awards"]]


def test_it_compiles_and_check_reports_nothing() -> None:
    compile_query(_prog().compiled)
    assert refusals(_prog().compiled) == []


def test_quotients_carry_the_engines_digits() -> None:
    """1.50 / 1 is 1.50 (the Decimal's exponent), 10 / 3 runs to 100
    significant digits, 3.00 / 1.5 is 2 (whole: no decimals)."""
    found = messages([referral("r1", "bob"), buy("p1", "02T00:00:00", "bob", "1.50")])
    assert found == ["1.50|0.50|1|0.075|0.15|5.50"]
    found = messages([referral("r1", "bob"), buy("p1", "02T00:00:00", "bob", "10")])
    assert found[0].split("|")[1] == "3." + "3" * 99


def test_ties_at_one_instant_are_read_in_id_order() -> None:
    """Two purchases at one instant are read in id order (`p10` before
    `p2`): `latest` is then p2's 1.5 (`third` 0.5), `max` p10's 3 (`ratio`
    2); a later 3.00 leaves `max` at p10's 3, whose quotient by 3.00 is 1;
    `per_buy` keeps the sum's decimals (7.50 / 3 = 2.50); a `latest` of 0
    leaves `ratio` without a value, written as empty text, as the engine writes it."""
    events = [
        referral("r1", "bob"),
        buy("p2", "02T00:00:00", "bob", "1.5"),
        buy("p10", "02T00:00:00", "bob", "3"),
        buy("p3", "03T00:00:00", "bob", "3.00"),
        buy("p4", "03T00:00:00", "bob", "0"),
    ]
    found = [m.split("|")[:3] for m in messages(events)]
    assert found == [["3", "1", "1"], ["2.25", "0.5", "2"], ["2.50", "1", "1"], ["1.875", "0", ""]]


def test_a_table_row_keeps_its_decimals() -> None:
    """`12.5%` and `12.50%` are one value in two rows: the message writes
    the row's (`12.5` up to 250, `12.50` above), as the engine does."""
    for amount, written in [("205", "12.5"), ("300", "12.50"), ("600", "2.50")]:
        events = [referral("r1", "bob"), buy("p1", "02T00:00:00", "bob", amount)]
        assert messages(events)[1].split(" ")[2] == written


def test_a_message_beside_a_threshold_and_large_values() -> None:
    events = [
        referral("r1", "bob"),
        referral("r2", "cat"),
        buy("p1", "02T00:00:00", "bob", "123456789.123456789"),
        buy("p2", "02T00:00:00", "cat", "0.000001"),
        buy("p3", "04T00:00:00", "cat", "250.5"),
    ]
    assert len(messages(events, "2026-02-01T00:00:00Z")) == 5


def test_the_query_is_written_for_postgres_and_its_columns_give_the_same_bytes() -> None:
    prog = _prog()
    q = compile_query(prog.compiled)
    written_for_postgres(q)
    events = [referral("r1", "bob"), buy("p1", "02T00:00:00", "bob", "7.25"), buy("p2", "03T00:00:00", "bob", "2")]
    data = duckdb_result(prog, expanded(q), events, parse_as_of(None), "<ledger>")
    assert json.dumps(data, ensure_ascii=False, indent=2) + "\n" == python_json(prog, events, None)


@settings(DIFFERENTIAL, max_examples=min(DIFFERENTIAL.max_examples, 25))
@given(data=st.data())
def test_generated_ledgers_give_the_same_bytes(data: st.DataObject) -> None:
    same_on_generated(_prog(), "microsoft_referral", data)
