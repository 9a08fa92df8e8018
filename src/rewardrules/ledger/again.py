"""A ledger file read twice where needed: a digest of each list of lines
instead of each line's text for the duplicate-id check, and the lists that
hold the lines it cannot decide read again.

A batch keeps, for every id, what it needs to tell a repeat of the id
from a conflict (`EventReader.read_all`). Keeping each line's text cost
about 140 bytes an event (1.4 GB at 10M events); a `LedgerFile` keeps a
16-byte digest of each list of lines it gives (`digested_blocks`: a
megabyte of a file at a time) and the number of its first line
(`ListDigests`: nothing per line), and a repeated id is decided at the end
of the read: the lists that hold its lines are read again from the file,
each checked against its digest (a file that changed between the readings
is refused, never half-trusted), and the lines compared: the same bytes
are a duplicate (dropped as before); other bytes may still be the same
content (`{"a": 1, "b": 2}` and `{"b": 2, "a": 1.0}`), compared as before
(`same_content`).

The digest is BLAKE2b of 16 bytes keyed with 32 random bytes drawn for
each read, which never leave the process: the ledger's writer cannot aim
at a collision, and a list read again passes for another with a
probability of 2**-128. A digest of each line (before 2026-12-04) decided
an exact repeat without reading again, but digesting a million lines one
by one cost about 0.45 s of CPU (a twentieth of a batch); a list's digest
costs one call per megabyte.

Only a file that can be read again is digested: a regular file (by path
or open and seekable). A pipe keeps each line's text, as before.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import itertools
import os
import secrets
import stat
from array import array
from collections.abc import Generator, Iterable, Iterator
from typing import IO, Any

from ..core import limits
from .reading import InputError, _open_regular, read_lines

#: the bytes of one list's digest
DIGEST_BYTES = 16


class ListDigests:
    """A keyed digest of each list of lines of one read, in order, and the
    number of each list's first line: 24 bytes a list, nothing a line."""

    __slots__ = ("_firsts", "_keyed", "_packed", "lines")

    def __init__(self) -> None:
        # keyed per read (see the module's docstring); each list's hash is
        # a copy of this one, cheaper than keying a new one
        self._keyed = hashlib.blake2b(digest_size=DIGEST_BYTES, key=secrets.token_bytes(32)).copy
        self._packed = bytearray()
        self._firsts = array("Q")
        #: the lines digested so far
        self.lines = 0

    def add(self, lines: list[Any]) -> None:
        """Digest the next list of lines."""
        self._firsts.append(self.lines + 1)
        self._packed += self.of(lines)
        self.lines += len(lines)

    def of(self, lines: list[Any]) -> bytes:
        """The digest `add` keeps for a list of lines: of their bytes one
        after the other (text as its UTF-8 bytes, an unpaired surrogate
        kept as written). The same bytes are the same lines: every line
        but the last of a list ends with its one line break."""
        digest = self._keyed()
        if lines and isinstance(lines[0], str):
            digest.update("".join(lines).encode("utf-8", "surrogatepass"))
        else:
            digest.update(b"".join(lines))
        return digest.digest()

    def at(self, index: int) -> bytes:
        """The digest of the list `index` (counted from 0)."""
        start = index * DIGEST_BYTES
        return bytes(self._packed[start : start + DIGEST_BYTES])

    def first_of(self, index: int) -> int:
        """The number of the first line of the list `index`."""
        return self._firsts[index]

    def count(self, index: int) -> int:
        """The number of lines of the list `index`."""
        end = self._firsts[index + 1] if index + 1 < len(self._firsts) else self.lines + 1
        return end - self._firsts[index]

    def place(self, line: int) -> tuple[int, int]:
        """The list that holds line `line` (counted from 1), and the line's
        place in it (from 0)."""
        index = bisect.bisect_right(self._firsts, line) - 1
        return index, line - self._firsts[index]


