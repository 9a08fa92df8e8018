"""A ledger file read twice where needed: a digest of each line instead of
its text for the duplicate-id check, and the few lines it cannot decide
read again.

A batch keeps, for every id, what it needs to tell a repeat of the id
from a conflict (`EventReader.read_all`). Keeping each line's text cost
about 140 bytes an event (1.4 GB at 10M events); a `LedgerFile` keeps a
16-byte digest of each line instead (`LineDigests`), and a repeated id is
decided at the end of the read:

- the same digest: the same bytes, so the same content (a duplicate,
  dropped as before). The digest is BLAKE2b of 16 bytes keyed with 32
  random bytes drawn for each read, which never leave the process: the
  ledger's writer cannot aim at a collision, and two different lines
  share a digest with a probability of 2**-128 per pair compared (one
  pair per repeated id; a ledger of 10**12 repeats would make it about
  3 in 10**27);
- another digest: the bytes differ, and the content may still be equal
  (`{"a": 1, "b": 2}` and `{"b": 2, "a": 1.0}`), so both lines are read
  again from the file, each checked against its digest (a file that
  changed between the readings is refused, never half-trusted), and
  compared as before (`same_content`).

Only a file that can be read again is digested: a regular file (by path
or open and seekable). A pipe keeps each line's text, as before.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from typing import IO, Any

from ..core import limits
from .reading import InputError, _open_regular, read_lines

#: the bytes of one line's digest
DIGEST_BYTES = 16


class LineDigests:
    """A keyed digest of every line of one read, in line order, packed:
    16 bytes a line, and no object per line."""

    __slots__ = ("_keyed", "_packed")

    def __init__(self) -> None:
        # keyed per read (see the module's docstring); each line's hash is
        # a copy of this one, a third cheaper than keying a new one
        self._keyed = hashlib.blake2b(digest_size=DIGEST_BYTES, key=secrets.token_bytes(32)).copy
        self._packed = bytearray()

    def add(self, raw: Any) -> None:
        """Digest the next line (text or bytes; anything else, such as an
        event given as an object, gets a digest no line has)."""
        self._packed += self.of(raw)

    def of(self, raw: Any) -> bytes:
        """The digest `add` keeps for a line."""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogatepass")
        elif not isinstance(raw, bytes):
            return bytes(DIGEST_BYTES)
        digest = self._keyed()
        digest.update(raw)
        return digest.digest()

    def at(self, line: int) -> bytes:
        """The digest of line `line` (counted from 1)."""
        start = (line - 1) * DIGEST_BYTES
        return bytes(self._packed[start : start + DIGEST_BYTES])


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
        #: each line's digest, kept as it is read when the file can be read again
        self.digests = LineDigests()

    def __iter__(self) -> Iterator[Any]:
        """The lines, not digested (a stream, or anything else that reads
        each line once)."""
        return self._read(digested=False)

    def digested(self) -> Iterator[Any]:
        """The lines, each digested into `digests` as it is read when the
        file can be read again (`rereadable`, known once the first line is
        asked for)."""
        return self._read(digested=True)

    def digested_blocks(self) -> Iterator[list[Any]]:
        """The lines of `digested`, a list of them at a time, digested
        alike: a regular file opened here by its path is read `BLOCK_BYTES`
        at a time and split into lines in one step (a call per block rather
        than a `readline` and a generator step per line); every other input
        gives its lines as `digested` reads them, in lists. Never an empty
        list."""
        if self._handle is None:
            assert self._path is not None
            with open(self._path, "rb") as handle:
                if stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                    self._start = 0
                    yield from _blocks(handle, self.digests)
                else:  # a pipe given by its name: each line read once, as `digested` reads it
                    yield from _batches(read_lines(handle))
            return
        yield from _batches(self.digested())

    def _read(self, digested: bool) -> Iterator[Any]:
        if self._handle is not None:
            self._start = _position(self._handle)
            yield from self._lines(self._handle, digested)
            return
        assert self._path is not None
        with open(self._path, "rb") as handle:
            if stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                self._start = 0
            yield from self._lines(handle, digested)

    def _lines(self, handle: IO[Any], digested: bool) -> Iterator[Any]:
        """`reading.read_lines`, each line digested as it is read when asked
        and the file can be read again (in one loop: this runs for every
        line)."""
        if self._start is None or not digested:
            yield from read_lines(handle)
            return
        bound = limits.MAX_LEDGER_LINE_BYTES
        readline = handle.readline
        keyed = self.digests._keyed
        packed = self.digests._packed
        while True:
            line = readline(bound + 1)
            if not line:
                return
            if type(line) is bytes:
                digest = keyed()
                digest.update(line)
                packed += digest.digest()
            else:
                packed += self.digests.of(line)
            yield line
            if len(line) > bound:
                return

    def forget(self) -> None:
        """Drop the digests once the read is decided (16 bytes a line: 160
        MB at 10M lines, which scoring does not need)."""
        self.digests = LineDigests()

    @property
    def rereadable(self) -> bool:
        """Whether the lines read so far can be read again, and were
        digested if `digested` read them (known once iterating has begun)."""
        return self._start is not None

    def again(self, numbers: Iterable[int]) -> dict[int, Any]:
        """Lines read again, by number (from 1), as they are now: a line
        the file no longer has is missing from the answer."""
        wanted = set(numbers)
        if not wanted or self._start is None:
            return {}
        if self._handle is not None:
            self._handle.seek(self._start)
            return _picked(read_lines(self._handle), wanted)
        assert self._path is not None
        # a regular file only: a FIFO swapped in would wait for a writer
        with (
            _open_regular(self._path, "a ledger read again") as regular,
            open(regular.fileno(), "rb", closefd=False) as handle,
        ):
            return _picked(read_lines(handle), wanted)


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


def _blocks(handle: IO[bytes], digests: LineDigests) -> Iterator[list[bytes]]:
    """The lines of a binary file, each as `reading.read_lines` gives it
    (with its line break; a line longer than the line limit cut to one byte
    more, and nothing read after it), read a block at a time and a list of
    them at a time, each digested into `digests` in order."""
    bound = limits.MAX_LEDGER_LINE_BYTES
    keyed = digests._keyed
    packed = digests._packed
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
        for line in lines:
            digest = keyed()
            digest.update(line)
            packed += digest.digest()
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


def _picked(lines: Iterable[Any], wanted: set[int]) -> dict[int, Any]:
    last = max(wanted)
    found: dict[int, Any] = {}
    for number, raw in enumerate(lines, start=1):
        if number in wanted:
            found[number] = raw
        if number >= last:
            break
    return found


def changed(line: int) -> InputError:
    """The error of a ledger file whose line `line` is not what the first
    reading found there."""
    return InputError(f"it changed while it was read (line {line} is not what it was)")
