"""`every N M` in Postgres's dialect: DuckDB's `UNNEST(GENERATE_SERIES(...))`
(a list, then its rows) is Postgres's `GENERATE_SERIES(...)` alone, which
is already the rows; `UNNEST(bigint)` does not exist there ("function
unnest(bigint) does not exist" on PostgreSQL 15, `counts_voided`; run by
`benchmarks/warehouse_check.py`)."""

from __future__ import annotations

import rewardrules
from rewardrules.sql.compile import compile_query
from rewardrules.sql.dialect import to_dialect

from .test_sql_backend import GOLDEN


def test_every_writes_postgres_series_without_unnest() -> None:
    program = rewardrules.load(GOLDEN / "counts_voided" / "counts_voided.rules")
    query = compile_query(program.compiled)
    columns = [column.name for column in query.columns]
    assert "UNNEST(GENERATE_SERIES(" in query.awards  # DuckDB's form, rewritten below
    text = to_dialect(query.awards, "postgres", columns)
    assert "GENERATE_SERIES(1, CAST(j1.jump AS BIGINT)) AS nth" in text
    assert "UNNEST(GENERATE_SERIES" not in text.upper()
