"""`a // b` of two integers on ClickHouse and Spark, where `/` of two
integers is a floating-point number: an instant's microseconds past 2^53
(after 2255-06-05T23:47:34.740992Z) were rounded to an even number there,
so an explanation wrote 2261-03-11T16:00:00.999999999Z one second late and
a calendar day's cap counted an award of 23:59:59.999999999 in the next
day. The dividend is now an exact decimal on those dialects
(`dialect._exact_integers`): the same bytes as the Python engine."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import partial
from typing import Any

import pytest

import rewardrules
from rewardrules.sql.dialect import to_dialect

from .conftest import engine_cases
from .test_sql_backend import python_json
from .test_sql_rate_table_decimals import clickhouse_alike, explained_alike
from .test_sql_referrer_sums import same
from .test_sql_spark import spark_json

#: `last` (an instant) in each award's `why`, a cap of one reward per
#: calendar day (whose day is the instant's microseconds, then its date)
RULES = """\
ruleset late timezone "Europe/Lisbon"

event payment { amount: money USD }

metric paid = count payment
metric last = latest payment.at

milestone paying {
  each payment
  reward referrer cash 1 USD
  cap referrer 1 rewards per day
}

milestone seen {
  when paid >= 1 and last > referral.at
  reward referrer cash 2 USD
}
"""


def _prog() -> rewardrules.Program:
    return rewardrules.compile(RULES, "late.rules")


def _lines(day: str, who: str = "") -> list[str]:
    """A referral, payments at the last nanosecond of a second and of
    `day`, and half a second into the next day (ids and people marked
    with `who`)."""
    bob = f"bob{who}"
    events: list[dict[str, Any]] = [
        {"id": f"r1{who}", "type": "referral", "at": f"{day}T15:00:00Z", "referrer": f"ann{who}", "referee": bob},
        {"id": f"p0{who}", "type": "payment", "at": f"{day}T16:00:00.999999999Z", "referee": bob, "amount": "1.00"},
        {"id": f"p1{who}", "type": "payment", "at": f"{day}T23:59:59.999999999Z", "referee": bob, "amount": "1.00"},
        {
            "id": f"p2{who}",
            "type": "payment",
            "at": f"{day[:-2]}{int(day[-2:]) + 1:02d}T00:00:00.5Z",
            "referee": bob,
            "amount": "1.00",
        },
    ]
    return [json.dumps(event) for event in events]


def _every_day() -> list[str]:
    """The ledgers of `DAYS` as one, their people and ids apart: one run
    for Spark and ClickHouse, which plan each statement in seconds."""
    return [line for n, day in enumerate(DAYS) for line in _lines(day, str(n))]


#: past 2^53 microseconds (2261), and before it (2255, 2026)
DAYS = ("2261-03-11", "2255-03-11", "2026-03-11")


def test_the_python_engine_pays_each_day() -> None:
    """What the queries are held to: p0 and p1 fall on one day (in
    Lisbon, UTC in March), p2 on the next: p0 and p2 are paid."""
    result = json.loads(_prog().score(_lines("2261-03-11")).to_json())
    paying = [a for a in result["awards"] if a["milestone"] == "paying"]
    assert [a["at"] for a in paying] == ["2261-03-11T16:00:00.999999999Z", "2261-03-12T00:00:00.5Z"]
    seen = next(a for a in result["awards"] if a["milestone"] == "seen")
    assert seen["why"]["values"]["last"] == "2261-03-11T16:00:00.999999999Z"


@pytest.mark.parametrize("day", DAYS)
def test_duckdb_gives_the_same_bytes(day: str) -> None:
    same(_lines(day), None, _prog())
    explained_alike(_prog(), [_lines(day)])


def test_clickhouse_gives_the_same_bytes() -> None:
    clickhouse_alike(_prog(), [_every_day()])


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")
def test_spark_gives_the_same_bytes(spark: Any) -> None:
    prog, lines = _prog(), _every_day()
    assert python_json(prog, lines, None).count('"milestone": "paying"') == 6  # p0 and p2 of each day
    assert spark_json(spark, prog, lines, None) == python_json(prog, lines, None)
    explained_alike(prog, [lines], lambda sections: partial(spark.run, sections=sections))


@pytest.mark.parametrize(
    ("dialect", "dividend"),
    [
        ("spark", "% 1000) + CAST(0 AS DECIMAL(1, 0))) / 1000 AS DECIMAL(38, 0))"),
        ("databricks", "% 1000) + CAST(0 AS DECIMAL(1, 0))) / 1000 AS DECIMAL(38, 0))"),
        ("clickhouse", "% 1000) + CAST(0 AS Nullable(Decimal(76, 0)))) / 1000 AS Nullable(Decimal(38, 0)))"),
        ("postgres", "% 1000) / 1000 AS DECIMAL(38, 0))"),  # its `/` of integers is exact
    ],
)
def test_an_integer_quotient_s_dividend_is_a_decimal_there(dialect: str, dividend: str) -> None:
    """Written, not run: the dividend plus a DECIMAL zero, over the divisor."""
    written = to_dialect("SELECT CAST(x AS BIGINT) // 1000 AS y FROM t", dialect, ())
    assert dividend in written


#: a cap per day in New York: its days start at 05:00Z in winter, 04:00Z
#: in summer (from 2026-03-08, a day of 23 hours)
NEW_YORK = """\
ruleset daily timezone "America/New_York"

