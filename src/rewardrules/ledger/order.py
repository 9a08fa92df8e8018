"""A ledger put in ledger order (instant, then id) in bounded memory, for
streaming a ledger whose lines are not in that order.

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

import heapq
import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator
from operator import itemgetter
from typing import IO, Any

from ..core.timeutil import MIN_TIMESTAMP_NS
from .events import LedgerProblem
from .idlog import ScratchError

#: lines sorted in memory at once: a run
RUN = 50_000

#: lines pickled together in the scratch file: read back one batch per run
BATCH = 256

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
    with scratch:
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


def _spill(scratch: IO[bytes], run: list[Entry]) -> list[int]:
    """Write a run, sorted, at the end of the scratch file: the offsets of
    its batches."""
    run.sort(key=_KEY)
    offsets = []
    try:
        scratch.seek(0, 2)
        for start in range(0, len(run), BATCH):
            offsets.append(scratch.tell())
            pickle.dump(run[start : start + BATCH], scratch, protocol=pickle.HIGHEST_PROTOCOL)
    except OSError as error:
        raise ScratchError(f"cannot write the scratch file that puts the ledger in order: {error}") from error
    return offsets


def _read(scratch: IO[bytes], offsets: list[int]) -> Iterator[Entry]:
    """A run read back, a batch at a time (runs are read in turn: each
    batch is looked for at its offset)."""
    for offset in offsets:
        scratch.seek(offset)
        yield from pickle.load(scratch)
