"""The command as a process of its own: what it may leave to the exit.

A `score` of a million events ends with millions of small objects alive
(the result's records, the program); freeing them one by one took about a
seventh of a 200,000-event run, and the cyclic collector's first pass over
them after scoring more. A command run as its own process
(`rewardrules ...`, `python -m rewardrules`) exits right after writing its
output, when the operating system takes all its memory back at once: so
it pauses the collector and hands such objects here, and the process ends
with `os._exit` once its output is flushed. Called in-process (`main()`
from a test or an app) none of this happens: nothing is kept, the
collector is left as it was.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
from typing import Any, NoReturn

from .streams import lost

#: what a command left for the process's exit to free (see `leave_to_exit`);
#: None unless the command runs as a process of its own (`begin`)
_LEFT: list[Any] | None = None


class Terminated(KeyboardInterrupt):
    """The process was asked to stop (SIGTERM: `kill`, a job scheduler, a
    container's stop). Raised where the program is, like Ctrl-C's
    `KeyboardInterrupt`, so every `with` and `finally` on the way out runs:
    scratch folders (DuckDB's spill, the ledger copies) are removed and a
    Spark session is stopped, where the default action would leave them.
    A `KeyboardInterrupt`, so that a library cleans up after it as after
    Ctrl-C (py4j closes the interrupted call's connection; until
    2026-12-07 the next call on it waited for Spark's query to end, and a
    SIGTERM during a Spark run hung the command), and no `except
    Exception` in the engine takes it for a failure of its own; the exit
    code is the stop's (`stopped`)."""


#: the signal that stopped the command (see `_stop`), if one did
_STOPPED_BY: int | None = None


def _stop(signum: int, frame: object) -> None:
    """The handler of SIGINT and SIGTERM: note the signal, then stop the
    command where it is (`KeyboardInterrupt`, `Terminated`). Only the
    first stops it: from then on both signals are ignored, so that a
    second Ctrl-C or a scheduler's repeated SIGTERM cannot break into the
    `finally` that removes a scratch folder (SIGKILL still ends it)."""
    global _STOPPED_BY
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _STOPPED_BY = signum
    raise KeyboardInterrupt if signum == signal.SIGINT else Terminated


def stopped() -> int | None:
    """The exit code of a command a signal stopped (128 + its number, as a
    shell says), else None. Whatever a library turned the interruption into
    (DuckDB says `RuntimeError: Query interrupted`) is the stop's doing,
    so `main` asks this rather than the exception's type."""
    return None if _STOPPED_BY is None else 128 + _STOPPED_BY


def begin() -> None:
    """Mark this run as the whole process (the console entry point); a
    SIGTERM then stops the command the way Ctrl-C does (see `Terminated`)."""
    global _LEFT
    _LEFT = []
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)


def owned() -> bool:
    """True when the command is the whole process (see `begin`)."""
    return _LEFT is not None


def pause_collector() -> None:
    """Stop the cyclic collector for the rest of a command that is the
    whole process (the engine makes no reference cycles; see
    `syntax.parser.paused_gc`), so no pass walks the result after
    scoring; in-process, leave it as it is."""
    if _LEFT is not None:
        gc.disable()


def leave_to_exit(*objects: Any) -> None:
    """Keep `objects` alive until the process exits, when the command is
    the whole process; in-process, do nothing (they are freed as usual)."""
    if _LEFT is not None:
        _LEFT.extend(objects)


def end(code: int) -> NoReturn:
    """Exit with `code`: when something was left to the exit and the
    output flushes, at once (`os._exit`, nothing freed one by one; no
    scratch file is open by then, each is closed by its own `with`);
    otherwise as usual (`sys.exit`). Output that cannot be flushed is said
    (exit 2) unless its reader left (a closed pipe keeps `code`). Standard
    error that could not be written changes nothing (`streams`)."""
    if sys.stdout is not None:  # (None: closed when the process started, and `main` said so)
        try:
            sys.stdout.flush()
        except BrokenPipeError:  # the reader left: not an error (see `main`)
            _quit(code)
        except OSError as error:  # a full disk: the output is incomplete (said once)
            if stopped() is not None:  # stopped by a signal: its code, the output cut short anyway
                _quit(code)
            _quit(2 if _SAID_UNWRITABLE else unwritable(error))
        except ValueError:  # standard output closed: nothing to flush
            pass
    if _LEFT or lost(sys.stderr):  # (what standard error's buffer holds would fail Python's last flush: 120)
        _quit(code)
    sys.exit(code)


#: whether `unwritable` has said so already (the last flush fails again)
_SAID_UNWRITABLE = False


def unwritable(error: OSError) -> int:
    """Say that the output could not be written (a full disk, a
    gone terminal), without a traceback: exit 2, since incomplete output
    is neither a success nor the findings of exit 1. An error naming a
    file (no command leaves one unsaid on purpose) names it instead."""
    global _SAID_UNWRITABLE
    _SAID_UNWRITABLE = True
    from ..core.formatting import quoted
    from .common import fail

    reason = (error.strerror or str(error)).lower()
    if error.filename:  # a file no command said anything of: named, as it is
        return fail(f"{quoted(error.filename)}: {reason}")
    return fail(f"could not write the output: {reason}")


def _quit(code: int) -> NoReturn:
    """Exit now: what standard output still buffers cannot be written, and
    Python's own last flush would fail again (`Exception ignored ...`,
    exit 120 whatever `code` was)."""
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()  # never None here: `main` puts a stand-in in place of none (`2>&-`)
    os._exit(code)
