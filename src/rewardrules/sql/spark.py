"""The compiled query run by Apache Spark (local mode, or a cluster's master).

The same query as DuckDB runs (`compile.Query`), written in Spark SQL by
sqlglot (`dialect.to_dialect`), over the same table: the ledger stage's
validated events written as JSON Lines of text values and cast to their
exact types, numbers to DECIMAL(38, s). Spark is set up so that it computes
what DuckDB computes, or fails, never something close:

- ANSI mode: an overflow or a bad cast is an error, not NULL;
- `decimalOperations.allowPrecisionLoss` off: a product that needs more
  than 38 digits is an error (by default Spark would round it);
- the session time zone is UTC (instants are integers anyway);
- SQL on files (`SELECT * FROM json.`/path``) is off: the query reads only
  the two views made here;
- variable substitution is off: a `${env:NAME}` in a quoted constant (a
  rule file's text, a ledger's id) stays that text, never the value of an
  environment variable or a setting.

Spark writes its scratch data (shuffles, the warehouse folder it makes
by default in the working directory) into the run's private directory, and
logs only errors, each as one line (no Java stack trace: the error is said
again as `EngineError`). `pyspark` and a Java runtime are needed (the `spark`
extra; docs/sql.md says how to run on a cluster instead).
"""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..check.program import CheckedRuleset
from .compile import Column, Query
from .dialect import to_dialect
from .every import check_volume
from .run import EngineError, Layouts, Rows, TooWide, _positions, _write, bigint_instant
from .spark_lost import interruption, is_lost, lost_message
from .spark_uri import local_uri

if TYPE_CHECKING:
    from .sections import Sections
    from .spark_read import PythonRead

#: the master `score --engine spark` uses unless told: both cores of this
#: machine, one process (docs/sql.md, "Spark")
DEFAULT_MASTER = "local[2]"

#: shuffle partitions per this many events at least (`shuffle_partitions`)
EVENTS_PER_PARTITION = 50_000

#: the size adaptive execution coalesces shuffle partitions up to, in local mode (compressed bytes)
ADVISORY_SIZE = "16m"

#: Spark's log: errors only, one line each on standard error, and into the
#: run's log file with the exception's class and message (read back by
#: `spark_lost` when the JVM stops). pyspark's gateway is the logger Spark
#: reads a shell's level from: given the root's, Spark no longer prints
#: `Setting default log level to "WARN"` and how to change it on every run.
#: The task scheduler's errors go to the log file only: a task killed as a
#: run stopped early (Ctrl-C) reports to a stopped scheduler, said as
#: `Exception in statusUpdate`; a job it fails fails the query, which the
#: run says itself (`_said`).
_LOG4J = """\
rootLogger.level = error
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
logger.scheduler.name = org.apache.spark.scheduler.TaskSchedulerImpl
logger.scheduler.level = error
logger.scheduler.additivity = false
logger.scheduler.appenderRef.file.ref = file
rootLogger.appenderRef.stderr.ref = console
rootLogger.appenderRef.file.ref = file
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = spark: %m%n
appender.console.layout.alwaysWriteExceptions = false
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %enc{{%m%notEmpty{{:%ex{{1}}}}}}{{CRLF}}%n
appender.file.layout.alwaysWriteExceptions = false
"""


def _settings(folder: str, master: str) -> dict[str, str]:
    """The Spark configuration of a run kept inside `folder`."""
    log = os.path.join(folder, "log4j2.properties")
    with open(log, "w", encoding="utf-8") as out:
        out.write(_LOG4J.format(log=os.path.join(folder, "spark.log")))
    # the fewest shuffle partitions: a cluster keeps its own (200 by default); more for a large ledger
    # (`shuffle_partitions`), which adaptive execution coalesces back up to the advisory size: counted
    # in compressed shuffle bytes, so Spark's 64 MB put some 560,000 awards (over 1 GB in the
    # driver's JVM with their text) in one partition at 10M events; a cluster keeps its own too
    local = (
        {"spark.sql.shuffle.partitions": "4", "spark.sql.adaptive.advisoryPartitionSizeInBytes": ADVISORY_SIZE}
        if master.startswith("local")
        else {}
    )
    return {
        **local,
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.adaptive.coalescePartitions.enabled": "true",
        "spark.master": master,
        "spark.app.name": "rewardrules",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.ansi.enabled": "true",
        "spark.sql.decimalOperations.allowPrecisionLoss": "false",
        "spark.sql.runSQLOnFiles": "false",
        "spark.sql.variable.substitute": "false",
        # the statements' quoted constants escape `'` and `\` with a backslash
        # (`spark_read._lit`, sqlglot's Spark dialect): a cluster whose
        # default takes backslashes as written would read other values
        "spark.sql.parser.escapedStringLiterals": "false",
        "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
        "spark.local.dir": os.path.join(folder, "spill"),
        "spark.sql.warehouse.dir": os.path.join(folder, "warehouse"),
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{log}",
    }


