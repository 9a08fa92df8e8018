"""The awards of `score --engine spark --format json` written as JSON text
by Spark's executors and streamed, in order, through the driver
(docs/sql.md, "100M events on paper").

Collecting every award row into the Python driver as a dict, then encoding
it, held all the awards in the driver's memory at once (about 2 KB an
award). Here the query's rows become one text column, each award's record
as `sql.write` has DuckDB write it (the same keys in the same order, the
same plain values, NULL for any other value, and then the caller collects
the rows as before: the fast path changes speed and memory, never a byte),
written in Spark SQL. The driver takes the rows a partition at a time
(`toLocalIterator`, without fetching the next partition ahead: the
driver's JVM holds one partition's rows at a time), in the query's order,
and keeps the text in an unnamed temporary file until the result is
written; it counts the awards per (unit, kind, status, amount text) on
the way, for the totals. The partitions are sized from the ledger
(`spark.shuffle_partitions`), so that one partition's text does not grow
with the ledger.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any

from ..core.jsonout import pretty
from .spark_read import _lit, _quoted
from .write import _BATCH, _BETWEEN, _ESCAPED, Written

#: an instant's date and time of day, as Spark's `date_format` writes them
_CLOCK = "yyyy-MM-dd'T'HH:mm:ss"

#: Spark's integer types, written as their digits
_INTEGERS = ("tinyint", "smallint", "int", "bigint")


def _value(name: str, kind: str) -> str | None:
    """A column's JSON text in Spark SQL; None for a type not written here."""
    column = _quoted(name)
    if kind == "string":  # its escapes are looked for once per record (`record_sql`)
        return f"CASE WHEN {column} IS NULL THEN 'null' ELSE concat('\"', {column}, '\"') END"
    if kind == "boolean":
        return f"CASE WHEN {column} THEN 'true' WHEN NOT {column} THEN 'false' ELSE 'null' END"
    if kind in _INTEGERS:
        return f"COALESCE(CAST({column} AS STRING), 'null')"
    return None


def _instant(name: str) -> str:
    """An instant (BIGINT nanoseconds) as `format_timestamp` writes it, in
    quotes (the session's time zone is UTC); NULL before 1970 or when NULL."""
    column = _quoted(name)
    nanos = f"({column} % 1000000000)"
    fraction = (
        f"CASE WHEN {nanos} = 0 THEN '' "
        f"ELSE concat('.', regexp_replace(lpad(CAST({nanos} AS STRING), 9, '0'), '0+$', '')) END"
    )
    clock = f"date_format(timestamp_micros({column} div 1000), {_lit(_CLOCK)})"
    return f"CASE WHEN {column} >= 0 THEN concat('\"', {clock}, {fraction}, 'Z\"') END"


def record_sql(keys: Sequence[str], types: Mapping[str, str]) -> str | None:
    """One award record's text in Spark SQL (`write.record_sql`): keys in
    order, at depth 2 of the result; None when a key's column has a type
    not written here."""
    parts = []
    for n, key in enumerate(keys):
        kind = types.get(key)
        if kind is None:
            return None
        value = _instant(key) if key == "at" and kind == "bigint" else _value(key, kind)
        if key == "why":  # JSON text already (sql/explain.py), at this depth: its lines indented
            value = f"replace({_quoted(key)}, {_lit(chr(10))}, {_lit(chr(10) + ' ' * 6)})"
        if value is None:
            return None
        lead = ("{\n      " if n == 0 else ",\n      ") + pretty(key).decode("utf-8") + ": "
        parts.append(f"{_lit(lead)}, {value}")
    record = f"concat({', '.join(parts)}, {_lit(chr(10) + '    }')})"
    texts = [_quoted(key) for key in keys if types.get(key) == "string" and key != "why"]
    if not texts:
        return record
    # one search over the record's texts together (`concat_ws` leaves out NULLs)
    return f"CASE WHEN NOT concat_ws('', {', '.join(texts)}) RLIKE {_lit(_ESCAPED)} THEN {record} END"


def texts_sql(view: str, types: Mapping[str, str], layouts: Mapping[tuple[int, int], Sequence[str]]) -> str | None:
    """The query giving each award's record text (`text`, NULL when a value
    is not plain) and the columns the totals need, over the awards in
    `view` (in their order); None when a layout has a column not written here."""
    cases = []
    for keys in sorted({tuple(keys) for keys in layouts.values()}):
        sql = record_sql(keys, types)
        if sql is None:
            return None
        which = [f"(milestone_index = {m} AND reward_index = {r})" for (m, r), k in layouts.items() if tuple(k) == keys]
        cases.append(f"WHEN {' OR '.join(which)} THEN {sql}")
    text = f"CASE {' '.join(cases)} END" if cases else "CAST(NULL AS STRING)"
    return f"SELECT {text} AS text, unit, kind, status, amount FROM {view}"


def award_texts(
    session: Any, awards: str, layouts: Mapping[tuple[int, int], Sequence[str]]
) -> tuple[Written, list[tuple[Any, ...]]] | None:
    """The awards of the Spark SQL query `awards` as JSON text, and their
    counts per (unit, kind, status, amount text); None when a record has a
    value not written here (the caller collects the rows instead)."""
    session.sql(f"CREATE OR REPLACE TEMPORARY VIEW rewardrules_awards AS {awards}")
    types = {f.name: f.dataType.simpleString() for f in session.table("rewardrules_awards").schema.fields}
    sql = texts_sql("rewardrules_awards", types, layouts)
    if sql is None:
        return None
    store = tempfile.TemporaryFile()  # noqa: SIM115 (read after return: unnamed, gone when closed or at exit)
    try:
        found = _stream(session.sql(sql).toLocalIterator(prefetchPartitions=False), store)
    except BaseException:
        store.close()
        raise
    if found is None:
        store.close()
        return None
    sizes, counts = found
    store.seek(0)
    groups = [(*key, n) for key, n in counts.items()]
    return Written(_pieces(store, sizes), sum(counts.values())), groups


def _stream(rows: Iterator[Any], store: IO[bytes]) -> tuple[list[int], Counter[tuple[Any, ...]]] | None:
    """Write the rows' texts into `store` in pieces of `_BATCH` records
    (joined as `write.Written` joins them): the pieces' sizes and the
    counts; None at the first row without a text."""
    sizes: list[int] = []
    counts: Counter[tuple[Any, ...]] = Counter()
    batch: list[str] = []
    try:
        for text, *key in rows:
            if text is None:
                return None
            batch.append(text)
            counts[tuple(key)] += 1
            if len(batch) >= _BATCH:
                sizes.append(store.write(_BETWEEN.join(t.encode("utf-8") for t in batch)))
                batch.clear()
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()  # Spark stops serving the rest when the text of one is missing
    if batch:
        sizes.append(store.write(_BETWEEN.join(t.encode("utf-8") for t in batch)))
    return sizes, counts


def _pieces(store: IO[bytes], sizes: list[int]) -> Iterator[bytes]:
    """The pieces written by `_stream`, read back one at a time; the file
    is closed (and gone) after the last."""
    try:
        for size in sizes:
            yield store.read(size)
    finally:
        store.close()
