"""Issue 19's table from a fresh run: rewardrules against what a data
engineer would write instead, on the seeded ledger of `generate.py`.

    python benchmarks/contenders.py --events 1000000 [--runs 3] [--programs saas_milestones,...]

Writes the ledger (seed 7) to a temporary file, then for each program:

1. runs every contender once and checks that they give the same awards
   (at, milestone, beneficiary, referee, amount): a figure means nothing
   otherwise, and a contender that differs is reported, not timed;
2. times each contender as a whole process, `--runs` times, the contenders
   alternating (A B C ... A B C ...), and prints the median CPU seconds
   (user + system, all threads), wall seconds and peak memory (max RSS).

Contenders: `rewardrules score --no-explain` (the Python engine),
`score --engine duckdb --threads 1 --no-explain` (when the program
compiles to SQL; one thread, as the hand-written row it is compared with),
hand-written DuckDB queries and Polars queries (one thread and both
threads; Polars is in the `bench` extra), for
`saas_milestones` the hand-written DuckDB query that also does the
contract's work (`contract_query.py`: checks, award ids, the result
written), and the floors: parse every line
with msgspec / orjson, and DuckDB reading every line (one thread).
The machine is shared: read CPU time, not wall time.

One contender, for the runs above: `contenders.py run NAME PROGRAM LEDGER
[--awards]` (prints the award tuples with --awards, else their count).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent

#: the ledger columns every hand-written query reads, all as text
COLUMNS = "{id: 'VARCHAR', \"at\": 'VARCHAR', type: 'VARCHAR', referrer: 'VARCHAR', referee: 'VARCHAR', source: 'VARCHAR', mrr: 'VARCHAR', amount: 'VARCHAR'}"

#: the events, accepted referrals (first valid per referee, ties by id)
#: and each referral's later events: the start of every hand-written query
DUCK_BASE = f"""
WITH ev AS (
  SELECT id, epoch_ns(CAST("at" AS TIMESTAMPTZ)) AS t, type, referrer, referee, source,
         CAST(mrr AS DECIMAL(38, 2)) AS mrr, CAST(amount AS DECIMAL(38, 2)) AS amount
  FROM read_json(?, format = 'newline_delimited', columns = {COLUMNS})
),
refs AS (
  SELECT referee, referrer, source, t AS rt, id AS rid FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY referee ORDER BY t, id) AS n
    FROM ev WHERE type = 'referral' AND referrer <> referee) WHERE n = 1
),
seen AS (
  SELECT e.t, e.id, e.type, e.mrr, e.amount, r.referrer, r.referee, r.source, r.rt FROM ev e JOIN refs r ON e.referee = r.referee
  WHERE e.type <> 'referral' AND (e.t > r.rt OR (e.t = r.rt AND e.id > r.rid))
)"""


def _first(where: str, by: str = "referee") -> str:
    return f"SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY {by} ORDER BY t, id) AS n FROM seen WHERE {where}) WHERE n = 1"


DUCK = {
    "saas_milestones": DUCK_BASE
    + f""",
subs AS (SELECT * FROM seen WHERE type = 'subscription')
SELECT t, 'mrr_1k', referrer, referee, '500.00' FROM ({_first("type = 'subscription' AND mrr >= 1000")})
UNION ALL SELECT t, 'arr_5k', referrer, referee, '1000.00' FROM ({_first("type = 'subscription' AND 12 * mrr >= 5000")})
UNION ALL SELECT t, 'arr_10k', referrer, referee, '2000.00' FROM ({_first("type = 'subscription' AND 12 * mrr >= 10000")})
""",
    "referral_milestones": DUCK_BASE
    + f""",
conv AS ({_first("type = 'payment' AND amount > 0")}),
nth AS (SELECT *, ROW_NUMBER() OVER (PARTITION BY referrer ORDER BY t, id) AS k FROM conv)
SELECT t, 'welcome_discount', referee, referee, '10' FROM conv
UNION ALL SELECT t, 'welcome_discount', referrer, referee, '10' FROM conv
UNION ALL SELECT t, 'first_referral', referrer, referee, '50.00' FROM nth WHERE k = 1
UNION ALL SELECT t, 'first_referral', referee, referee, '50.00' FROM nth WHERE k = 1
UNION ALL SELECT t, 'five_referrals', referrer, referee, '1' FROM nth WHERE k = 5
UNION ALL SELECT t, 'ten_referrals', referrer, referee, '1' FROM nth WHERE k = 10
""",
    "partner_and_customer": DUCK_BASE
    + f""",
