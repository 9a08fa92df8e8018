"""The query in Postgres's dialect, run by a real PostgreSQL server on every
golden ledger of every reference program that compiles, against the Python
engine: prints one line per ledger (`same` or what differs) and exits 1 on
any difference. The tests run the same comparison on a scratch server of their own
(tests/test_sql_postgres.py); this script runs it on any server the `PG*`
variables name (another version, a managed one).

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
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import rewardrules
from rewardrules.cli.sql import duckdb_result
from rewardrules.sql.compile import compile_query

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.postgres import SCHEMA, Postgres, compared, runner  # noqa: E402  (the server's client, shared with the tests)


def cases(names: Sequence[str]) -> list[tuple[str, Path, list[Path]]]:
    """Each rule file that compiles with its golden ledgers
    (`tests.test_sql_backend.golden_programs`); or those named."""
    from tests.test_sql_backend import golden_programs

    return [case for case in golden_programs() if not names or case[0] in names]


def check(pg: Postgres, name: str, path: Path, ledgers: Sequence[Path], explain: bool = False) -> int:
    """Compare every golden ledger of one program; the number that differ.
    `explain`: the explained result, each award's `why` and the sections
    (`rewardrules sql --sections`), compared with the Python engine's."""
    program = rewardrules.load(path)
    differ = 0
    for ledger in ledgers:
        try:
            python, postgres = compared(pg, program, ledger, explain)
        except Exception as error:  # a failure is a finding, printed
            python, postgres = "", f"error: {str(error).splitlines()[0] if str(error) else type(error).__name__}"
        same = postgres == python
        differ += not same
        awards = f" ({len(json.loads(python)['awards'])} award(s))" if python else ""
        print(f"{name}/{ledger.stem}: {'same' if same else 'DIFFERENT'}{awards}")
        if not same:
            print("  " + postgres[:600].replace("\n", "\n  "))
    return differ


def folds(pg: Postgres, seed: int, rounds: int) -> int:
    """The programs of `tests/test_sql_caps2.py` whose rewards draw from
    several caps (the recursive fold; per month, per week and per day in
    America/New_York and America/Goose_Bay), each on `rounds` random
    ledgers of two referrals and 60 payments: the number that differ."""
    import datetime
    import random

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
    parser.add_argument(
        "--explain", action="store_true", help="compare the explained result: each award's `why` and the sections"
    )
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
