"""The id log: event ids seen so far, spilled to a scratch database when a
ledger is too large to hold them in memory."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator


class ScratchError(OSError):
    """Streaming could not keep the ledger's ids on disk (see `IdLog`)."""


class IdLog:
    """Every id of a ledger read in one pass, with its line, to find ids
    used again at a later instant (a repeat at the same instant sorts next
    to the first and is checked there: see `Program._stream`).

    Finding every reused id takes every id, so they go to a private
    temporary SQLite database, which SQLite keeps in a small page cache and
    spills to a file it deletes itself: the process's memory stays flat
    however long the ledger. Ids are appended in batches, expanded from one
    JSON array of (line, id) pairs by SQLite (a row at a time from Python
    cost about twice as much), and grouped once at the end. An id is stored
    under its line, so lines may come in any order (a stream put in ledger
    order gives them by instant): the first line of an id is its smallest.

    SQLite's errors (no room for its file, no JSON functions) are raised
    as `ScratchError`, saying where SQLite writes.
    """

    #: ids appended at once, at most; and at most this many characters of
    #: them (an id may be as long as a line)
    BATCH = 10_000
    BATCH_CHARS = 1_000_000

    def __init__(self) -> None:
        try:
            import sqlite3  # here: `check` imports this module and never needs it
        except ImportError as error:  # a Python built without it
            raise ScratchError(f"{_SCRATCH}: this Python has no sqlite3 module") from error
        self._error = sqlite3.Error
        with self._scratch():
            self._db = sqlite3.connect("", isolation_level=None)
            for statement in (
                "PRAGMA journal_mode = OFF",  # a scratch file: nothing to recover
                "PRAGMA synchronous = OFF",
                "CREATE TABLE ids (n INTEGER PRIMARY KEY, id TEXT NOT NULL)",  # n: the line
            ):
                self._db.execute(statement)
        self._lines: list[int] = []  # the last ones, not written yet
        self._ids: list[str] = []
        self._chars = 0

    def add(self, line: int, event_id: str) -> None:
        """Log the id of a line (each line once, in any order)."""
        self._lines.append(line)
        self._ids.append(event_id)
        self._chars += len(event_id)
        if len(self._ids) >= self.BATCH or self._chars >= self.BATCH_CHARS:
            self._write()

    def reused(self) -> list[tuple[int, str, int]]:
        """(line, id, first line) of each line whose id an earlier line has,
        in line order. Call it once, when the ledger has ended."""
        self._write()
        db = self._db
        with self._scratch():
            # grouping is about twice as fast as a window over every id; the
            # ids are joined again only when some id was reused
            db.execute("CREATE TABLE reused (id TEXT PRIMARY KEY, first INTEGER NOT NULL) WITHOUT ROWID")
            db.execute("INSERT INTO reused SELECT id, MIN(n) FROM ids GROUP BY id HAVING COUNT(*) > 1")
            if db.execute("SELECT 1 FROM reused LIMIT 1").fetchone() is None:
                return []
            rows = db.execute(
                "SELECT ids.n, ids.id, reused.first FROM ids JOIN reused ON ids.id = reused.id"
                " WHERE ids.n != reused.first ORDER BY ids.n"
            ).fetchall()
            return [(int(n), event_id, int(first)) for n, event_id, first in rows]

    def close(self) -> None:
        """Drop the database (SQLite deletes its file)."""
        self._db.close()

    def _write(self) -> None:
        lines, ids, db = self._lines, self._ids, self._db
        with self._scratch():
            if ids:
                text = json.dumps(ids)
                if "\\u0000" in text:  # SQLite's JSON functions end a string at NUL: bind each id
                    db.executemany("INSERT INTO ids VALUES (?, ?)", zip(lines, ids, strict=True))
                else:
                    db.execute(
                        "INSERT INTO ids SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]')"
                        " FROM json_each(?1)",
                        (json.dumps(list(zip(lines, ids, strict=True))),),
                    )
        lines.clear()
        ids.clear()
        self._chars = 0

    @contextlib.contextmanager
    def _scratch(self) -> Iterator[None]:
        """SQLite's errors as `ScratchError`."""
        try:
            yield
        except self._error as error:
            raise ScratchError(f"{_SCRATCH}: {error}") from error


#: what an `IdLog` error says first
_SCRATCH = (
    "cannot keep the ledger's ids in a temporary SQLite database (SQLite writes it in SQLITE_TMPDIR, "
    "TMPDIR, /var/tmp, /usr/tmp, /tmp or the current directory, the first it can use)"
)
