"""Files of many rewards in SQL: planning and run time against the number of rewards.

Generates rule files of N milestones (a mix of the plain constructs:
`when paid >= T`, `first payment where ...`, `each payment where ...
within 30 days`, one milestone in five with a second reward) and one seeded
ledger, and prints per N:

- `compile`: CPU seconds of `compile_query` (Python);
- `plan`: CPU seconds of DuckDB's planning of the awards query (`PREPARE`:
  parser, binder, optimizer, physical plan), one thread; the whole
  statement `rewardrules sql` prints, which for milestones with `void`
  clauses (`--kind void`) is not what `score` runs (it keeps the award
  rows in a table first: `compile.Staged`);
- `exec`: CPU seconds of running it (`EXECUTE`), one thread;
- `duckdb`: CPU seconds of the whole `score --engine duckdb` path in the
  process (read, load, all queries, the result record), one thread;
- `python`: CPU seconds of the Python engine on the same ledger;
- whether both results are the same bytes (the figures mean nothing unless so).

`--shape cte` measures the query of one CTE per milestone (sql/grouped.py
off: the shape every file had before), which is refused past 500 rewards;
`--shape table` (the default) the table of plain milestones.

    python benchmarks/sql_many_rewards.py                       # 50 .. 5000 rewards
    python benchmarks/sql_many_rewards.py --shape cte --sizes 50,100,200,500
    python benchmarks/sql_many_rewards.py --smoke               # tiny: the code works
    python benchmarks/sql_many_rewards.py --kind computed --sizes 50,100,200   # not plain: a CTE each
    python benchmarks/sql_many_rewards.py --kind void --sizes 100,300   # a `void` clause each; refunds in the ledger

The load average is printed: the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import rewardrules  # noqa: E402
from rewardrules.cli.sql import duckdb_result  # noqa: E402
from rewardrules.sql import grouped, run  # noqa: E402
from rewardrules.sql.compile import Query, compile_query  # noqa: E402

HEAD = """ruleset many "Many rewards"

event payment "A payment by the referred customer" { amount: money USD }

metric paid "Paid so far" = sum payment.amount

"""


def rules(milestones: int, kind: str = "plain") -> str:
    """A rule file of `milestones` milestones: each event reaches a few.
    `kind` "plain": plain milestones (the table of sql/grouped.py);
    "computed": each `each payment where ...` paying `N% of payment.amount`,
    "message": each with a message, "void": each with `void if refund
    where refund.payment == payment.id within 30 days`, one CTE per
    milestone either way (not plain: refused past 500 rewards)."""
    if kind != "plain":
        return _not_plain(milestones, kind)
    out = [HEAD]
    for i in range(milestones):
        kind = i % 3
        if kind == 0:
            trigger = f"when paid >= {50 * (i // 3 + 1)} USD"
        elif kind == 1:
            low = (i // 3) % 1000
            trigger = f"first payment where payment.amount >= {low} USD and payment.amount < {low + 1} USD"
        else:
            low = (i // 3 + 500) % 1000
            trigger = (
                f"each payment where payment.amount >= {low} USD and payment.amount < {low + 2} USD within 30 days"
            )
        second = "  reward referee credit 5 USD\n" if i % 5 == 0 else ""
        out.append(
            f'milestone m{i} "Milestone {i}" {{\n  {trigger}\n  reward referrer cash {i % 9 + 1} USD\n{second}}}\n\n'
        )
    return "".join(out)


def _not_plain(milestones: int, kind: str) -> str:
    """Milestones that keep a CTE of their own: a computed amount or a message."""
    out = [HEAD + REFUND if kind == "void" else HEAD]
    for i in range(milestones):
        low = i % 1000
        trigger = f"each payment where payment.amount >= {low} USD and payment.amount < {low + 2} USD"
        if kind == "computed":
            body = f"reward referrer cash {i % 9 + 1}% of payment.amount"
        elif kind == "void":
            body = f"reward referrer cash {i % 9 + 1} USD\n  void if refund where refund.payment == payment.id within 30 days"
        else:
            body = f'reward referrer cash {i % 9 + 1} USD\n  message "{{{{ paid }}}}"'
        out.append(f"milestone m{i} {{\n  {trigger}\n  {body}\n}}\n\n")
    return "".join(out)


#: the event a "void" file's clauses name
REFUND = 'event refund "A payment refunded" { payment: text }\n\n'


def ledger(referrals: int, payments: int, seed: int, refunds: bool = False) -> list[str]:
    """`referrals` referred customers, each paying `payments` times (whole
    dollars, 1 to 999), a day apart, in a seeded order; with `refunds`,
    every fifth customer's first payment refunded two days after it."""
    draw = random.Random(seed)
    lines = []
    day = 86_400
    for r in range(referrals):
        start = 1_735_689_600 + r * 3_600
        lines.append({"at": start, "id": f"r{r}", "type": "referral", "referee": f"c{r}", "referrer": f"p{r % 7}"})
        for p in range(payments):
            amount = f"{draw.randint(1, 999)}.00"
            lines.append(
                {
                    "at": start + (p + 1) * day,
                    "id": f"e{r}_{p}",
                    "type": "payment",
                    "referee": f"c{r}",
                    "amount": amount,
                }
            )
        if refunds and r % 5 == 0:
            lines.append(
                {"at": start + 3 * day, "id": f"x{r}", "type": "refund", "referee": f"c{r}", "payment": f"e{r}_0"}
            )
    draw.shuffle(lines)
    return [json.dumps({**line, "at": _instant(int(line["at"]))}) for line in lines]