#: pyspark's loggers of an error's query context (`pyspark.errors.exceptions.base`)
_QUERY_CONTEXT_LOGGERS = ("SQLQueryContextLogger", "DataFrameQueryContextLogger")

#: the sessions open (`Spark.__enter__`), and the levels those loggers had
#: before the first of them opened, restored when the last one closes
_OPEN: list[Spark] = []
_LEVELS: list[tuple[Any, int]] = []


def _quiet_query_context(session: Spark) -> None:
    """Silence pyspark's loggers of an error's query context while
    `session` is open (with the levels they had restored when the last
    session open closes: an app may run Spark and set them itself). pyspark
    4 logs every SQL error that has one (an overflow) as a line of JSON on
    standard error, with the whole Java stack trace in it (34 KB for one
    overflow of one award), before the error reaches `_said`, which says it
    in one line."""
    from pyspark.logger import PySparkLogger

    if not _OPEN:
        for name in _QUERY_CONTEXT_LOGGERS:
            logger = PySparkLogger.getLogger(name)
            _LEVELS.append((logger, logger.level))
            logger.setLevel(logging.CRITICAL)
    _OPEN.append(session)


def _loud_again(session: Spark) -> None:
    """`session` is closed: the loggers' levels as they were, once no
    session is open (see `_quiet_query_context`)."""
    if session not in _OPEN:
        return
    _OPEN.remove(session)
    if not _OPEN:
        for logger, level in _LEVELS:
            logger.setLevel(level)
        _LEVELS.clear()


def _cancel_ours(session: Any, tag: str) -> None:
    """Beside an app's Spark, as the run ends: cancel the jobs it started
    that still run, and take their tag off its thread. A run ended early
    (Ctrl-C is a `KeyboardInterrupt`; an error while a job runs) would
    leave them running in the app's Spark, which is not stopped (a Ctrl-C
    during a py4j call: py4j closes that connection, and these calls go
    on a new one). The app's jobs, untagged, run on. After a run that
    read every row, nothing is left to cancel. At best: where the app
    stopped its Spark, or its JVM is gone, nothing of the run's runs, and
    the error that ended the run (or its result) is the one to give."""
    with suppress(Exception):  # a stopped context, a JVM gone: see above
        context = session.sparkContext
        context.cancelJobsWithTag(tag)
        context.removeJobTag(tag)


def _cancel_all(session: Any, silenced: bool) -> None:
    """The run's own Spark, before it stops: its jobs (all the run's)
    cancelled. Stopped while its jobs ran (a Ctrl-C), Spark printed Java
    stack traces (`RejectedExecutionException`) under the command's exit
    code 130. `silenced` (the command is the whole process, and its JVM
    ends with it): the root logger turned off first, as its tasks killed
    then still printed a line of their own (`spark: Store broadcast
    broadcast_0 fail`, `spark: Error in TaskCompletionListener`) in about
    half the stopped runs. Nothing Spark logs from here on is the run's to
    say: the run's error, if any, was said, and the log file goes with
    the run's folder. Not in an app's process: pyspark keeps the JVM, and
    the app's own Spark started later in it would log nothing. At best,
    as `_cancel_ours`."""
    if silenced:
        with suppress(Exception):  # a stopped context, a JVM gone: the cancel is tried all the same
            session.sparkContext.setLogLevel("OFF")
    with suppress(Exception):  # a stopped context, a JVM gone
        session.sparkContext.cancelAllJobs()


