"""`rewardrules sql RULES`: a rule file as SQL; and `score --engine duckdb`.

The query is DuckDB's dialect (the one tested: see docs/sql.md); sqlglot
writes it in another engine's. `scored_with_duckdb` is what `score
--engine duckdb` runs: the ledger read and validated as the Python engine
reads it, the awards and rejected referrals computed by the query, the
result written as `score --no-explain` writes it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from ..core.render import text as render_text
from ..core.runtime import in_context
from ..core.timeutil import format_timestamp
from ..ledger.events import LedgerError
from ..ledger.idlog import ScratchError
from .common import describe_os_error, fail, ledger_lines, load_program, print_error_lines

if TYPE_CHECKING:
    from ..compiler.generate import CompiledMilestone, CompiledRuleset
    from ..score.api import Program
    from ..score.clawback import Share
    from ..sql.compile import Query
    from ..sql.run import Limits, Rows
    from ..sql.sections import Explained, Sections
    from ..sql.spark import Spark

    #: runs the compiled query over validated records up to an as-of
    Runner = Callable[[Query, Any, Iterable[Any], int], Rows]

#: the dialects `--dialect` offers (sqlglot's names); duckdb is the one run
DIALECTS = ("duckdb", "postgres", "snowflake", "bigquery", "spark", "databricks", "trino", "redshift", "clickhouse")


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "sql",
        help="print a rule file as a SQL query",
        description=(
            "Print the SQL query that scores a ledger table with a rule file (see docs/sql.md). "
            "A construct that does not compile yet is named, with its line; nothing is printed then."
        ),
        epilog="exit codes: 0 printed, 1 the rule file has errors or does not compile to SQL yet, 2 bad invocation",
    )
    parser.add_argument("ruleset", metavar="RULES", help="the .rules file")
    parser.add_argument(
        "--dialect",
        choices=DIALECTS,
        default="duckdb",
        help="the SQL dialect to write (default duckdb, the one tested; the others are written by sqlglot)",
    )
    parser.add_argument(
        "--no-explain",
        action="store_true",
        help="leave out each award's `why` column (as `score --no-explain` leaves out explanations)",
    )
    parser.add_argument(
        "--sections",
        action="store_true",
        help="also print the statements of the explained output's sections: referrals, referrers, withheld rewards",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    program = load_program(args.ruleset)
    if isinstance(program, int):
        return program
    query: Query | Explained | None
    if args.sections:  # the sections' statements too (sql/sections.py), each award with its `why`
        from ..sql.sections import Explained

        found = explained_query(program)
        query = Explained(*found) if found is not None else None
    else:
        query = compiled_query(program, explain=not args.no_explain)
    if query is None:
        return 1
    if args.dialect == "duckdb":
        sys.stdout.write(query.text())
        return 0
    text = transpiled(query, args.dialect)
    if text is None:
        return 1
    sys.stdout.write(text)
    return 0


def compiled_query(program: Program, explain: bool = False) -> Query | None:
    """The program's query, or None after printing the construct that does
    not compile yet (file:line:col, message, hint). `explain`: with each
    award's `why` (sql/explain.py)."""
    from ..sql.compile import Unsupported, compile_query

    try:
        return compile_query(program.compiled, explain)
    except Unsupported as refusal:
        print(render_text(refusal.problem()), file=sys.stderr)
        return None


def explained_query(program: Program) -> tuple[Query, Sections] | None:
    """The program's query and its explained sections (`sql.sections`),
    or None after printing the construct whose explanation does not
    compile yet (`--no-explain` leaves the sections out)."""
    from ..sql.compile import Unsupported
    from ..sql.sections import compile_explained

    try:
        return compile_explained(program.compiled)
    except Unsupported as refusal:
        print(render_text(refusal.problem()), file=sys.stderr)
        return None


def transpiled(query: Query | Explained, dialect: str) -> str | None:
    """Both queries in another dialect; None (after saying why) when sqlglot
    cannot write a construct there: never a query that means something else."""
    from sqlglot.errors import SqlglotError

    from ..sql.dialect import to_dialect

    if dialect == "spark":  # Spark SQL 4.0 has no recursive CTE: the attribution fold without one
        query = query.without_recursion()
    pieces = []
    for title, sql in query.statements():
        try:
            text = to_dialect(sql, dialect, [column.name for column in query.columns])
        except SqlglotError as error:
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            fail(f"the query cannot be written in {dialect}: {first}", 1)
            return None
        pieces.append(f"-- {title}\n{text};\n")
    return "\n".join(pieces)


