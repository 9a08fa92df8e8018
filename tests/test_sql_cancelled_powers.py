"""Exact quotients and `every` thresholds of values of many decimals.

A value `N / 10^sn` divided by `D / 10^sd` in units of 10^-places was the
integer quotient of `N * 10^(places + sd)` by `D * 10^sn`: a numerator of
38 digits and 36 decimals passed HUGEINT where the quotient itself is
small (DuckDB: "Overflow in multiplication of INT128"); the powers of ten
both share are cancelled now (`sql.expressions._integers`). An `every`
step's `cur * 10^places` as a DECIMAL(38) overflowed for a value of 19
decimals by a step of 19 ("Overflow in multiplication of DECIMAL(38)");
its whole part and its fraction are scaled apart now (`sql.every`). The
Python engine scored both; each case here was that error before.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import rewardrules

from .conftest import engine_cases
from .test_sql_backend import duckdb_json, python_json
from .test_sql_rate_table_decimals import clickhouse_alike, explained_alike
from .test_sql_spark import spark_json

STEP = """\
ruleset steps
event usage { seats: number }
metric total = sum usage.seats
milestone t { every 1.0000000000000000001 total reward referrer cash 1 USD }
"""

#: seats squared: 36 decimals, 38 digits (26.249...): a third of it in
#: cents, and a seventh of it in a message (100 significant digits)
AMOUNT = """\
ruleset squares
event usage { seats: number }
metric seats = latest usage.seats
metric square = seats * seats
metric seventh = square / 7
milestone t {
  each usage
  reward referrer cash (usage.seats * usage.seats / 3) * 1 USD
  message "{{ seventh }}"
}
"""


#: a tenth of an amount of 22 digits: its cents, 10^20 and more, were a
#: quotient of DECIMAL(38, 0) on Spark (a Decimal(38, 18)), an overflow
#: there, when every amount was rounded from its digits (by review)
LARGE = """\
ruleset large
event payment { amount: money USD }
milestone t { each payment reward referrer cash 10% of payment.amount }
"""
PAID = [
    [
        '{"id":"r1","type":"referral","at":"2026-01-01T00:00:00Z","referrer":"ann","referee":"bob"}',
        '{"id":"p1","type":"payment","at":"2026-01-02T00:00:00Z","referee":"bob","amount":"12345678901234567890.12"}',
    ]
]


def _using(*seats: str) -> list[str]:
    lines = ['{"id":"r1","type":"referral","at":"2026-01-01T00:00:00Z","referrer":"ann","referee":"bob"}']
    for n, value in enumerate(seats, 1):
        lines.append(
            f'{{"id":"u{n}","type":"usage","at":"2026-01-0{n + 1}T00:00:00Z","referee":"bob","seats":"{value}"}}'
        )
    return lines


#: 2.0000000000000000002 is two steps and a bit; with 1.0000000000000000001
#: more, exactly three (the threshold written with all its decimals)
STEPPED = [_using("2.0000000000000000002"), _using("2.0000000000000000002", "1.0000000000000000001")]
SQUARED = [_using("5.123456789012345678"), _using("9.87654321098765432", "0.000000000000000001")]


def _duckdb_alike(prog: rewardrules.Program, ledgers: list[list[str]]) -> list[dict[str, Any]]:
    awards = []
    for lines in ledgers:
        events = [json.loads(line) for line in lines]
        expected = python_json(prog, events, None)
        assert duckdb_json(prog, events, None) == expected
        awards.extend(json.loads(expected)["awards"])
    explained_alike(prog, ledgers)
    return awards


def test_an_every_step_of_19_decimals_on_duckdb() -> None:
    awards = _duckdb_alike(rewardrules.compile(STEP, "steps.rules"), STEPPED)
    assert [a["at"][8:10] for a in awards] == ["02", "02", "02", "02", "03"]  # two steps, then a third
    assert len({a["id"] for a in awards}) == 3  # the same two ids in both ledgers, a third (its own threshold)


def test_an_amount_from_a_value_of_38_digits_on_duckdb() -> None:
    awards = _duckdb_alike(rewardrules.compile(AMOUNT, "squares.rules"), SQUARED)
    assert [a["amount"] for a in awards] == ["8.75", "32.52"]  # u2's 0.00 is withheld
    assert awards[0]["message"].startswith("3.74997278126809937378970975710932566914285714285")  # to 100 digits


def test_an_amount_of_many_whole_digits_on_duckdb() -> None:
    awards = _duckdb_alike(rewardrules.compile(LARGE, "large.rules"), PAID)
    assert [a["amount"] for a in awards] == ["1234567890123456789.01"]


def test_both_on_clickhouse() -> None:
    # the steps' longer ledger (the third step; both in the long run); both squares (each its own case)
    clickhouse_alike(rewardrules.compile(STEP, "steps.rules"), engine_cases(STEPPED, key=len))
    clickhouse_alike(rewardrules.compile(AMOUNT, "squares.rules"), SQUARED)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")
def test_both_on_spark(spark: Any) -> None:
    for text, ledgers in ((STEP, engine_cases(STEPPED, key=len)), (AMOUNT, SQUARED), (LARGE, PAID)):
        prog = rewardrules.compile(text, "p.rules")
        for lines in ledgers:  # as on ClickHouse
            events = [json.loads(line) for line in lines]
            assert spark_json(spark, prog, lines, None) == python_json(prog, events, None)
