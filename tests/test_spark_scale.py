"""`score --engine spark` beyond one machine (issue 19, goal 2): shuffle
partitions sized from the ledger, so that the final sort's partitions (read
by the driver one at a time) do not grow with it; a ledger named by URI
(`file://` here: `hdfs://`, `s3a://` and the rest go through the same
Hadoop file systems); and Spark's JVM stopping said as such, not as a
ledger that cannot be read. Spark is started as few times as the points
need: one session for the module (`spark`), one subprocess whose JVM is
killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest

import rewardrules
from rewardrules.cli.sql import spark_direct_result, spark_result
from rewardrules.sql import spark as spark_module
from rewardrules.sql import spark_lost
from rewardrules.sql.compile import compile_query
from rewardrules.sql.run import EngineError
from rewardrules.sql.spark import Spark, _said, shuffle_partitions
from rewardrules.sql.spark_lost import is_lost, last_words, lost_message
from rewardrules.sql.spark_read import NotStrict
from rewardrules.sql.spark_uri import is_uri
from rewardrules.sql.write import Written, write_result

from .test_spark_reading import split
from .test_spark_scaling_path import LINES, _rules
from .test_sql_backend import ROOT, python_json

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")


def test_shuffle_partitions_grow_with_the_ledger() -> None:
    """One per 50,000 events, never fewer than the session's own: 4 in
    local mode up to 200,000 events, 400 at 20M (4 held 528 MB of award
    text each there), a cluster's 200 kept for a small ledger."""
    assert shuffle_partitions(4, 0) == 4
    assert shuffle_partitions(4, 200_000) == 4
    assert shuffle_partitions(4, 200_001) == 5
    assert shuffle_partitions(4, 20_000_000) == 400
    assert shuffle_partitions(200, 1_000_000) == 200


def test_local_mode_coalesces_partitions_to_a_small_size(tmp_path: Path) -> None:
    """Adaptive execution measures partitions in compressed shuffle bytes:
    Spark's default 64 MB coalesced the 200 partitions of a 10M-event
    ledger back into a few, each holding hundreds of thousands of awards;
    a cluster keeps its own setting."""
    from rewardrules.sql.spark import _settings

    local = _settings(str(tmp_path), "local[2]")
    assert local["spark.sql.adaptive.advisoryPartitionSizeInBytes"] == "16m"
    assert local["spark.sql.adaptive.coalescePartitions.enabled"] == "true"
    assert "spark.sql.adaptive.advisoryPartitionSizeInBytes" not in _settings(str(tmp_path), "yarn")


def test_a_file_uri_over_one_partition_per_event_gives_the_python_bytes(
    spark: Spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory of part files named by a `file://` URI is listed and read
    by Spark's own file systems (it was opened as a local path by the
    Python reader: `cannot read`); with one shuffle
    partition per event the awards' text, read partition after partition,
    is still in the Python engine's order, byte for byte."""
    monkeypatch.setattr(spark_module, "EVENTS_PER_PARTITION", 1)
    monkeypatch.setattr(spark, "partitions", 1)
    prog = rewardrules.compile(_rules('"Tasse café ☕"'))
    folder = split(LINES, tmp_path / "parts", 3)
    (folder / "_SUCCESS").write_text("")  # left out, as Spark leaves it

    @contextmanager
    def borrowed(master: str, whole_process: bool) -> Iterator[Spark]:  # `score`'s own session would stop the module's
        yield spark

    monkeypatch.setattr(spark_module, "Spark", borrowed)
    before = spark.session.conf.get("spark.sql.shuffle.partitions")
    try:
        data = spark_result(prog, compile_query(prog.compiled), folder.as_uri(), None, None, as_json=True)
        assert spark.session.conf.get("spark.sql.shuffle.partitions") == str(len(LINES))
    finally:
        spark.session.conf.set("spark.sql.shuffle.partitions", before)
    assert isinstance(data["awards"], Written)
    out: list[bytes] = []
    write_result(data, out.append)
    assert b"".join(out).decode("utf-8") == python_json(prog, LINES, None)


def test_a_uri_that_names_nothing_is_said(spark: Spark, tmp_path: Path) -> None:
    prog = rewardrules.compile(_rules('"Mug"'))
    missing = (tmp_path / "nowhere").as_uri()
    with pytest.raises(EngineError, match=r"^Spark cannot read file:///.*/nowhere: no such file or directory$"):
        spark_direct_result(prog, compile_query(prog.compiled), spark, missing, None)


