"""Writing a file a user named, whole or not at all.

`fmt` rewrites rule files in place, and `report -o` and `match report -o`
write over a page made before. Opened for writing the usual way, a file
is emptied at once: on a full disk, or stopped by Ctrl-C part way, `fmt`
left a rule file cut off in the middle of a line, its rest lost (found
2026-12-07: a file of 1,500 milestones on a full file system kept
114,688 bytes of its new text).

The file is still written where it is, so that it stays the same file
(its owner, group, permission bits, ACLs and extended attributes, other
hard links to it, a single file mounted into a container): a file named
beside it and renamed into place would lose some of each, and needs the
folder's write permission where the file's own is what counts (review,
2026-12-07). What makes it safe is the order: the file first grows to
the new length, written past its old end (the step that needs new space
on most file systems, and it leaves the old bytes as they were when it
fails), then its old bytes are overwritten within the space it already
has, and it is cut to length and flushed to the disk. Ctrl-C and
SIGTERM wait until the file is whole, old or new (held back while it is
written); an error during the overwrite puts the old bytes back,
and if even that fails the error says the file may be part old, part new.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import threading
from collections.abc import Iterator
from typing import Any

#: the stops a file is written through (see `held_stops`)
_STOPS = (signal.SIGINT, signal.SIGTERM)

#: a file's bytes flushed to the disk (macOS's Python has no `fdatasync`)
_flush = getattr(os, "fdatasync", os.fsync)


class PartlyWritten(OSError):
    """A file could not be written, and its old bytes could not be put
    back either: it may be part old, part new (a copy-on-write or a
    network file system out of space as the old bytes are overwritten)."""


def write_whole(path: str, text: str) -> None:
    """Write `text` (UTF-8, its line breaks as they are) to the file at
    `path`, or raise `OSError` with the file as it was (`PartlyWritten`
    when even that failed). A file that did not exist is removed again
    when it cannot be written whole. Anything that is not a regular file
    (`/dev/null`, a named pipe) is written as it is: it holds nothing to
    lose."""
    data = text.encode("utf-8")
    try:
        found = os.stat(path)
    except FileNotFoundError:
        with held_stops():
            _write_new(os.path.realpath(path), data)  # (through a link to no file yet: the file it names)
        return
    if not stat.S_ISREG(found.st_mode):
        with open(path, "wb") as out:
            out.write(data)
        return
    fd = os.open(path, os.O_RDWR)  # never emptied on opening; read too, to put its bytes back
    try:
        with held_stops():
            _write_over(fd, data)
    finally:
        os.close(fd)


def holds(path: str) -> bool:
    """Whether writing `path` holds the stops (`held_stops`): a regular
    file, or none yet. Anything else may block (a named pipe without a
    reader, a stalled terminal), and a stop must end that wait."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        return True
    except (OSError, ValueError):  # (said as the file is written)
        return False


@contextlib.contextmanager
def held_stops(path: str | None = None) -> Iterator[None]:
    """Ctrl-C and SIGTERM held back while a file is written, then handed
    to the handlers they had, so they stop the command once the file is
    whole (a stop in the middle once left it cut off, and putting the old
    bytes back after one could itself be stopped: found by review,
    2026-12-07). A caller that says what became of the file holds them
    around the saying too (`fmt`, `write_page`): the stop then comes
    after the line is said, which it would silence. With a `path` that
    is not a regular file (`holds`), nothing is held.

    Held by Python's handlers, not by a signal mask: the interpreter runs
    a handler in the main thread whichever thread the signal reached, and
    Spark's, DuckDB's or an app's threads take it where this one blocks
    it. Outside the main thread (or the main interpreter) nothing is
    held: no handler raises there. The handlers are put back each in a
    `finally` of the one before, then every stop caught is handed on,
    each in a `finally` of the one before, so that one that raises does
    not lose another."""
    if threading.current_thread() is not threading.main_thread() or (path is not None and not holds(path)):
        yield
        return
    before: dict[int, Any] = {stop: signal.getsignal(stop) for stop in _STOPS}
    caught: list[tuple[int, Any]] = []

    def hold(signum: int, frame: Any) -> None:
        if signum not in (stop for stop, _ in caught):
            caught.append((signum, frame))

    held = [stop for stop, handler in before.items() if handler is not None]  # (None: not set from Python)
    try:
        _install(held, hold)
    except ValueError:  # not the main interpreter (none was set): no handler raises here either
        held = []
    try:
        yield
    finally:
        try:
            _install(held, before)
        finally:
            _deliver_all(caught, before)


