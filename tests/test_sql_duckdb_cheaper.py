"""`score --engine duckdb` made cheaper without changing a byte
(docs/sql.md, "Speed today"): the first hit of each milestone and each
referee's first referral are numbered by one row key, `("at", id)`, which
DuckDB turns into an aggregate (no sort), while every other dialect gets
the keys one after the other; and the strict form's `at` is read by
`try_strptime`, which must give `parse_timestamp`'s nanoseconds up to the
ends of the range a BIGINT of nanoseconds holds."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import duckdb
import pytest

import rewardrules
from rewardrules.core.timeutil import parse_timestamp
from rewardrules.ledger.validate import _one_currency
from rewardrules.sql import read
from rewardrules.sql.compile import compile_query
from rewardrules.sql.dialect import to_dialect
from rewardrules.sql.run import load_sql

ROOT = Path(__file__).resolve().parents[1]
SAAS = ROOT / "rulesets" / "saas_milestones.rules"

ROWS = 'SELECT ROW_NUMBER() OVER (PARTITION BY rid ORDER BY ("at", id)) AS n, x FROM t ORDER BY (a, b) DESC, c'
KEYS = 'SELECT ROW_NUMBER() OVER (PARTITION BY rid ORDER BY "at", id) AS n, x FROM t ORDER BY a DESC, b DESC, c'


@pytest.mark.parametrize("dialect", ["postgres", "spark", "bigquery", "snowflake", "trino", "databricks"])
def test_a_row_key_is_written_as_its_keys_in_other_dialects(dialect: str) -> None:
    """BigQuery cannot order by a row; every dialect but DuckDB gets the
    portable form, exactly as if the keys had been written one by one."""
    assert to_dialect(ROWS, dialect) == to_dialect(KEYS, dialect)


def test_the_first_hits_are_taken_without_sorting_in_duckdb(tmp_path: Path) -> None:
    """saas_milestones' three first hits and the referees' first referrals
    are aggregates in DuckDB's plan: the one window left is the running
    metric's (`latest subscription.mrr`)."""
    query = compile_query(rewardrules.load(SAAS).compiled)
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text("", encoding="utf-8")
    db = duckdb.connect()
    db.execute(load_sql(str(ledger), query.columns, {}))
    db.execute('CREATE TABLE as_of AS SELECT CAST(0 AS BIGINT) AS "at"')
    plan = db.execute(f"EXPLAIN {query.awards}").fetchall()[0][1]
    db.close()
    assert plan.upper().count("WINDOW") == 1


@pytest.mark.parametrize(
    "at",
    [
        "1678-01-01T00:00:00+23:59",
        "1678-01-01T00:00:00.000000001+01:00",
        "2261-12-31T23:59:59.999999999-23:59",
        "2261-12-31T23:59:59.999999999Z",
        "2024-02-29T12:30:45.5+05:30",
        "1970-01-01T00:00:00-00:00",
        "1969-12-31T23:59:59.9Z",
    ],
)
def test_an_instant_at_the_ends_of_the_range_is_parse_timestamps(at: str) -> None:
    prog = rewardrules.load(SAAS)
    kinds = read.plan(prog.compiled.checked, sorted(prog.compiled.used_types))
    currencies = dict(_one_currency(prog._reader().money))
    line = f'{{"id":"s1","at":"{at}","type":"subscription","referee":"bob","mrr":"300.00"}}'
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "lines.jsonl")
        Path(path).write_text(line + "\n", encoding="utf-8")
        db = duckdb.connect()
        db.execute(read.parse_sql(path, kinds, currencies))
        found = db.execute('SELECT ok, "at" FROM parsed').fetchall()
        db.close()
    assert found == [(True, parse_timestamp(at))]
