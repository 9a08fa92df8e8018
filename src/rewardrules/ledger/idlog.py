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
    JSON array by SQLite (a row at a time from Python cost about twice as
    much), and grouped once at the end. An id is stored under its position
    in the log; its line is the position plus the shift in force there (a
    blank line or a skipped repeat changes the shift), so that gaps in the
    lines do not cut batches short.

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
                "CREATE TABLE ids (n INTEGER PRIMARY KEY, id TEXT NOT NULL)",
                "CREATE TABLE shifts (n INTEGER PRIMARY KEY, shift INTEGER NOT NULL)",
            ):
                self._db.execute(statement)
        self._count = 0  # ids logged
        self._ids: list[str] = []  # the last ones, not written yet
        self._chars = 0
        self._shift: int | None = None  # line minus position, of the last id
        self._shifts: list[tuple[int, int]] = []  # (from position, shift), not written yet

    def add(self, line: int, event_id: str) -> None:
        """Log the id of a line (lines in increasing order, gaps allowed)."""
        self._count += 1
        shift = line - self._count
        if shift != self._shift:
            self._shift = shift
            self._shifts.append((self._count, shift))
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
            return [(self._line(n), event_id, self._line(first)) for n, event_id, first in rows]

    def close(self) -> None:
        """Drop the database (SQLite deletes its file)."""
        self._db.close()

    def _write(self) -> None:
        ids, db = self._ids, self._db
        with self._scratch():
            if ids:
                first = self._count - len(ids) + 1
                text = json.dumps(ids)
                if "\\u0000" in text:  # SQLite's JSON functions end a string at NUL: bind each id
                    db.executemany("INSERT INTO ids VALUES (?, ?)", enumerate(ids, first))
                else:
                    db.execute("INSERT INTO ids SELECT ?1 + key, value FROM json_each(?2)", (first, text))
            db.executemany("INSERT INTO shifts VALUES (?, ?)", self._shifts)
        ids.clear()
        self._chars = 0
        self._shifts.clear()

    def _line(self, n: int) -> int:
        """The line of the id at position n."""
        (shift,) = self._db.execute("SELECT shift FROM shifts WHERE n <= ? ORDER BY n DESC LIMIT 1", (n,)).fetchone()
        return int(n + shift)

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