def _instant(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def profiled(program: rewardrules.Program, query: Query, lines: list[str]) -> tuple[float, float]:
    """CPU seconds of DuckDB's planning (`PREPARE`: parsing, binding, the
    optimizer, the physical plan) and of running the awards query
    (`EXECUTE`), one thread, over the ledger loaded as `run` loads it."""
    records, latest = program._read(lines, "<ledger>")
    checked = program.compiled.checked
    with tempfile.TemporaryDirectory(prefix="rewardrules-bench-") as folder:
        path = os.path.join(folder, "ledger.jsonl")
        scales = run._write(path, records, run._positions(checked, query.columns))
        connection = run.connect(folder, run.Limits(threads=1), optimizers_off=query.optimizers_off)
        connection.execute(run.load_sql(path, query.columns, scales))
        connection.execute(f'CREATE TABLE as_of AS SELECT CAST({int(latest or 0)} AS BIGINT) AS "at"')
        start = time.process_time()
        connection.execute(f"PREPARE awards AS {query.awards}")
        planned = time.process_time()
        connection.execute("EXECUTE awards").fetchall()
        done = time.process_time()
        connection.close()
    return planned - start, done - planned


def measure(milestones: int, lines: list[str], kind: str = "plain") -> dict[str, Any]:
    """One row of the table."""
    program = rewardrules.compile(rules(milestones, kind), "many.rules")
    rewards = sum(len(m.rewards) for m in program.compiled.milestones)
    start = time.process_time()
    query = compile_query(program.compiled)
    compiled = time.process_time() - start
    plan, execute = profiled(program, query, lines)
    start = time.process_time()
    data = duckdb_result(program, query, lines, None, "<ledger>", runner=_one_thread)
    in_duckdb = time.process_time() - start
    start = time.process_time()
    expected = program.score(lines, explain=False).to_json()
    in_python = time.process_time() - start
    same = json.dumps(data, ensure_ascii=False, indent=2) + "\n" == expected
    awards = len(json.loads(expected)["awards"])
    return {
        "rewards": rewards,
        "milestones": milestones,
        "sql KB": len(query.awards) // 1024,
        "compile": compiled,
        "plan": plan,
        "exec": execute,
        "duckdb": in_duckdb,
        "python": in_python,
        "awards": awards,
        "same": same,
    }


def _one_thread(query: Query, checked: Any, records: Any, as_of: int) -> run.Rows:
    return run.run(query, checked, records, as_of, run.Limits(threads=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="50,100,200,500,1000,2000,5000", help="numbers of milestones")
    parser.add_argument("--referrals", type=int, default=200)
    parser.add_argument("--payments", type=int, default=10, help="payments per referred customer")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--shape", choices=("table", "cte"), default="table")
    parser.add_argument(
        "--kind", choices=("plain", "computed", "message", "void"), default="plain", help="the milestones"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: the code works")
    args = parser.parse_args(argv)
    sizes = [20, 80] if args.smoke else [int(n) for n in args.sizes.split(",")]
    if args.shape == "cte":
        grouped.FROM = sys.maxsize  # every milestone its own CTE
    refunds = args.kind == "void"
    lines = ledger(5 if args.smoke else args.referrals, 3 if args.smoke else args.payments, args.seed, refunds)
    print(
        f"## SQL of many rewards ({args.kind} milestones, {args.shape} shape; {len(lines)} ledger lines; "
        f"load average {os.getloadavg()[0]:.2f})"
    )
    print()
    columns = ("rewards", "milestones", "sql KB", "compile", "plan", "exec", "duckdb", "python", "awards", "same")
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for size in sizes:
        row = measure(size, lines, args.kind)
        cells = [f"{v:.2f}" if isinstance(v, float) else str(v) for v in row.values()]
        print("| " + " | ".join(cells) + " |", flush=True)
        if not row["same"]:
            print("the SQL result differs from the Python engine's", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
