"""A ledger put in ledger order (instant, then id) in bounded memory, for
streaming a ledger whose lines are not in that order (`in_ledger_order`),
and a batch's records kept the same way (`SortedRecords`).

An external merge sort: the decoded lines are taken a run at a time
(`RUN` of them), each run sorted and written to one private scratch file
(an unnamed temporary file, pickled in batches: only this process wrote
it, and only this process can open it), and the runs are merged back,
reading a batch of each at a time. Memory holds one run while reading and
one batch per run while merging, never the ledger. A line with a problem,
or one whose instant or id is not valid, sorts first: the stream reports
it at its line, and nothing is scored then anyway.

Lines at one instant with one id keep their order in the file (the line
number is part of the key), so the stream still tells an exact repeat from
a conflict, and reports the later line.
"""

from __future__ import annotations

import contextlib
import copyreg
import functools
import heapq
import itertools
import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from operator import itemgetter
from typing import IO, Any

from ..core.timeutil import MIN_TIMESTAMP_NS
from .events import LedgerProblem, sort_records
from .idlog import ScratchError

#: lines sorted in memory at once: a run
RUN = 50_000

#: lines pickled together in the scratch file: read back one batch per run
BATCH = 256

#: what the errors of a scratch file say it is for (`purpose`)
LEDGER_ORDER = "the ledger in order"

#: the key of a line with no valid instant or id: before any event
_FIRST = MIN_TIMESTAMP_NS - 1

#: (instant, id, line, object, problem): sorted by the first three, which
#: never tie (a line number is unique), so objects are never compared
Entry = tuple[int, str, int, Any, LedgerProblem | None]
_KEY = itemgetter(0, 1, 2)

Item = tuple[int, Any, LedgerProblem | None]


def in_ledger_order(
    items: Iterable[Item], key: Callable[[Any, int], tuple[int, str] | None], run: int | None = None
) -> Iterator[Item]:
    """The decoded lines `items` ((line, object, problem), as
    `decode.iter_lines` gives them) in ledger order: by the (instant, id)
    that `key` gives an object (None: not a valid event), then by line;
    `run` lines sorted in memory at once (default `RUN`)."""
    run = run or RUN
    entries = (_entry(line, obj, problem, key) for line, obj, problem in items)
    first: list[Entry] = []
    for entry in entries:
        first.append(entry)
        if len(first) >= run:
            break
    else:  # the whole ledger is one run: no scratch file
        first.sort(key=_KEY)
        yield from (entry[2:] for entry in first)
        return
    try:
        scratch = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the `with` below
    except OSError as error:
        raise ScratchError(f"cannot make a scratch file to put the ledger in order: {error}") from error
    with _discarded(scratch):
        runs = [_spill(scratch, first)]
        del first
        chunk: list[Entry] = []
        for entry in entries:
            chunk.append(entry)
            if len(chunk) >= run:
                runs.append(_spill(scratch, chunk))
                chunk = []
        chunk.sort(key=_KEY)
        merged = heapq.merge(*(_read(scratch, offsets) for offsets in runs), chunk, key=_KEY)
        yield from (entry[2:] for entry in merged)


def _entry(line: int, obj: Any, problem: LedgerProblem | None, key: Callable[[Any, int], Any]) -> Entry:
    found = None if problem is not None or type(obj) is LedgerProblem else key(obj, line)
    if found is None:
        return (_FIRST, "", line, obj, problem)
    return (found[0], found[1], line, obj, problem)


def _spill(
    scratch: IO[bytes],
    run: list[Any],
    key: Callable[[Any], Any] | None = _KEY,
    reducers: dict[type, Any] | None = None,
    purpose: str = LEDGER_ORDER,
) -> list[int]:
    """Write a run, sorted by `key` (None: sorted already), at the end of
    the scratch file: the offsets of its batches (`reducers`: a pickler's
    `dispatch_table`; `purpose`: what an error says the file is for)."""
    if key is not None:
        run.sort(key=key)
    offsets = []
    try:
        scratch.seek(0, 2)
        for start in range(0, len(run), BATCH):
            offsets.append(scratch.tell())
            pickler = pickle.Pickler(scratch, protocol=pickle.HIGHEST_PROTOCOL)
            if reducers is not None:
                pickler.dispatch_table = reducers
            pickler.dump(run[start : start + BATCH])
        scratch.flush()  # here, where a full disk is said as such: not at the next seek or close
    except OSError as error:
        raise ScratchError(f"cannot write the scratch file that puts {purpose}: {error}") from error
    return offsets


def _read(scratch: IO[bytes], offsets: list[int], purpose: str = LEDGER_ORDER) -> Iterator[Any]:
    """A run read back, a batch at a time (runs are read in turn: each
    batch is looked for at its offset)."""
    for offset in offsets:
        try:
            scratch.seek(offset)
            batch = pickle.load(scratch)
        except OSError as error:
            raise ScratchError(f"cannot read the scratch file that puts {purpose}: {error}") from error
        yield from batch


@contextlib.contextmanager
def _discarded(scratch: IO[bytes]) -> Iterator[IO[bytes]]:
    """A scratch file, closed on leaving whatever happens (see `_close`)."""
    try:
        yield scratch
    finally:
        _close(scratch)