def _stop(session: Any) -> None:
    """Stop the run's own Spark, unless its JVM is gone: nothing is left
    to stop then, and the error that stopped the run is the one to say."""
    try:
        session.stop()
    except Exception as error:
        if not is_lost(session, error):
            raise


@contextmanager
def _ctrl_c_kept() -> Iterator[None]:
    """Starting a Spark context on the main thread installs pyspark's own
    SIGINT handler (`SparkContext._do_init`), never removed: here the
    handler that was there before is put back. Its handler cancels every
    job over the py4j connection that the interrupted call is using, which
    fails there: a Ctrl-C during a run was said as "Spark could not run
    the query" with exit code 2 and Java stack traces, where
    `process.begin`'s handler makes it exit code 130, and ignores a second
    Ctrl-C while scratch folders are removed. In an app's process, the
    app's handler is left as it was, not tied to a stopped context. The
    run's jobs end with its session (`Spark.close`). Put back only over
    pyspark's own: a Ctrl-C while Spark starts runs the command's handler,
    which ignores SIGINT from then on, and that stays so."""
    kept = signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread() else None
    try:
        yield
    finally:
        now = signal.getsignal(signal.SIGINT)
        # kept None: a handler not set from Python, which cannot be put back
        if kept is not None and now is not kept and getattr(now, "__module__", "").startswith("pyspark"):
            signal.signal(signal.SIGINT, kept)


def _app_session() -> Any:
    """The session of the Spark this process already runs (an app's), or
    None: Spark runs when its context does, whatever the thread (a thread
    of the app's own has no active session, and `getOrCreate` would give
    the app's default one); a context without a session gets one. Spark
    Connect is refused: its sessions have no context to run beside."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession
    from pyspark.sql.utils import is_remote

    if is_remote():
        raise EngineError("--engine spark runs Spark itself or beside an app's classic Spark, not over Spark Connect")
    if SparkContext._active_spark_context is None:
        return None
    return SparkSession.getActiveSession() or SparkSession._instantiatedSession or SparkSession.builder.getOrCreate()


def _beside_failed(error: Exception) -> str:
    """What is said when a run cannot begin beside an app's Spark: that
    the app's Spark ended, when its JVM is gone (`spark_lost`; a connection
    refused was said as the ledger's, `cannot read LEDGER`, or a py4j
    traceback), else the error's first line."""
    from types import SimpleNamespace

    from pyspark import SparkContext

    app = SimpleNamespace(sparkContext=SparkContext._active_spark_context)
    if is_lost(app, error):
        return lost_message(app, "", owned=False)
    return f"Spark could not start a session beside the app's: {_first_line(error)}"


