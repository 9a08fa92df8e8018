"""Review of issue 19's input and output for `score --engine duckdb`: a
ledger file that changes between DuckDB's readings of it, and DuckDB
settings it refuses, said as errors (exit 2), never a traceback."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

import rewardrules
from rewardrules.cli import main
from rewardrules.sql import read

from .test_sql_reading import BASE, SAAS, direct_json

#: one id on two different lines: the Python reader refuses the ledger
FIRST = '{"id":"s9","at":"2026-04-10T09:00:00Z","type":"subscription","referee":"bob","mrr":1000}'
OTHER = '{"id":"s9","at":"2026-04-11T09:00:00Z","type":"subscription","referee":"bob","mrr":5000}'
LATER = '{"id":"s7","at":"2026-04-12T09:00:00Z","type":"subscription","referee":"bob","mrr":7000}'


def _rewrite(path: Path, lines: list[str]) -> None:
    """Write the ledger again, its modification time a second later (a
    file system with coarse times would otherwise keep the old one)."""
    before = path.stat().st_mtime_ns
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.utime(path, ns=(before + 10**9, before + 10**9))


def _score(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["score", "--format", "json", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("reread", "written", "changed"),
    [  # the ids checked on whole lines, by a second reading of the file
        ("_lines_by_id", [*BASE, FIRST, OTHER], [*BASE, FIRST, FIRST]),
        # the lines of ineligible referrals, read after the query ran
        ("lines_of", [*BASE, FIRST], [*BASE, FIRST, LATER]),
    ],
)
def test_a_ledger_changed_between_readings_is_read_once_by_the_python_reader(
    reread: str,
    written: list[str],
    changed: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """DuckDB reads the ledger file again after its first reading: a file
    rewritten or appended to meanwhile gave a result of no version of it
    (an id on two different lines scored twice, where the Python reader
    refuses the ledger). Now such a ledger goes to the Python reader,
    which reads it once: the result is the one of the file as it is."""
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text("\n".join(written) + "\n", encoding="utf-8")
    original: Callable[..., object] = getattr(read, reread)

    def changing(*args: object) -> object:
        if ledger.read_text(encoding="utf-8") != "\n".join(changed) + "\n":
            _rewrite(ledger, changed)
        return original(*args)

    monkeypatch.setattr(read, reread, changing)
    assert direct_json(rewardrules.load(SAAS), ledger, None) is None
    _rewrite(ledger, written)
    duckdb = _score(capsys, "--engine", "duckdb", "--no-explain", SAAS, str(ledger))
    monkeypatch.undo()
    python = _score(capsys, "--no-explain", SAAS, str(ledger))
    assert python[0] == 0
    assert duckdb == python


def test_a_memory_limit_duckdb_cannot_hold_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A size the option's pattern takes but DuckDB refuses (past what its
    setting holds) is said, exit 2; it was a traceback, for a ledger file
    and for standard input alike."""
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text("\n".join(BASE) + "\n", encoding="utf-8")
    code, out, err = _score(capsys, "--engine", "duckdb", "--memory-limit", "999999999TB", SAAS, str(ledger))
    assert (code, out) == (2, "")
    assert err.startswith("rewardrules: error: DuckDB could not start: ") and "--memory-limit 999999999TB" in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("threads", ["\u00b2", "\u0663", "0", "-1", "1025"])
def test_threads_are_ascii_digits_from_1(threads: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`--threads` takes ASCII digits only (as `--memory-limit` does):
    `²` passed `str.isdigit` and then failed `int` with argparse's
    `invalid _count value`, and `٣` was taken as 3."""
    with pytest.raises(SystemExit) as raised:
        main(["score", "--engine", "duckdb", "--threads", threads, SAAS, "-"])
    assert raised.value.code == 2
    assert f"expected a number of threads from 1 to 1024, got {threads!r}" in capsys.readouterr().err


def test_events_of_one_id_are_never_two_even_if_the_file_seems_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger DuckDB scores holds an id once, checked on the table
    itself: a rewrite that the file's size and times do not show (within
    their granularity) still cannot make two events of one id."""
    from rewardrules.sql import run

    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text("\n".join([*BASE, FIRST, OTHER]) + "\n", encoding="utf-8")
    original = read._lines_by_id

    def changing(path: str) -> str:
        ledger.write_text("\n".join([*BASE, FIRST, FIRST]) + "\n", encoding="utf-8")
        return original(path)

    monkeypatch.setattr(read, "_lines_by_id", changing)
    monkeypatch.setattr(run, "_version", lambda path: ())
    assert direct_json(rewardrules.load(SAAS), ledger, None) is None
