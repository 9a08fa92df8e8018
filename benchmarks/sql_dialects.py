"""Writing the compiled statements in other dialects (`sql.dialect.to_dialect`, sqlglot).

For every reference program (`rulesets/*.rules`) that compiles, the
statements `rewardrules sql` prints, with and without explanations, and the
explained sections' statements; per dialect, the CPU seconds to write them
all, and a digest of the text written (two runs of different code that
print the same digest wrote the same statements).

    python benchmarks/sql_dialects.py
    python benchmarks/sql_dialects.py --dialects spark,clickhouse
    python benchmarks/sql_dialects.py --programs saas_milestones   # a smoke run

The load average is printed: the machine may be shared.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sqlglot.errors import SqlglotError  # noqa: E402

import rewardrules  # noqa: E402
from rewardrules.sql.compile import Unsupported, compile_query  # noqa: E402
from rewardrules.sql.dialect import to_dialect  # noqa: E402
from rewardrules.sql.sections import compile_explained  # noqa: E402

DIALECTS = "spark,clickhouse,postgres,snowflake,bigquery,trino,redshift,databricks"


def statements(programs: list[str] | None = None) -> list[tuple[list[str], str]]:
    """(the ledger's field columns, a statement) of every reference program
    (or of those named)."""
    paths = sorted((ROOT / "rulesets").glob("*.rules"))
    unknown = sorted(set(programs or ()) - {path.stem for path in paths})
    if unknown:
        raise SystemExit(f"sql_dialects.py: no reference program named {', '.join(unknown)}")
    found = []
    for path in paths:
        if programs is not None and path.stem not in programs:
            continue
        prog = rewardrules.load(path)
        try:
            plain = compile_query(prog.compiled)
            explained, sections = compile_explained(prog.compiled)
        except Unsupported:
            continue
        columns = [column.name for column in explained.columns]
        texts = [sql for _, sql in plain.statements()] + [sql for _, sql in explained.statements()]
        texts += [sql for sql in (sections.referrals, sections.referrers, sections.withheld) if sql]
        found += [(columns, sql) for sql in texts]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialects", default=DIALECTS)
    parser.add_argument("--programs", default=None, help="reference programs by name, comma-separated (default: all)")
    args = parser.parse_args()
    work = statements(args.programs.split(",") if args.programs else None)
    print(f"load average {os.getloadavg()[0]:.2f}; {len(work)} statements")
    for dialect in args.dialects.split(","):
        digest = hashlib.sha256()
        started = time.process_time()
        for columns, sql in work:
            try:
                digest.update(to_dialect(sql, dialect, columns).encode("utf-8"))
            except SqlglotError as error:  # a refusal is part of what is written
                digest.update(type(error).__name__.encode("utf-8"))
        print(f"{dialect:<11} {time.process_time() - started:7.2f} s CPU  {digest.hexdigest()[:16]}")


if __name__ == "__main__":
    main()
