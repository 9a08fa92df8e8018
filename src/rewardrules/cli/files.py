"""Writing a file a user named, whole or not at all.

`fmt` rewrites rule files in place, and `report -o` and `match report -o`
write over a page made before. Opened for writing, a file is emptied at
once: on a full disk, or stopped by Ctrl-C part way, `fmt` left a rule
file cut off in the middle of a line, its rest lost (found 2026-12-07: a
file of 1,500 milestones on a full file system kept 114,688 of its
bytes). A regular file that exists is therefore written beside itself
first and put in its place in one step (`os.replace`): until then the
old file is whole, and after it the new one is.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile


def write_whole(path: str, text: str) -> None:
    """Write `text` (UTF-8, its line breaks as they are) to the file at
    `path`, or raise `OSError` with the file as it was.

    An existing regular file (through a symbolic link, the file it names)
    is replaced by a copy written beside it, with its permission bits and,
    where this process may, its owner; what else the old file carried
    goes with it (other hard links to it keep the old text, as with any
    editor that saves this way). A new file is written where it is, and
    removed again if that fails. Anything else (`/dev/stdout`, a named
    pipe) is written as it is: it holds nothing to lose."""
    data = text.encode("utf-8")
    try:
        out = open(path, "xb")  # noqa: SIM115 (closed below)
    except FileExistsError:
        _write_over(path, data)
        return
    try:
        with out:
            out.write(data)
    except BaseException:  # a full disk, a stop: the file was this command's
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise


def _write_over(path: str, data: bytes) -> None:
    """Write over a file that exists (see `write_whole`)."""
    was = os.stat(path)
    if not stat.S_ISREG(was.st_mode):
        with open(path, "wb") as out:
            out.write(data)
        return
    target = os.path.realpath(path)
    folder, name = os.path.split(target)
    try:
        handle, scratch = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    except OSError as error:  # the file may be writable where its folder is not
        reason = error.strerror or str(error)
        raise OSError(error.errno, f"{reason} in its folder (the new text is written beside the file first)") from None
    try:
        with os.fdopen(handle, "wb") as out:
            os.fchmod(out.fileno(), stat.S_IMODE(was.st_mode))
            if (was.st_uid, was.st_gid) != (os.geteuid(), os.getegid()):
                with contextlib.suppress(OSError):  # another's file: its owner kept where this process may
                    os.fchown(out.fileno(), was.st_uid, was.st_gid)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())  # on the disk before it takes the old file's place
        os.replace(scratch, target)
    except BaseException:  # a full disk, a stop: the old file stays as it was
        with contextlib.suppress(OSError):
            os.unlink(scratch)
        raise
