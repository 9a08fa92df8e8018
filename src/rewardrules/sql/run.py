"""The compiled query run by DuckDB, embedded, over validated events.

The events arrive as the ledger stage's records (validated: the SQL back
end reads the same lines the Python engine accepts, and refuses the same
ones). They are written to a temporary JSON Lines file with every value as
text, and DuckDB casts each column to its exact type: numbers to
DECIMAL(38, s) with `s` the most decimals a value of the column has, so no
value is rounded on the way in (one that needs more than 38 digits is
refused, `TooWide`).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from ..check.program import CheckedRuleset
from ..core.timeutil import format_timestamp
from . import exponents, signs
from .compile import MAX_DIGITS, STAGED_TABLE, Column, Query, ident, literal
from .every import check_volume
from .expressions import FOLDED
from .sections import Fetched, Sections, fetch_all, prepare
from .write import TOTALS, Written, award_texts

#: per (milestone index, reward index), the keys of its award records
Layouts = Mapping[tuple[int, int], Sequence[str]]

#: the totals from the awards counted per (unit, kind, status, amount) and
#: the reversal rows, or None when they must be added up award by award
#: (`cli.sql.grouped_totals`)
TotalsOf = Callable[[list[tuple[str, str, str, str, int]], list[dict[str, Any]]], list[dict[str, Any]] | None]

#: DuckDB's memory by default: past it, DuckDB spills to the run's private
#: directory (`connect`), so that a ledger of any size is scored in about
#: this much memory plus Python's (DuckDB's own default is 80% of RAM)
DEFAULT_MEMORY = "1GB"


@dataclass(frozen=True, slots=True)
class Limits:
    """What DuckDB may use: threads (None: one per core, DuckDB's default)
    and memory (`DEFAULT_MEMORY`; DuckDB's syntax, `500MB`, `4GB`)."""

    threads: int | None = None
    memory: str = DEFAULT_MEMORY


class EngineError(Exception):
    """DuckDB could not run the query (out of memory, a full disk, a limit
    of its own): said as an error, never a traceback."""


class TooWide(EngineError):
    """A ledger number that DECIMAL(38, s) cannot hold exactly; or DuckDB's
    refusal to compute a value (an overflow past 38 digits): an error,
    never a rounded number."""


@dataclass(frozen=True, slots=True)
class Rows:
    """What the queries gave: award rows and rejected rows, as dicts by
    column name, in the Python engine's order."""

    awards: list[dict[str, Any]]
    rejected: list[dict[str, Any]]
    #: reversals of confirmed awards (`void if` after the hold), in order
    reversals: list[dict[str, Any]] = field(default_factory=list)
    #: the void events of awards with partial voids (`Query.clawbacks`)
    clawbacks: list[dict[str, Any]] = field(default_factory=list)
    #: the awards as JSON text, when asked for and every value is plain
    #: (`write.award_texts`): then `awards` is empty
    written: Written | None = None
    #: with `written`: the awards counted per (unit, kind, status, amount)
    groups: list[tuple[str, str, str, str, int]] = field(default_factory=list)
    #: with `written`: the totals added up from `groups` (`TotalsOf`)
    totals: list[dict[str, Any]] | None = None
    #: the explained sections' rows, when asked for (sql/sections.py)
    sections: Fetched | None = None


def _positions(checked: CheckedRuleset, columns: Sequence[Column]) -> dict[str, dict[str, int]]:
    """Per event type, the position in its record of each column's field."""
    found: dict[str, dict[str, int]] = {}
    for column in columns:
        record = checked.events[column.event].record()
        found.setdefault(column.event, {})[column.name] = record.index(column.field)
    return found


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _scale(values: Iterable[Decimal], name: str) -> int:
    """The decimals column `name` needs; `TooWide` past 38 digits."""
    scale = whole = 0
    for value in values:
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int)  # validated ledger numbers are finite
        scale = max(scale, -exponent)
        whole = max(whole, value.adjusted() + 1)
    if scale + whole > MAX_DIGITS:
        raise TooWide(f"the numbers of `{name}` need more than {MAX_DIGITS} digits, the most the SQL engine holds")
    return scale


#: the instants the SQL engines hold: nanoseconds since 1970 in a BIGINT
_FIRST_NS, _LAST_NS = -(2**63), 2**63 - 1


#: the instants the SQL engines hold, as errors say them
_HELD = f"from {format_timestamp(_FIRST_NS)} to {format_timestamp(_LAST_NS)}"


def bigint_instant(at: int, what: str) -> int:
    """`at`, an instant of the ledger or the as-of (`what` names it), when
    a BIGINT of nanoseconds holds it (1677-09-21 to 2262-04-11); else
    `past_bigint`."""
    if _FIRST_NS <= at <= _LAST_NS:
        return at
    raise past_bigint(at, what)


def past_bigint(at: int, what: str) -> TooWide:
    """`TooWide` for an instant no BIGINT of nanoseconds holds, said at once
    (exit 2), where DuckDB stopped with its own conversion error: the
    Python engine holds the years 0001 to 9999."""
    return TooWide(
        f"{what} is at {format_timestamp(at)}: the SQL engines hold instants {_HELD} "
        "(nanoseconds in a BIGINT); `--engine python` scores it"
    )


def _write(path: str, records: Iterable[tuple[Any, ...]], positions: dict[str, dict[str, int]]) -> dict[str, int]:
    """Write the events as JSON Lines of text values; each number column's scale."""
    numbers: dict[str, list[Decimal]] = {}
    with open(path, "w", encoding="utf-8") as out:
        for record in records:
            at, event_id, event_type, referee, referrer = record[:5]
            if not _FIRST_NS <= at <= _LAST_NS:  # inline: the name is made only for the error
                raise past_bigint(at, f"event `{event_id}`")
            row: dict[str, Any] = {
                "at": str(at),
                "id": event_id,
                "type": event_type,
                "referee": referee,
                "referrer": referrer,
            }
            for name, index in positions.get(event_type, {}).items():
                value = record[index]
                if isinstance(value, Decimal) and name.endswith(exponents.SUFFIX):  # messages, explanations
                    value = exponents.of(value)
                elif isinstance(value, Decimal) and name.endswith(signs.SUFFIX):  # a negative zero's minus
                    value = value.is_signed()
                if isinstance(value, Decimal):
                    numbers.setdefault(name, []).append(value)
                if isinstance(value, str) and name.endswith(FOLDED):  # `ignoring case`
                    value = value.casefold()
                row[name] = _text(value)
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return {name: _scale(values, name) for name, values in numbers.items()}


def _sql_type(column: Column, scales: dict[str, int]) -> str:
    if column.kind == "number":
        return f"DECIMAL({MAX_DIGITS}, {scales.get(column.name, 0)})"
    if column.kind == "exponent":
        return "BIGINT"
    return "BOOLEAN" if column.kind in ("boolean", "sign") else "VARCHAR"


def load_sql(path: str, columns: Sequence[Column], scales: dict[str, int]) -> str:
    """The statement that makes the `ledger` table from the file."""
    names = ["at", "id", "type", "referee", "referrer", *(c.name for c in columns)]
    read = ", ".join(f"{literal(n)}: 'VARCHAR'" for n in names)
    casts = ", ".join(f"CAST({ident(c.name)} AS {_sql_type(c, scales)}) AS {ident(c.name)}" for c in columns)
    return (
        'CREATE TABLE ledger AS SELECT CAST("at" AS BIGINT) AS "at", id, type, referee, referrer'
        + (f", {casts}" if casts else "")
        + f" FROM read_json({literal(path)}, format = 'newline_delimited', columns = {{{read}}})"
    )


def connect(folder: str, limits: Limits = Limits(), *, optimizers_off: tuple[str, ...] = ()) -> Any:
    """An in-memory DuckDB that keeps to `folder`, the run's private
    directory. By default DuckDB spills what does not fit in memory to
    `.tmp` in the working directory (the ledger's ids and amounts, in files
    anyone may read, left behind when the run is killed), and installs and
    loads extensions from the network and the home directory on first use:
    here the spill goes into `folder` (removed with it) and no extension is
    installed or loaded beyond those built in. `limits`: its threads and
    memory (past which it spills there). `optimizers_off`: DuckDB
    optimizers turned off (`Query.optimizers_off`)."""
    import duckdb

    threads = {} if limits.threads is None else {"threads": limits.threads}
    off = {"disabled_optimizers": ",".join(optimizers_off)} if optimizers_off else {}
    connection = duckdb.connect(
        ":memory:",
        config={
            **threads,
            **off,
            "memory_limit": limits.memory,
            "temp_directory": os.path.join(folder, "spill"),
            "extension_directory": os.path.join(folder, "extensions"),
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
        },
    )
    connection.execute("SET enable_progress_bar = false")  # never drawn on the user's terminal
    return connection


def seal(connection: Any) -> None:
    """After the ledger is loaded, the queries need no file: DuckDB's file
    and network access is turned off, and its settings locked, so that no
    query can read or write outside the database (defence in depth: every
    outside text is a quoted constant, see `compile.literal`)."""
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")


def run(
    query: Query,
    checked: CheckedRuleset,
    records: Iterable[tuple[Any, ...]],
    as_of: int,
    limits: Limits = Limits(),
    sections: Sections | None = None,
) -> Rows:
    """Run both queries over the records (the ledger stage's, any order);
    with `sections`, the explained sections' too (every row read here)."""
    with tempfile.TemporaryDirectory(prefix="rewardrules-sql-") as folder:
        path = os.path.join(folder, "ledger.jsonl")
        scales = _write(path, records, _positions(checked, query.columns))
        with _session(folder, limits, optimizers_off=query.optimizers_off) as connection:
            connection.execute(load_sql(path, query.columns, scales))
            seal(connection)
            rows = _queries(connection, query, as_of)
            if sections is None:
                return rows
            return replace(rows, sections=fetch_all(connection, sections, len(checked.programs)))


@contextmanager
def _session(folder: str, limits: Limits = Limits(), *, optimizers_off: tuple[str, ...] = ()) -> Iterator[Any]:
    """A connection (see `connect`) whose DuckDB failures are said as
    errors (`TooWide`, `EngineError`), never tracebacks; closed after."""
    import duckdb

    try:  # a setting DuckDB refuses (a --memory-limit past what it holds) is said, never a traceback
        connection = connect(folder, limits, optimizers_off=optimizers_off)
    except duckdb.Error as error:
        off = f"; optimizers off: {', '.join(optimizers_off)}" if optimizers_off else ""
        raise EngineError(
            f"DuckDB could not start: {str(error).splitlines()[0]} (with --memory-limit {limits.memory}{off})"
        ) from None
    try:
        with _said():
            yield connection
    finally:
        connection.close()


@contextmanager
def _said() -> Iterator[None]:
    """DuckDB's failures said as errors (`TooWide`, `EngineError`)."""
    import duckdb

    try:
        yield
    except duckdb.OutOfRangeException as error:  # an exact value past 38 digits
        said = f"DuckDB could not compute a value exactly: {_without_operands(str(error).splitlines()[0])}"
        raise TooWide(_with_hint(said)) from None
    except duckdb.OutOfMemoryException as error:  # past --memory-limit even when spilling
        first = str(error).splitlines()[0]
        raise EngineError(f"DuckDB could not run the query: {first} (give it more with --memory-limit)") from None
    except duckdb.Error as error:  # a cast of a value past a BIGINT too (a Conversion Error)
        first = _without_operands(str(error).splitlines()[0])
        raise EngineError(_with_hint(f"DuckDB could not run the query: {first}")) from None


#: the values DuckDB quotes in its own overflows and failed casts, each
#: pattern anchored at the start of that error's text (a file name or an
#: id in another error may hold the same words): the operands `(A * B)`
#: or `: A * B` of an overflow (and the advice after them, a cast the rule
#: writer cannot add), `value "X"` and `with value X` of a cast
_QUOTED = (
    (re.compile(r"^(Out of Range Error: Overflow in [^:]*?)(?: \([^()]*\)|: \S+ [-+*/] \S+).*$"), r"\1"),
    (re.compile(r'^(Conversion Error: Casting) value "[^"]*"'), r"\1 a value"),
    (re.compile(r"^(Conversion Error: Type \S+) with value \S+"), r"\1"),
    (re.compile(r"^(Conversion Error: Could not cast) value \S+"), r"\1 a value"),
)


def _without_operands(text: str) -> str:
    """DuckDB's overflow or failed cast said without the values it failed
    on: with more than one thread, which row stops the query first differs
    from run to run, and so did the error's text (`Overflow in
    multiplication of DECIMAL(38)` is the same each time). Any other error
    is left as it is. Read in its first 2,000 characters (a value quoted
    may be long)."""
    if len(text) > 2000:
        text = text[:2000] + "..."
    for pattern, instead in _QUOTED:
        text = pattern.sub(instead, text)
    return text


def _with_hint(said: str) -> str:
    """DuckDB's error, with what the SQL engines hold when it is of BIGINT
    (INT64) arithmetic (the query's BIGINTs are instants), or of a cast to
    a DECIMAL of 38 digits with decimals: a number of many decimals beside
    one of many whole digits (`qty < 1000000000` where a `qty` has 29
    decimals) have no common type of 38 digits, where the Python engine
    compares them exactly."""
    if "INT64" in said:
        return (
            f"{said} (the SQL engines hold instants as BIGINT nanoseconds, {_HELD}: "
            "an instant a duration before or after those stops the query; `--engine python` scores it)"
        )
    cast = _DECIMAL_CAST.search(said)
    if cast is not None:
        scale = int(cast[1])
        return (
            f"{said} (the SQL engines hold a number in {MAX_DIGITS} digits, whole and decimal: a value with "
            f"{scale} decimals met one of more than {MAX_DIGITS - scale} whole digits, in a comparison or a sum; "
            "`--engine python` scores it)"
        )
    return said


#: DuckDB's failed cast to a DECIMAL(38, s) with decimals (`_with_hint`)
_DECIMAL_CAST = re.compile(rf": Conversion Error: Casting a value to type DECIMAL\({MAX_DIGITS},([1-9][0-9]*)\) failed")


def _queries(
    connection: Any, query: Query, as_of: int, layouts: Layouts | None = None, totals_of: TotalsOf | None = None
) -> Rows:
    """The queries over the loaded `ledger`, up to `as_of`: awards,
    rejected referral events, and reversals when the rules void. With
    `layouts` (each reward's record keys) and `totals_of`, the awards as
    JSON text when `write.award_texts` can write them and the totals add
    up from their counts; else the award rows of the same run."""
    connection.execute(
        f'CREATE TABLE as_of AS SELECT CAST({bigint_instant(int(as_of), "the as-of")} AS BIGINT) AS "at"'
    )
    volume = query.volume_sql()
    if volume is not None:  # the per-event award limit, before any award is computed (sql/every.py)
        check_volume(_fetch(connection, volume), query.names, query.most)
    staged = _staged(connection, query)
    rows = _statements(connection, staged, layouts, totals_of)
    if staged is not query:  # read: the explained sections and the written texts need it no more
        connection.execute(f"DROP TABLE {STAGED_TABLE}")  # (after an error, closing the connection drops it)
    return rows


def _statements(
    connection: Any, query: Query, layouts: Layouts | None = None, totals_of: TotalsOf | None = None
) -> Rows:
    """The rows of `query`'s statements but the volume's (see `_queries`)."""
    taken = _fetch(connection, query.reversals) if query.reversals else []
    claws = _fetch(connection, query.clawbacks) if query.clawbacks else []
    rejected = _fetch(connection, query.rejected)
    # awards with partial voids take their statuses and reversals from the
    # Python engine's arithmetic (cli.sql.partial_results): never written text
    wanted = layouts is not None and totals_of is not None and not query.clawbacks
    written = award_texts(connection, query.awards, layouts) if wanted and layouts is not None else None
    if written is not None and totals_of is not None:
        groups = [tuple(row) for row in connection.execute(TOTALS).fetchall()]
        totals = totals_of(groups, taken)
        if totals is not None:  # else a sum that would round: the award rows, added up in order
            return Rows([], rejected, taken, claws, written=written, groups=groups, totals=totals)
    return Rows(_fetch(connection, query.awards), rejected, taken, claws)


def _staged(connection: Any, query: Query) -> Query:
    """The query whose statements read its award rows computed once into a
    table of the session (`compile.Staged`), where more than one statement
    reads them; else the query as it is."""
    staged = query.staged
    if staged is None:
        return query
    connection.execute(f"CREATE TEMP TABLE {STAGED_TABLE} AS {staged.rows}")
    return replace(query, awards=staged.awards, reversals=staged.reversals, clawbacks=staged.clawbacks, staged=None)


def _fetch(connection: Any, sql: str) -> list[dict[str, Any]]:
    cursor = connection.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _limit_access(connection: Any, path: str) -> None:
    """From the start, DuckDB may read the ledger file asked for and no
    other file (nor the network), and its settings are locked."""
    connection.execute(f"SET allowed_paths = [{literal(os.path.abspath(path))}]")
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")


def run_file(
    query: Query,
    checked: CheckedRuleset,
    used: Sequence[str],
    currencies: Mapping[str, str | None],
    path: str,
    as_of: int | None,
    layouts: Layouts | None = None,
    totals_of: TotalsOf | None = None,
    limits: Limits = Limits(),
    sections: Sections | None = None,
) -> tuple[Rows, int, list[str]] | None:
    """Run both queries over the ledger file at `path`, read by DuckDB
    itself (`read.load`, the strict form): the rows, the as-of used (the
    given one, or the ledger's latest instant), and the lines of the
    ineligible referrals (for their explanations). None when the ledger is
    not in the strict form, or changed between DuckDB's readings of it
    (`_version`): then the caller reads it with the Python reader
    (`run`), which reports its problems or scores what it accepts. With
    `layouts` and `totals_of`, the awards as JSON text when they can be
    (`Rows.written`): its pieces are fetched as they are written, and
    DuckDB's session (its connection, its private directory) ends when
    the last one is read. With `sections`, the explained sections' rows
    too (`Rows.sections`, read as they are written: the session then ends
    after the last section's)."""
    from .read import NotDirect, lines_of, load

    with ExitStack() as stack:
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="rewardrules-sql-"))
        connection = stack.enter_context(_session(folder, limits, optimizers_off=query.optimizers_off))
        _limit_access(connection, path)
        before = _version(path)
        try:
            latest = load(connection, os.path.abspath(path), checked, used, query.columns, currencies)
        except NotDirect:
            return None
        limit = as_of if as_of is not None else (latest if latest is not None else 0)
        rows = _queries(connection, query, limit, layouts, totals_of)
        fetched = prepare(connection, sections, len(checked.programs)) if sections is not None else None
        ineligible = [row["event"] for row in rows.rejected if row["reason"] == "ineligible"]
        known = set(ineligible)
        ineligible += [rid for rid in (fetched.partial if fetched else []) if rid not in known]
        lines = lines_of(connection, os.path.abspath(path), ineligible)
        if _version(path) != before:  # changed between DuckDB's readings: the Python reader reads it once
            return None
        if fetched is not None:  # the session now ends after the last section's rows
            session = stack.pop_all()
            fetched.referrals = _guarded(session, fetched.referrals)
            fetched.referrers = _guarded(session, fetched.referrers)
            fetched.withheld = _closing(session, fetched.withheld)
            rows = replace(rows, sections=fetched)
            if rows.written is not None:
                rows = replace(rows, written=replace(rows.written, pieces=_guarded(session, rows.written.pieces)))
        elif rows.written is not None:  # the session now ends after its last piece
            pieces = _closing(stack.pop_all(), rows.written.pieces)
            rows = replace(rows, written=replace(rows.written, pieces=pieces))
        return rows, limit, lines