event payment { amount: money USD }

milestone paying {
  each payment
  reward referrer cash 1 USD
  cap referrer 1 rewards per day
}
"""

#: the last nanosecond of a New York day and the first of the next, in
#: winter, on the day summer time starts, in summer, and before 1970
NEW_YORK_PAYMENTS = (
    "2026-03-07T04:59:59.999999999Z",
    "2026-03-07T05:00:00Z",
    "2026-03-08T04:59:59.999999999Z",
    "2026-03-09T03:59:59.999999999Z",
    "2026-03-09T04:00:00Z",
    "1969-12-31T04:59:59.999999999Z",
    "1969-12-31T05:00:00Z",
)


def _new_york_lines() -> list[str]:
    events: list[dict[str, Any]] = [
        {"id": "r1", "type": "referral", "at": "1969-01-01T00:00:00Z", "referrer": "ann", "referee": "bob"}
    ]
    for n, at in enumerate(NEW_YORK_PAYMENTS):
        events.append({"id": f"p{n}", "type": "payment", "at": at, "referee": "bob", "amount": "1.00"})
    return [json.dumps(event) for event in events]


def test_new_york_days_each_pay_once() -> None:
    """Each payment but the one of 2026-03-08 (the same New York day as
    the one before it) is the first of its day."""
    prog = rewardrules.compile(NEW_YORK, "daily.rules")
    result = json.loads(python_json(prog, _new_york_lines(), None))
    paid = [a["at"] for a in result["awards"]]
    assert sorted(paid) == sorted(at for at in NEW_YORK_PAYMENTS if at != "2026-03-08T04:59:59.999999999Z")


def test_new_york_days_on_duckdb_and_clickhouse() -> None:
    prog = rewardrules.compile(NEW_YORK, "daily.rules")
    same(_new_york_lines(), None, prog)
    clickhouse_alike(prog, [_new_york_lines()])


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")
def test_new_york_days_on_spark_whatever_its_session_zone(spark: Any) -> None:
    """Spark's query reads no session time zone (nor any zone data: the
    query's own offsets, `caps.dated`): the same awards with the session in
    Tokyo."""
    prog = rewardrules.compile(NEW_YORK, "daily.rules")
    expected = python_json(prog, _new_york_lines(), None)
    assert spark_json(spark, prog, _new_york_lines(), None) == expected
    conf = spark.session.conf
    before = conf.get("spark.sql.session.timeZone")
    conf.set("spark.sql.session.timeZone", "Asia/Tokyo")
    try:
        assert spark_json(spark, prog, _new_york_lines(), None) == expected
    finally:
        conf.set("spark.sql.session.timeZone", before)


@pytest.mark.parametrize(
    "dialect", ["bigquery", "snowflake", "trino", "databricks", "redshift", "spark", "clickhouse", "postgres"]
)
def test_every_dialect_writes_a_zone_s_date_with_the_query_s_own_offsets(dialect: str) -> None:
    """Written, not run here (but Spark, ClickHouse and Postgres, which
    run it in test_time_zone_data.py): no engine's zone function, whose
    data differ from engine to engine (Redshift had none and refused the
    file), but the zone's offsets in the query, New York's 2026 summer time
    (-14400 s from 2026-03-08T07:00:00Z) among them."""
    from rewardrules.core.zone_offsets import offset_steps
    from rewardrules.sql.compile import compile_query

    query = compile_query(rewardrules.compile(NEW_YORK, "daily.rules").compiled)
    text = to_dialect(query.awards, dialect, [column.name for column in query.columns]).upper()
    for function in ("TIMEZONE(", "AT TIME ZONE", "FROMUNIXTIMESTAMP64MICRO", "DATETIME(", "MAKE_TIMESTAMPTZ"):
        assert function not in text
    assert (1772953200, -14400) in offset_steps("America/New_York")
    assert "1772953200000000000" in text
    if dialect == "trino":  # a date plus days: Trino adds only intervals to dates (found by review)
        assert "DATE_ADD('DAY', " in text and "AS DATE) +" not in text


#: an `every` step of 21 and 29 digits: its units (the step in units of
#: its decimals) were a bare integer literal, which ClickHouse reads as a
#: Float64 past 64 bits: the occurrence in the award's id was rounded
EVERY = """\
ruleset steps
event payment {{ amount: money USD }}
metric total = sum payment.amount
milestone t {{ every {step} total reward referrer cash 1 USD }}
"""


def _paying(amount: str) -> list[str]:
    return [
        '{"id":"r1","type":"referral","at":"2026-01-01T00:00:00Z","referrer":"ann","referee":"bob"}',
        f'{{"id":"p1","type":"payment","at":"2026-01-02T00:00:00Z","referee":"bob","amount":"{amount}"}}',
    ]


@pytest.mark.parametrize("step", ["12345678901234567.6789", "1234567890123456789012345.6789", "123456789012345"])
def test_a_long_every_step_on_clickhouse(step: str) -> None:
    prog = rewardrules.compile(EVERY.format(step=step), "steps.rules")
    ledgers = [_paying(str(Decimal(step) * 3)), _paying(step)]  # three occurrences first
    clickhouse_alike(prog, engine_cases(ledgers))


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")
def test_a_long_every_step_on_spark(spark: Any) -> None:
    for step in ("12345678901234567.6789", "1234567890123456789012345.6789"):
        prog = rewardrules.compile(EVERY.format(step=step), "steps.rules")
        lines = _paying(str(Decimal(step) * 3))
        assert spark_json(spark, prog, lines, None) == python_json(prog, lines, None)


@pytest.mark.parametrize(
    ("step", "seats"),
    [("0.0100000000000000000001", "0.0300000000000000000003"), ("1.000000000000000000000000001", "3")],
)
def test_an_every_step_of_more_than_19_decimals_on_clickhouse(step: str, seats: str) -> None:
    """The scale of its decimals (10^22, 10^27) was a bare literal too (by
    review): a Float64 in ClickHouse, and the occurrence in the id rounded."""
    rules = f"""\
ruleset steps
event usage {{ seats: number }}
metric total = sum usage.seats
milestone t {{ every {step} total reward referrer cash 1 USD }}
"""
    lines = [
        '{"id":"r1","type":"referral","at":"2026-01-01T00:00:00Z","referrer":"ann","referee":"bob"}',
        f'{{"id":"u1","type":"usage","at":"2026-01-02T00:00:00Z","referee":"bob","seats":"{seats}"}}',
    ]
    clickhouse_alike(rewardrules.compile(rules, "steps.rules"), [lines])