@contextmanager
def _quiet_root_logging() -> Iterator[None]:
    """While inside, give Python's root logger a handler that writes
    nothing, if it has none: py4j logs a lost connection to Spark's JVM
    through the root logger (`logging.exception`), which then prints a
    traceback on standard error beside the error `score` says itself
    (`sql.spark_lost`), and with no handler there sets up logging to
    standard error itself (`logging.basicConfig`). The command as a process
    of its own (`process.owned`) keeps the handler to its end; in an app's
    process (`main()`) it is taken off after the run, so the app's later
    `logging.basicConfig()` does what it says (it did nothing while the
    handler stayed, until 2026-12-07)."""
    import logging

    from . import process

    root = logging.getLogger()
    added = None
    if not root.handlers:
        added = logging.NullHandler()
        root.addHandler(added)
    try:
        yield
    finally:
        if added is not None and not process.owned():
            root.removeHandler(added)


def scored_with_duckdb(args: argparse.Namespace) -> tuple[Program, dict[str, Any]] | int:
    """What `score --engine duckdb` prints: the result record, or the exit
    code after printing why not (a construct not compiled, bad input)."""
    from ..score.api import parse_as_of
    from ..sql.run import EngineError
    from ..sql.run import run as run_query

    for option, name in ((args.stream, "--stream"), (args.settled, "--settled")):
        if option:
            return fail(f"{name} is not supported with --engine {args.engine} yet")
    try:
        as_of = parse_as_of(args.as_of)
    except LedgerError as error:
        return fail(f"--as-of: {error.problems[0].message}")
    program = load_program(args.ruleset, args.ledger)
    if isinstance(program, int):
        return program
    sections = None
    if not args.no_explain:  # the explained output (sql/explain.py, sql/sections.py)
        found = explained_query(program)
        if found is None:
            return 1
        query, sections = found
    else:
        compiled = compiled_query(program)
        if compiled is None:
            return 1
        query = compiled
    explain = sections is not None
    name = "<stdin>" if args.ledger == "-" else args.ledger
    if args.max_awards_per_event is not None:  # the runners stop where the Python engine stops (sql/every.py)
        query = replace(query, most=args.max_awards_per_event)
    try:
        data: dict[str, Any] | None
        limits = duckdb_limits(args)
        if args.engine == "spark":
            data = spark_result(program, query, args.ledger, as_of, args.spark_master, True, sections)
        else:
            data = direct_result(
                program,
                query,
                args.ledger,
                as_of,
                as_json=True,  # the text output reads the same records (`write.read_records`)
                limits=limits,
                explain=explain,
                sections=sections,
            )
        if data is None:  # stdin, or a ledger outside the strict form: the Python reader
            runner = partial(run_query, limits=limits, sections=sections)
            data = duckdb_result(program, query, ledger_lines(args.ledger), as_of, name, runner, explain)
    except LedgerError as error:
        print_error_lines(str(error))
        return fail(f"the ledger has {len(error.problems)} problem(s); nothing was scored")
    except (ScratchError, EngineError) as error:
        return fail(str(error))
    except OSError as error:
        return fail(describe_os_error(error, args.ledger))
    return program, data


def duckdb_result(
    program: Program,
    query: Query,
    events: Iterable[Any],
    as_of: int | None,
    path: str,
    runner: Runner | None = None,
    explain: bool = False,
) -> dict[str, Any]:
    """The result record of `score --engine duckdb` (or `spark`: `runner`):
    the events read and validated as the Python engine reads them (the same
    problems refused), then the query run over them up to the as-of
    (default: the ledger's latest instant). `explain`: the query was
    compiled with explanations, and each award has its `why`."""
    from ..sql.run import run as run_query

    records, latest = program._read(events, path)
    limit = as_of if as_of is not None else (latest if latest is not None else 0)
    rows = (runner or run_query)(query, program.compiled.checked, records, limit)
    return result_data(program, rows, limit, records, explain=explain)


