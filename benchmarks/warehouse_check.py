"""The query in Postgres's dialect, run by a real PostgreSQL server on every
golden ledger of every reference program that compiles, against the Python
engine: prints one line per ledger (`same` or what differs) and exits 1 on
any difference. Not a test (CI has no PostgreSQL server); docs/sql.md,
"Other dialects", says when it was last run and what it gave.

    PGHOST=/tmp/pg PGPORT=5432 PGUSER=postgres python benchmarks/warehouse_check.py
    python benchmarks/warehouse_check.py --psql /usr/lib/postgresql/15/bin/psql zoom saas_milestones

`psql` reads the server's address from the usual `PG*` variables. Each
ledger is loaded into a scratch schema (`rewardrules_check`, dropped and
made again) as the `ledger` table docs/sql.md describes, its texts in the
"C" collation (code point order, as the query's ties by id need); then each
statement that `rewardrules sql --dialect postgres` prints is run, and its
rows become the result record exactly as `score --engine duckdb` builds it
(`cli.sql.duckdb_result`). The Python engine's result (`score
--no-explain`) and the Postgres one are compared byte for byte.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import rewardrules
from rewardrules.check.program import CheckedRuleset
from rewardrules.cli.sql import duckdb_result
from rewardrules.score.api import parse_as_of
from rewardrules.sql.compile import Column, Query, compile_query
from rewardrules.sql.dialect import to_dialect
from rewardrules.sql.every import check_volume
from rewardrules.sql.run import Rows, _positions, _write

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "rewardrules_check"


class Postgres:
    """A `psql` client of one server (the `PG*` variables say which)."""

    def __init__(self, psql: str) -> None:
        self.psql = psql

    def script(self, sql: str, data: str | None = None) -> str:
        """Run `sql` (statements; `COPY ... FROM STDIN` reads `data`)."""
        text = sql if data is None else f"{sql}\n{data}\\.\n"
        done = subprocess.run(
            [self.psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", "-"],
            input=text,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"psql: {done.stderr.strip()[:2000]}")
        return done.stdout

    def rows(self, sql: str) -> list[dict[str, Any]]:
        """The rows of one query, in its order, as dicts by column name
        (each row as JSON: numbers exact, `parse_float=Decimal`)."""
        out = self.script(f"SET search_path TO {SCHEMA};\nSELECT row_to_json(q)::text FROM (\n{sql}\n) AS q;")
        return [json.loads(line, parse_float=Decimal) for line in out.splitlines() if line.strip()]


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


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def runner(pg: Postgres) -> Any:
    """A runner for `cli.sql.duckdb_result`: the statements of `rewardrules
    sql --dialect postgres` run by the server over the records."""

    def run(query: Query, checked: CheckedRuleset, records: Iterable[tuple[Any, ...]], as_of: int) -> Rows:
        load(pg, query, checked, list(records), as_of)
        ledger = [column.name for column in query.columns]

        def fetch(sql: str) -> list[dict[str, Any]]:
            return pg.rows(to_dialect(sql, "postgres", ledger))

        volume = query.volume_sql()
        check_volume(fetch(volume) if volume is not None else [], query.names, query.most)
        taken = fetch(query.reversals) if query.reversals else []
        claws = fetch(query.clawbacks) if query.clawbacks else []
        return Rows(fetch(query.awards), fetch(query.rejected), taken, claws)

    return run


def cases(names: Sequence[str]) -> list[tuple[str, Path, list[Path]]]:
    """Each rule file that compiles with its golden ledgers
    (`tests.test_sql_backend.golden_programs`); or those named."""
    sys.path.insert(0, str(ROOT))
    from tests.test_sql_backend import golden_programs

    return [case for case in golden_programs() if not names or case[0] in names]


def check(pg: Postgres, name: str, path: Path, ledgers: Sequence[Path], explain: bool = False) -> int:
    """Compare every golden ledger of one program; the number that differ.
    `explain`: the query with each award's `why`, compared with the Python
    engine's explained awards and reversals (the other explained sections
    are not computed by the query)."""
    program = rewardrules.load(path)
    query = compile_query(program.compiled, explain)
    differ = 0
    for ledger in ledgers:
        expected = json.loads(ledger.with_suffix("").with_suffix(".expected.json").read_text(encoding="utf-8"))
        lines = ledger.read_text(encoding="utf-8").splitlines()
        python = program.score(lines, as_of=expected["as_of"], explain=explain).to_json()
        if explain:
            python = _explained(json.loads(python))
        try:
            as_of = parse_as_of(expected["as_of"])
            data = duckdb_result(program, query, lines, as_of, str(ledger), runner(pg), explain)
            postgres = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
            postgres = _explained(data) if explain else postgres
        except Exception as error:  # a failure is a finding, printed
            postgres = f"error: {str(error).splitlines()[0] if str(error) else type(error).__name__}"
        same = postgres == python
        differ += not same
        awards = len(json.loads(python)["awards"])
        print(f"{name}/{ledger.stem}: {'same' if same else 'DIFFERENT'} ({awards} award(s))")
        if not same:
            print("  " + postgres[:600].replace("\n", "\n  "))
    return differ


def _explained(data: dict[str, Any]) -> str:
    """The awards and reversals of a result, as JSON text."""
    return json.dumps({key: data[key] for key in ("awards", "reversals")}, ensure_ascii=False, indent=2)


def folds(pg: Postgres, seed: int, rounds: int) -> int:
    """The programs of `tests/test_sql_caps2.py` whose rewards draw from
    several caps (the recursive fold; per month, per week and per day in
    America/New_York and America/Goose_Bay), each on `rounds` random
    ledgers of two referrals and 60 payments: the number that differ."""
    import datetime
    import random

    sys.path.insert(0, str(ROOT))
    from tests.test_sql_caps2 import GOOSE_BAY, LAYERED, SHARED

    rng = random.Random(seed)
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    differ = 0
    for name, rules in (("layered", LAYERED), ("shared", SHARED), ("goose_bay", GOOSE_BAY)):
        program = rewardrules.compile(rules, f"{name}.rules")
        query = compile_query(program.compiled)
        for n in range(rounds):
            events: list[dict[str, Any]] = [
                {"id": f"r{k}", "at": "2025-12-30T00:00:00Z", "type": "referral", "referrer": "alice", "referee": who}
                | {"source": rng.choice(["partner", "customer"])}
                for k, who in enumerate(("bob", "carol"))
            ]
            for i in range(60):
                at = start + datetime.timedelta(days=rng.randrange(200), hours=rng.choice([0, 3, 4, 5, 23]))
                amount = f"{rng.randrange(1, 200_000) / 100:.2f}"
                who = rng.choice(["bob", "carol"])
                events.append(
                    {"id": f"p{i}", "at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "type": "payment"}
                    | {"referee": who, "amount": amount}
                )
            lines = [json.dumps(event) for event in events]
            python = program.score(lines, explain=False).to_json()
            data = duckdb_result(program, query, lines, None, name, runner(pg))
            same = json.dumps(data, ensure_ascii=False, indent=2) + "\n" == python
            differ += not same
            awards = len(json.loads(python)["awards"])
            print(f"{name}/random-{n}: {'same' if same else 'DIFFERENT'} ({awards} award(s))")
    return differ


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("programs", nargs="*", help="rule files by name (default: every one that compiles)")
    parser.add_argument("--rounds", type=int, default=3, help="random ledgers per program with several caps (0: none)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--psql", default="psql", help="the psql client to run")
    parser.add_argument("--explain", action="store_true", help="compare each award's `why` too (sql/explain.py)")
    args = parser.parse_args(argv)
    pg = Postgres(args.psql)
    print(pg.script("SELECT version();").strip())
    names = cases(args.programs)
    differ = sum(check(pg, *case, args.explain) for case in names)
    differ += folds(pg, args.seed, args.rounds) if args.rounds else 0
    pg.script(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE;")
    print(f"{len(names)} program(s); {'all the same' if not differ else f'{differ} ledger(s) differ'}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
