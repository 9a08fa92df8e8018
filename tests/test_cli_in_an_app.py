"""`rewardrules.cli.main` called by an app leaves the app's process as it
found it: its standard streams (their `errors`, open), as the Spark runs
leave its signal handlers, its logging and its Spark (tests/test_sql_spark.py,
tests/test_stop_signals.py). The console command, a process of its own,
may change them for good (`cli.run`)."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import pytest

from rewardrules.cli import main

from .conftest import RULESETS

GOLDEN = Path(__file__).parent / "golden" / "saas_milestones" / "basic.jsonl"


def _ascii() -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="strict")


def test_main_writes_what_a_stream_cannot_encode_escaped_and_leaves_its_errors_as_they_were(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A name the terminal cannot show is escaped, not a traceback; the
    streams' `errors` were left `backslashreplace` for good until
    2026-12-07."""
    out, err = _ascii(), _ascii()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    code = main(["check", str(tmp_path / "café.rules")])
    err.flush()
    said = err.buffer.getvalue()  # type: ignore[attr-defined]
    assert code == 2 and b"caf\\xe9.rules" in said
    assert (out.errors, err.errors) == ("strict", "strict")


def test_main_leaves_the_errors_as_they_were_when_it_exits_early(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--version` ends in argparse's SystemExit, which an app sees."""
    out, err = _ascii(), _ascii()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    with pytest.raises(SystemExit):
        main(["--version"])
    assert (out.errors, err.errors) == ("strict", "strict")


class _Gone(io.RawIOBase):
    """Standard output whose reader left (`| head`), until `back`."""

    back = False
    tries = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.tries += 1
        if not self.back:
            raise BrokenPipeError(32, "Broken pipe")
        return len(data)


def test_output_whose_reader_left_leaves_an_app_s_standard_error_open(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command's own process closes standard error there (so Python's
    report of what it cannot flush at the exit is not printed); `main()`
    closed the app's too until 2026-12-07, and the app's next write to it
    raised `ValueError: I/O operation on closed file`."""
    gone = _Gone()
    out = io.TextIOWrapper(io.BufferedWriter(gone, buffer_size=16), encoding="utf-8")
    err = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    try:
        # JSON: written to the bytes and flushed by the command (text waits in the stream's own buffer)
        code = main(["score", "--format", "json", str(RULESETS / "saas_milestones.rules"), str(GOLDEN)])
        assert code == 0 and gone.tries > 0 and not err.closed
        print("the app goes on", file=sys.stderr)
        assert err.getvalue().endswith("the app goes on\n")
    finally:
        gone.back = True
        out.close()


def test_one_stream_for_both_gets_its_errors_back(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Standard output and error one stream (`2>&1` in Python): changed
    once, put back once."""
    both = _ascii()
    monkeypatch.setattr(sys, "stdout", both)
    monkeypatch.setattr(sys, "stderr", both)
    assert main(["check", str(tmp_path / "café.rules")]) == 2
    assert both.errors == "strict"


def test_no_standard_error_stays_none_and_nothing_goes_to_standard_output(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An app without standard error (`pythonw`): the error goes nowhere
    (`print(file=None)` wrote it to standard output), and `sys.stderr` is
    None again after."""
    import os

    out = _ascii()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", None)
    files = len(os.listdir("/proc/self/fd"))
    assert main(["check", str(tmp_path / "nowhere.rules")]) == 2
    out.flush()
    assert out.buffer.getvalue() == b"" and sys.stderr is None  # type: ignore[attr-defined]
    assert len(os.listdir("/proc/self/fd")) == files  # the stand-in closed


class _Full(io.RawIOBase):
    """A stream on a full disk (`/dev/full`)."""

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        raise OSError(28, "No space left on device")


def test_standard_error_that_fails_changes_no_exit_code_and_is_the_app_s_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A write to the app's standard error that fails is the command's
    loss, not an exception out of `main` (it raised `OSError` until
    2026-12-07), also when the stream already held text for the disk
    (`reconfigure`'s flush failed first); `sys.stderr` is the app's own
    object again after."""
    err = io.TextIOWrapper(_Full(), encoding="utf-8", write_through=True)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    monkeypatch.setattr(sys, "stderr", err)
    assert main(["check", str(tmp_path / "nowhere.rules")]) == 2
    assert main(["check", str(RULESETS / "saas_milestones.rules")]) == 0
    assert sys.stderr is err
    pending = io.TextIOWrapper(io.BufferedWriter(_Full()), encoding="utf-8")
    pending.write("the app's own, not yet flushed")
    monkeypatch.setattr(sys, "stderr", pending)
    assert main(["check", str(RULESETS / "saas_milestones.rules")]) == 0
    assert sys.stderr is pending


def test_a_handler_made_during_the_command_writes_as_the_app_s_stream_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """A logging handler made while the command runs keeps the stand-in it
    found in `sys.stderr` (pyspark's does): once `main` returns, it writes
    through to the app's stream, failures included, even where the
    command's own writes had failed (found by review, 2026-12-07)."""
    import logging

    class _Later(io.RawIOBase):
        fails = True
        got = b""

        def writable(self) -> bool:
            return True

        def write(self, data: bytes) -> int:  # type: ignore[override]
            if self.fails:
                raise OSError(28, "No space left on device")
            self.got += bytes(data)
            return len(data)

    raw = _Later()
    err = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    monkeypatch.setattr(sys, "stderr", err)
    made: list[logging.StreamHandler[Any]] = []
    real_check = __import__("rewardrules.cli.check", fromlist=["run"]).run

    def check_making_a_handler(args: Any) -> int:
        made.append(logging.StreamHandler())  # takes `sys.stderr` as it is now
        return int(real_check(args))

    monkeypatch.setattr("rewardrules.cli.check.run", check_making_a_handler)
    assert main(["check", "/nowhere/at/all.rules"]) == 2  # its error lost on the full disk
    raw.fails = False
    made[0].stream.write("the app's line\n")
    assert raw.got == b"the app's line\n"
    raw.fails = True
    with pytest.raises(OSError):
        made[0].stream.write("failing as the app's own stream does\n")


def test_text_a_stream_without_reconfigure_cannot_encode_is_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    """A standard error `main` cannot give escapes (a `codecs` writer): a
    name it cannot encode is written escaped, and the lines after it too
    (it raised `UnicodeEncodeError` out of `main` until 2026-12-07)."""
    import codecs

    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    monkeypatch.setattr(sys, "stderr", codecs.getwriter("ascii")(raw))
    assert main(["check", "/nowhere/caf\u00e9.rules"]) == 2
    said = raw.getvalue().decode("ascii")
    assert "caf\\xe9.rules" in said and "checked 0 files" in said
