"""A real PostgreSQL server for the tests and `benchmarks/warehouse_check.py`:
a scratch cluster started from Debian's `postgresql` package (which
`.ci/run` installs where it is missing), listening on a Unix socket in its
own folder only; the statements that `rewardrules sql --dialect postgres`
prints, run over a ledger laid out as docs/sql.md ("The tables the query
reads") says, their rows made into the result record as `score --engine
duckdb` makes them (`cli.sql.duckdb_result`)."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from rewardrules.check.program import CheckedRuleset
from rewardrules.sql.compile import Column, Query
from rewardrules.sql.dialect import to_dialect
from rewardrules.sql.run import Rows, _positions, _write
from rewardrules.sql.sections import Sections

from .warehouse import fetched_rows

SCHEMA = "rewardrules_check"

#: how long one psql run or a server's start may take, in seconds
TIMEOUT = 300


def binaries() -> Path | None:
    """The newest installed PostgreSQL's programs (`initdb`, `pg_ctl`,
    `psql`), Debian's layout; None where there is none."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


class Postgres:
    """A `psql` client of one server: `env` says which (the `PG*`
    variables; the process's own where None)."""

    def __init__(self, psql: str, env: dict[str, str] | None = None) -> None:
        self.psql = psql
        self.env = env

    def script(self, sql: str, data: str | None = None) -> str:
        """Run `sql` (statements; `COPY ... FROM STDIN` reads `data`)."""
        text = sql if data is None else f"{sql}\n{data}\\.\n"
        done = subprocess.run(
            [self.psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", "-"],
            input=text,
            capture_output=True,
            text=True,
            check=False,
            env=self.env,
            timeout=TIMEOUT,
        )
        if done.returncode:
            raise RuntimeError(f"psql: {done.stderr.strip()[:2000]}")
        return done.stdout

    def rows(self, sql: str) -> list[dict[str, Any]]:
        """The rows of one query, in its order, as dicts by column name
        (each row as JSON: numbers exact, `parse_float=Decimal`)."""
        out = self.script(f"SET search_path TO {SCHEMA};\nSELECT row_to_json(q)::text FROM (\n{sql}\n) AS q;")
        return [json.loads(line, parse_float=Decimal) for line in out.splitlines() if line.strip()]


class Server:
    """A scratch cluster in a new folder, started at once and removed by
    `stop` (or as soon as it fails to start): trust authentication, no TCP
    port (its socket is in the folder, under /tmp: a socket's path is at
    most 107 bytes, and as root the `postgres` user must reach it), no
    fsync (nothing in it is kept). As root, its programs run as the
    `postgres` user, which the package makes (the server refuses to run as
    root). No `PG*` variable of this process reaches the server or its
    client (a `PGPORT` would name another socket)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.folder = tempfile.mkdtemp(prefix="rr-pg-", dir="/tmp" if os.path.isdir("/tmp") else None)
        self.data = os.path.join(self.folder, "data")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        self._as: list[str] = []
        try:
            if os.geteuid() == 0:
                shutil.chown(self.folder, user="postgres")
                self._as = ["runuser", "-u", "postgres", "--"]
            self._run(
                "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"
            )
            options = f"-c listen_addresses='' -c port=5432 -k {self.folder} -c fsync=off -c full_page_writes=off"
            self._run("pg_ctl", "-D", self.data, "-o", options, "-l", self.log, "-t", "60", "-w", "start")
        except BaseException:
            self.stop()
            raise
        client = self.env | {"PGHOST": self.folder, "PGPORT": "5432", "PGUSER": "postgres", "PGDATABASE": "postgres"}
        self.client = Postgres(str(bindir / "psql"), client)

    @property
    def log(self) -> str:
        """The server's log file (in its folder)."""
        return os.path.join(self.folder, "log")

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [*self._as, str(self.bindir / program), *args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
            env=self.env,
        )
        if done.returncode:
            said = (done.stdout + done.stderr).strip()[-2000:]
            log = (
                Path(self.log).read_text(encoding="utf-8", errors="replace")[-2000:] if os.path.exists(self.log) else ""
            )
            raise RuntimeError(f"{program}: {said}" + (f"\nthe server's log:\n{log}" if log else ""))

    def stop(self) -> None:
        """Stop the server if it runs (at once: nothing in it is kept) and
        remove its folder."""
        try:
            if os.path.exists(os.path.join(self.data, "postmaster.pid")):
                self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def _type(column: Column, scales: dict[str, int]) -> str:
    """A field column's Postgres type (texts in the "C" collation)."""
    if column.kind == "number":
        return f"NUMERIC(38, {scales.get(column.name, 0)})"
    if column.kind == "exponent":  # a number's exponent, a sign: as `run._sql_type` loads them
        return "BIGINT"
    return "BOOLEAN" if column.kind in ("boolean", "sign") else "TEXT"


def _collated(column: Column) -> str:
    return ' COLLATE "C"' if column.kind == "text" else ""


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def load(pg: Postgres, query: Query, checked: CheckedRuleset, records: Iterable[tuple[Any, ...]], as_of: int) -> None:
    """The `ledger` and `as_of` tables of the scratch schema, from the
    validated records (written as JSON lines of texts by `run._write`, read
    into a one-column table, then cast)."""
    with tempfile.TemporaryDirectory(prefix="rewardrules-pg-") as folder:
        path = os.path.join(folder, "ledger.jsonl")
        scales = _write(path, records, _positions(checked, query.columns))
        data = Path(path).read_text(encoding="utf-8")
    casts = "".join(
        f", CAST(line ->> {_literal(c.name)} AS {_type(c, scales)}){_collated(c)} AS {_quoted(c.name)}"
        for c in query.columns
    )
    text = ", ".join(f'line ->> {_literal(n)} COLLATE "C" AS {n}' for n in ("id", "type", "referee", "referrer"))
    pg.script(
        f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}; SET search_path TO {SCHEMA};\n"
        "CREATE TABLE raw (line jsonb);\n"
        "COPY raw (line) FROM STDIN WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02');",
        data,
    )
    pg.script(
        f"SET search_path TO {SCHEMA};\n"
        f"CREATE TABLE ledger AS SELECT CAST(line ->> 'at' AS BIGINT) AS \"at\", {text}{casts} FROM raw;\n"
        f'CREATE TABLE as_of AS SELECT CAST({int(as_of)} AS BIGINT) AS "at";'
    )