def test_a_uri_with_a_line_outside_the_strict_form_names_the_file_and_line(spark: Spark, tmp_path: Path) -> None:
    """The Python process never opens a ledger named by URI: a bad line
    is refused with its file and text, even in a single file (a local
    file would go to the Python reader instead)."""
    prog = rewardrules.compile(_rules('"Mug"'))
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(LINES[0] + "\n" + LINES[2].replace('"50"', '"5e1"') + "\n", encoding="utf-8")
    with pytest.raises(NotStrict, match=r"ledger\.jsonl: a line is outside the form .*\"5e1\""):
        spark_direct_result(prog, compile_query(prog.compiled), spark, ledger.as_uri(), None)


def test_what_a_uri_is() -> None:
    assert all(map(is_uri, ["hdfs://nn/ledger", "s3a://b/k/", "gs://b/l.parquet", "abfss://c@a.dfs/x", "file:///t"]))
    assert not any(map(is_uri, ["ledger.jsonl", "/tmp/parts", "C:\\ledger", "c://x", "-"]))


def _session(code: int | None) -> SimpleNamespace:
    """A stand-in for a Spark session whose JVM process has `code` as its
    exit code (None: still running)."""
    proc = SimpleNamespace(poll=lambda: code)
    return SimpleNamespace(sparkContext=SimpleNamespace(_gateway=SimpleNamespace(proc=proc)))


def test_a_jvm_out_of_memory_is_said_with_its_last_log_lines(tmp_path: Path) -> None:
    log = tmp_path / "spark.log"
    log.write_text(
        "".join(f"old line {n}\n" for n in range(2000))
        + "Exception in task 0.0 in stage 66.0 (TID 175): java.lang.OutOfMemoryError: Java heap space\n\n"
        + "Task 0 in stage 66.0 failed 1 times; aborting job\n",
        encoding="utf-8",
    )
    session = _session(52)
    assert is_lost(session, RuntimeError("any"))
    assert last_words(str(log))[-2:] == [
        "Exception in task 0.0 in stage 66.0 (TID 175): java.lang.OutOfMemoryError: Java heap space",
        "Task 0 in stage 66.0 failed 1 times; aborting job",
    ]
    said = lost_message(session, str(log))
    assert said.startswith("Spark stopped while scoring: its Java process ended (exit code 52, out of memory)")
    assert "OutOfMemoryError: Java heap space / Task 0 in stage 66.0" in said
    assert "--driver-memory 8g" in said and "\n" not in said