def direct_result(
    program: Program,
    query: Query,
    path: str,
    as_of: int | None,
    as_json: bool = False,
    limits: Limits | None = None,
    explain: bool = False,
    sections: Sections | None = None,
) -> dict[str, Any] | None:
    """The result record with the ledger read by DuckDB itself (a regular
    file in the strict form of `sql.read`), or None: then the Python reader
    reads it (`duckdb_result`), and refuses what it refuses. A Parquet file
    outside the strict form is given to the Python reader here, its rows
    as JSON lines (a bad row is named by its number, as a line).
    `as_json`: the awards may be JSON text written by DuckDB
    (`sql.write.Written`, for `sql.write.write_result`, fetched while it
    is written), and the totals added up from the query's counts, when
    both give the same bytes; else the same run's award rows. `limits`:
    DuckDB's threads and memory (`sql.run.Limits`). `explain`: as for
    `duckdb_result`. `sections`: the explained output's too
    (`sql.sections`), read while written."""
    import os

    from ..ledger.validate import _one_currency
    from ..sql.read import is_parquet
    from ..sql.run import Limits, parquet_rows, run_file
    from ..sql.run import run as run_query

    if path == "-" or not os.path.isfile(path):
        return None
    limits = limits or Limits()
    currencies = _one_currency(program._reader().money)
    # a `why` whose numbers are computed after the query: its records are built in Python
    layouts = _layouts(program, explain) if as_json and not query.why_inputs else None
    found = run_file(
        query,
        program.compiled.checked,
        sorted(program.compiled.used_types),
        currencies,
        path,
        as_of,
        layouts,
        _totals_of,
        limits,
        sections,
    )
    if found is None:
        if is_parquet(path):  # its rows as JSON lines, for the Python reader
            runner = partial(run_query, limits=limits, sections=sections)
            return duckdb_result(program, query, parquet_rows(path, limits), as_of, path, runner, explain)
        return None
    rows, limit, lines = found
    records = program._read(lines, path)[0] if lines else []
    return result_data(program, rows, limit, records, rows.totals, explain, whole=not as_json)


def _totals_of(
    groups: Sequence[tuple[str, str, str, str, int]], reversals: Sequence[dict[str, Any]]
) -> list[dict[str, Any]] | None:
    """`grouped_totals` over the query's reversal rows (`sql.run.TotalsOf`)."""
    return grouped_totals(groups, [_reversal(row) for row in reversals])


def duckdb_limits(args: argparse.Namespace) -> Limits:
    """DuckDB's threads and memory from `--threads` and `--memory-limit`."""
    from ..sql.run import DEFAULT_MEMORY, Limits

    return Limits(getattr(args, "threads", None), getattr(args, "memory_limit", None) or DEFAULT_MEMORY)


def _layouts(program: Program, explain: bool = False) -> dict[tuple[int, int], list[str]] | None:
    """Each reward's award record keys, in order (`result_data`'s; `why`
    last when explaining); None when a milestone has a message (rendered
    in Python, per award)."""
    if any(m.info.message is not None for m in program.compiled.milestones):
        return None
    return {key: [*keys, "why"] if explain else keys for key, keys in _record_keys(program).items()}


def _record_keys(program: Program) -> dict[tuple[int, int], list[str]]:
    """Per (milestone index, reward index), its award records' keys."""
    return {
        (m.info.index, r): list(reward.record)
        for m in program.compiled.milestones
        for r, reward in enumerate(m.rewards)
    }


@in_context
def grouped_totals(
    groups: Sequence[tuple[str, str, str, str, int]], reversals: Sequence[dict[str, Any]]
) -> list[dict[str, Any]] | None:
    """`score.result._totals` from the awards counted per (unit, kind,
    status, amount text) and the reversals: the same entries when every sum
    is exact in the engine's decimal context (`CONTEXT`, whatever the
    caller's, as the Python engine adds them: then the order of additions
    does not matter), else None. Also None when two texts of one rate (a
    unit that does not add up) differ (`20`, `20.0`): `_totals` writes the
    first award's, which the counts do not say."""
    from decimal import Decimal, Inexact, getcontext, localcontext

    from ..core.units import is_additive
    from ..score.result import _total

    precision = getcontext().prec
    sums: dict[tuple[str, str, str, Decimal], list[Any]] = {}
    texts: dict[tuple[str, str, str, Decimal], str] = {}
    items = [*groups, *((r["unit"], r["kind"], "reversed", r["amount"], 1) for r in reversals)]
    with localcontext() as exact:
        exact.prec = 100_000
        exact.traps[Inexact] = True
        for unit, kind, status, text, count in items:
            if text is None:
                return None
            value = Decimal(text)
            key = (unit, kind, status, Decimal(0) if is_additive(unit) else value)
            if texts.setdefault(key, text) != text and not is_additive(unit):
                return None
            entry = sums.setdefault(key, [Decimal(0), 0, Decimal(0), 0])
            entry[0] += value * count
            entry[1] += count
            entry[2] += abs(value) * count  # no partial sum is larger than this
            exponent = value.as_tuple().exponent
            assert isinstance(exponent, int)
            entry[3] = min(entry[3], exponent)
    for _, _, bound, low in sums.values():
        if bound and bound.adjusted() - low + 1 > precision:
            return None
    return [
        _total(unit, kind, status, rate, total, count)
        for (unit, kind, status, rate), (total, count, _, _) in sorted(sums.items())
    ]


