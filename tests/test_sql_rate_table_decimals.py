"""A per-referrer `sum referrals.M` of a graduated table or of `rate of`
in a message or an explanation, refused before: the query computes the
exponent of each slice's `(top - low) * rate / 100` and of `rate of`'s
`X * rate / 100` as Python's exact division gives it (sql/exponents.py,
`hundredth`: `1.50 / 100` is `0.015`, `150 / 100` is `1.5`), so the sum's
decimals are the engine's; a rate table's value carries the exponent and
the sign of the row that holds its metric (`10%` and `10.0%`, one value,
are two Decimals), refused before too. Byte for byte the Python engine's
result, with and without explanations, on hand-written ledgers and
generated ones, on DuckDB, ClickHouse and Spark."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from functools import cache, partial
from typing import Any

import pytest

import rewardrules
from rewardrules.cli.sql import duckdb_result
from rewardrules.sql.compile import compile_query
from rewardrules.sql.diagnose import refusals
from rewardrules.sql.run import run as run_query
from rewardrules.sql.sections import compile_explained
from rewardrules.sql.spark import Spark

from .clickhouse import ClickHouse
from .conftest import engine_cases
from .test_sql_backend import python_json
from .test_sql_referrer_sums import same
from .test_sql_spark import spark_json

#: what runs a query with the explained sections (`ClickHouse.runner`)
Runner = Callable[..., Any]

#: sums per referrer of a graduated table of a number (`graded`), of one
#: in a unit (`sized`, its top row ending at 100.50 MB), of one whose
#: first slice is a zero with decimals (`zeroed`), of `rate of` a
#: number by a rate table (`rated`), of a table whose rows hold one value
#: with two exponents (`dup`), read by messages, a timer's message and a
#: per-referrer milestone's explanation; a table with a signed row (`fee`)
SUMS = """\
ruleset graded

event referral {}
event usage { seats: number, size: quantity MB }

metric seats = sum usage.seats
metric size = latest usage.size
metric graded_one = graduated tiers of seats { 0 to 10: 100%  10 to 20.5: 12.5%  20.5 or more: 3.30% }
metric sized_one = graduated tiers of size { 0 MB to 1 MB: 0%  1 MB to 100.50 MB: 100% }
metric zeroed_one = graduated tiers of seats { 0 to 2: 0.000%  2 or more: 50% }
metric rate = tiers of seats { 0 to 5: 8%  5 or more: 2.50% }
metric rated_one = rate of seats
metric graded = sum referrals.graded_one
metric sized = sum referrals.sized_one
metric zeroed = sum referrals.zeroed_one
metric lowered_one = graduated tiers of seats { 2.00 or more: 50% }
metric lowered = sum referrals.lowered_one
metric dup_one = tiers of seats { 0 to 2: 0.5%  2 to 5: 1.25%  5 or more: 1.250% }
metric dup = sum referrals.dup_one
metric fee = tiers of seats { 0 to 2: -1.50 USD  2 or more: 2 USD }
metric nothing = fee * 0
metric rated = sum referrals.rated_one
metric both = graded + rated

milestone each_use {
  each usage
  reward referrer cash 1 USD
  message "{{ graded }}|{{ sized }}|{{ rated }}|{{ both }}|{{ zeroed }}|{{ lowered }}|{{ dup }}|{{ fee }} {{ nothing }}"
}

milestone later {
  after 5 days
  reward referrer credit 1 USD
  message "{{ graded }} {{ rated }}"
}

milestone heavy {
  when rated_one >= 0.3 and lowered_one > 4 and dup_one > 1
  reward referrer cash 3 USD
}

