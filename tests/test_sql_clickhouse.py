"""The query in ClickHouse's dialect run by a real ClickHouse (chdb, the
embedded engine: tests/clickhouse.py), against the Python engine, byte for
byte (docs/sql.md, "Other dialects"): every golden ledger of every rule
file that compiles, with and without explanations (the explained output's
sections too), numbers of every decimals in messages, and instants. A file
ClickHouse cannot run is refused when it is written, with the reason:
never a query that fails there or means something else."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import duckdb
import pytest
import sqlglot
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot.errors import UnsupportedError

import rewardrules
from rewardrules.cli.sql import duckdb_result
from rewardrules.score.api import parse_as_of
from rewardrules.sql.compile import Unsupported, compile_query
from rewardrules.sql.dialect import to_dialect
from rewardrules.sql.sections import compile_explained

from .clickhouse import ClickHouse
from .conftest import examples
from .test_sql_backend import GOLDEN, ROOT
from .test_sql_messages_more import LEDGER, NUMBERS, REFERRAL, TIMES, _use

#: the rule files ClickHouse cannot run, with the reason each is refused
REFUSED = {
    "affiliate_attribution": "cannot run a recursive query",  # the attribution fold
    "referral_fraud": "frames a window by at most 2^31 - 1",  # `count earlier referrals within 24 hours`
    "tiers_and_caps": "cannot run a recursive query",  # a reward counted by several caps
}


@pytest.fixture(scope="module")
def clickhouse() -> ClickHouse:
    return ClickHouse()


def _cases() -> list[tuple[str, Path, list[Path]]]:
    """Each rule file with golden ledgers that compiles: the reference
    programs and the golden folders' own rule files."""
    found = [(p.stem, p, sorted((GOLDEN / p.stem).glob("*.jsonl"))) for p in (ROOT / "rulesets").glob("*.rules")]
    for path in GOLDEN.rglob("*.rules"):
        found.append((path.stem, path, sorted([*path.parent.glob("*.jsonl"), *path.parent.glob("ledgers/*.jsonl")])))
    kept = []
    for name, path, ledgers in sorted(found):
        if ledgers and compiles(path):
            kept.append((name, path, ledgers))
    return kept


@cache
def compiles(path: Path) -> bool:
    try:
        compile_query(rewardrules.load(path).compiled)
    except Unsupported:
        return False
    return True


CASES = _cases()


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
    """Every golden ledger, explained (each award's `why`, the sections)
    and not: the same bytes as `score`; or, for a file ClickHouse cannot
    run, a refusal saying why."""
    prog = rewardrules.load(path)
    query = compile_query(prog.compiled)
    explained, sections = compile_explained(prog.compiled)
    columns = [column.name for column in query.columns]
    if name in REFUSED:
        with pytest.raises(UnsupportedError, match=REFUSED[name].replace("^", r"\^")) as refusal:
            to_dialect(query.awards, "clickhouse", columns)
        assert "score this file with --engine duckdb" in str(refusal.value)
        return
    for ledger in ledgers:
        lines = ledger.read_text(encoding="utf-8").splitlines()
        as_of = _as_of(ledger)
        plain = duckdb_result(prog, query, lines, parse_as_of(as_of), "<ledger>", clickhouse.runner())
        assert _text(plain) == prog.score(lines, as_of=as_of, explain=False).to_json(), ledger.stem
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
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["1", "1.5", "1.50", "-0.25", "2.000", "0", "10", "0.1"]),
            st.sampled_from([None, "1", "1.0", "0.50", "3.125", "-1"]),
            st.sampled_from(["1", "0.5", "2.25", "0.01", "-0.05", "0.015"]),
            st.integers(min_value=0, max_value=3),
        ),
        max_size=6,
    )
)
def test_generated_ledgers_give_the_same_messages(rows: list[tuple[str, str | None, str, int]]) -> None:
    """Ties of instants (ordered by id), maxima reached again with other
    decimals, a `first` size missing or not."""
    events = [REFERRAL] + [
        _use(n, seats, size, price, f"2026-01-0{day + 2}T00:00:00Z") for n, (seats, size, price, day) in enumerate(rows)
    ]
    _same(_session(), NUMBERS, events)


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
    assert text.endswith("SETTINGS join_use_nulls = 1, prefer_column_name_to_alias = 1")
    assert "CAST(NULL AS Map(" not in text and "CAST(map() AS Map(" in text  # a Map cannot be NULL
    tree = sqlglot.parse_one(text, read="clickhouse")
    qualified = [
        e
        for select in tree.find_all(sqlglot.exp.Select)  # `a.x` alone is named "a.x" in a join
        for e in select.expressions
        if isinstance(e, sqlglot.exp.Column) and e.table and not isinstance(e.this, sqlglot.exp.Star)
    ]
    assert qualified == [] and '"rid" AS "rid"' not in text and 'a.rid AS "rid"' in text


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