def spark_result(
    program: Program,
    query: Query,
    path: str,
    as_of: int | None,
    master: str | None,
    as_json: bool = False,
    sections: Sections | None = None,
) -> dict[str, Any]:
    """What `score --engine spark` prints, from one Spark session started
    for this run (`master`, default `local[2]`): the ledger read by Spark
    itself (a file or a directory of part files, JSON Lines or Parquet, in
    the strict form: `sql.spark_read`; a local path or a URI Spark's file
    systems read, `sql.spark_uri`); a single local file outside it, or
    standard input, read by the Python reader and the query run by Spark
    over its records. A directory outside the strict form is refused
    (`NotStrict`, or the Python reader's `LedgerError` for its first bad
    file). `as_json`: as for `direct_result`, the awards streamed as JSON
    text written by Spark's executors. `sections`: the result explained
    (the query compiled with each award's `why`, `explained_query`), its
    sections computed by Spark too (`sql.spark_sections`)."""
    import os

    from ..sql.read import NotDirect, is_parquet
    from ..sql.run import parquet_rows
    from ..sql.spark import DEFAULT_MASTER, Spark
    from ..sql.spark_uri import is_uri
    from . import process

    explain = sections is not None
    with _quiet_root_logging(), Spark(master or DEFAULT_MASTER, process.owned()) as spark:
        runner = partial(spark.run, sections=sections)
        if path != "-" and (is_uri(path) or os.path.exists(path)):  # a URI: Spark's own file systems read it
            try:
                return spark_direct_result(program, query, spark, path, as_of, as_json, sections)
            except NotDirect:  # a single file outside the strict form: the Python reader decides
                events: Iterable[Any] = parquet_rows(path) if is_parquet(path) else ledger_lines(path)
                return duckdb_result(program, query, events, as_of, path, runner, explain)
        name = "<stdin>" if path == "-" else path
        return duckdb_result(program, query, ledger_lines(path), as_of, name, runner, explain)


def spark_direct_result(
    program: Program,
    query: Query,
    spark: Spark,
    path: str,
    as_of: int | None,
    as_json: bool = False,
    sections: Sections | None = None,
) -> dict[str, Any]:
    """The result record with the ledger at `path` (a file or a directory)
    read by Spark itself (`Spark.run_path`); `NotDirect` for a single file
    outside the strict form. `as_json`: the awards may be JSON text
    (`sql.spark_write`) and the totals added up from the counts, as in
    `direct_result`. `sections`: as for `spark_result`."""
    from ..ledger.validate import _one_currency

    currencies = _one_currency(program._reader().money)
    used = sorted(program.compiled.used_types)
    explain = sections is not None
    layouts = _layouts(program, explain) if as_json else None
    rows, limit, lines = spark.run_path(
        query,
        program.compiled.checked,
        used,
        currencies,
        path,
        as_of,
        lambda file: _python_read(program, file),
        layouts,
        sections,
    )
    totals = None
    if rows.written is not None:
        totals = grouped_totals(rows.groups, [_reversal(row) for row in rows.reversals])
        if totals is None:  # a sum that would round, or two texts of one rate: added up in award order
            return spark_direct_result(program, query, spark, path, as_of, sections=sections)
    records = program._read(lines, path)[0] if lines else []
    return result_data(program, rows, limit, records, totals, explain, whole=not as_json)


def _python_read(program: Program, file: str) -> None:
    """The Python reader over one part file of a ledger directory: its
    `LedgerError` names the file's first bad line (`sql` may not import
    the ledger stage, so this lives here)."""
    from ..ledger.reading import read_lines

    with open(file, "rb") as handle:
        program._read(read_lines(handle), file)


