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
the new length, written past its old end (the one step that needs new
space, and it leaves the old bytes as they were when it fails), then its
old bytes are overwritten within the space it already has, and cut to
length. A stop or an error during the overwrite puts the old bytes back.
"""

from __future__ import annotations

import contextlib
import os
import stat


def write_whole(path: str, text: str) -> None:
    """Write `text` (UTF-8, its line breaks as they are) to the file at
    `path`, or raise `OSError` (or the stop, `KeyboardInterrupt`) with the
    file as it was. A file that did not exist is removed again when it
    cannot be written whole. Anything that is not a regular file
    (`/dev/null`, a named pipe) is written as it is: it holds nothing to
    lose."""
    data = text.encode("utf-8")
    try:
        found = os.stat(path)
    except FileNotFoundError:
        _write_new(os.path.realpath(path), data)  # (through a link to no file yet: the file it names)
        return
    if not stat.S_ISREG(found.st_mode):
        with open(path, "wb") as out:
            out.write(data)
        return
    fd = os.open(path, os.O_RDWR)  # never emptied on opening
    try:
        _write_over(fd, data)
    finally:
        os.close(fd)


def _write_new(path: str, data: bytes) -> None:
    """Create the file and write it; if that fails part way, remove it
    (it was this command's)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
    try:
        _put(fd, data, None)
    except BaseException:  # a full disk, a stop
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    finally:
        os.close(fd)


def _write_over(fd: int, data: bytes) -> None:
    """Replace a regular file's bytes with `data`, in place (see the module
    docstring): grow it first, then overwrite, then cut it to length (one
    step); the old bytes overwritten are put back if the overwrite fails
    or is stopped. Only those are kept aside (at most the new text's
    length), whatever the file's size."""
    size = os.fstat(fd).st_size
    kept = _read(fd, min(size, len(data)))
    if len(data) > size:
        try:
            _put(fd, data[size:], size)
        except BaseException:  # no room for the new length: the old bytes untouched
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise
    try:
        _put(fd, data[: len(kept)], 0)
    except BaseException:
        with contextlib.suppress(OSError):
            _put(fd, kept, 0)
            os.ftruncate(fd, size)
        raise
    if len(data) < size:
        os.ftruncate(fd, len(data))


def _read(fd: int, count: int) -> bytes:
    """The file's first `count` bytes (fewer if it is shorter)."""
    parts, offset = [], 0
    while offset < count and (chunk := os.pread(fd, count - offset, offset)):
        parts.append(chunk)
        offset += len(chunk)
    return b"".join(parts)


def _put(fd: int, data: bytes, offset: int | None) -> None:
    """Write all of `data` at `offset` (None: where the descriptor is)."""
    view = memoryview(data)
    while view:
        done = os.write(fd, view) if offset is None else os.pwrite(fd, view, offset)
        view = view[done:]
        if offset is not None:
            offset += done