def test_an_uncaught_exception_logged_is_a_jvm_that_is_ending(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Measured at 10M events: the task's out-of-memory error reached
    Python as an ordinary Py4JJavaError (`An error occurred while calling
    o101.getResult`) while the JVM was still ending; Spark had logged the
    uncaught exception, after which its handler ends the JVM."""
    monkeypatch.setattr(spark_lost, "_EXIT_WAIT", 2.0)
    log = tmp_path / "spark.log"
    log.write_text(
        "Uncaught exception in thread Thread[Executor task launch worker for task 0.0 in stage 66.0 (TID 167),5,main]"
        ": java.lang.OutOfMemoryError: Java heap space\nTask 0 in stage 66.0 failed 1 times; aborting job\n",
        encoding="utf-8",
    )
    polls = iter([None, None, None])
    session = SimpleNamespace(
        sparkContext=SimpleNamespace(_gateway=SimpleNamespace(proc=SimpleNamespace(poll=lambda: next(polls, 52))))
    )
    error = RuntimeError("An error occurred while calling o101.getResult.")
    assert is_lost(session, error, str(log))
    said = lost_message(session, str(log))
    assert "(exit code 52, out of memory)" in said and "OutOfMemoryError: Java heap space" in said
    assert not is_lost(_session(None), error, str(tmp_path / "no.log"))


def test_a_query_s_error_is_not_a_lost_jvm(tmp_path: Path) -> None:
    running = _session(None)
    assert not is_lost(running, ValueError("[DIVIDE_BY_ZERO] Division by zero"))
    assert is_lost(running, ConnectionRefusedError(111, "Connection refused"))
    assert "killed by signal 9" in lost_message(_session(-9), str(tmp_path / "no.log"))


def test_an_app_s_jvm_that_stops_is_said_with_the_app_s_remedy(tmp_path: Path) -> None:
    """Beside an app's Spark (`Spark._beside`, `owned` false) the JVM that
    stopped was the app's: Spark's last lines are in the app's log, not the
    run's file (which its log settings never reached), and the driver's
    memory is set where the app starts Spark; `PYSPARK_SUBMIT_ARGS` before
    `rewardrules score` was the advice, which reaches no app."""
    log = tmp_path / "spark.log"
    log.write_text("a line of an earlier run of the command line\n", encoding="utf-8")
    said = lost_message(_session(52), str(log), owned=False)
    assert said.startswith("Spark stopped while scoring: the app's Spark, whose Java process this run shared, ended")
    assert "(exit code 52, out of memory)" in said and "spark.driver.memory" in said
    assert "PYSPARK_SUBMIT_ARGS" not in said and "earlier run" not in said and "\n" not in said
    run = Spark()
    run.owned, run.session = False, _session(52)
    try:
        with pytest.raises(EngineError, match="the app's Spark, whose Java process") as raised, _said(run):
            raise ConnectionRefusedError(111, "Connection refused")
        assert "PYSPARK_SUBMIT_ARGS" not in str(raised.value)
    finally:
        run.session = None  # nothing to stop: not this run's
        run.close()


def test_an_app_s_spark_gone_before_the_run_begins_is_said(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's JVM gone when the run asks it for its session: a refused
    connection was said as the ledger's (`cannot read LEDGER: connection
    refused`, an `OSError` to the command line), found by review."""

    def gone() -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(spark_module, "_app_session", gone)
    with pytest.raises(EngineError, match=r"^Spark stopped while scoring: the app's Spark") as raised, Spark():
        pass
    assert "spark.driver.memory" in str(raised.value)


def test_an_app_s_jvm_out_of_heap_is_told_by_the_error_s_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """Beside an app the run has no log of its own (`log` None): a task's
    `java.lang.OutOfMemoryError` in the error's text is a lost JVM once its
    process ends; one whose process still runs is the query's error."""
    monkeypatch.setattr(spark_lost, "_EXIT_WAIT", 0.5)
    error = RuntimeError("An error occurred while calling o101.getResult.: java.lang.OutOfMemoryError: Java heap space")
    polls = iter([None, None])
    ending = SimpleNamespace(
        sparkContext=SimpleNamespace(_gateway=SimpleNamespace(proc=SimpleNamespace(poll=lambda: next(polls, 52))))
    )
    assert is_lost(ending, error)
    assert not is_lost(_session(None), error)
    assert not is_lost(_session(None), RuntimeError("[DIVIDE_BY_ZERO] Division by zero"))


#: `score --engine spark` with Spark's JVM killed as soon as it started
KILLED = """
import os, signal, sys
from rewardrules.cli import run
from rewardrules.sql.spark import Spark

started = Spark.__enter__

def killed(self):
    got = started(self)
    proc = self.session.sparkContext._gateway.proc
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return got

Spark.__enter__ = killed
run()  # the console entry point: the command is the whole process
"""


def test_a_jvm_that_stops_is_said_not_blamed_on_the_ledger(tmp_path: Path) -> None:
    """It was `cannot read LEDGER: connection refused` (stopping the dead
    session raised an OSError that replaced the query's error)."""
    rules, ledger = (
        ROOT / "rulesets" / "saas_milestones.rules",
        ROOT / "tests" / "golden" / "saas_milestones" / "basic.jsonl",
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            KILLED,
            "score",
            "--engine",
            "spark",
            "--spark-master",
            "local[1]",
            str(rules),
            str(ledger),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        timeout=300,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert "rewardrules: error: Spark stopped while scoring: its Java process ended (killed by signal 9)" in done.stderr
    assert "--driver-memory" in done.stderr
    assert "cannot read" not in done.stderr and "Traceback" not in done.stderr


INTERRUPTED = """
import os, signal, threading
from pyspark.sql.functions import col
from rewardrules.cli import run
from rewardrules.sql import spark_read

def interrupted(session, *_):
    # the run's first job, reading the ledger, made one that runs for
    # minutes (a shuffle, in stages of adaptive execution); the signal as
    # the run waits for its rows, and again as the run stops Spark and
    # removes its folder
    stop = int(os.environ["STOP_SIGNAL"])
    for delay in (3.0, 3.4):
        threading.Timer(delay, os.kill, (os.getpid(), stop)).start()
    return session.range(0, 10**11, 1, 2).groupBy((col("id") % 7).alias("k")).count().collect()

spark_read.load = interrupted
run()  # the console entry point: the command is the whole process
"""


#: the JDK prints each that is set (`Picked up JAVA_TOOL_OPTIONS: ...`)
_JDK_OPTIONS = ("JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS")


@pytest.mark.parametrize(("stop", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_run_stopped_exits_with_the_stop_s_code_quietly_and_leaves_nothing(
    tmp_path: Path, stop: signal.Signals, code: int
) -> None:
    """Ctrl-C or SIGTERM while Spark runs a job of the run: the exit code
    of any command stopped so, nothing said, and the run's folder removed,
    the signal sent again ignored. Starting Spark installed pyspark's own
    SIGINT handler over the command's (`process.begin`): a Ctrl-C was said
    as "Spark could not run the query" with exit code 2. A SIGTERM left
    py4j's connection waiting for the query to end: the command hung. Its
    jobs running as Spark stopped printed `RejectedExecutionException`
    stack traces, and its tasks killed a line of their own (`_cancel_all`).
    The job is the reading's, the run's first: one in the query's `_fetch`
    took 7 s more a case (the ledger read and the statements planned
    first) for the same way out (`Spark.run_path`). The JDK's option
    variables are left out: each makes it print a line of its own
    (`Picked up ...`)."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            INTERRUPTED,
            "score",
            "--engine",
            "spark",
            "--spark-master",
            "local[1]",
            str(ROOT / "rulesets" / "saas_milestones.rules"),
            str(ROOT / "tests" / "golden" / "saas_milestones" / "basic.jsonl"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={
            **{key: value for key, value in os.environ.items() if key not in _JDK_OPTIONS},
            "TMPDIR": str(scratch),
            "STOP_SIGNAL": str(int(stop)),
        },
        check=False,
        timeout=300,
    )
    assert (done.returncode, done.stdout) == (code, ""), done.stderr
    # nothing but the JDK's own line as it starts: no Java stack trace, no
    # error, no line of Spark's killed tasks (`spark: Store broadcast
    # broadcast_0 fail`, `spark: Error in TaskCompletionListener`)
    said = [line for line in done.stderr.splitlines() if not line.startswith("WARNING: Using incubator modules")]
    assert said == [], done.stderr
    assert list(scratch.iterdir()) == []


def test_py4j_s_lost_connection_log_prints_no_traceback() -> None:
    """py4j logs a connection lost while receiving through the root logger
    (`logging.exception("Exception while sending command.")`), which then
    printed a traceback above `score`'s own error: the test above failed
    so in CI, the JVM killed while an answer was awaited. `score --engine
    spark` gives the root logger a handler that writes nothing first."""
    code = (
        "import logging\nfrom rewardrules.cli.sql import _quiet_root_logging\nwith _quiet_root_logging():\n"
        "    try:\n        raise ConnectionResetError(104, 'Connection reset by peer')\n"
        "    except OSError:\n        logging.exception('Exception while sending command.')\n"
        "print(logging.getLogger().handlers)\n"  # an app's process: none left, not even py4j's `basicConfig`
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr == "" and done.stdout == "[]\n"
    unquiet = subprocess.run(
        [sys.executable, "-c", code.replace("with _quiet_root_logging():", "if True:")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Traceback" in unquiet.stderr  # what it prevents


def test_an_app_s_root_logger_is_left_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    """Called in an app's process (`main()`, not the console entry point),
    `score --engine spark` quiets the root logger while it runs and leaves
    its handlers as they were: the handler it left there made the app's
    later `logging.basicConfig()` do nothing (until 2026-12-07). The
    command's own process keeps it to its end."""
    import logging

    from rewardrules.cli import process
    from rewardrules.cli.sql import _quiet_root_logging

    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    for left, kept in ((None, []), ([], [logging.NullHandler])):  # an app's process; the command's own
        monkeypatch.setattr(process, "_LEFT", left)
        with _quiet_root_logging():
            assert [type(handler) for handler in root.handlers] == [logging.NullHandler]
        assert [type(handler) for handler in root.handlers] == kept


def test_py4j_s_calling_line_gives_way_to_the_java_reason() -> None:
    """At 5M events with a 1 GB heap `score` said only `Spark could not run
    the query: An error occurred while calling o102.getResult.`: the reason
    is the Java exception's line after it."""
    from rewardrules.sql.spark import _first_line

    error = RuntimeError(
        "An error occurred while calling o102.getResult.\n: org.apache.spark.SparkException: Job aborted due to "
        "stage failure: Task 0 in stage 66.0 failed 1 times\n\tat org.apache.spark.scheduler.DAGScheduler"
    )
    assert _first_line(error) == (
        "org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage 66.0 failed 1 times"
    )
    assert _first_line(ValueError("[DIVIDE_BY_ZERO] Division by zero.\nmore")) == "[DIVIDE_BY_ZERO] Division by zero."
