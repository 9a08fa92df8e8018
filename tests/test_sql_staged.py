"""The award rows computed once (`compile.Staged`, docs/sql.md "How the
compilation works"): for a program with `void` clauses, DuckDB writes the
award rows into a table of its session and the awards, reversals and void
events statements read it, rather than each computing the rows again. The
statements `rewardrules sql` prints stay whole; both forms give the same
rows, and the staged ones need less of DuckDB's memory. In a query of many
milestones, the hits of one with voids are `NOT MATERIALIZED` too."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import rewardrules
from rewardrules.cli.sql import duckdb_result
from rewardrules.sql import run as sql_run
from rewardrules.sql.compile import STAGED_TABLE, Query, compile_query
from rewardrules.sql.sections import compile_explained

from .test_sql_backend import GOLDEN, ROOT, python_json
from .test_sql_many_rewards import payers

#: programs with `void` clauses: whole (`partner_and_customer`), partial
#: (`clawbacks`), in a reward's own terms with holds (`reward_holds`), and
#: followed by a count `unless voided` (`counts_voided`: its hits are in
#: the statement's `WITH`; a confirmed award reversed)
PROGRAMS = {
    "partner_and_customer": ROOT / "rulesets" / "partner_and_customer.rules",
    "clawbacks": GOLDEN / "clawbacks" / "clawbacks.rules",
    "reward_holds": GOLDEN / "reward_holds" / "reward_holds.rules",
    "counts_voided": GOLDEN / "counts_voided" / "counts_voided.rules",
}

#: each way `score --engine duckdb` compiles: without explanations, the
#: awards' `why`, and the explained sections' query (with `raw`)
COMPILED: dict[str, Callable[[rewardrules.Program], Query]] = {
    "plain": lambda prog: compile_query(prog.compiled),
    "why": lambda prog: compile_query(prog.compiled, explain=True),
    "sections": lambda prog: compile_explained(prog.compiled)[0],
}


@contextmanager
def _loaded(prog: rewardrules.Program, query: Query, lines: list[str]) -> Iterator[tuple[Any, int]]:
    """A DuckDB connection with the ledger loaded and sealed as `run.run`
    loads it, and the ledger's latest instant."""
    records, latest = prog._read(lines, "<ledger>")
    checked = prog.compiled.checked
    with tempfile.TemporaryDirectory(prefix="rewardrules-test-") as folder:
        path = str(Path(folder) / "ledger.jsonl")
        scales = sql_run._write(path, records, sql_run._positions(checked, query.columns))
        connection = sql_run.connect(folder, sql_run.Limits(threads=1), optimizers_off=query.optimizers_off)
        try:
            connection.execute(sql_run.load_sql(path, query.columns, scales))
            sql_run.seal(connection)
            yield connection, int(latest or 0)
        finally:
            connection.close()


def _rows(prog: rewardrules.Program, query: Query, lines: list[str], staged: bool) -> dict[str, Any]:
    """Each statement's column names and types and its rows over the
    ledger: the whole statements, or those the runner swaps in
    (`run._staged`, which writes the table)."""
    found: dict[str, Any] = {}
    with _loaded(prog, query, lines) as (connection, latest):
        connection.execute(f'CREATE TABLE as_of AS SELECT CAST({latest} AS BIGINT) AS "at"')
        if staged:
            query = sql_run._staged(connection, query)
        for name, sql in {"awards": query.awards, "reversals": query.reversals, "clawbacks": query.clawbacks}.items():
            assert (STAGED_TABLE in sql) == (staged and bool(sql)), name  # each statement read the table
            if sql:
                cursor = connection.execute(sql)
                found[name] = ([d[:2] for d in cursor.description], cursor.fetchall())
            else:
                found[name] = None
    return found