@in_context
def result_data(
    program: Program,
    rows: Rows,
    as_of: int,
    records: Sequence[tuple[Any, ...]] = (),
    totals: list[dict[str, Any]] | None = None,
    explain: bool = False,
    whole: bool = True,
) -> dict[str, Any]:
    """The result record of `score --no-explain` from the query's rows
    (`explain`: each award with the `why` the query wrote, sql/explain.py):
    each award's keys in the order the Python engine writes them. A
    referral the query found eligible for no program is explained from its
    event's record (`records`), by the Python engine's own report. When
    the query wrote the awards' JSON text (`rows.written`), it is the
    `awards` value, with `totals` added up from the query's counts. With
    the explained sections' rows (`rows.sections`), the result explained
    (`cli.sql_sections`; made while written unless `whole`)."""
    from ..score.result import _totals, reversal_order

    layout = _record_keys(program)
    from ..sql.explain import computed
    from ..sql.messages import render
    from ..sql.run import EngineError

    milestones = {m.info.index: m for m in program.compiled.milestones}
    awards = []
    issued = []  # each award with its row, for partial voids
    for row in rows.awards:
        record = {key: row[key] for key in layout[(row["milestone_index"], row["reward_index"])]}
        record["at"] = format_timestamp(row["at"])
        milestone = milestones[row["milestone_index"]]
        if milestone.info.message is not None:  # rendered for the awards only, from the query's values
            record["message"] = render(program.compiled.checked, milestone, record, row["msg"])
        if explain:  # the query's JSON text, keys in the Python engine's order; its inputs computed
            if row["why"] is None:  # an engine bug: said, never written as no explanation
                raise EngineError(f"the query gave no explanation (`why`) for award {row['id']}")
            record["why"] = computed(program.compiled.checked, milestone, json.loads(row["why"]))
        awards.append(record)
        issued.append((record, row))
    reversals = [_reversal(row) for row in rows.reversals]
    if any(void.share is not None for m in program.compiled.milestones for void in m.voids):
        reversals += partial_results(program.compiled, issued, rows.clawbacks, as_of)
        reversals.sort(key=reversal_order)
    data: dict[str, Any] = {
        "ruleset": program.compiled.checked.name,
        "as_of": format_timestamp(as_of),
        "awards": awards if rows.written is None else rows.written,
        "reversals": reversals,
        "totals": _totals(awards, reversals) if totals is None else totals,
    }
    if rows.sections is not None:
        from .sql_sections import explained

        data.update(explained(program, rows.sections, as_of, records, whole))
    data["rejected"] = _rejections(program, rows.rejected, as_of, records)
    return data


#: a reversal's keys, in the order the Python engine writes them (`why` last)
_REVERSAL = ("id", "reverses", "at", "milestone", "role", "beneficiary", "referrer", "referee", "kind", "amount")


def _reversal(row: dict[str, Any]) -> dict[str, Any]:
    """A reversal row as the Python engine writes the entry."""
    entry = {key: row[key] for key in _REVERSAL}
    entry["at"] = format_timestamp(row["at"])
    entry.update({key: row[key] for key in ("unit", "item", "program")})
    entry["why"] = {"event": row["event"]}
    return entry


def _rejections(
    program: Program, rows: list[dict[str, Any]], as_of: int, records: Iterable[tuple[Any, ...]]
) -> list[dict[str, Any]]:
    ineligible = {row["event"] for row in rows if row["reason"] == "ineligible"}
    events, histories = referral_records(program, records, as_of, ineligible)
    return [
        _explained(program, events[row["event"]], as_of, histories.get(row["referrer"], []))
        if row["event"] in events
        else _rejected(row)
        for row in rows
    ]


def referral_records(
    program: Program, records: Iterable[tuple[Any, ...]], as_of: int, wanted: set[str]
) -> tuple[dict[str, tuple[Any, ...]], dict[str, list[tuple[Any, ...]]]]:
    """The records of the `wanted` referral events, by id, and (for
    `earlier referrals`) each referrer's referral events in processing
    order: what `replayed` reads."""
    referrals = [r for r in records if r[2] == "referral" and r[0] <= as_of] if wanted else []
    events = {r[1]: r for r in referrals if r[1] in wanted}
    histories: dict[str, list[tuple[Any, ...]]] = {}
    if program.compiled.at_referral is not None:  # `earlier referrals`: each referrer's, in processing order
        for r in sorted(referrals, key=lambda r: (r[0], r[1])):
            histories.setdefault(r[4], []).append(r)
    return events, histories