def _install(stops: list[int], handler: Any) -> None:
    """`handler` (or, from a dict, each stop's own) for each of `stops`,
    each set in a `finally` of the one before (a stop arriving between two
    leaves none of them behind)."""
    if stops:
        try:
            signal.signal(stops[0], handler[stops[0]] if isinstance(handler, dict) else handler)
        finally:
            _install(stops[1:], handler)


def _deliver_all(caught: list[tuple[int, Any]], handlers: dict[int, Any]) -> None:
    """Each stop held back by `held_stops`, handed on as it would have
    been, each in a `finally` of the one before."""
    if caught:
        (signum, frame), rest = caught[0], caught[1:]
        try:
            handler = handlers[signum]
            if callable(handler):
                handler(signum, frame)  # `process._stop`, or Python's: raises the stop
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), signum)  # the default action, now (it ends the process)
        finally:
            _deliver_all(rest, handlers)


def _write_new(path: str, data: bytes) -> None:
    """Create the file and write it; if that fails part way, remove it
    (it was this command's)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
    try:
        _put(fd, data, 0)
        _flush(fd)
    except BaseException:  # a full disk
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    finally:
        os.close(fd)


def _write_over(fd: int, data: bytes) -> None:
    """Replace a regular file's bytes with `data`, in place (see the module
    docstring): grow it first, then overwrite, cut to length and flush to
    the disk (where a network file system says it is out of space); on an
    error the old bytes overwritten are put back, with the old length and
    times. Only those bytes are kept aside (at most the new text's
    length), whatever the file's size."""
    was = os.fstat(fd)
    size = was.st_size
    kept = _read(fd, min(size, len(data)))
    if len(data) > size:
        try:
            _put(fd, data[size:], size)
        except BaseException as error:  # no room for the new length: the old bytes untouched
            _put_back(fd, b"", was, error)
            raise
    try:
        _put(fd, data[: len(kept)], 0)
        if len(data) != size:
            os.ftruncate(fd, len(data))
        _flush(fd)  # (where a network file system says it is out of space)
    except BaseException as error:
        _put_back(fd, kept, was, error)
        raise


def _put_back(fd: int, kept: bytes, was: os.stat_result, error: BaseException) -> None:
    """The file as it `was`: `kept`, its first bytes, written back, and its
    old length; then, if both took, its old times (the content is the
    same: a tool that compares times must not take a damaged file for an
    unchanged one). If either step fails, `PartlyWritten`, with `error`,
    what failed first."""
    failed = False
    try:
        _put(fd, kept, 0)
    except OSError:
        failed = True
    try:  # (whatever the step before did)
        os.ftruncate(fd, was.st_size)
        _flush(fd)
    except OSError:
        failed = True
    if not failed:
        with contextlib.suppress(OSError):  # (not this process's file: the times cannot be set)
            os.utime(fd, ns=(was.st_atime_ns, was.st_mtime_ns))
        return
    reason = getattr(error, "strerror", None) or type(error).__name__
    raise PartlyWritten(
        getattr(error, "errno", None) or errno.EIO,
        f"{reason.lower()}, and its old text could not be put back: it may be part old, part new",
    ) from error


def _read(fd: int, count: int) -> bytes:
    """The file's first `count` bytes (fewer if it is shorter)."""
    parts, offset = [], 0
    while offset < count and (chunk := os.pread(fd, count - offset, offset)):
        parts.append(chunk)
        offset += len(chunk)
    return b"".join(parts)


def _put(fd: int, data: bytes, offset: int) -> None:
    """Write all of `data` at `offset`."""
    view = memoryview(data)
    while view:
        done = os.pwrite(fd, view, offset)
        if done == 0:
            raise OSError(errno.EIO, "the file took no more bytes")
        view = view[done:]
        offset += done
