"""Reading input files in bounded size and time.

Every file rewardrules reads comes from outside: a rule file, a ledger, a
payload export. None is read whole before its size is known, so that
`/dev/zero`, a runaway log or a huge file ends in a clear error instead of
filling memory:

* a rule file (and a test file) must be a regular file, read up to a limit
  of characters; a FIFO or a device is refused before it is read (opening
  a FIFO for reading would wait for a writer forever);
* a ledger is read a line at a time, each line up to its limit; a longer
  line ends the reading (the rest of such a file may never end);
* a payload file is read up to a limit of bytes;
* a settled statement (`--settled`) is read from a regular file, up to a
  limit of bytes.

The limits are in :mod:`rewardrules.limits`, read at call time.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from typing import IO, AnyStr

from ..core import limits

__all__ = ["InputError", "read_bytes", "read_lines", "read_regular_bytes", "read_text"]


class InputError(OSError):
    """An input file that is not read: it is not a regular file, or it is
    larger than its limit. An `OSError`, like any other unreadable file, so
    every caller that reports those (`cannot read PATH: REASON`) reports
    these too."""


def read_text(path: str | os.PathLike[str], limit: int, what: str = "a rule file", exact: bool = False) -> str:
    """The UTF-8 text of a regular file of at most `limit` characters
    (``exact``: with its line endings as written, `\r\n` kept).

    Raises `InputError` for a file that is not regular (checked before it is
    opened, and again on the open file, which is opened without waiting) or
    longer than `limit`; other `OSError`s and `UnicodeDecodeError` pass
    through, as for `Path.read_text`."""
    with (
        _open_regular(path, what) as handle,
        open(handle.fileno(), encoding="utf-8", newline="" if exact else None, closefd=False) as text,
    ):
        content = text.read(limit + 1)
    if len(content) > limit:
        raise InputError(f"it is larger than {limit} characters, the limit for {what}")
    return content


def read_bytes(path: str | os.PathLike[str], limit: int, what: str = "a file") -> bytes:
    """The bytes of a file, at most `limit` of them (any file: a pipe is
    fine; `/dev/zero` ends at the limit). Raises `InputError` past it."""
    with open(path, "rb") as handle:
        content = handle.read(limit + 1)
    if len(content) > limit:
        raise InputError(f"it is larger than {limit} bytes, the limit for {what}")
    return content


def read_regular_bytes(path: str | os.PathLike[str], limit: int, what: str) -> bytes:
    """The bytes of a regular file, at most `limit` of them: refused, as a
    rule file is, when not regular (a FIFO would wait for a writer, a device
    may never end) or larger than `limit` (`InputError`)."""
    with _open_regular(path, what) as handle, open(handle.fileno(), "rb", closefd=False) as data:
        content = data.read(limit + 1)
    if len(content) > limit:
        raise InputError(f"it is larger than {limit} bytes, the limit for {what}")
    return content


def read_lines(handle: IO[AnyStr], limit: int | None = None) -> Iterator[AnyStr]:
    """The lines of an open file (bytes or text), each read with a bound:
    a line longer than `limit` (default: the ledger's line limit) is
    yielded cut to `limit + 1` units, where the ledger reader reports it
    as too long, and reading stops there: what follows such a line may be
    endless (`/dev/zero` has no line breaks), and the ledger is refused
    anyway."""
    bound = limits.MAX_LEDGER_LINE_BYTES if limit is None else limit
    readline = handle.readline
    while True:
        line = readline(bound + 1)
        if not line:
            return
        yield line
        if len(line) > bound:
            return


class _Regular:
    """A file descriptor of a regular file, as a context manager."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def fileno(self) -> int:
        return self._fd

    def __enter__(self) -> _Regular:
        return self

    def __exit__(self, *_: object) -> None:
        os.close(self._fd)


def _open_regular(path: str | os.PathLike[str], what: str) -> _Regular:
    """Open a regular file for reading, refusing anything else.

    `stat` first, so that a FIFO or a device is never opened; then open
    without blocking (a FIFO swapped in meanwhile opens at once instead of
    waiting for a writer) and check the open file again."""
    _check_regular(os.stat(path).st_mode, what)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        _check_regular(os.fstat(fd).st_mode, what)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return _Regular(fd)


def _check_regular(mode: int, what: str) -> None:
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "is a directory")
    if not stat.S_ISREG(mode):
        kinds = (
            (stat.S_ISFIFO, "a fifo"),
            (stat.S_ISCHR, "a device"),
            (stat.S_ISBLK, "a device"),
            (stat.S_ISSOCK, "a socket"),
        )
        kind = next((f"{name}, " for test, name in kinds if test(mode)), "")
        raise InputError(f"it is {kind}not a regular file ({what} is read from a regular file only)")
