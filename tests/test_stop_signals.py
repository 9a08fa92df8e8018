"""A command stopped by Ctrl-C (SIGINT) or SIGTERM (`kill`, a job
scheduler, a container's stop) leaves nothing behind and says nothing it
should not: scratch folders are removed, the exit code is the shell's
(130, 143), and no traceback (DuckDB turns the interruption into
`RuntimeError: Query interrupted`, which used to escape as one)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import RULESETS

SCRIPT = Path(sys.executable).parent / "rewardrules"
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "rewardrules"]


def _ledger(path: Path, referrals: int) -> None:
    """A ledger DuckDB takes a few seconds over: each referral with two
    subscriptions, written fast (no generator import; each line formatted
    as `json.dumps` writes it, which took a fifth of the file's time)."""
    with path.open("w") as out:
        for n in range(referrals):
            day = 1 + n % 28
            out.write(
                f'{{"id": "r{n}", "at": "2026-01-{day:02}T09:00:00Z", "type": "referral", '
                f'"referrer": "p{n % 97}", "referee": "c{n}"}}\n'
            )
            for k in range(2):
                out.write(
                    f'{{"id": "s{n}-{k}", "at": "2026-02-{day:02}T1{k}:00:00Z", "type": "subscription", '
                    f'"referee": "c{n}", "mrr": "600.00"}}\n'
                )


def _wait_for_scratch(scratch: Path, process: subprocess.Popen[bytes]) -> None:
    """Wait until the command made its scratch folder (it is then inside
    DuckDB's work), or fail if it ended first."""
    deadline = time.monotonic() + 60
    while not any(scratch.iterdir()):
        assert process.poll() is None, "the command ended before it was stopped"
        assert time.monotonic() < deadline, "no scratch folder appeared"
        time.sleep(0.005)


@pytest.mark.parametrize("repeated", [False, True], ids=["once", "repeated"])
@pytest.mark.parametrize(("stop", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stopped_duckdb_run_removes_its_scratch_folder(
    tmp_path: Path, stop: signal.Signals, code: int, repeated: bool
) -> None:
    """Stopped once, or `repeated`: the signal sent again and again until
    the process is gone, as a second Ctrl-C or a scheduler's SIGTERM sent
    again would, which used to break into the `finally` that removes the
    scratch folder; now only the first signal counts."""
    ledger = tmp_path / "ledger.jsonl"
    _ledger(ledger, 150_000)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    argv = [*COMMAND, "score", "--engine", "duckdb", "--threads", "1", str(RULESETS / "saas_milestones.rules")]
    process = subprocess.Popen(
        [*argv, str(ledger)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "TMPDIR": str(scratch)}
    )
    try:
        _wait_for_scratch(scratch, process)
        time.sleep(0.3)  # into DuckDB's reading of the ledger (about 2 s)
        process.send_signal(stop)
        while repeated and process.poll() is None:
            time.sleep(0.002)
            process.send_signal(stop)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == code, err.decode()
    assert b"Traceback" not in err, err.decode()
    assert list(scratch.iterdir()) == []


def test_an_error_without_a_stop_is_not_taken_for_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a stop signal makes an exception a stop: without one, an
    engine's own failure still escapes `main` as it is (the suite's
    no-traceback tests then find it)."""
    import rewardrules.cli as cli

    def broken(args: object) -> int:
        raise RuntimeError("Query interrupted")

    monkeypatch.setattr(cli, "_run", broken)
    with pytest.raises(RuntimeError, match="Query interrupted"):
        cli.main(["check", str(RULESETS / "saas_milestones.rules")])


def test_an_error_a_command_says_after_a_stop_is_the_stop_s(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A library may turn the interruption into an error of its own that
    the command catches and says (py4j's interrupted call, said as "Spark
    could not run the query" with exit code 2, under `score --engine
    spark`): after a stop signal nothing is said and the exit code is the
    stop's."""
    import rewardrules.cli as cli
    from rewardrules.cli import process
    from rewardrules.cli.common import fail

    def said(args: object) -> int:
        return fail("Spark could not run the query: An error occurred while calling o59.sql")

    monkeypatch.setattr(cli, "_run", said)
    monkeypatch.setattr(process, "_STOPPED_BY", signal.SIGINT)
    assert cli.main(["check", str(RULESETS / "saas_milestones.rules")]) == 130
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(process, "_STOPPED_BY", None)  # without a stop: said, and its own code
    assert cli.main(["check", str(RULESETS / "saas_milestones.rules")]) == 2
    assert "Spark could not run the query" in capsys.readouterr().err


def test_output_cut_short_by_a_stop_exits_with_the_stop_s_code() -> None:
    """Standard output that cannot be flushed after a stop (a full disk):
    the stop's exit code, nothing said, where it was exit 2 with nothing
    said once `fail` kept quiet after a stop (found by review)."""
    script = (
        "import signal, sys\nfrom rewardrules.cli import process\nprocess.begin()\n"
        "process._STOPPED_BY = signal.SIGINT\nsys.stdout.write('x' * 100)\nprocess.end(130)\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-c", script], stdout=full, stderr=subprocess.PIPE, env=env, check=False)
    assert (done.returncode, done.stderr) == (130, b"")


def test_a_ctrl_c_replaced_by_another_error_on_the_way_out_is_the_ctrl_c() -> None:
    """An interrupted `collect` makes one more py4j call as it unwinds,
    whose failure (`Py4JNetworkError` on the connection the interrupt
    closed) replaced the `KeyboardInterrupt` and was said as Spark's JVM
    having stopped ("out of memory"): in an app's process, where no stop
    signal is noted, exit code 2 and that error (found by review)."""
    from types import SimpleNamespace

    from rewardrules.sql.spark import _said
    from rewardrules.sql.spark_lost import interruption

    class Py4JNetworkError(Exception):
        pass

    def unwound() -> None:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise Py4JNetworkError("Answer from Java side is empty") from None

    with pytest.raises(Py4JNetworkError) as caught:
        unwound()
    assert isinstance(interruption(caught.value, None), KeyboardInterrupt)  # `from None` keeps the context
    with pytest.raises(ValueError) as plain:
        try:
            raise OSError("first")
        except OSError:
            raise ValueError("second") from None
    assert interruption(plain.value, None) is None
    spark = SimpleNamespace(session=None, log=None, owned=True)
    with pytest.raises(KeyboardInterrupt), _said(spark):  # type: ignore[arg-type]
        unwound()


def test_an_app_s_own_handled_ctrl_c_is_not_the_run_s() -> None:
    """An app that calls `main` inside its own `except KeyboardInterrupt`
    (or `except SystemExit`): a Spark error of the run, whose chain goes
    on to what the app handles (pyspark raises its errors `from None`,
    which keeps their context), was taken for a stop of the run's, exit
    code 130 and nothing said (found by review). Only a
    `KeyboardInterrupt` raised during the run is one."""
    from types import SimpleNamespace

    from rewardrules.sql.run import EngineError
    from rewardrules.sql.spark import _said

    spark = SimpleNamespace(session=None, log=None, owned=True)

    def failing() -> None:
        try:
            raise LookupError("the Java side's error")
        except LookupError:
            raise RuntimeError("[TABLE_OR_VIEW_NOT_FOUND] converted") from None

    for earlier in (KeyboardInterrupt(), SystemExit(0)):
        try:
            raise earlier
        except BaseException:
            with pytest.raises(EngineError, match="TABLE_OR_VIEW_NOT_FOUND"), _said(spark):  # type: ignore[arg-type]
                failing()


def test_spark_s_handler_is_taken_back_but_a_stop_s_ignoring_stays() -> None:
    """Starting Spark installs pyspark's SIGINT handler: the one before is
    put back. A Ctrl-C while it starts runs the command's handler, which
    ignores SIGINT from then on: that stays (found by review)."""
    from rewardrules.sql.spark import _ctrl_c_kept

    def mine(signum: int, frame: object) -> None:
        pass

    def pysparks(signum: int, frame: object) -> None:
        pass

    pysparks.__module__ = "pyspark.core.context"
    before = signal.getsignal(signal.SIGINT)
    try:
        signal.signal(signal.SIGINT, mine)
        with _ctrl_c_kept():
            signal.signal(signal.SIGINT, pysparks)
        assert signal.getsignal(signal.SIGINT) is mine
        with _ctrl_c_kept():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


class _Context:
    """A Spark context's two calls `_cancel_all` makes, recorded."""

    def __init__(self, failing: str = "") -> None:
        self.calls: list[tuple[str, ...]] = []
        self.failing = failing

    def _call(self, *call: str) -> None:
        self.calls.append(call)
        if call[0] == self.failing:
            raise ConnectionError("the JVM is gone")

    def setLogLevel(self, level: str) -> None:
        self._call("setLogLevel", level)

    def cancelAllJobs(self) -> None:
        self._call("cancelAllJobs")


class _Session:
    def __init__(self, context: _Context) -> None:
        self.sparkContext = context


def test_the_run_s_own_spark_is_silenced_as_it_stops_only_when_the_command_is_the_process() -> None:
    """Its killed tasks printed lines of their own after a Ctrl-C: the root
    logger is turned off before the cancel. In an app's process the JVM
    outlives the run, and the app's own Spark started later in it would
    log nothing (found by review): there only the cancel. A failed first
    call does not skip the cancel."""
    from rewardrules.sql.spark import _cancel_all

    alone, app, failed = _Context(), _Context(), _Context(failing="setLogLevel")
    _cancel_all(_Session(alone), silenced=True)
    _cancel_all(_Session(app), silenced=False)
    _cancel_all(_Session(failed), silenced=True)
    assert alone.calls == [("setLogLevel", "OFF"), ("cancelAllJobs",)]
    assert app.calls == [("cancelAllJobs",)]
    assert failed.calls == [("setLogLevel", "OFF"), ("cancelAllJobs",)]


def test_score_on_spark_in_an_app_s_process_is_not_the_whole_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`main()` called by an app gives its Spark `whole_process` False (the
    console entry point, True: `test_spark_scale.py`'s stop test)."""
    from rewardrules.cli import main
    from rewardrules.sql.run import EngineError
    from rewardrules.sql.spark import Spark

    seen: list[bool] = []

    def entered(self: Spark) -> Spark:
        seen.append(self.whole_process)
        self.close()
        raise EngineError("not started here")

    monkeypatch.setattr(Spark, "__enter__", entered)
    ledger = Path(__file__).parent / "golden" / "saas_milestones" / "basic.jsonl"
    code = main(["score", "--engine", "spark", str(RULESETS / "saas_milestones.rules"), str(ledger)])
    assert (code, seen) == (2, [False])
    assert "not started here" in capsys.readouterr().err