class LedgerFile:
    """The lines of a ledger file, read a bounded line at a time
    (`reading.read_lines`), that can give chosen lines again (`again`):
    a path (opened when iterated, and again to read lines again) or an open
    file (read again from where it was when iterated, if it can seek).
    Iterate it once."""

    def __init__(self, path: str | os.PathLike[str] | None = None, handle: IO[Any] | None = None) -> None:
        self._path = path
        self._handle = handle
        self._start: int | None = None  # where the lines began, once known to be readable again
        #: the digest of each list of lines, kept as they are read when the file can be read again
        self.digests = ListDigests()

    def __iter__(self) -> Iterator[Any]:
        """The lines, not digested (a stream, or anything else that reads
        each line once)."""
        return self._read()

    def digested(self) -> Iterator[Any]:
        """The lines of `digested_blocks`, one at a time."""
        return itertools.chain.from_iterable(self.digested_blocks())

    def digested_blocks(self) -> Iterator[list[Any]]:
        """The lines, a list of them at a time, each list digested into
        `digests` as it is read when the file can be read again
        (`rereadable`, known once the first list is asked for): a regular
        file opened here by its path is read `BLOCK_BYTES` at a time and
        split into lines in one step (a call per block rather than a
        `readline` and a generator step per line); every other input gives
        its lines as `read_lines` reads them, in lists (`_batches`). Never
        an empty list. Reading again (`again`) makes the same lists of the
        same bytes."""
        for lines in self._lists():
            if self._start is not None:
                self.digests.add(lines)
            yield lines

    def _lists(self) -> Iterator[list[Any]]:
        """The lists of lines of `digested_blocks`, read from the start
        (`_start` set when the file can be read again)."""
        if self._handle is None:
            assert self._path is not None
            with open(self._path, "rb") as handle:
                if stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                    self._start = 0
                    yield from _blocks(handle)
                else:  # a pipe given by its name: each line read once
                    yield from _batches(read_lines(handle))
            return
        self._start = _position(self._handle)
        yield from _batches(read_lines(self._handle))

    def _read(self) -> Iterator[Any]:
        if self._handle is not None:
            self._start = _position(self._handle)
            yield from read_lines(self._handle)
            return
        assert self._path is not None
        with open(self._path, "rb") as handle:
            if stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                self._start = 0
            yield from read_lines(handle)

    def forget(self) -> None:
        """Drop the digests once the read is decided (not needed while
        scoring)."""
        self.digests = ListDigests()

    @property
    def rereadable(self) -> bool:
        """Whether the lines read so far can be read again, and were
        digested if `digested_blocks` read them (known once iterating has
        begun)."""
        return self._start is not None

    def again(self, numbers: Iterable[int]) -> dict[int, Any]:
        """Lines read by `digested_blocks` (by number, from 1), read again:
        the lists that hold them, each checked against its digest, read
        from the start of the file up to the last of them. A list that is
        not what it was (or that the file no longer has) raises the
        `InputError` of `changed`, naming its lines."""
        asked = sorted(set(numbers))
        if not asked or self._start is None:
            return {}
        if asked[0] < 1 or asked[-1] > self.digests.lines:
            raise ValueError(f"no line {asked[0] if asked[0] < 1 else asked[-1]} was read")
        wanted: dict[int, list[tuple[int, int]]] = {}
        for number in asked:
            index, place = self.digests.place(number)
            wanted.setdefault(index, []).append((number, place))
        found: dict[int, Any] = {}
        last = max(wanted)
        with contextlib.closing(self._again()) as lists:  # the file closed at once, even when left early
            for index, lines in enumerate(lists):
                if index in wanted:
                    if len(lines) != self.digests.count(index) or self.digests.of(lines) != self.digests.at(index):
                        raise self._changed(index)
                    for number, place in wanted.pop(index):
                        found[number] = lines[place]
                if index >= last:
                    break
        if wanted:  # the file ended before a list asked for
            raise self._changed(min(wanted))
        return found

    def _changed(self, index: int) -> InputError:
        """The error of the list `index` read again otherwise."""
        first = self.digests.first_of(index)
        return changed(first, first + self.digests.count(index) - 1)

    def _again(self) -> Generator[list[Any], None, None]:
        """The lists of lines of `digested_blocks`, read again from where
        they began."""
        if self._handle is not None:
            assert self._start is not None
            self._handle.seek(self._start)
            yield from _batches(read_lines(self._handle))
            return
        assert self._path is not None
        # a regular file only: a FIFO swapped in would wait for a writer
        with (
            _open_regular(self._path, "a ledger read again") as regular,
            open(regular.fileno(), "rb", closefd=False) as handle,
        ):
            yield from _blocks(handle)


#: how much of a ledger `digested_blocks` reads at a time (more than the
#: longest line: see `_blocks`)
BLOCK_BYTES = 1 << 20

#: lines per list of `_batches` at most
_BATCH = 64


def _batches(lines: Iterator[Any]) -> Iterator[list[Any]]:
    """Lines in lists of up to `_BATCH`, and of no more text than a block
    (`BLOCK_BYTES`) and one line: a line may be as long as the line limit,
    and a list is held whole and decoded at once (`decode.kept_blocks`),
    where a line at a time was. Sixty-four lines of a megabyte each, each
    an array of a third of a million `{}`, decoded together took 1.6 GB."""
    batch: list[Any] = []
    size = 0
    for line in lines:
        batch.append(line)
        size += len(line)  # (a line as `readline` gives it, measured as `read_lines` measures it)
        if len(batch) == _BATCH or size >= BLOCK_BYTES:
            yield batch
            batch = []
            size = 0
    if batch:
        yield batch


def _blocks(handle: IO[bytes]) -> Iterator[list[bytes]]:
    """The lines of a binary file, each as `reading.read_lines` gives it
    (with its line break; a line longer than the line limit cut to one byte
    more, and nothing read after it), read a block at a time and a list of
    them at a time (the same lists for the same bytes)."""
    bound = limits.MAX_LEDGER_LINE_BYTES
    rest = b""  # the start of a line the next block ends (at most `bound` bytes)
    while True:
        block = handle.read(BLOCK_BYTES)
        if not block:
            lines = [rest] if rest else []  # a last line without a line break
            ended = True
        else:
            lines = (rest + block).split(b"\n")
            rest = lines.pop()
            lines = [line + b"\n" for line in lines]
            ended = False
            if len(rest) > bound:  # a line too long, not ended yet: read as `read_lines` reads it
                lines.append(rest)
                ended = True
        if lines and max(map(len, lines)) > bound:  # the first line too long is the last read
            cut = next(n for n, line in enumerate(lines) if len(line) > bound)
            lines[cut:] = [lines[cut][: bound + 1]]
            ended = True
        if lines:
            yield lines
        if ended:
            return


def _position(handle: IO[Any]) -> int | None:
    """Where an open file is, if it can be read again from there."""
    try:
        return handle.tell() if handle.seekable() else None
    except (OSError, ValueError):
        return None


def changed(line: int, last: int | None = None) -> InputError:
    """The error of a ledger file whose line `line` (or one of the lines
    `line` to `last`, a list read again whole) is not what the first
    reading found there."""
    if last is None or last == line:
        return InputError(f"it changed while it was read (line {line} is not what it was)")
    return InputError(f"it changed while it was read (lines {line} to {last} are not what they were)")