milestone team {
  when graded > 12 and rated >= 0 and sized >= 0 MB
  reward referrer cash 2 USD
}
"""


@cache
def _prog() -> rewardrules.Program:
    return rewardrules.compile(SUMS, "graded.rules")


def _referral(event_id: str, referee: str) -> dict[str, Any]:
    return {"id": event_id, "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": referee}


def _use(event_id: str, day: int, referee: str, seats: str, size: str) -> dict[str, Any]:
    at = f"2026-01-{day:02d}T00:00:00Z"
    return {"id": event_id, "at": at, "type": "usage", "referee": referee, "seats": seats, "size": size}


def test_it_compiles_with_explanations_and_check_reports_nothing() -> None:
    compile_query(_prog().compiled, explain=True)
    assert refusals(_prog().compiled, explain=True) == []


def _hand_written() -> list[dict[str, Any]]:
    return [
        _referral("r1", "bob"),
        _referral("r2", "cat"),
        _use("u1", 2, "bob", "4", "1"),
        _use("u2", 3, "cat", "1.50", "0.5"),
        _use("u3", 4, "bob", "8", "100.7"),
        _use("u4", 5, "bob", "13", "2"),
    ]


def test_the_sums_keep_the_decimals_the_engine_gives_them() -> None:
    """bob's 4 seats: 4 * 100 / 100 is `4` (a whole quotient keeps the
    product's exponent), 4 * 8 / 100 is `0.32`; cat's 1.50 seats: `1.50`
    (150.00 / 100, the product's), 12.00 / 100 is `0.12`; bob at 12 seats:
    10 + 25.0 / 100 = `10.25`, 12 * 2.50 / 100 = `0.30` (the rate's
    decimals: `heavy`'s explanation); 100.7 MB, past its top: 99.50 * 100 /
    100 = `99.50` (the top's decimals, not the size's); bob at 25 seats: 10
    + 131.25 / 100 + 14.850 / 100 = `11.4610`, 62.50 / 100 = `0.625`,
    0.000 + 11.5 = `11.500` (a zero slice keeps its product's decimals),
    (25 - 2.00) * 50 / 100 = `11.50` (the low's); a whole sum is written
    whole. A rate table gives its row's Decimal: `1.250`, not the `1.25`
    of the row before (one value); `-1.50 USD` its sign, so `fee * 0` is
    `-0.00` as the engine's product is."""
    events = _hand_written()
    awards = same(events, "2026-02-01T00:00:00Z", _prog())
    messages = [a["message"] for a in awards if a["milestone"] == "each_use"]
    assert messages == [
        "4|0|0.32|4.32|1|1|1.75|2.00 0.00",
        "5.50|0|0.44|5.94|1|1|1.75|-1.50 -0.00",
        "11.75|99.50|0.42|12.17|5|5|1.75|2.00 0.00",
        "12.9610|1|0.745|13.7060|11.500|11.50|1.75|2.00 0.00",
    ]
    heavy = next(a for a in awards if a["milestone"] == "heavy")
    assert heavy["why"]["values"] == {"dup_one": "1.250", "lowered_one": "5", "rated_one": "0.30"}
    team = next(a for a in awards if a["milestone"] == "team")
    assert team["why"]["values"] == {"sized": "1", "rated": "0.745", "graded": "12.9610"}


def _drawn(seed: int) -> list[dict[str, Any]]:
    """Seats and sizes drawn with 0 to 3 decimals, on and between the
    tables' bounds, over three referees."""
    rng = random.Random(seed)
    referees = ["bob", "cat", "dan"]
    events = [_referral(f"r{n}", name) for n, name in enumerate(referees)]
    bounds = ["0", "1", "5", "10", "20.5", "100.5", "0.001", "2.50", "7.125", "99.999", "150"]
    for n in range(rng.randint(1, 14)):
        seats = rng.choice([rng.choice(bounds), f"{rng.randint(0, 30)}.{rng.randint(0, 999):03d}"[: rng.randint(1, 6)]])
        size = rng.choice(bounds)
        events.append(_use(f"u{n}", rng.randint(1, 20), rng.choice(referees), seats.rstrip("."), size))
    return events


@pytest.mark.parametrize("seed", range(12))
def test_random_ledgers_give_the_same_bytes(seed: int) -> None:
    """As-of before and after the timers."""
    for as_of in ("2026-01-09T00:00:00Z", "2026-03-01T00:00:00Z"):
        same(_drawn(seed), as_of, _prog())


def explained_alike(prog: rewardrules.Program, ledgers: list[list[str]], runner: Runner | None = None) -> None:
    """Each ledger's explained result, sections included, the Python
    engine's bytes, run by DuckDB (or `runner`, taking the sections)."""
    explained, sections = compile_explained(prog.compiled)
    run = partial(run_query, sections=sections) if runner is None else runner(sections)
    for lines in ledgers:
        full = duckdb_result(prog, explained, lines, None, "<ledger>", run, explain=True)
        assert json.dumps(full, indent=2) + "\n" == prog.score(lines).to_json()


def clickhouse_alike(prog: rewardrules.Program, ledgers: list[list[str]]) -> None:
    """Each ledger's result on ClickHouse, explained and not (a caller
    whose DuckDB test runs many ledgers gives some: `engine_cases`)."""
    clickhouse = ClickHouse()
    query = compile_query(prog.compiled)
    for lines in ledgers:
        plain = duckdb_result(prog, query, lines, None, "<ledger>", clickhouse.runner())
        assert json.dumps(plain, indent=2) + "\n" == python_json(prog, lines, None)
    explained_alike(prog, ledgers, clickhouse.runner)


def _ledgers() -> list[list[str]]:
    return [[json.dumps(event) for event in events] for events in (_hand_written(), *(_drawn(s) for s in range(4)))]


def test_the_explained_result_with_its_sections_is_the_engine_s() -> None:
    """The `referrals` and `referrers` sections give each metric."""
    explained_alike(_prog(), _ledgers())


def test_clickhouse_gives_the_same_bytes() -> None:
    """ClickHouse writes a DECIMAL without its trailing zeros (DuckDB and
    Spark with every decimal of its scale): the exponent is the same.
    The hand-written ledger (every one in the long run)."""
    clickhouse_alike(_prog(), engine_cases(_ledgers()))


#: `rate of` a ledger number written `5e3` (exponent +3: 5E+3 * 1 / 100 is
#: 5E+1, whose 3.5% is 1.75, not 1.750)
EDGES = """\
ruleset edges

event referral {}
event usage { seats: number }

metric seats = latest usage.seats
metric rate = tiers of seats { 0 or more: 1% }
metric rated = rate of seats
metric part = 3.5% of rated
metric all = sum referrals.part

milestone each_use {
  each usage
  reward referrer cash 1 USD
  message "{{ all }}"
}

milestone used {
  when part > 0
  reward referrer cash 1 USD
}
"""

#: `rate of` a number with 29 decimals at 0.0000001%: a DECIMAL(38, 38),
#: which DuckDB writes without the 0 before its point (`.000...`)
TINY = EDGES.replace("0 or more: 1%", "0 or more: 0.0000001%").replace(
    "metric part = 3.5% of rated", "metric part = rated"
)

_HEAD = '{"id":"r1","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"ann","referee":"bob"}'


def _usage(seats: str) -> list[str]:
    usage = '{"id":"u1","at":"2026-01-02T00:00:00Z","type":"usage","referee":"bob","seats": SEATS}'
    return [_HEAD, usage.replace("SEATS", seats)]


def test_an_exponent_above_zero() -> None:
    prog = rewardrules.compile(EDGES, "edges.rules")
    lines = _usage("5e3")
    awards = same(lines, None, prog)
    assert [a["message"] for a in awards] == ["1.75", None]
    assert awards[1]["why"]["values"] == {"part": "1.75"}
    explained_alike(prog, [lines])
    clickhouse_alike(prog, [lines])


def test_a_scale_of_38_is_written_with_its_zero() -> None:
    prog = rewardrules.compile(TINY, "tiny.rules")
    lines = _usage('"0.12345678901234567890123456789"')
    tiny = "0.00000000012345678901234567890123456789"
    awards = same(lines, None, prog)
    assert [a["message"] for a in awards] == [tiny, None]
    assert awards[1]["why"]["values"] == {"part": tiny}
    explained_alike(prog, [lines])
    clickhouse_alike(prog, [lines])


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")  # as tests/test_sql_spark.py
def test_spark_gives_the_same_bytes(spark: Spark) -> None:
    """Explained too: a number's test for being whole was `value =
    TRUNC(value)`, which Spark compares at the scale of the whole part
    (`0.123 = 0` is true there), so every `why` number was written whole."""
    for events in engine_cases([_hand_written(), _drawn(0)]):
        assert spark_json(spark, _prog(), events, None) == python_json(_prog(), events, None)
    explained_alike(_prog(), _ledgers()[:1], lambda sections: partial(spark.run, sections=sections))


def test_a_graduated_slice_s_exponent_reads_its_text_three_times() -> None:
    """This file's program (`SUMS`), explained: a graduated
    slice's exponent (`exponents.normal`) reads the slice's text
    (`CAST(ABS(`) 3 times, where it read it 9 (18 in all, 90 before), and
    the slice that tests `m0 > 20.5` is in the awards' statement 13 times,
    where it was 27. No let: `normal` is written the same in every dialect,
    and a layer of lets costs a column list where `SELECT *` is spelled out."""
    query = compile_query(rewardrules.compile(SUMS, "graded.rules").compiled, explain=True)
    assert 0 < query.awards.count("CAST(ABS(") <= 18
    assert query.awards.count("m0 > CAST('20.5' AS DECIMAL(38, 1))") <= 13
