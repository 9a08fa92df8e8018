"""Review of the SQL back end's reading and dialects: outside engines'
text must mean what DuckDB's query means, exactly."""

from __future__ import annotations

import sqlite3
import sys
import tempfile
from pathlib import Path

import pytest

from rewardrules.sql.dialect import to_dialect

#: past 2^53, where a binary float no longer holds every integer
BIG = 9007199254740993


@pytest.mark.parametrize("dialect", ["postgres", "tsql"])
def test_integer_division_is_exact_in_the_dialects_text(dialect: str) -> None:
    """`a // b` (minor units, nanoseconds) is written as `(a - a % b) / b`:
    that division must not go through a float, as sqlglot writes DuckDB's
    `/` for Postgres and T-SQL (`CAST(.. AS DOUBLE PRECISION) / b`). The
    text is run by SQLite, whose `/` of integers is exact integer division
    (as Postgres's of integers and numerics is for a multiple)."""
    sql = to_dialect(
        f"SELECT CAST({BIG} AS BIGINT) // CAST(1 AS BIGINT) AS q, CAST(-{BIG} AS BIGINT) // CAST(2 AS BIGINT) AS n",
        dialect,
    )
    if dialect == "tsql":
        sql = sql.replace("NUMERIC(38, 0)", "DECIMAL(38, 0)")
    q, n = sqlite3.connect(":memory:").execute(sql).fetchone()
    assert (q, n) == (BIG, -(BIG // 2))  # toward zero: -4503599627370496
    assert "DOUBLE" not in sql and "FLOAT" not in sql


def test_spark_without_pyspark_leaves_no_directory_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`Spark(...)` makes the run's private directory; when pyspark is
    missing, `__enter__` fails, `__exit__` never runs: the directory must
    not be left in the temporary folder."""
    from rewardrules.sql.run import EngineError
    from rewardrules.sql.spark import Spark

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)  # import fails
    with pytest.raises(EngineError, match="needs pyspark"), Spark("local[1]"):
        pass
    assert list(tmp_path.iterdir()) == []
