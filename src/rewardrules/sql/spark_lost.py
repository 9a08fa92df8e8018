"""Spark's Java process stopping under `score --engine spark`, said as such.

In local mode the driver's JVM runs the tasks too; when its heap runs out
(or the JVM is killed) the process ends and every later call from Python
fails with a connection error. Said as it was, the error blamed the
ledger (`cannot read LEDGER: connection refused`: an `OSError` from
stopping the dead session, which replaced the query's error). Here the
JVM's end is told apart from a query's error: by the process pyspark
started (its exit code; Spark exits with 52 when out of memory) or by the
kind of error py4j raises, and said with the last lines Spark logged and
how to give its driver more memory (docs/sql.md, "Spark").
"""

from __future__ import annotations

import os
import time
from typing import Any

#: Spark's exit code when a JVM runs out of memory (`SparkExitCode.OOM`)
_OUT_OF_MEMORY = 52

#: the most of Spark's log read back for the error (its end)
_TAIL_BYTES = 4096

#: the lines of Spark's log quoted in the error
_LAST_LINES = 3

#: how Spark's handler of an uncaught exception starts its log line, before it ends the JVM
_UNCAUGHT = "Uncaught exception in thread"

#: the Java error of a heap run out, in the text of the error that reached Python
_OUT_OF_HEAP = "java.lang.OutOfMemoryError"

#: the seconds given to an ending JVM to end
_EXIT_WAIT = 5.0


def interruption(error: BaseException, handled: BaseException | None) -> KeyboardInterrupt | None:
    """The stop (Ctrl-C's `KeyboardInterrupt`, a SIGTERM's `Terminated`)
    that `error` was raised while handling, if any. An interrupted
    `collect` makes one more py4j call as it unwinds
    (`SCCallSiteSync.__exit__`), on the connection the interrupt closed:
    its `Py4JNetworkError` replaced the interrupt and was said as Spark's
    JVM having stopped. `handled`: the exception the caller was handling
    when the run began (`sys.exc_info`), where the chain stops: pyspark
    raises its errors `from None`, which keeps their context, so an app
    calling `main` inside its own `except KeyboardInterrupt` would have
    every Spark error taken for a stop. Followed through at most 20 links."""
    link: BaseException | None = error
    for _ in range(20):
        link = None if link is None else (link.__cause__ or link.__context__)
        if link is None or link is handled:
            return None
        if isinstance(link, KeyboardInterrupt):
            return link
    return None


def exit_code(session: Any) -> int | None:
    """The exit code of the JVM pyspark started for `session`; None while
    it runs, or when pyspark did not start it (a gateway it was given)."""
    proc = getattr(getattr(getattr(session, "sparkContext", None), "_gateway", None), "proc", None)
    poll = getattr(proc, "poll", None)
    return poll() if callable(poll) else None


def is_lost(session: Any, error: BaseException, log: str | None = None) -> bool:
    """Whether `error` comes from Spark's JVM having stopped: its process
    has ended, py4j could not reach it (`Py4JNetworkError`, a socket
    closed or refused), or Spark logged an uncaught exception in a thread
    (`log`): its handler then ends the JVM (an out-of-memory error in a
    task), though the call that failed may return first, as an ordinary
    `Py4JJavaError` (`An error occurred while calling o101.getResult`).
    Without a log of the run's (beside an app's Spark, whose log is the
    app's), an error whose text holds `java.lang.OutOfMemoryError` is a
    JVM that is ending when its process ends within a few seconds."""
    if exit_code(session) is not None:
        return True
    if isinstance(error, (ConnectionError, EOFError)):
        return True
    if type(error).__name__ == "Py4JNetworkError":
        return True
    if log is not None and any(line.startswith(_UNCAUGHT) for line in last_words(log, most=_TAIL_BYTES)):
        _wait_for_exit(session)
        return True
    if log is None and _OUT_OF_HEAP in str(error):  # no log of the run's (an app's Spark): the error's own text
        _wait_for_exit(session)
        return exit_code(session) is not None
    return False


def _wait_for_exit(session: Any) -> None:
    """Give a JVM that is ending a few seconds to end (for its exit code)."""
    deadline = time.monotonic() + _EXIT_WAIT
    while exit_code(session) is None and time.monotonic() < deadline:
        time.sleep(0.1)


def last_words(log: str, most: int = _LAST_LINES) -> list[str]:
    """The last lines (at most `most`) Spark logged in the run's log file
    (errors only)."""
    try:
        with open(log, "rb") as handle:
            handle.seek(max(0, os.path.getsize(log) - _TAIL_BYTES))
            tail = handle.read().decode("utf-8", "replace")
    except OSError:
        return []
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    return lines[-most:]


def lost_message(session: Any, log: str, owned: bool = True) -> str:
    """What `score` says when Spark's JVM stopped: that it stopped (with
    its exit code when known), Spark's last lines, and the remedy. Not
    `owned` (a run beside an app's Spark, `Spark._beside`), the JVM was
    the app's: Spark logged where the app set its log, not in the run's
    file, and the driver's memory is the app's to set, where it starts
    Spark; the command line's remedy (`PYSPARK_SUBMIT_ARGS` before
    `rewardrules score`) would not reach it."""
    code = exit_code(session)
    said = "Spark stopped while scoring: " + (
        "its Java process ended" if owned else "the app's Spark, whose Java process this run shared, ended"
    )
    if code is not None and code < 0:
        said += f" (killed by signal {-code})"
    elif code is not None:
        said += f" (exit code {code}{', out of memory' if code == _OUT_OF_MEMORY else ''})"
    if not owned:
        return (
            said + "; Spark's last lines are in the app's Spark log (the driver's standard error, or where its "
            "log4j settings send them); if it ran out of memory, give the app's driver more: `--driver-memory` "
            "to spark-submit or pyspark, or `spark.driver.memory` in spark-defaults.conf, or in the builder "
            "before Spark first starts in the process"
        )
    words = last_words(log)
    if words:
        said += "; its last log lines: " + " / ".join(words)
    return (
        said + "; if it ran out of memory, give its driver more (in local mode the driver runs the tasks): "
        "PYSPARK_SUBMIT_ARGS='--driver-memory 8g pyspark-shell' rewardrules score ..."
    )
