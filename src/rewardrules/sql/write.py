"""The awards of `score --engine duckdb --format json` written as JSON text
by DuckDB itself, the bytes `json.dumps(indent=2, ensure_ascii=False)`
gives (docs/sql.md, "Speed today").

Fetching each award row into a Python dict, then encoding it, cost more
than the query. Here the query's rows become one text column: each award
record as the result writes it at its depth (keys in the record's order,
`"key": value` pairs on their own lines, indented by six spaces, the
closing brace by four). Only values whose JSON text is plain are written
so: text without `"`, `\\`, or a control character (which `json` escapes)
is the text in quotes, UTF-8 as it is; an instant from 1970 to 2262 is
`format_timestamp`'s text (fraction without trailing zeros, `Z`); an
integer its digits; a boolean `true`/`false`; NULL `null`. Any other value
makes the record's text NULL, and the caller then builds the whole result
in Python as before: the fast path changes speed, never a byte.

The totals are counted by the query too, per (unit, kind, status, amount
text), for the caller to add up exactly (`cli.sql`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.jsonout import pretty, write_pretty
from .compile import ident, literal

#: a text whose JSON is not just itself in quotes (`json.dumps` escapes
#: `"`, `\` and every control character)
_ESCAPED = r'[\x00-\x1f"\\]'

#: the rows fetched at a time
_BATCH = 20_000

#: the separator of two records in the `awards` list, and its ends
_BETWEEN, _OPEN, _CLOSE = b",\n    ", b"[\n    ", b"\n  ]"


@dataclass(frozen=True, slots=True)
class Written:
    """The awards' JSON text, in pieces of many records each (joined by
    `,` and a line break), and how many awards there are. `pieces` may be
    read once only: `award_texts` fetches each piece from DuckDB as it is
    written (`write_result`), and Spark's are streamed (`spark_write`), so
    that no more than one piece is held."""

    pieces: Iterable[bytes]
    count: int


def _value(name: str, kind: str) -> str | None:
    """A column's JSON text in SQL; None for a type not written here."""
    column = ident(name)
    kind = kind.upper()
    if kind == "VARCHAR":  # its escapes are looked for once per record (`record_sql`)
        return f"CASE WHEN {column} IS NULL THEN 'null' ELSE '\"' || {column} || '\"' END"
    if kind == "BOOLEAN":
        return f"CASE WHEN {column} THEN 'true' WHEN NOT {column} THEN 'false' ELSE 'null' END"
    if kind in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"):
        return f"COALESCE(CAST({column} AS VARCHAR), 'null')"
    return None


def _instant(name: str) -> str:
    """An instant (BIGINT nanoseconds) as `format_timestamp` writes it, in
    quotes; NULL before 1970 (where `//` would not floor) or when NULL."""
    column = ident(name)
    fraction = (
        f"CASE WHEN {column} % 1000000000 = 0 THEN '' "
        f"ELSE '.' || rtrim(lpad(CAST({column} % 1000000000 AS VARCHAR), 9, '0'), '0') END"
    )
    clock = f"strftime(make_timestamp({column} // 1000), '%Y-%m-%dT%H:%M:%S')"
    return f"CASE WHEN {column} >= 0 THEN '\"' || {clock} || {fraction} || 'Z\"' END"


def record_sql(keys: Sequence[str], types: Mapping[str, str]) -> str | None:
    """One award record's text in SQL: keys in order, at depth 2 of the
    result; None when a key's column has a type not written here.

    The pieces are joined by one `concat`, not a chain of `||`: each `||`
    copies the text built so far into a new string, so a record of twenty
    keys was copied some forty times (about a quarter of this statement's
    cost at 1M events). `concat` leaves out NULL where `||` gives NULL: the
    pieces that may be NULL, an instant `format_timestamp` would not write
    as `_instant` does (before 1970) and a `why` the query did not give
    (`"why": ` and nothing would be written), are therefore tested first."""
    parts = []
    guards = []
    texts = [ident(key) for key in keys if str(types.get(key, "")).upper() == "VARCHAR" and key != "why"]
    for n, key in enumerate(keys):
        kind = types.get(key)
        if kind is None:
            return None
        is_instant = key == "at" and kind.upper() == "BIGINT"
        value = _instant(key) if is_instant else _value(key, kind)
        if key == "why":  # JSON text already (sql/explain.py), at this depth: its lines indented
            value = f"REPLACE({ident(key)}, CHR(10), {literal(chr(10) + ' ' * 6)})"
            guards.append(f"{ident(key)} IS NOT NULL")
        if value is None:
            return None
        guards += [f"{ident(key)} >= 0"] if is_instant else []
        lead = ("{\n      " if n == 0 else ",\n      ") + pretty(key).decode("utf-8") + ": "
        parts += [literal(lead), value]
    parts.append(literal("\n    }"))
    record = f"concat({', '.join(parts)})"
    if guards:  # else NULL, as `_instant` gives (the caller then writes the record in Python)
        record = f"CASE WHEN {' AND '.join(guards)} THEN {record} END"
    if not texts:
        return record
    # one search over the record's texts together (`concat` leaves out NULLs)
    return f"CASE WHEN NOT regexp_matches(concat({', '.join(texts)}), {literal(_ESCAPED)}) THEN {record} END"


