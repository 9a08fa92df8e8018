"""The query in ClickHouse's dialect run by a real ClickHouse (chdb, the
embedded engine: tests/clickhouse.py), against the Python engine, byte for
byte (docs/sql.md, "Other dialects"): golden ledgers of every rule file
that compiles (every one in the long run; by default the largest, and
explained one scored at an as-of where there is one, else the largest),
with and without explanations (the explained output's sections too),
numbers of every decimals in messages, and instants. A file ClickHouse
cannot run is refused when it is written, with the reason: never a query
that fails there or means something else."""

from __future__ import annotations

import datetime
import itertools
import json
import random
import re
from functools import cache
from pathlib import Path

import duckdb
import pytest
import sqlglot
from hypothesis import given, settings
from sqlglot.errors import UnsupportedError

import rewardrules
from rewardrules.cli.sql import duckdb_result
from rewardrules.score.api import parse_as_of
from rewardrules.sql.compile import compile_query
from rewardrules.sql.dialect import to_dialect
from rewardrules.sql.sections import compile_explained
from rewardrules.sql.warehouses import OVERFLOW

from .clickhouse import ClickHouse, _written
from .conftest import as_of_first, engine_cases, examples, lines_in
from .test_sql_backend import ROOT, golden_programs
from .test_sql_messages_more import LEDGER, NUMBERS, REFERRAL, TIMES, USAGE_ROWS, drawn_usage

#: the rule files ClickHouse cannot run, with the reason each is refused
REFUSED = {
    "affiliate_attribution": "cannot run a recursive query",  # the attribution fold
    "referral_fraud": "frames a window by at most 2^31 - 1",  # `count earlier referrals within 24 hours`
    "tiers_and_caps": "cannot run a recursive query",  # a reward counted by several caps
}


@pytest.fixture(scope="module")
def clickhouse() -> ClickHouse:
    return ClickHouse()


CASES = golden_programs()


def _as_of(ledger: Path) -> str | None:
    expected = ledger.with_suffix("").with_suffix(".expected.json")
    return json.loads(expected.read_text(encoding="utf-8")).get("as_of") if expected.exists() else None


def test_the_cases_are_the_golden_programs() -> None:
    """Not vacuous: the reference programs and feature folders are here."""
    names = {name for name, _, _ in CASES}
    assert {"saas_milestones", "partner_and_customer", "counts_voided", "fasttrack_cpor"} <= names
    assert set(REFUSED) <= names and len(names) >= 18


@pytest.mark.parametrize(("name", "path", "ledgers"), CASES, ids=[case[0] for case in CASES])
def test_clickhouse_gives_the_python_engine_s_result(
    clickhouse: ClickHouse, name: str, path: Path, ledgers: list[Path]
) -> None:
    """Golden ledgers (every one in the long run; by default the largest
    without explanations and, explained, one scored at an as-of where
    there is one, else the largest: DuckDB runs them all,
    tests/test_sql_backend.py), explained (each award's `why`, the
    sections) and not: the same bytes as `score`; or, for a file
    ClickHouse cannot run, a refusal saying why."""
    prog = rewardrules.load(path)
    query = compile_query(prog.compiled)
    explained, sections = compile_explained(prog.compiled)
    columns = [column.name for column in query.columns]
    if name in REFUSED:
        with pytest.raises(UnsupportedError, match=REFUSED[name].replace("^", r"\^")) as refusal:
            to_dialect(query.awards, "clickhouse", columns)
        assert "score this file with --engine duckdb" in str(refusal.value)
        return
    for ledger in engine_cases(ledgers, key=lines_in):
        lines = ledger.read_text(encoding="utf-8").splitlines()
        as_of = _as_of(ledger)
        plain = duckdb_result(prog, query, lines, parse_as_of(as_of), "<ledger>", clickhouse.runner())
        assert _text(plain) == prog.score(lines, as_of=as_of, explain=False).to_json(), ledger.stem
    for ledger in engine_cases(ledgers, key=as_of_first):
        lines = ledger.read_text(encoding="utf-8").splitlines()
        as_of = _as_of(ledger)
        runner = clickhouse.runner(sections)
        full = duckdb_result(prog, explained, lines, parse_as_of(as_of), "<ledger>", runner, explain=True)
        assert _text(full) == prog.score(lines, as_of=as_of).to_json(), ledger.stem