def _version(path: str) -> tuple[int, ...]:
    """What tells one version of the ledger file from another: `load` and
    `read.lines_of` read the file more than once (`read._lines_by_id`: the
    ids checked on whole lines, the lines of ineligible referrals), so a
    file rewritten, appended to or swapped for another (a symlink, a
    rename) between readings would give a result of no version of it: an
    id on two different lines taken as one repeated line, events scored
    twice or not at all."""
    found = os.stat(path)
    return (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns)


def _closing(session: ExitStack, pieces: Iterable[Any]) -> Iterator[Any]:
    """`pieces`, then the end of `session`; DuckDB's failures while they
    are fetched are said as errors (`_session`)."""
    with session:
        yield from pieces


def _guarded(session: ExitStack, items: Iterable[Any]) -> Iterator[Any]:
    """`items`, DuckDB's failures while they are fetched said as errors;
    on any failure `session` ends (else it ends after the last section's
    rows, `_closing`, which are then never read)."""
    try:
        with _said():
            yield from items
    except BaseException:
        session.close()
        raise


def parquet_rows(path: str, limits: Limits = Limits()) -> Iterator[str]:
    """A Parquet ledger's rows as JSON lines (`read.parquet_lines`), read by
    a DuckDB that may open that file only: for the Python reader, when the
    ledger is not in the strict form."""
    from .read import parquet_lines

    with tempfile.TemporaryDirectory(prefix="rewardrules-sql-") as folder, _session(folder, limits) as connection:
        _limit_access(connection, path)
        yield from parquet_lines(connection, os.path.abspath(path))
