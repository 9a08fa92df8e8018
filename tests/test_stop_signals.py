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
