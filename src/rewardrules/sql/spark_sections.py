"""The explained output's sections (`referrals`, `referrers`, `withheld`:
sql/sections.py) computed by Spark for `score --engine spark`.

DuckDB keeps each section's rows in a table of its session and the result
reads them while it is written (`sections.prepare`). A Spark session is
stopped before the result is written (`cli.sql.spark_result`), and its
rows reach the driver a partition at a time: here each statement, written
in Spark SQL, is run once and its rows (in the statement's order) are
kept in an unnamed temporary file, a batch at a time, as the awards' text
is (`spark_write`), so that the driver holds one batch of rows at a time,
then and when they are read. The referral events not eligible in some
program are noted on the way (`Fetched.partial`: their lines are read for
their explanations).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import IO, Any

from .dialect import to_dialect
from .sections import _BATCH, Fetched, Sections


def fetch(session: Any, sections: Sections, programs: int) -> Fetched:
    """Each section's rows, run now and read back later (see the module);
    `programs`: the file's programs (the eligibility flags `e0`, `e1`, ...)."""
    partial: list[str] = []

    def note(row: dict[str, Any]) -> None:
        if not all(row[f"e{p}"] for p in range(programs)):
            partial.append(row["rid"])

    referrals = _spooled(session, sections.referrals, note)
    referrers = _spooled(session, sections.referrers) if sections.referrers else iter(())
    withheld = _spooled(session, sections.withheld)
    return Fetched(referrals, referrers, withheld, partial, sections)


def _spooled(session: Any, sql: str, note: Callable[[dict[str, Any]], None] | None = None) -> Iterator[dict[str, Any]]:
    """The rows of the statement `sql` (DuckDB's dialect) run by Spark now,
    read back later from the driver's temporary file."""
    store = tempfile.TemporaryFile()  # noqa: SIM115 (read after return: unnamed, gone when closed or at exit)
    try:
        rows = session.sql(to_dialect(sql, "spark")).toLocalIterator(prefetchPartitions=False)
        _store(rows, store, note)
    except BaseException:
        store.close()
        raise
    store.seek(0)
    return _read(store)


def _store(rows: Iterator[Any], store: IO[bytes], note: Callable[[dict[str, Any]], None] | None) -> None:
    """Write the rows as dicts into `store`, `_BATCH` at a time, a line of
    JSON each (the sections' values are texts, integers, booleans, NULL,
    and whole DECIMALs, Spark's HUGEINT (a timer's due, `sql.later_by`),
    written as the integers they are: any other type is an error here,
    never a value changed)."""
    batch: list[dict[str, Any]] = []
    try:
        for row in rows:
            found = row.asDict()
            if note is not None:
                note(found)
            batch.append(found)
            if len(batch) >= _BATCH:
                _dump(batch, store)
                batch = []
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()
    if batch:
        _dump(batch, store)


def _dump(batch: list[dict[str, Any]], store: IO[bytes]) -> None:
    store.write(json.dumps(batch, ensure_ascii=False, default=_whole).encode("utf-8") + b"\n")


def _whole(value: object) -> int:
    """A whole Decimal as its int (`json.dumps`'s `default`); else refused."""
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    raise TypeError(f"a section's value of type {type(value).__name__}: {value!r}")


def _read(store: IO[bytes]) -> Iterator[dict[str, Any]]:
    """The rows `_store` wrote, a batch at a time; the file is closed (and
    gone) after the last."""
    try:
        for line in store:
            yield from json.loads(line)
    finally:
        store.close()
