"""A real ClickHouse for the tests, embedded (chdb): the statements that
`rewardrules sql --dialect clickhouse` prints, run over a ledger as
docs/sql.md ("The tables the query reads") says to lay it out, their rows
made into the result record as `score --engine duckdb` makes them
(`cli.sql.duckdb_result`)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from rewardrules.check.program import CheckedRuleset
from rewardrules.sql.compile import Column, Query
from rewardrules.sql.dialect import to_dialect
from rewardrules.sql.run import Rows, _positions, _sql_type, _write
from rewardrules.sql.sections import Sections

from .warehouse import fetched_rows

DATABASE = "rewardrules_check"


class ClickHouse:
    """One embedded ClickHouse session, its scratch database made again for
    each ledger."""

    def __init__(self) -> None:
        from chdb import session

        self.session = session.Session()
        # 64-bit integers and decimals as JSON numbers (quoted by default); a
        # statement longer than 256 KiB or of more than 50,000 parts (an
        # explained file of many rewards), as docs/sql.md tells a session to
        self.execute("SET output_format_json_quote_64bit_integers = 0, output_format_json_quote_decimals = 0")
        self.execute("SET max_query_size = 16777216, max_ast_elements = 2000000, max_expanded_ast_elements = 2000000")

    def execute(self, sql: str) -> str:
        return str(self.session.query(sql, "JSONEachRow"))

    def rows(self, sql: str) -> list[dict[str, Any]]:
        """The rows of one statement, in its order (numbers exact)."""
        out = self.execute(sql)
        return [json.loads(line, parse_float=Decimal) for line in out.splitlines() if line.strip()]

    def load(self, query: Query, checked: CheckedRuleset, records: Iterable[tuple[Any, ...]], as_of: int) -> None:
        """The `ledger` and `as_of` tables, from the validated records
        (written as JSON lines of texts by `run._write`, read into a table
        of texts, then cast)."""
        with tempfile.TemporaryDirectory(prefix="rewardrules-ch-") as folder:
            path = os.path.join(folder, "ledger.jsonl")
            scales = _write(path, records, _positions(checked, query.columns))
            data = Path(path).read_text(encoding="utf-8")
        names = ["at", "id", "type", "referee", "referrer", *(c.name for c in query.columns)]
        self.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        self.execute(f"CREATE DATABASE {DATABASE}")
        self.execute(f"USE {DATABASE}")
        texts = ", ".join(f"{_quoted(name)} Nullable(String)" for name in names)
        self.execute(f"CREATE TABLE raw ({texts}) ENGINE = Memory")
        if data:
            self.execute(f"INSERT INTO raw FORMAT JSONEachRow\n{data}")
        casts = ["CAST(`at` AS Int64) AS `at`", "assumeNotNull(id) AS id", "assumeNotNull(type) AS type"]
        casts += ["referee", "referrer"]
        casts += [f"CAST({_quoted(c.name)} AS {_type(c, scales)}) AS {_quoted(c.name)}" for c in query.columns]
        self.execute(f"CREATE TABLE ledger ENGINE = Memory AS SELECT {', '.join(casts)} FROM raw")
        self.execute(f"CREATE TABLE as_of ENGINE = Memory AS SELECT CAST({int(as_of)} AS Int64) AS `at`")

    def runner(self, sections: Sections | None = None) -> Any:
        """A runner for `cli.sql.duckdb_result`; with `sections`, the
        explained output's sections too (as `sql.spark_sections` fetches
        them)."""

        def run(query: Query, checked: CheckedRuleset, records: Iterable[tuple[Any, ...]], as_of: int) -> Rows:
            self.load(query, checked, list(records), as_of)
            ledger = [column.name for column in query.columns]

            def fetch(sql: str) -> list[dict[str, Any]]:
                return self.rows(_written(sql, tuple(ledger)))

            return fetched_rows(fetch, query, checked, sections)

        return run


@cache
def _written(sql: str, ledger: tuple[str, ...]) -> str:
    """A statement in ClickHouse's dialect (written once: every golden
    ledger of a program runs the same statements)."""
    return to_dialect(sql, "clickhouse", ledger)


def _type(column: Column, scales: dict[str, int]) -> str:
    """A field column's ClickHouse type: DuckDB's (`run._sql_type`) as
    sqlglot writes it there, `Nullable` (an event may lack the field)."""
    from sqlglot import exp

    return exp.DataType.build(_sql_type(column, scales), dialect="duckdb").sql("clickhouse")


def _quoted(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"