@pytest.mark.parametrize("way", sorted(COMPILED))
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_the_staged_statements_give_the_rows_of_the_whole_ones(name: str, way: str) -> None:
    rules = PROGRAMS[name]
    prog = rewardrules.load(rules)
    query = COMPILED[way](prog)
    assert query.staged is not None and STAGED_TABLE in query.staged.reversals
    assert STAGED_TABLE not in query.awards + query.reversals + query.clawbacks  # what `sql` prints is whole
    assert bool(query.staged.clawbacks) == bool(query.clawbacks)
    ledgers = sorted((GOLDEN / name).rglob("*.jsonl"))
    assert ledgers
    voided = taken_back = 0  # awards `void` (its status column); reversal and clawback rows
    for ledger in ledgers:
        lines = ledger.read_text(encoding="utf-8").splitlines()
        whole = _rows(prog, query, lines, staged=False)
        assert _rows(prog, query, lines, staged=True) == whole, ledger.name
        voided += sum("void" in row for row in whole["awards"][1])
        taken_back += sum(len(whole[key][1]) for key in ("reversals", "clawbacks") if whole[key] is not None)
    assert voided + taken_back  # the ledgers take something back: the rows compared are not all empty
    if name in ("counts_voided", "clawbacks"):  # reversal or clawback rows were compared, not only empty lists
        assert taken_back


def test_the_runner_drops_the_table_once_read() -> None:
    prog = rewardrules.load(PROGRAMS["clawbacks"])
    query = compile_query(prog.compiled)
    lines = sorted((GOLDEN / "clawbacks").rglob("*.jsonl"))[0].read_text(encoding="utf-8").splitlines()
    with _loaded(prog, query, lines) as (connection, latest):
        rows = sql_run._queries(connection, query, latest)
        assert rows.awards and rows.clawbacks
        tables = [name for (name,) in connection.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        assert STAGED_TABLE not in tables and "as_of" in tables


def test_a_program_without_voids_is_not_staged() -> None:
    prog = rewardrules.load(ROOT / "rulesets" / "saas_milestones.rules")
    assert compile_query(prog.compiled).staged is None


def _voids_file(clause: str) -> str:
    """100 milestones (enough for `compile.MANY_OWN`), each with `clause`."""
    head = 'ruleset many "Many"\n\nevent payment { amount: money USD }\nevent refund { payment: text }\n\n'
    return head + "".join(
        f"milestone m{i} {{\n  each payment where payment.amount >= {i} USD and payment.amount < {i + 2} USD\n"
        f"  reward referrer cash {i % 9 + 1} USD\n  {clause}\n}}\n\n"
        for i in range(100)
    )


def _voids_ledger() -> list[str]:
    """20 referred customers paying 5 times; every fourth refunds its first payment."""
    events = payers(20, 3)
    events += [
        {"id": f"x{r}", "at": "2026-01-09T00:00:00Z", "type": "refund", "referee": f"c{r}", "payment": f"e{r}_0"}
        for r in range(0, 20, 4)
    ]
    return [json.dumps(event) for event in events]


@pytest.mark.parametrize(
    ("clause", "memory"),
    [
        # the reversals statement computed every milestone's rows and joins
        # again, in a plan of its own: out of 300 MB (300 such milestones
        # ran out of the default 1 GB); it reads the table now
        ("void if refund within 30 days", "300MB"),
        # reading the triggering event: each milestone's hits, read by its
        # void matches and by its rows, were held as a table for the whole
        # statement: out of 130 MB with the table alone (300 such
        # milestones out of 1 GB); `NOT MATERIALIZED` now
        ("void if refund where refund.payment == payment.id within 30 days", "130MB"),
    ],
)
def test_many_milestones_with_voids_fit_a_small_memory_limit(clause: str, memory: str) -> None:
    prog = rewardrules.compile(_voids_file(clause), "many.rules")
    lines = _voids_ledger()

    def small(query: Any, checked: Any, records: Any, as_of: int) -> sql_run.Rows:
        return sql_run.run(query, checked, records, as_of, sql_run.Limits(threads=1, memory=memory))

    query = compile_query(prog.compiled)
    assert query.staged is not None and "h0 AS NOT MATERIALIZED" in query.awards
    data = duckdb_result(prog, query, lines, None, "<ledger>", runner=small)
    assert data["reversals"] or any(award["status"] == "void" for award in data["awards"])
    assert json.dumps(data, ensure_ascii=False, indent=2) + "\n" == python_json(prog, lines, None)