def _close(scratch: IO[bytes]) -> None:
    """Close a scratch file. Closing flushes what is still buffered, which
    fails on a full disk (or past the size limit) after a `ScratchError`
    was raised for the same reason: that flush, of data nobody will read,
    must not replace the error that says so (the command line told a full
    disk as \"cannot read LEDGER\"). The descriptor is closed regardless."""
    with contextlib.suppress(OSError):
        scratch.close()


#: records a batch sorts in memory at once (`SortedRecords`): about 200 MB
#: of them. A ledger of 1M `saas_milestones` events has 545,455 (its
#: referrals and subscriptions), sorted in memory with no scratch file:
#: with half this run, spilling one run and merging it back cost 6 to
#: 10% of that batch's CPU. At 10M events the peak is the engine's state
#: at the end of the run, not the reading (docs/performance.md): the run
#: left in memory is drained as it is merged (`_drained`), so it is not
#: held to the end beside that state.
RECORD_RUN = 1 << 20


@functools.lru_cache(maxsize=4096)
def _decimal(text: str) -> Decimal:
    """A record's Decimal read back from a run: one object for the texts
    read again and again (as the reader shares them, `fast._numbers`), so
    the engine's state, which keeps the latest amounts, does not hold a
    copy of each per referral."""
    return Decimal(text)


def _reduce_decimal(value: Decimal) -> tuple[Any, tuple[str]]:
    return _decimal, (str(value),)


#: how records are pickled into a run: a Decimal by its exact text
_RECORD_PICKLES: dict[type, Any] = {**copyreg.dispatch_table, Decimal: _reduce_decimal}


#: records `_drained` takes off its list at a time
_DRAIN = 4096


def _drained(items: list[Any]) -> Iterator[Any]:
    """The items of a list in order, each dropped from the list once given
    (a run at a time from the end of the list reversed, as `engine.run`
    empties its list): the run a batch merges from memory shrinks as the
    engine's state grows, instead of being held whole to the end."""
    items.reverse()
    while items:
        taken = items[-_DRAIN:]
        del items[-_DRAIN:]
        taken.reverse()
        yield from taken


class SortedRecords:
    """A batch's records (`EventReader.read_all` appends them), kept for
    ledger order in bounded memory: a run of `run` records at a time is
    sorted and written to a private scratch file (as `in_ledger_order`
    writes its runs), so reading holds one run of records and not the
    ledger's (at 10M events the records were about 1 GB of a batch's
    peak). `ordered` gives them back in ledger order; a ledger of one run
    never touches the disk. A context manager: leaving it closes the
    scratch file, which the system deletes.

    Other records are kept the same way in order of their own `key` (the
    text report's rows, `report.score`): `purpose` is what an error says
    the scratch file is for."""

    __slots__ = ("_chunk", "_key", "_purpose", "_run", "_runs", "_scratch")

    def __init__(
        self, run: int | None = None, key: Callable[[Any], Any] | None = None, purpose: str = LEDGER_ORDER
    ) -> None:
        self._run = run or RECORD_RUN
        self._key = key
        self._purpose = purpose
        self._chunk: list[Any] = []
        self._runs: list[list[int]] = []
        self._scratch: IO[bytes] | None = None

    def append(self, record: Any) -> None:
        """Keep one record (a run full is written out)."""
        chunk = self._chunk
        chunk.append(record)
        if len(chunk) >= self._run:
            self._spill()

    def _spill(self) -> None:
        if self._scratch is None:
            try:
                self._scratch = tempfile.TemporaryFile()  # noqa: SIM115 - closed by `close`
            except OSError as error:
                raise ScratchError(f"cannot make a scratch file to put {self._purpose}: {error}") from error
        self._sort(self._chunk)
        self._runs.append(_spill(self._scratch, self._chunk, None, _RECORD_PICKLES, self._purpose))
        self._chunk = []

    def _sort(self, chunk: list[Any]) -> None:
        if self._key is None:
            sort_records(chunk)
        else:
            chunk.sort(key=self._key)

    def ordered(self, limit: int | None = None) -> list[Any] | Iterator[Any]:
        """The records in ledger order, up to instant `limit` (None: all):
        a list when they were one run (which `engine.run` empties as it
        feeds them), else a merge of the runs read back a batch at a time.
        Call it once."""
        chunk, self._chunk = self._chunk, []
        if limit is not None:
            chunk = [record for record in chunk if record[0] <= limit]
        self._sort(chunk)
        if not self._runs:
            return chunk
        scratch = self._scratch
        assert scratch is not None
        runs = [_read(scratch, offsets, self._purpose) for offsets in self._runs]
        # A batch's records are compared whole (no key: 0.5x to 0.75x the
        # merge's time, docs/performance.md): their (instant, id) never
        # ties (ids are unique), so no comparison goes past the id.
        last = _drained(chunk)
        merged = heapq.merge(*runs, last) if self._key is None else heapq.merge(*runs, last, key=self._key)
        return merged if limit is None else itertools.takewhile(lambda record: record[0] <= limit, merged)

    def close(self) -> None:
        """Drop the scratch file, if one was made."""
        if self._scratch is not None:
            _close(self._scratch)
            self._scratch = None

    def __enter__(self) -> SortedRecords:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