def _text(data: dict[str, object]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def _same(clickhouse: ClickHouse, text: str, lines: list[str]) -> str:
    """Score with ClickHouse, assert the Python engine's bytes, return them."""
    prog = rewardrules.compile(text)
    data = duckdb_result(prog, compile_query(prog.compiled), lines, None, "<ledger>", clickhouse.runner())
    expected = prog.score(lines, explain=False).to_json()
    assert _text(data) == expected
    return expected


def test_numbers_in_messages_keep_their_decimals(clickhouse: ClickHouse) -> None:
    """`max`, `min` (the first value to reach it, with its decimals),
    `first` (NULL or not), `latest`, `otherwise`, sums and quotients: the
    structs DuckDB keeps them in are written without one for ClickHouse."""
    expected = _same(clickhouse, NUMBERS, LEDGER)
    messages = [award["message"] for award in json.loads(expected)["awards"]]
    assert messages[1].startswith("1.5  3.00 | 1.5 1.50 2 3 2 3 2 |")  # 1.50 kept as the maximum after 1.5


@settings(max_examples=examples(10), deadline=None)
@given(rows=USAGE_ROWS)
def test_generated_ledgers_give_the_same_messages(rows: list[tuple[str, str | None, str, int]]) -> None:
    """Ties of instants (ordered by id), maxima reached again with other
    decimals, a `first` size missing or not (`drawn_usage`)."""
    _same(_session(), NUMBERS, drawn_usage(rows))


@cache
def _session() -> ClickHouse:
    """One session for the generated examples (a fixture is made once per
    test function, not per example)."""
    return ClickHouse()


def test_instants_are_written_with_minutes(clickhouse: ClickHouse) -> None:
    """ClickHouse's `formatDateTime` writes a month's name for `%M`."""
    lines = [
        REFERRAL,
        '{"id":"n1","at":"2026-01-02T00:07:00.5+02:00","type":"renewal","referee":"bob","due":"2026-03-01T10:59:00Z"}',
    ]
    expected = _same(clickhouse, TIMES, lines)
    assert json.loads(expected)["awards"][0]["message"] == "2026-01-01T22:07:00.5Z until 2026-03-01T10:59:00Z"


def test_what_clickhouse_needs_is_in_the_statement() -> None:
    """What each rewrite is for, in the text a data team runs."""
    prog = rewardrules.load(ROOT / "rulesets" / "saas_milestones.rules")
    query = compile_query(prog.compiled)
    text = to_dialect(query.awards, "clickhouse", [column.name for column in query.columns])
    # outer joins give NULL, and a column name is not taken for an alias of the same SELECT
    assert text.endswith(
        "SETTINGS join_use_nulls = 1, prefer_column_name_to_alias = 1, enable_extended_results_for_datetime_functions = 1"
        ", optimize_arithmetic_operations_in_aggregate_functions = 0"
    )
    assert "CAST(NULL AS Map(" not in text and "CAST(map() AS Map(" in text  # a Map cannot be NULL
    tree = sqlglot.parse_one(text, read="clickhouse")
    qualified = [
        e
        for select in tree.find_all(sqlglot.exp.Select)  # `a.x` alone is named "a.x" in a join
        for e in select.expressions
        if isinstance(e, sqlglot.exp.Column) and e.table and not isinstance(e.this, sqlglot.exp.Star)
    ]
    assert qualified == [] and "a.rid AS rid" in text
    # every star written as its columns: `m.*` beside two joins names a column "m.rid"
    assert ".*" not in text and "EXCEPT (" not in text


def test_a_kept_value_is_null_until_a_row_holds(clickhouse: ClickHouse) -> None:
    """The value a `max`/`min` or a `first` keeps (a struct in DuckDB) is
    NULL before the first row where its test holds, on ClickHouse too, even
    for columns that cannot be NULL (ClickHouse's default; `argMinIf` of no
    row would give 0)."""
    so_far = "OVER (ORDER BY k ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
    sql = (
        f"SELECT k, STRUCT_EXTRACT(MIN(CASE WHEN t THEN STRUCT_PACK(v := -x, e := y) END) {so_far}, 'e') AS most, "
        f"STRUCT_EXTRACT(FIRST_VALUE(CASE WHEN t THEN STRUCT_PACK(v := y) END IGNORE NULLS) {so_far}, 'v') AS first "
        "FROM rows ORDER BY k"
    )
    data = [(1, False, 5, 7), (2, True, 3, 8), (3, True, 4, 9), (4, False, 9, 1)]
    values = ", ".join(f"({k}, {str(t).lower()}, {x}, {y})" for k, t, x, y in data)
    expected = [(1, None, None), (2, 8, 8), (3, 9, 8), (4, 9, 8)]
    duck = duckdb.sql(f"WITH rows(k, t, x, y) AS (VALUES {values}) {sql}").fetchall()
    assert duck == expected
    clickhouse.execute("DROP TABLE IF EXISTS rows")
    clickhouse.execute("CREATE TABLE rows (k Int64, t Bool, x Int64, y Int64) ENGINE = Memory")
    clickhouse.execute(f"INSERT INTO rows VALUES {values}")
    found = clickhouse.rows(to_dialect(sql, "clickhouse"))
    assert [(row["k"], row["most"], row["first"]) for row in found] == expected


REVERSALS = """\
ruleset r
event payment { }
event refund { payment: text }
milestone m {
  first payment
  reward referrer cash 10 USD
  hold 1 days
  void if refund where refund.payment == payment.id within 60 days
}
"""


def test_reversals_are_in_the_order_of_their_own_instants(clickhouse: ClickHouse) -> None:
    """`ORDER BY "at"` of the reversals names the output column (`vat AS
    "at"`, the void's instant), not the award's `at` that
    `prefer_column_name_to_alias` would have ClickHouse read (found by
    review: the later award's reversal came first)."""
    lines = [
        '{"id":"r1","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"ann","referee":"bob"}',
        '{"id":"r2","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"ann","referee":"cy"}',
        '{"id":"p1","at":"2026-01-02T00:00:00Z","type":"payment","referee":"bob"}',
        '{"id":"p2","at":"2026-01-03T00:00:00Z","type":"payment","referee":"cy"}',
        '{"id":"x2","at":"2026-01-10T00:00:00Z","type":"refund","referee":"cy","payment":"p2"}',
        '{"id":"x1","at":"2026-01-20T00:00:00Z","type":"refund","referee":"bob","payment":"p1"}',
    ]
    expected = _same(clickhouse, REVERSALS, lines)
    assert [r["why"]["event"] for r in json.loads(expected)["reversals"]] == ["x2", "x1"]


def test_decimal_literals_keep_their_digits(clickhouse: ClickHouse) -> None:
    """ClickHouse keeps a product's or a comparison's digits in the wider
    operand's width: `7 != 2.50 * 0.0000001` overflowed nine digits, and a
    money amount over 0.7 a scale past nine (found by review); literals
    keep the compiler's 38 digits there."""
    rules = """\
ruleset r
event payment { amount: money USD }
metric n = count referrals where 7 != 2.50 * 0.0000001
milestone m { when n >= 1 reward referrer cash 1 USD }
milestone k { each payment reward referee cash payment.amount / 0.7 }
"""
    lines = [
        '{"id":"r1","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"ann","referee":"bob"}',
        '{"id":"p1","at":"2026-01-02T00:00:00Z","type":"payment","referee":"bob","amount":"1234567890123.45"}',
    ]
    amounts = [award["amount"] for award in json.loads(_same(clickhouse, rules, lines))["awards"]]
    assert amounts == ["1.00", "1763668414462.07"]


def test_a_rounded_quotient_s_money_text_is_exact(clickhouse: ClickHouse) -> None:
    """`amount / 0.0000000000000000007` is rounded as an integer quotient
    (`//`) and written as money by another `//` of it: the inner one was a
    64-bit division in ClickHouse (an overflow error, found by review)."""
    rules = """\
ruleset r
event payment { amount: money USD }
milestone k { each payment reward referee cash payment.amount / 0.0000000000000000007 }
"""
    lines = [
        '{"id":"r1","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"ann","referee":"bob"}',
        '{"id":"p1","at":"2026-01-02T00:00:00Z","type":"payment","referee":"bob","amount":"12.45"}',
    ]
    amounts = [award["amount"] for award in json.loads(_same(clickhouse, rules, lines))["awards"]]
    assert amounts == ["17785714285714285714.29"]


PRODUCT = """\
ruleset r
event payment { amount: money USD, rate: number }
milestone k { each payment reward referee cash payment.amount * payment.rate }
metric total = sum payment.amount
milestone t { when total >= 1 reward referrer cash total * 3 }
"""


@pytest.mark.parametrize(
    ("amount", "rate", "stop"),
    [
        ("9" * 19, "9" * 19, "Decimal convert overflow"),  # under 2^127, times 100 (cents) past it
        ("9" * 20, "9" * 20, OVERFLOW),  # a product of two values past 2^127 (the award was missing)
        ("1234567890123456789", "9876543210987654321", "Decimal convert overflow"),  # times 100 (cents)
        ("1" * 25, "1" * 14 + ".5", "Decimal convert overflow"),
        ("12345678901234567.89", "98765432109876543.21", None),  # 38 digits: DuckDB stops, ClickHouse is exact
    ],
)
def test_a_product_past_128_bits_stops_never_wraps(
    clickhouse: ClickHouse, amount: str, rate: str, stop: str | None
) -> None:
    """ClickHouse checks neither a 128-bit decimal product nor a sum for
    overflow and answers with the number wrapped around (until 2026-12-05:
    a product of two 19-digit amounts came out as another amount, or the
    award went missing). A product of two values is checked, one by a
    constant is computed in 256 bits (constants are `Decimal(76, s)`) and
    cast back with ClickHouse's range check: the Python engine's amounts,
    or an error."""
    lines = [
        '{"id":"r1","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"ann","referee":"bob"}',
        '{"id":"p1","at":"2026-01-02T00:00:00Z","type":"payment","referee":"bob",'
        f'"amount":"{amount}","rate":"{rate}"}}',
    ]
    if stop is None:
        _same(clickhouse, PRODUCT, lines)
        return
    prog = rewardrules.compile(PRODUCT)
    with pytest.raises(Exception, match=re.escape(stop)):
        duckdb_result(prog, compile_query(prog.compiled), lines, None, "<ledger>", clickhouse.runner())


def test_a_rate_table_s_rate_is_a_256_bit_constant(clickhouse: ClickHouse) -> None:
    """A rate table writes each rate as a cast of a cast (`CAST(CAST('10'
    AS DECIMAL(38, 0)) AS DECIMAL(38, 1))`): both are 256-bit, or the
    product by it wrapped, unchecked (found by review: a 30-digit payment
    in a column of eight decimals was paid 1.3 x 10^27)."""
    rules = """\
ruleset r
event payment { amount: money USD }
metric paid = count payment where payment.amount > 0
metric conversions = count referrals where paid >= 1
metric rate = tiers of conversions { 1 to 4: 10%  5 to 9: 12.5%  10 or more: 20% }
milestone commission { each payment where payment.amount > 0 reward referrer cash rate of payment.amount }
"""
    lines = [
        '{"id":"r1","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"ann","referee":"bob"}',
        '{"id":"p1","at":"2026-01-02T00:00:00Z","type":"payment","referee":"bob","amount":"0.00000001"}',
        '{"id":"p2","at":"2026-01-03T00:00:00Z","type":"payment","referee":"bob","amount":"' + "9" * 30 + '"}',
    ]
    amounts = [award["amount"] for award in json.loads(_same(clickhouse, rules, lines))["awards"]]
    assert amounts == ["99999999999999999999999999999.90"]


@pytest.mark.parametrize(
    ("reward", "amount", "paid"),
    [
        ("payment.amount", "1.005000000000000000000000001", "1.01"),
        ("15% of payment.amount", "6.7000000000000000000000000001", "1.01"),
        ("payment.amount", "1.005", "1.00"),  # a tie: to the even cent
    ],
)
def test_half_even_rounding_compares_with_an_exact_half(
    clickhouse: ClickHouse, reward: str, amount: str, paid: str
) -> None:
    """Rounding half to even compares the rest with `0.5`, a DECIMAL in
    DuckDB and a `Float64` in ClickHouse, where a rest of `0.5000...001`
    past 16 digits was a tie and rounded down (found by review)."""
    rules = f"ruleset r\nevent payment {{ amount: money USD }}\nmilestone k {{ each payment reward referee cash {reward} }}\n"
    lines = [
        '{"id":"r1","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"ann","referee":"bob"}',
        f'{{"id":"p1","at":"2026-01-02T00:00:00Z","type":"payment","referee":"bob","amount":"{amount}"}}',
    ]
    amounts = [award["amount"] for award in json.loads(_same(clickhouse, rules, lines))["awards"]]
    assert amounts == [paid]


def test_a_product_of_products_is_written_once_per_value(clickhouse: ClickHouse) -> None:
    """Each product is checked by a lambda over its two values, written
    once: a product of thirteen values is a few kilobytes longer than one
    of two (copying them into the check made it four times longer a level:
    1.8 MB for seven, found by review)."""
    sizes = []
    for count in (1, 12):
        rules = (
            "ruleset r\nevent payment { amount: money USD, rate: number }\n"
            f"milestone k {{ each payment reward referee cash payment.amount{' * payment.rate' * count} }}\n"
        )
        prog = rewardrules.compile(rules)
        query = compile_query(prog.compiled)
        sizes.append(len(to_dialect(query.awards, "clickhouse", [column.name for column in query.columns])))
    assert sizes[1] < sizes[0] + 12 * 400
    lines = [
        '{"id":"r1","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"ann","referee":"bob"}',
        '{"id":"p1","at":"2026-01-02T00:00:00Z","type":"payment","referee":"bob","amount":"1.5","rate":"1.1"}',
    ]
    amounts = [award["amount"] for award in json.loads(_same(clickhouse, rules, lines))["awards"]]
    assert amounts == ["4.71"]


@pytest.mark.parametrize("window", ["", " OVER (ORDER BY n)"])
def test_a_sum_past_128_bits_stops_never_wraps(clickhouse: ClickHouse, window: str) -> None:
    """Three values of 38 nines: ClickHouse's sum wraps to a negative
    number; the written sum (and running sum) stops with the reason."""
    values = "SELECT number AS n, CAST(repeat('9', 38) AS Decimal(38, 0)) AS x FROM numbers(3)"
    sql = to_dialect(f"SELECT SUM(x){window} AS s FROM t", "clickhouse")
    assert "throwIf" in sql
    with pytest.raises(Exception, match=re.escape(OVERFLOW)):
        clickhouse.rows(sql.replace("FROM t AS t", f"FROM ({values}) AS t"))
    small = sql.replace("FROM t AS t", f"FROM ({values.replace('38', '37')}) AS t")
    assert [row["s"] for row in clickhouse.rows(small)][-1] == int("9" * 37) * 3


CAPPED = """\
ruleset r
timezone "ZONE"
event payment { amount: money USD }
milestone m {
  each payment
  reward referrer cash 10 USD
  cap referrer 25 USD per PERIOD
}
"""

#: (zone, period) pairs for `capped`: half-hour and 45-minute offsets, summer time
ZONES = [("America/Goose_Bay", "day"), ("Australia/Lord_Howe", "week"), ("Asia/Kathmandu", "month")]


def capped(zone: str, period: str) -> str:
    """CAPPED in `zone`, per `period`."""
    return CAPPED.replace("ZONE", zone).replace("PERIOD", period)


def period_payments(zone: str, period: str) -> list[str]:
    """A referral, then 60 payments at every hour of a stretch of days
    that holds 20 days, 100 days or 300 days (seeded by zone and period)."""
    rng = random.Random(f"{zone}/{period}")
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    lines = ['{"id":"r1","at":"2025-12-30T00:00:00Z","type":"referral","referrer":"ann","referee":"bob"}']
    for n in range(60):
        day = rng.randrange({"day": 20, "week": 100, "month": 300}[period])
        at = start + datetime.timedelta(days=day, hours=rng.randrange(24), minutes=rng.choice([0, 30, 45]))
        line = {"id": f"p{n:03}", "at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "type": "payment", "referee": "bob"}
        lines.append(json.dumps(line | {"amount": "1.00"}))
    return lines


@pytest.mark.parametrize(("zone", "period"), ZONES)
def test_caps_per_period_in_a_time_zone(clickhouse: ClickHouse, zone: str, period: str) -> None:
    """A calendar period in the program's zone (`caps.dated`: the query's
    own table of the zone's offsets): payments at every hour of a year,
    zones with half-hour and 45-minute offsets and summer time."""
    awards = json.loads(_same(clickhouse, capped(zone, period), period_payments(zone, period)))["awards"]
    assert any(award["amount"] != "10.00" for award in awards)  # the cap cut some


UNLESS_VOIDED = """\
ruleset r
event payment { amount: money USD }
event refund { payment: text }
milestone first_paid {
  first payment
  reward referrer cash 10 USD
  void if refund where refund.payment == payment.id within 60 days
}
milestone second {
  first payment where payment.amount > 50 USD
  reward referrer cash 20 USD
  void if refund where refund.payment == payment.id within 30 days
}
metric kept = count referrals where true unless voided first_paid
metric kept_big = count referrals where true unless voided second
milestone bonus { every 2 kept reward referrer gift_card 25 USD }
milestone big_bonus { every 2 kept_big reward referrer gift_card 50 USD }
"""


def test_two_unless_voided_metrics(clickhouse: ClickHouse) -> None:
    """Two `unless voided` metrics join the referrals twice (`m.*` beside
    two joins named its `rid` "m.rid" in ClickHouse, found by review):
    every star is written as its columns, each named."""
    lines = [
        '{"id":"r1","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"ann","referee":"bob"}',
        '{"id":"r2","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"ann","referee":"cy"}',
        '{"id":"p1","at":"2026-01-02T00:00:00Z","type":"payment","referee":"bob","amount":"60.00"}',
        '{"id":"p2","at":"2026-01-03T00:00:00Z","type":"payment","referee":"cy","amount":"60.00"}',
        '{"id":"x2","at":"2026-01-10T00:00:00Z","type":"refund","referee":"cy","payment":"p2"}',
        '{"id":"x1","at":"2026-01-20T00:00:00Z","type":"refund","referee":"bob","payment":"p1"}',
    ]
    result = json.loads(_same(clickhouse, UNLESS_VOIDED, lines))
    assert {award["milestone"] for award in result["awards"]} >= {"bonus", "big_bonus"} and result["reversals"]


def _table(kind: str) -> str:
    bounds = [0, 100, 250, 500, 1000, 2500, 5000, 10000, 20000, 50000, 100000, 200000]
    rows = [f"  {low} USD to {high} USD: {n + 1}%" for n, (low, high) in enumerate(itertools.pairwise(bounds))]
    return f"{kind} of spent {{\n" + "\n".join(rows) + "\n  200000 USD or more: 12%\n}"


def _program(name: str, role: str, kind: str) -> str:
    return (
        f"program {name} {{\n  milestone {name}_owed {{ whenever owed increases reward {role} {kind} increase }}\n"
        f"  milestone {name}_each {{ each payment reward {role} {kind} rate of payment.amount }}\n}}\n"
    )


#: ten programs reading two 12-row tables (by review, with two: each
#: table is one column since 2026-12-05, and two programs' explained
#: statement fell from past 256 KiB to 83 KB; eight since that day, until
#: an uncut amount was written only where a cap may cut it, 2026-12-07:
#: their longest statement fell from 264 KB to 220 KB): long statements
TABLES = (
    "ruleset big\nevent payment { amount: money USD }\nmetric spent = sum payment.amount\n"
    f"metric owed = {_table('graduated tiers')}\nmetric rate = {_table('tiers')}\n"
    + "".join(
        _program(f"referrers{n}", "referrer", "cash") + _program(f"friends{n}", "referee", "credit") for n in range(5)
    )
)


def test_a_statement_past_256_kib_runs_with_max_query_size_raised(clickhouse: ClickHouse) -> None:
    """An explained file of many rewards is longer than ClickHouse's default
    `max_query_size` (256 KiB), which a statement cannot raise for itself:
    the session raises it (docs/sql.md)."""
    prog = rewardrules.compile(TABLES)
    explained, sections = compile_explained(prog.compiled)
    columns = [column.name for column in explained.columns]
    # written once: the runner below reads the same statements from `_written`'s cache
    assert max(len(_written(sql, tuple(columns))) for _, sql in explained.statements()) > 262_144
    lines = ['{"id":"r1","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"ann","referee":"bob"}']
    for n, amount in enumerate(["80.00", "420.00", "1500.00", "30000.00"]):
        lines.append(
            f'{{"id":"p{n}","at":"2026-01-0{n + 2}T00:00:00Z","type":"payment","referee":"bob","amount":"{amount}"}}'
        )
    runner = clickhouse.runner(sections)
    data = duckdb_result(prog, explained, lines, None, "<ledger>", runner, explain=True)
    assert _text(data) == prog.score(lines).to_json()


@pytest.mark.parametrize(
    ("zone", "period", "first", "second"),
    [
        ("America/New_York", "month", "1969-12-20T12:00:00Z", "1969-12-28T12:00:00Z"),
        ("UTC", "month", "1969-12-20T12:00:00Z", "1969-12-28T12:00:00Z"),
        ("Europe/Paris", "month", "2200-05-03T12:00:00Z", "2200-05-30T12:00:00Z"),
        ("UTC", "day", "1899-12-31T12:00:00Z", "2079-06-06T12:00:00Z"),
    ],
)
def test_periods_before_1970_and_after_2149(
    clickhouse: ClickHouse, zone: str, period: str, first: str, second: str
) -> None:
    """ClickHouse's `Date` holds 1970 to 2149 and wraps outside (1969-12-31
    read as 2149-06-06; days 65,536 apart the same day, found by review):
    dates are `Date32` there."""
    lines = ['{"id":"r1","at":"1899-01-01T00:00:00Z","type":"referral","referrer":"ann","referee":"bob"}']
    for n, at in enumerate((first, second)):
        lines.append(f'{{"id":"p{n}","at":"{at}","type":"payment","referee":"bob","amount":"1.00"}}')
    rules = CAPPED.replace("ZONE", zone).replace("PERIOD", period).replace("25 USD", "15 USD")
    amounts = [award["amount"] for award in json.loads(_same(clickhouse, rules, lines))["awards"]]
    assert amounts == (["10.00", "10.00"] if period == "day" else ["10.00", "5.00"])