wanted AS (
  SELECT t, id, referrer, referee,
         (c // 100 + CASE WHEN c % 100 > 50 OR (c % 100 = 50 AND (c // 100) % 2 = 1) THEN 1 ELSE 0 END) AS cents
  FROM (SELECT *, CAST(amount * 100 AS BIGINT) * 15 AS c FROM seen
        WHERE source = 'partner' AND type = 'payment' AND t - rt <= 31536000000000000)
),
used AS (
  SELECT *, SUM(cents) OVER (PARTITION BY referrer, date_trunc('quarter', make_timestamp(t // 1000)) ORDER BY t, id
                             ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS w FROM wanted WHERE cents > 0
)
SELECT t, 'customer_conversion', referrer, referee, '100.00' FROM ({_first("source = 'customer' AND type = 'payment' AND amount > 0")})
UNION ALL
SELECT t, 'partner_commission', referrer, referee, CAST(CAST(g AS DECIMAL(38, 2)) / 100 AS DECIMAL(38, 2))::VARCHAR
FROM (SELECT *, LEAST(w, 500000) - LEAST(w - cents, 500000) AS g FROM used) WHERE g > 0
""",
}


def contract_awards(ledger: str) -> list[tuple[Any, ...]]:
    """The awards of `contract_query.py`: the hand-written query that does the contract's work."""
    sys.path.insert(0, str(HERE))
    import contract_query

    out = io.BytesIO()
    contract_query.score(ledger, 1, out)
    return _tuples(json.loads(out.getvalue()))


def duckdb_awards(program: str, ledger: str, threads: int) -> list[tuple[Any, ...]]:
    import duckdb

    db = duckdb.connect()
    db.execute(f"SET threads = {threads}")
    db.execute("SET TimeZone = 'UTC'")
    db.execute("SET enable_progress_bar = false")
    return db.execute(DUCK[program], [ledger]).fetchall()


def polars_awards(program: str, ledger: str, threads: int) -> list[tuple[Any, ...]]:
    os.environ["POLARS_MAX_THREADS"] = str(threads)
    import polars as pl

    text = dict.fromkeys(("id", "at", "type", "referrer", "referee", "source", "mrr", "amount"), pl.Utf8)
    ev = pl.scan_ndjson(ledger, schema=text).with_columns(
        pl.col("at").str.to_datetime("%Y-%m-%dT%H:%M:%S%#z", time_unit="ns").dt.epoch("ns").alias("t"),
        pl.col("mrr").cast(pl.Decimal(38, 2)),
        pl.col("amount").cast(pl.Decimal(38, 2)),
    )
    refs = (
        ev.filter((pl.col("type") == "referral") & (pl.col("referrer") != pl.col("referee")))
        .sort("t", "id")
        .group_by("referee", maintain_order=True)
        .first()
        .select("referee", "referrer", "source", pl.col("t").alias("rt"), pl.col("id").alias("rid"))
    )
    seen = (
        ev.filter(pl.col("type") != "referral")
        .drop("referrer", "source")
        .join(refs, on="referee")
        .filter((pl.col("t") > pl.col("rt")) | ((pl.col("t") == pl.col("rt")) & (pl.col("id") > pl.col("rid"))))
    )

    def first(where: pl.Expr, by: str = "referee") -> pl.LazyFrame:
        return seen.filter(where).sort("t", "id").group_by(by, maintain_order=True).first()

    def rows(frame: pl.LazyFrame, milestone: str, who: str, amount: str) -> pl.LazyFrame:
        return frame.select(
            "t", pl.lit(milestone).alias("m"), pl.col(who).alias("b"), "referee", pl.lit(amount).alias("a")
        )

    sub, pay = pl.col("type") == "subscription", pl.col("type") == "payment"
    parts: list[pl.LazyFrame]
    if program == "saas_milestones":
        parts = [
            rows(first(sub & (pl.col("mrr") >= 1000)), "mrr_1k", "referrer", "500.00"),
            rows(first(sub & (pl.col("mrr") * 12 >= 5000)), "arr_5k", "referrer", "1000.00"),
            rows(first(sub & (pl.col("mrr") * 12 >= 10000)), "arr_10k", "referrer", "2000.00"),
        ]
    elif program == "referral_milestones":
        conv = first(pay & (pl.col("amount") > 0))
        nth = conv.sort("t", "id").with_columns(pl.int_range(1, pl.len() + 1).over("referrer").alias("k"))
        parts = [
            rows(conv, "welcome_discount", "referee", "10"),
            rows(conv, "welcome_discount", "referrer", "10"),
            rows(nth.filter(pl.col("k") == 1), "first_referral", "referrer", "50.00"),
            rows(nth.filter(pl.col("k") == 1), "first_referral", "referee", "50.00"),
            rows(nth.filter(pl.col("k") == 5), "five_referrals", "referrer", "1"),
            rows(nth.filter(pl.col("k") == 10), "ten_referrals", "referrer", "1"),
        ]
    else:
        day = 86400 * 10**9
        cents = (pl.col("amount") * 100).cast(pl.Int64) * 15
        wanted = (
            seen.filter((pl.col("source") == "partner") & pay & (pl.col("t") - pl.col("rt") <= 365 * day))
            .with_columns(c=cents)
            .with_columns(q=pl.col("c") // 100, r=pl.col("c") % 100)
            .with_columns(
                cents=pl.col("q") + ((pl.col("r") > 50) | ((pl.col("r") == 50) & (pl.col("q") % 2 == 1))).cast(pl.Int64)
            )
            .filter(pl.col("cents") > 0)
            .sort("t", "id")
            .with_columns(quarter=pl.from_epoch("t", time_unit="ns").dt.truncate("1q"))
            .with_columns(w=pl.col("cents").cum_sum().over("referrer", "quarter"))
            .with_columns(
                g=pl.min_horizontal("w", pl.lit(500000))
                - pl.min_horizontal(pl.col("w") - pl.col("cents"), pl.lit(500000))
            )
            .filter(pl.col("g") > 0)
            .with_columns(a=(pl.col("g") // 100).cast(pl.Utf8) + "." + (pl.col("g") % 100).cast(pl.Utf8).str.zfill(2))
        )
        parts = [
            rows(
                first((pl.col("source") == "customer") & pay & (pl.col("amount") > 0)),
                "customer_conversion",
                "referrer",
                "100.00",
            ),
            wanted.select("t", pl.lit("partner_commission").alias("m"), pl.col("referrer").alias("b"), "referee", "a"),
        ]
    frames = [p.collect() for p in parts]
    return [row for frame in frames for row in frame.iter_rows()]


def engine_awards(program: str, ledger: str, *options: str) -> list[tuple[Any, ...]]:
    out = subprocess.run(
        [sys.executable, "-m", "rewardrules", "score", "--format", "json", *options, _rules(program), ledger],
        check=True,
        capture_output=True,
    ).stdout
    return _tuples(json.loads(out))


def _tuples(result: dict[str, Any]) -> list[tuple[Any, ...]]:
    """(at, milestone, beneficiary, referee, amount) of each award of a JSON result."""
    from rewardrules.core.timeutil import parse_timestamp

    return [
        (parse_timestamp(a["at"]), a["milestone"], a["beneficiary"], a["referee"], a["amount"])
        for a in result["awards"]
    ]


def _rules(program: str) -> str:
    return str(ROOT / "rulesets" / f"{program}.rules")


def _parse_every_line(ledger: str, loads: Callable[[bytes], Any]) -> int:
    count = 0
    with open(ledger, "rb") as lines:
        for line in lines:
            loads(line)
            count += 1
    return count


def floor_msgspec(ledger: str) -> int:
    import msgspec

    return _parse_every_line(ledger, msgspec.json.decode)


def floor_orjson(ledger: str) -> int:
    import orjson

    return _parse_every_line(ledger, orjson.loads)


def floor_duckdb(ledger: str) -> int:
    import duckdb

    db = duckdb.connect()
    db.execute("SET threads = 1")
    found = db.execute(
        f"SELECT count(*), max(length(id)) FROM read_json(?, format = 'newline_delimited', columns = {COLUMNS})",
        [ledger],
    ).fetchone()
    assert found is not None
    return int(found[0])


#: the hand-written DuckDB query that also checks the ledger, computes the
#: award ids and writes the result (saas_milestones only)
CONTRACT = "hand-written DuckDB doing the contract's work, 1 thread"

#: name -> (does it give awards, the function of (program, ledger))
CONTENDERS: dict[str, tuple[bool, Callable[[str, str], Any]]] = {
    "rewardrules score": (True, lambda p, path: engine_awards(p, path, "--no-explain")),
    "rewardrules score --engine duckdb --threads 1": (
        True,
        lambda p, path: engine_awards(p, path, "--engine", "duckdb", "--threads", "1", "--no-explain"),
    ),
    CONTRACT: (True, lambda p, path: contract_awards(path)),
    "hand-written DuckDB, 1 thread": (True, lambda p, path: duckdb_awards(p, path, 1)),
    "hand-written DuckDB, 2 threads": (True, lambda p, path: duckdb_awards(p, path, 2)),
    "hand-written Polars, 1 thread": (True, lambda p, path: polars_awards(p, path, 1)),
    "hand-written Polars, 2 threads": (True, lambda p, path: polars_awards(p, path, 2)),
    "floor: parse every line with msgspec": (False, lambda p, path: floor_msgspec(path)),
    "floor: parse every line with orjson": (False, lambda p, path: floor_orjson(path)),
    "floor: DuckDB reads every line, 1 thread": (False, lambda p, path: floor_duckdb(path)),
}


def run_one(name: str, program: str, ledger: str, awards: bool) -> int:
    gives, function = CONTENDERS[name]
    if name.startswith("rewardrules"):  # the engine itself, as a user runs it
        options = ["--engine", "duckdb", "--threads", "1", "--no-explain"] if "duckdb" in name else ["--no-explain"]
        command = [sys.executable, "-m", "rewardrules", "score", "--format", "json", *options, _rules(program), ledger]
        if not awards:
            os.execv(sys.executable, command)
    if name == CONTRACT and not awards:  # its whole job, the result written
        os.execv(sys.executable, [sys.executable, str(HERE / "contract_query.py"), ledger])
    found = function(program, ledger)
    if awards and gives:
        for row in sorted(found):
            print(json.dumps([str(v) for v in row]))
    else:
        print(len(found) if gives else found)
    return 0


def _compiles(program: str) -> bool:
    import rewardrules
    from rewardrules.sql.compile import Unsupported, compile_query

    try:
        compile_query(rewardrules.load(_rules(program)).compiled)
    except Unsupported:
        return False
    return True


def _measure(command: list[str]) -> tuple[float, float, int, int]:
    """(CPU seconds of the process and its children, wall, max RSS KiB, exit code)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    return usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def table(events: int, runs: int, programs: list[str]) -> int:
    folder = tempfile.mkdtemp(prefix="contenders-")
    ledger = os.path.join(folder, "ledger.jsonl")
    with open(ledger, "wb") as out:
        subprocess.run(
            [sys.executable, str(HERE / "generate.py"), "--events", str(events), "--seed", "7"], stdout=out, check=True
        )
    me = [sys.executable, str(Path(__file__).resolve()), "run"]
    failed = 0
    for program in programs:
        names = [
            n
            for n in CONTENDERS
            if ("--engine duckdb" not in n or _compiles(program)) and (n != CONTRACT or program == "saas_milestones")
        ]
        reference = None
        same = {}
        for name in names:
            if not CONTENDERS[name][0]:
                continue
            done = subprocess.run([*me, name, program, ledger, "--awards"], capture_output=True, text=True)
            got = done.stdout if done.returncode == 0 else f"failed: {done.stderr[-300:]}"
            reference = got if reference is None else reference
            same[name] = got == reference
        count = reference.count("\n") if reference else 0
        print(
            f"\n{program}, {events:,} events ({count:,} awards); same awards as `rewardrules score`: "
            + ", ".join(f"{n}: {'yes' if s else 'NO'}" for n, s in same.items() if n != "rewardrules score")
        )
        timed = [n for n in names if same.get(n, True)]
        failed += sum(1 for s in same.values() if not s)
        figures: dict[str, list[tuple[float, float, int, int]]] = {n: [] for n in timed}
        for _ in range(runs):
            for name in timed:  # alternating: each round runs every contender once
                figures[name].append(_measure([*me, name, program, ledger]))
        base = statistics.median(f[0] for f in figures["rewardrules score"])
        print("| contender | CPU s (median) | wall s | peak memory | vs `score` (CPU) |")
        print("|---|---|---|---|---|")
        for name in timed:
            cpu = statistics.median(f[0] for f in figures[name])
            wall = statistics.median(f[1] for f in figures[name])
            rss = statistics.median(f[2] for f in figures[name])
            print(f"| {name} | {cpu:.2f} | {wall:.2f} | {rss / 1024:.0f} MiB | {base / cpu:.1f}x |")
    os.remove(ledger)
    os.rmdir(folder)
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    if argv and argv[0] == "run":
        parser = argparse.ArgumentParser(prog="contenders.py run")
        parser.add_argument("name", choices=list(CONTENDERS))
        parser.add_argument("program")
        parser.add_argument("ledger")
        parser.add_argument("--awards", action="store_true")
        args = parser.parse_args(argv[1:])
        return run_one(args.name, args.program, args.ledger, args.awards)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--programs", default="saas_milestones,referral_milestones,partner_and_customer")
    args = parser.parse_args(argv)
    return table(args.events, args.runs, args.programs.split(","))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main(sys.argv[1:]))