class Spark:
    """One Spark session for one or more runs (starting Spark takes seconds:
    tests and `simulate` reuse it). Use as a context manager.

    In a process that already runs Spark (a notebook, a job that calls
    `rewardrules.cli.main`, from any thread: `_app_session`), the runs go
    in a new session of the app's (`newSession`: SQL settings and
    temporary views of its own), with `_settings`' SQL ones; the app's
    master, settings, log level and cache are left as they are, and it is
    never stopped. Before, `getOrCreate` gave the app's own session,
    changed its settings (its time zone, its ANSI mode), emptied the cache
    and stopped it at the end."""

    def __init__(self, master: str = DEFAULT_MASTER, whole_process: bool = False) -> None:
        self.master = master
        self.whole_process = whole_process  # the command is the process: Spark's JVM ends with it (`_cancel_all`)
        self.folder = tempfile.mkdtemp(prefix="rewardrules-spark-")
        self.log = os.path.join(self.folder, "spark.log")
        self.session: Any = None
        self.owned = True  # whether this started the session's Spark (and stops it): not an app's
        self.partitions = 4  # the shuffle partitions of the session as started (`shuffle_partitions`)
        self.tag = ""  # beside an app's Spark, the tag of the jobs this run starts (`_beside`)

    def __enter__(self) -> Spark:
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            self.close()  # `__exit__` is not called when `__enter__` fails: the run's directory goes here
            raise EngineError("--engine spark needs pyspark: pip install 'rewardrules[spark]'") from None
        try:
            app = _app_session()
            if app is not None:
                self._beside(app)
        except EngineError:
            self.close()
            raise
        except Exception as error:  # the app's Spark stopped, or its JVM is gone
            self.close()
            raise EngineError(_beside_failed(error)) from None
        except BaseException:  # a Ctrl-C: the tag taken off the app's thread, the folder removed
            self.close()
            raise
        if app is None:
            builder = SparkSession.builder
            for key, value in _settings(self.folder, self.master).items():
                builder = builder.config(key, value)
            try:
                with _ctrl_c_kept():
                    self.session = builder.getOrCreate()
            except Exception as error:  # no Java runtime, a master that does not answer
                self.close()
                raise EngineError(
                    f"Spark could not start (is a Java runtime installed?): {_first_line(error)}"
                ) from None
            try:
                self.session.sparkContext.setLogLevel("ERROR")
                self.partitions = int(self.session.conf.get("spark.sql.shuffle.partitions"))
            except BaseException:  # a Ctrl-C: the session started is stopped, the folder removed
                self.close()
                raise
        _quiet_query_context(self)  # last: nothing after it can fail before `__exit__` is due
        return self

    def _beside(self, active: Any) -> None:
        """Run in a new session of the app's Spark (`active`), with the SQL
        settings of `_settings` for the app's master, each set (one that
        cannot be is an error, never skipped: they decide what a value
        is), but its warehouse folder, fixed when the app's Spark started
        and unused (the runs make temporary views only); not the app's
        context, its log or its folders."""
        self.owned = False
        self.master = active.sparkContext.master
        self.session = active.newSession()
        self.tag = f"rewardrules-{uuid.uuid4().hex}"  # the jobs of this thread: `_cancel_ours`
        active.sparkContext.addJobTag(self.tag)
        for key, value in _settings(self.folder, self.master).items():
            if key.startswith("spark.sql.") and key != "spark.sql.warehouse.dir":
                self.session.conf.set(key, value)
        self.partitions = int(self.session.conf.get("spark.sql.shuffle.partitions"))

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop Spark (unless it is an app's) and remove the run's directory."""
        import shutil

        session, self.session = self.session, None
        _loud_again(self)
        try:
            try:
                if session is not None and self.owned:
                    _cancel_all(session, self.whole_process)
                elif session is not None and self.tag:
                    _cancel_ours(session, self.tag)
            finally:  # a Ctrl-C while the jobs are cancelled (in an app's process, not ignored) still stops Spark
                if session is not None and self.owned:
                    _stop(session)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def run(
        self,
        query: Query,
        checked: CheckedRuleset,
        records: Iterable[tuple[Any, ...]],
        as_of: int,
        sections: Sections | None = None,
    ) -> Rows:
        """Both queries over the records (the ledger stage's, any order);
        with `sections`, the explained sections' rows too (`spark_sections`)."""
        from .spark_sections import fetch

        query, sections = _unrolled(query, sections)
        records = list(records)
        positions = _positions(checked, query.columns)
        with _scratch(self.folder) as path, _said(self):
            self._size_shuffles(len(records))
            scales = _write(path, records, positions)
            self._load(path, query.columns, _types(query.columns, scales, _wholes(records, positions)), as_of)
            rows = self._queries(query)
            if sections is None:
                return rows
            return replace(rows, sections=fetch(self.session, sections, len(checked.programs)))

    def run_path(
        self,
        query: Query,
        checked: CheckedRuleset,
        used: Sequence[str],
        currencies: Mapping[str, str | None],
        path: str,
        as_of: int | None,
        python_read: PythonRead | None = None,
        layouts: Layouts | None = None,
        sections: Sections | None = None,
    ) -> tuple[Rows, int, list[str]]:
        """Both queries over the ledger at `path` (a file or a directory of
        part files), read by Spark itself (`spark_read.load`, the strict
        form): the rows, the as-of used (the given one, or the ledger's
        latest instant) and the lines of the ineligible referrals (for their
        explanations). `read.NotDirect` for a single file outside the strict
        form (the caller reads it with the Python reader); `NotStrict` or
        the Python reader's `LedgerError` for such a directory. With
        `layouts`, the awards as JSON text streamed from the executors when
        they can be (`Rows.written`, `spark_write`). With `sections`, the
        explained sections' rows (`spark_sections`), and the lines of the
        referrals not eligible in some program too."""
        from .spark_read import lines_of, load
        from .spark_sections import fetch

        query, sections = _unrolled(query, sections)
        with _said(self):
            try:
                self.session.conf.set("spark.sql.adaptive.enabled", "true")  # reading: the ledger's size is not known
                latest, _, events = load(self.session, path, checked, used, query.columns, currencies, python_read)
                self._size_shuffles(events)
                limit = as_of if as_of is not None else (latest if latest is not None else 0)
                self.session.sql(
                    f"CREATE OR REPLACE TEMPORARY VIEW as_of AS SELECT CAST({bigint_instant(int(limit), 'the as-of')} "
                    "AS BIGINT) AS `at`"
                )
                rows = self._queries(query, layouts)
                ineligible = [row["event"] for row in rows.rejected if row["reason"] == "ineligible"]
                if sections is not None:
                    fetched = fetch(self.session, sections, len(checked.programs))
                    rows = replace(rows, sections=fetched)
                    known = set(ineligible)
                    ineligible += [rid for rid in fetched.partial if rid not in known]
                return rows, limit, lines_of(self.session, ineligible)
            finally:  # its own cache only: the cache is shared by an app's sessions (`Spark._beside`)
                self.session.sql("UNCACHE TABLE IF EXISTS rewardrules_parsed")

    def _size_shuffles(self, events: int) -> None:
        """The shuffle partitions of the queries over `events` events
        (`shuffle_partitions`), and whether adaptive execution runs them
        (`adaptive`)."""
        self.session.conf.set("spark.sql.shuffle.partitions", str(shuffle_partitions(self.partitions, events)))
        local = self.master.startswith("local")
        self.session.conf.set("spark.sql.adaptive.enabled", "true" if adaptive(events) or not local else "false")

    def _queries(self, query: Query, layouts: Layouts | None = None) -> Rows:
        """The per-event award limit first (`every.check_volume`: the Python
        engine's error at the same event), then the queries. With `layouts`
        (and no partial voids, whose statuses the Python engine's arithmetic
        sets), the awards as JSON text when `spark_write` can write them."""
        from .spark_write import award_texts

        volume = query.volume_sql()
        check_volume(self._fetch(volume) if volume is not None else [], query.names, query.most)
        taken = self._fetch(query.reversals) if query.reversals else []
        claws = self._fetch(query.clawbacks) if query.clawbacks else []
        rejected = self._fetch(query.rejected)
        if layouts is not None and not query.clawbacks:
            with _uncoalesced(self.session):
                found = award_texts(self.session, to_dialect(query.awards, "spark"), layouts)
            if found is not None:
                return Rows([], rejected, taken, claws, written=found[0], groups=found[1])
        return Rows(self._fetch(query.awards), rejected, taken, claws)

    def _load(self, path: str, columns: Sequence[Column], types: dict[str, str], as_of: int) -> None:
        from pyspark.sql.types import StringType, StructField, StructType

        names = ["at", "id", "type", "referee", "referrer", *(c.name for c in columns)]
        schema = StructType([StructField(name, StringType()) for name in names])
        self.session.read.schema(schema).json(local_uri(path)).createOrReplaceTempView("rewardrules_raw")
        self.session.sql(_view_sql(columns, types)).collect()
        self.session.sql(f"CREATE OR REPLACE TEMPORARY VIEW as_of AS SELECT CAST({int(as_of)} AS BIGINT) AS `at`")

    def _fetch(self, sql: str) -> list[dict[str, Any]]:
        rows = self.session.sql(to_dialect(sql, "spark")).collect()
        return [row.asDict() for row in rows]


def shuffle_partitions(fewest: int, events: int) -> int:
    """The shuffle partitions for a ledger of `events` events: one per
    `EVENTS_PER_PARTITION` events, and at least `fewest` (the session's
    setting). Adaptive execution coalesces them where the data is small
    (up to its advisory size, 64 MB by default; not in the award-text
    query, `_uncoalesced`), but never splits one:
    with a fixed number, each of the final sort's partitions held a fixed
    share of every award's text, which the driver takes a partition at a
    time (`spark_write`): 528 MB each at 20M events with 4. Sized from the
    ledger, a partition's share stays about the same at any size."""
    return max(fewest, -(-events // EVENTS_PER_PARTITION))


def adaptive(events: int) -> bool:
    """Whether the queries over `events` events run with adaptive
    execution in local mode: only past one partition's worth
    (`EVENTS_PER_PARTITION`). Below it the shuffles' 4 partitions are
    small, there is little to coalesce, and re-planning the query at each
    stage costs more than it saves: the explained golden ledgers of three
    programs scored in 0.7x the time without it (docs/sql.md, "Spark").
    A cluster keeps it: its own shuffle partitions (200 by default) are
    what adaptive execution coalesces for a small ledger (5 to 9x the time
    without, measured with 200 partitions in local mode)."""
    return events > EVENTS_PER_PARTITION


def _wholes(records: list[tuple[Any, ...]], positions: dict[str, dict[str, int]]) -> dict[str, int]:
    """The most integer digits of each number column's values."""
    from decimal import Decimal

    found: dict[str, int] = {}
    for record in records:
        for name, index in positions.get(record[2], {}).items():
            value = record[index]
            if isinstance(value, Decimal) and value:
                found[name] = max(found.get(name, 1), value.adjusted() + 1)
    return found


def _types(columns: Sequence[Column], scales: dict[str, int], wholes: dict[str, int]) -> dict[str, str]:
    """Each column's Spark type. A number column is DECIMAL with the
    precision its values need, not 38: Spark gives a comparison, `CASE` or
    `LEAST` of DECIMAL(38, 2) and DECIMAL(38, 0) the type DECIMAL(38, 0) and
    rounds (see `dialect._tight_literal`)."""
    types = {}
    for column in columns:
        if column.kind == "number":
            scale = scales.get(column.name, 0)
            types[column.name] = f"DECIMAL({min(38, wholes.get(column.name, 1) + scale)}, {scale})"
        elif column.kind == "exponent":
            types[column.name] = "BIGINT"
        else:
            types[column.name] = "BOOLEAN" if column.kind in ("boolean", "sign") else "STRING"
    return types


def _view_sql(columns: Sequence[Column], types: dict[str, str]) -> str:
    """The `ledger` view over the raw text columns, in Spark SQL."""
    casts = "".join(f", CAST({_quoted(c.name)} AS {types[c.name]}) AS {_quoted(c.name)}" for c in columns)
    return (
        "CREATE OR REPLACE TEMPORARY VIEW ledger AS SELECT CAST(`at` AS BIGINT) AS `at`, id, type, referee, referrer"
        + casts
        + " FROM rewardrules_raw"
    )


def _quoted(name: str) -> str:
    """A column name as a Spark identifier (backticks doubled)."""
    return "`" + name.replace("`", "``") + "`"


def _unrolled(query: Query, sections: Sections | None) -> tuple[Query, Sections | None]:
    """The query and sections Spark SQL 4.0 runs: it has no recursive CTE,
    so the attribution fold is written without one
    (`Query.without_recursion`); the fold of several caps has no such
    form yet: say so before Spark reads anything, rather than fail on
    Spark's own words after (`requirement failed`)."""
    if sections is not None:
        sections = sections.without_recursion(query.folds)
    query = query.without_recursion()
    texts = [sql for _, sql in query.statements()] + [query.volume[0]]
    texts += [sql for _, sql in sections.statements()] if sections is not None else []
    if any("WITH RECURSIVE" in sql for sql in texts):
        raise EngineError(
            "Spark could not run the query: it needs a recursive CTE (`WITH RECURSIVE`: a reward counted "
            "by several caps), which Spark SQL 4.0 does not have; score it with --engine duckdb"
        )
    return query, sections


@contextmanager
def _said(spark: Spark) -> Iterator[None]:
    """Spark's failures said as errors (`TooWide`, `EngineError`), never
    tracebacks, and its JVM stopping as that (`spark_lost`); the project's
    own errors (`EngineError`, `NotDirect`, `LedgerError`,
    `AwardLimitError`, ...) pass as they are."""
    handled = sys.exc_info()[1]  # what the caller handles: no stop of this run's (`interruption`)
    try:
        yield
    except Exception as error:
        if type(error).__module__.split(".")[0] == "rewardrules":
            raise  # the project's own (EngineError, NotDirect, LedgerError, AwardLimitError, ...)
        stop = interruption(error, handled)
        if stop is not None:  # a Ctrl-C that another call's failure replaced on the way out
            raise stop from None
        if is_lost(spark.session, error, spark.log if spark.owned else None):  # an app's Spark logs elsewhere
            raise EngineError(lost_message(spark.session, spark.log, spark.owned)) from None
        # pyspark's and py4j's errors share no base class
        text = _first_line(error)
        if "ARITHMETIC_OVERFLOW" in text or "NUMERIC_VALUE_OUT_OF_RANGE" in text:
            raise TooWide(f"Spark could not compute a value exactly: {_overflow_text(text)}") from None
        raise EngineError(f"Spark could not run the query: {text}") from None


@contextmanager
def _uncoalesced(session: Any) -> Iterator[None]:
    """The award-text query run with adaptive execution's coalescing off,
    so that its final sort keeps its `shuffle_partitions` partitions. The
    driver takes that sort's text one partition per job
    (`toLocalIterator`), and each job's partition is one task result,
    held whole in a JVM several times over (the task's array, the result
    serialized, the driver's fetched copy; one JVM in local mode).
    Coalesced (to half the data with two cores, at most the advisory size
    in compressed shuffle bytes, some 6.5x smaller than the text), the
    partitions grew with the ledger: 11 MB results at 200,000 events, and
    fetching one at 1M ran a 512 MB heap out (`TaskResultLost`; 5M with
    1 GB and 10M with 4 GB failed at the same step: docs/performance.md,
    "The last stage"). The setting is as it was after."""
    key = "spark.sql.adaptive.coalescePartitions.enabled"
    before = session.conf.get(key)
    session.conf.set(key, "false")
    try:
        yield
    finally:
        session.conf.set(key, before)


@contextmanager
def _scratch(folder: str) -> Iterator[str]:
    """A ledger file in the run's directory, removed after the run."""
    handle, path = tempfile.mkstemp(suffix=".jsonl", dir=folder)
    os.close(handle)
    try:
        yield path
    finally:
        os.unlink(path)


#: Spark's error class and what follows it (`[NUMERIC_VALUE_OUT_OF_RANGE.WITH_SUGGESTION] ...`)
_ERROR_CLASS = re.compile(r"\[([A-Z_]+)(?:\.[A-Z_]+)*\]\s*(.*)")

#: where Spark's advice begins: to return NULL instead (`spark.sql.ansi.enabled`, `try_divide`), which
#: would lose the award, and the SQL state
_ADVICE = re.compile(r"\s(?:Use '|If necessary set|SQLSTATE)")

#: the value a number that does not fit begins with (`<value> cannot be
#: represented ...`, or `The <rounded> rounded half up from <value> cannot ...`)
_VALUE = re.compile(r"^(?:The )?\S+(?: rounded half up from \S+)? cannot be represented")


def _overflow_text(text: str) -> str:
    """Spark's overflow said by its error class and reason, without the
    value (which partition stops the query first differs from run to run)
    or its advice to return NULL instead; read in its first 2,000
    characters."""
    found = _ERROR_CLASS.search(text[:2000])
    if found is None:
        return text[:2000]
    name, reason = found.groups()
    reason = _VALUE.sub("a value cannot be represented", _ADVICE.split(reason, maxsplit=1)[0].strip())
    return f"[{name}] {reason}"


def _first_line(error: BaseException) -> str:
    """The error's first line; for py4j's `An error occurred while calling
    o102.getResult.`, the Java exception's line after it (the reason: a
    job aborted, and why), which that line alone hides."""
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    if lines[0].startswith("An error occurred while calling") and len(lines) > 1:
        return lines[1].lstrip(": ").strip()
    return lines[0]