def _explained(
    program: Program, record: tuple[Any, ...], as_of: int, history: Sequence[tuple[Any, ...]] = ()
) -> dict[str, Any]:
    """An ineligible referral's entry as the Python engine writes it: which
    `eligible when` clause is false, with the values it read (`earlier
    referrals` from the referrer's referral events before it, `history`)."""
    from ..score.engine import Rejected
    from ..score.result import Reporter

    engine, _ = replayed(program, record, history)
    at, event_id, _, referee, referrer = record[:5]
    return Reporter(engine, as_of).rejected(Rejected(event_id, at, referrer, referee, "ineligible"))


@in_context
def replayed(program: Program, record: tuple[Any, ...], history: Sequence[tuple[Any, ...]] = ()) -> tuple[Any, Any]:
    """A referral event's `Referral` as the Python engine has it when it
    judges its eligibility (`earlier referrals` replayed from `history`,
    its referrer's referral events in processing order), in an engine of
    its own where it holds its referee: what `Reporter.rejection` reads."""
    from ..core.runtime import Referral
    from ..score.engine import Engine

    compiled = program.compiled
    at, event_id, _, referee, referrer = record[:5]
    named = compiled.fields["referral"]
    referral = Referral(
        event_id, at, referrer, referee, record, named, compiled.referral_slots(), len(compiled.milestones)
    )
    engine = Engine(compiled)
    if compiled.at_referral is not None:  # replayed as the engine keeps it (docs/sql.md)
        kept = engine.history(referrer)
        for earlier in history:
            if (earlier[0], earlier[1]) >= (at, event_id):
                break
            if compiled.remember is not None:
                compiled.remember(kept, named(earlier), earlier[0], earlier[1])
        compiled.at_referral(referral, kept)
    engine.state.referrals[referee] = referral
    return engine, referral


def _rejected(row: dict[str, Any]) -> dict[str, Any]:
    entry = {key: row[key] for key in ("event", "at", "referrer", "referee", "reason")}
    entry["at"] = format_timestamp(row["at"])
    if row["detail"] is not None:
        entry["detail"] = row["detail"]
    return entry


@in_context
def partial_results(
    compiled: CompiledRuleset,
    awards: list[tuple[dict[str, Any], dict[str, Any]]],
    rows: list[dict[str, Any]],
    as_of: int,
) -> list[dict[str, Any]]:
    """For the awards of rewards with partial voids ((record, query row)
    pairs, the records as written): set each one's status, and return the
    reversal entries of those confirmed by `as_of`, from the void events
    of `sql.reversals.clawbacks_select` (in order), with the Python
    engine's arithmetic (docs/sql.md, "Partial voids")."""
    from ..score.clawback import amount_scale, take
    from ..score.result import reversal_entry
    from ..sql import reversals

    events: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        events.setdefault(row["award"], []).append(row)
    milestones = {m.info.index: m for m in compiled.milestones}
    out: list[dict[str, Any]] = []
    for record, row in awards:
        milestone = milestones[row["milestone_index"]]
        reward = milestone.rewards[row["reward_index"]]
        if not reversals.partial(milestone, tuple(reward.info.voids)):
            continue
        confirmed = row["at"] + (reward.info.hold_ns or 0)
        # a constant in a unit that is not a currency: the engine's Decimal (`2.50` is written `2.5`)
        amount = (
            reward.constant if reward.quantum is None and reward.constant is not None else Decimal(record["amount"])
        )
        shares = (_share_of(milestone, found) for found in events.get(record["id"], ()))
        claw = take(amount, amount_scale(reward.quantum, amount), confirmed, shares)
        if claw.voided is not None:
            record["status"] = "void"
            if "why" in record:  # explained: the void event, as `Reporter._voided_by` writes it
                event, rule = claw.voided.event, claw.voided.rule
                record["why"]["voided_by"] = {
                    "event": event["id"],
                    "type": milestone.voids[rule].info.event,
                    "at": format_timestamp(event["at"]),
                    "rule": rule,
                }
        else:
            record["status"] = "pending" if as_of < confirmed else "confirmed"
        if confirmed <= as_of:
            out.extend(reversal_entry(record["id"], record, t, confirmed, reward.quantum) for t in claw.takings)
    return out


def _share_of(milestone: CompiledMilestone, row: dict[str, Any]) -> Share:
    """A `sql.reversals.clawbacks_select` row as `take` reads a void event."""
    event = {"at": row["vat"], "id": row["vid"]}
    if milestone.voids[row["rule"]].share is None:
        return event, row["rule"], None
    part, whole = (None if v is None else Decimal(v) for v in (row["part"], row["whole"]))
    return event, row["rule"], (part, whole)