def texts_sql(awards: str, types: Mapping[str, str], layouts: Mapping[tuple[int, int], Sequence[str]]) -> str | None:
    """The statement making the table `written`: each award's record text
    (`text`, NULL when a value is not plain) and the columns the totals
    need, in the awards' order (a table keeps the order rows are inserted
    in); None when a layout has a column this module does not write."""
    cases = []
    for keys in {tuple(keys) for keys in layouts.values()}:
        sql = record_sql(keys, types)
        if sql is None:
            return None
        which = [f"(milestone_index = {m} AND reward_index = {r})" for (m, r), k in layouts.items() if tuple(k) == keys]
        cases.append(f"WHEN {' OR '.join(which)} THEN {sql}")
    text = f"CASE {' '.join(cases)} END" if cases else "NULL"
    return f"CREATE TABLE written AS SELECT {text} AS text, unit, kind, status, amount FROM ({awards}) AS awards"


#: the awards counted per unit, kind, status and amount text
TOTALS = (
    "SELECT unit, kind, status, amount, count(*) AS n FROM written "
    "GROUP BY unit, kind, status, amount ORDER BY unit, kind, status, amount"
)


def award_texts(connection: Any, awards: str, layouts: Mapping[tuple[int, int], Sequence[str]]) -> Written | None:
    """The awards as JSON text (see the module), or None when a record has
    a value this module does not write (the caller builds them in Python)."""
    types = {str(name): str(kind) for name, kind, *_ in connection.execute(f"DESCRIBE {awards}").fetchall()}
    sql = texts_sql(awards, types, layouts)
    if sql is None:
        return None
    connection.execute(sql)
    missing, count = connection.execute("SELECT count(*) FILTER (WHERE text IS NULL), count(*) FROM written").fetchone()
    if missing:
        return None
    return Written(_fetched(connection), int(count))


def _fetched(connection: Any) -> Iterator[bytes]:
    """The `written` table's texts, `_BATCH` records a piece, fetched when
    the first piece is asked for (after every other query: a query run on
    the connection meanwhile would end this one)."""
    cursor = connection.execute("SELECT text FROM written")
    while rows := cursor.fetchmany(_BATCH):
        yield ",\n    ".join([row[0] for row in rows]).encode("utf-8")


def read_records(data: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """The result's (key, value) pairs with its awards as records: those
    written as JSON text (`Written`) read back a piece at a time, in
    order, as they are fetched (the text output, `report.score`, reads
    them so: one piece held, never the awards)."""
    for key, value in data.items():
        yield key, _records(value.pieces) if isinstance(value, Written) else value


def _records(pieces: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    for piece in pieces:
        yield from json.loads(b"[" + piece + b"]")


def write_result(data: Mapping[str, Any], write: Callable[[bytes], object]) -> None:
    """Write a result record as `jsonout.write_pretty` does, its awards
    from `Written` text when they are (the same bytes)."""
    awards = data.get("awards")
    if not isinstance(awards, Written):
        write_pretty(data, write)
        return
    keys = list(data)
    at = keys.index("awards")
    head = {key: data[key] for key in keys[:at]}
    tail = {key: data[key] for key in keys[at + 1 :]}
    if head:
        write(pretty(head)[:-2] + b",\n")  # without its closing "\n}"
    write(b'{\n  "awards": ' if not head else b'  "awards": ')
    if awards.count:
        write(_OPEN)
        for n, piece in enumerate(awards.pieces):
            if n:
                write(_BETWEEN)
            write(piece)
        write(_CLOSE)
    else:
        write(b"[]")
        for _ in awards.pieces:  # none: reading them ends DuckDB's session
            pass
    if not tail:
        write(b"\n}\n")
        return
    write(b",\n")
    write_pretty(tail, _Opened(write))  # without its opening "{\n": the explained sections stream through


class _Opened:
    """A writer that drops the first two bytes written through it (an
    object's opening `{` and line break), and passes on the rest as it
    comes: the tail of a result is written while its lists are made."""

    def __init__(self, write: Callable[[bytes], object]) -> None:
        self.write = write
        self.skip = 2

    def __call__(self, chunk: bytes) -> None:
        if self.skip:
            dropped = chunk[: self.skip]
            chunk = chunk[self.skip :]
            self.skip -= len(dropped)
        if chunk:
            self.write(chunk)