def runner(
    pg: Postgres, sections: Sections | None = None
) -> Callable[[Query, CheckedRuleset, Iterable[tuple[Any, ...]], int], Rows]:
    """A runner for `cli.sql.duckdb_result`: the statements of `rewardrules
    sql --dialect postgres` run by the server over the records; with
    `sections`, the explained output's sections too (`--sections`, as
    `sql.spark_sections` fetches them)."""

    def run(query: Query, checked: CheckedRuleset, records: Iterable[tuple[Any, ...]], as_of: int) -> Rows:
        load(pg, query, checked, list(records), as_of)
        ledger = [column.name for column in query.columns]

        def fetch(sql: str) -> list[dict[str, Any]]:
            return pg.rows(_written(sql, tuple(ledger)))

        return fetched_rows(fetch, query, checked, sections)

    return run


@cache
def _written(sql: str, ledger: tuple[str, ...]) -> str:
    """A statement in Postgres's dialect (written once: every golden ledger
    of a program runs the same statements)."""
    return to_dialect(sql, "postgres", ledger)


def compared(pg: Postgres, program: Any, ledger: Path, explain: bool = False) -> tuple[str, str]:
    """The Python engine's result for a golden ledger (at its expected
    result's `as_of`) and the one the server's rows make, as JSON texts:
    explained, the whole of it (each award's `why` and the sections
    `--sections` prints, as `score --engine duckdb` explains)."""
    from rewardrules.cli.sql import duckdb_result
    from rewardrules.score.api import parse_as_of
    from rewardrules.sql.compile import compile_query
    from rewardrules.sql.sections import compile_explained

    expected = json.loads(ledger.with_suffix("").with_suffix(".expected.json").read_text(encoding="utf-8"))
    lines = ledger.read_text(encoding="utf-8").splitlines()
    python = program.score(lines, as_of=expected["as_of"], explain=explain).to_json()
    query, sections = compile_explained(program.compiled) if explain else (compile_query(program.compiled), None)
    data = duckdb_result(
        program, query, lines, parse_as_of(expected["as_of"]), str(ledger), runner(pg, sections), explain
    )
    return python, json.dumps(data, ensure_ascii=False, indent=2) + "\n"
