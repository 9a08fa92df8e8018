"""The SQL back end against the Python engine and a hand-written DuckDB query.

`saas_milestones` on the seeded ledgers of `generate.py`. Each contender is
one whole process, so measure them from outside (here with `/usr/bin/time -v`;
hyperfine, from Debian's packages, runs them in turn), e.g.:

    python benchmarks/generate.py --events 200000 --seed 7 > /tmp/l.jsonl
    python benchmarks/sql_backend.py check /tmp/l.jsonl        # same awards first
    /usr/bin/time -v python benchmarks/sql_backend.py python /tmp/l.jsonl
    /usr/bin/time -v python benchmarks/sql_backend.py duckdb /tmp/l.jsonl
    /usr/bin/time -v python benchmarks/sql_backend.py hand /tmp/l.jsonl

- `python`: `rewardrules score --no-explain --format json` (the Python engine);
- `duckdb`: `rewardrules score --engine duckdb --format json` (the ledger read
  and validated by the ledger stage, the compiled query run by DuckDB);
- `hand`: a hand-written DuckDB query (one thread) reading the JSON Lines
  itself: what a data engineer would write instead, and the yardstick of
  issue 19's speed goal (within 1.3x of it).

`check` runs all three and says whether they give the same awards
(at, milestone, beneficiary, referee, amount): the figures mean nothing
unless they do.
"""

from __future__ import annotations

import io
import json
import os
import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RULES = str(ROOT / "rulesets" / "saas_milestones.rules")

#: the hand-written query: saas_milestones' three thresholds on the latest
#: MRR of each referred customer, first reach only, ties broken by id
HAND = """
SET threads = 1;
WITH ev AS (
  SELECT id, epoch_ns(CAST("at" AS TIMESTAMPTZ)) AS t, type, referrer, referee, CAST(mrr AS DECIMAL(38, 2)) AS mrr
  FROM read_json(?, format = 'newline_delimited',
                 columns = {id: 'VARCHAR', "at": 'VARCHAR', type: 'VARCHAR', referrer: 'VARCHAR',
                            referee: 'VARCHAR', mrr: 'VARCHAR'})
),
refs AS (
  SELECT referee, referrer, t, id FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY referee ORDER BY t, id) AS n
    FROM ev WHERE type = 'referral' AND referrer <> referee) WHERE n = 1
),
subs AS (
  SELECT s.t, s.id, s.mrr, r.referrer, r.referee FROM ev s JOIN refs r ON s.referee = r.referee
  WHERE s.type = 'subscription' AND (s.t > r.t OR (s.t = r.t AND s.id > r.id))
),
hits AS (
  SELECT t, id, 'mrr_1k' AS milestone, 0 AS k, '500.00' AS amount, referrer, referee FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY referee ORDER BY t, id) AS n FROM subs WHERE mrr >= 1000) WHERE n = 1
  UNION ALL
  SELECT t, id, 'arr_5k', 1, '1000.00', referrer, referee FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY referee ORDER BY t, id) AS n FROM subs WHERE 12 * mrr >= 5000) WHERE n = 1
  UNION ALL
  SELECT t, id, 'arr_10k', 2, '2000.00', referrer, referee FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY referee ORDER BY t, id) AS n FROM subs WHERE 12 * mrr >= 10000) WHERE n = 1
)
SELECT t, milestone, referrer, referee, amount FROM hits ORDER BY t, id, k
"""


def hand(ledger: str) -> list[tuple[Any, ...]]:
    import duckdb

    db = duckdb.connect()
    statements = [s for s in HAND.split(";") if s.strip()]
    db.execute(statements[0])
    return db.execute(statements[1], [ledger]).fetchall()


def engine(ledger: str, *options: str) -> str:
    """`rewardrules score` in this process; its standard output."""
    from rewardrules.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["score", "--format", "json", *options, RULES, ledger])
    if code:
        raise SystemExit(code)
    return out.getvalue()


def awards_of(result: str) -> list[tuple[str, ...]]:
    return sorted(
        (a["at"], a["milestone"], a["beneficiary"], a["referee"], a["amount"]) for a in json.loads(result)["awards"]
    )


def check(ledger: str) -> int:
    from rewardrules.core.timeutil import format_timestamp

    python = awards_of(engine(ledger, "--no-explain"))
    sql = awards_of(engine(ledger, "--engine", "duckdb"))
    written = sorted((format_timestamp(t), m, r, e, a) for t, m, r, e, a in hand(ledger))
    print(f"{len(python)} awards; duckdb engine same: {sql == python}; hand-written query same: {written == python}")
    return 0 if python == sql == written else 1


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("python", "duckdb", "hand", "check"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, ledger = argv
    if mode == "check":
        return check(ledger)
    if mode == "hand":
        rows = hand(ledger)
        sys.stdout.write(f"{len(rows)} awards\n")
        return 0
    result = engine(ledger, "--no-explain") if mode == "python" else engine(ledger, "--engine", "duckdb")
    sys.stdout.write(result)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main(sys.argv[1:]))
