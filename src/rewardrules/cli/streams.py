"""Standard error as a command writes to it: what it cannot take is lost,
never the command's result.

Standard error carries what a command says about its run (an error, the
`check` summary, a warning); the exit code carries the outcome. When that
stream cannot be written (`2>/dev/full`, a reader gone), a command that
said anything there exited with 120 or 1 until 2026-12-07 (with the
reader gone, `check` of a missing file exited 0 unbuffered): the first
failed write raised inside the command, the error said about it failed
again, and Python's own last flush failed a third time. Now the writes
are dropped, and the
command ends with the code it decided, as it would have with standard
error readable: nothing else can carry it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TextIO


class ErrorStream:
    """A stand-in for `sys.stderr` while a command runs (`cli.main`): a
    write or flush that fails is dropped, and so is everything after it
    (`lost`; what the stream's buffer still holds would fail again). Text
    the stream cannot encode is written escaped. Anything else (`isatty`,
    `fileno`, `close`, `encoding`) is the stream's own.

    In an app's process the stand-in is `retire`d as `main` returns: a
    logging handler made during the command (pyspark's, a library's
    `basicConfig`) keeps the object it found in `sys.stderr`, and from
    then on it must write as the app's own stream does, failures and all."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        #: whether a write or a flush failed (the process's exit must not
        #: flush the stream again: `process.end`)
        self.lost = False
        #: whether the command is over (`retire`): then every call is the
        #: stream's own
        self.retired = False

    def write(self, text: str) -> int:
        """Write `text`, or drop it once the stream has failed."""
        if self.retired:
            return self.stream.write(text)
        if not self.lost:
            try:
                return self.stream.write(text)
            except UnicodeEncodeError:  # a stream `main` could not give escapes (no `reconfigure`)
                encoding = getattr(self.stream, "encoding", None) or "ascii"
                return self.write(text.encode(encoding, "backslashreplace").decode(encoding))
            except (OSError, ValueError) as error:  # a full disk, a reader gone; closed
                if isinstance(error, ValueError) and not getattr(self.stream, "closed", False):
                    raise
                self.lost = True
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        """Each line written as `write` does."""
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Flush the stream, unless it has failed (then nothing)."""
        if self.retired:
            self.stream.flush()
        elif not self.lost:
            try:
                self.stream.flush()
            except (OSError, ValueError):
                self.lost = True

    def retire(self) -> None:
        """The command is over: from now on the stream's own behaviour."""
        self.retired = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def lost(stream: object) -> bool:
    """Whether `stream` is an `ErrorStream` that failed."""
    return isinstance(stream, ErrorStream) and stream.lost
