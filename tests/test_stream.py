"""Streaming mode: on a ledger already in (at, id) order it gives exactly
what a batch score gives, and it refuses unordered input clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rewardrules
from rewardrules.timeutil import parse_timestamp

from .conftest import GOLDEN, RULESETS

CASES = sorted(GOLDEN.glob("*/*.jsonl"))


def _sorted_lines(path: Path) -> list[str]:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return sorted(lines, key=lambda line: (parse_timestamp(json.loads(line)["at"]), json.loads(line)["id"]))


@pytest.mark.parametrize("ledger", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_stream_equals_batch_on_sorted_golden_ledgers(ledger: Path) -> None:
    expected = json.loads(ledger.with_suffix("").with_suffix(".expected.json").read_text())
    program = rewardrules.load(RULESETS / f"{ledger.parent.name}.rules")
    lines = _sorted_lines(ledger)
    batch = program.score(lines, as_of=expected["as_of"])
    stream = program.score_stream(lines, as_of=expected["as_of"])
    assert stream.to_json() == batch.to_json()


def test_stream_scores_unordered_input_as_score_does() -> None:
    """Changed on purpose (issue 19): `--stream` puts lines in ledger order
    itself (in bounded memory) instead of refusing them."""
    program = rewardrules.load(RULESETS / "prezi.rules")
    lines = [
        '{"id":"b","at":"2026-01-02T00:00:00Z","type":"referral","referrer":"x","referee":"y"}',
        '{"id":"a","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"x","referee":"z"}',
        '{"id":"c","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"x","referee":"w"}',
    ]
    assert program.score_stream(lines).to_json() == program.score(lines).to_json()


def test_stream_counts_exact_duplicates_once_and_rejects_conflicts() -> None:
    program = rewardrules.load(RULESETS / "prezi.rules")
    referral = '{"id":"r","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"x","referee":"y"}'
    payment = '{"id":"p","at":"2026-01-02T00:00:00Z","type":"payment","referee":"y","amount":5}'
    assert len(program.score_stream([referral, payment, payment]).data["awards"]) == 1
    conflicting = payment.replace('"amount":5', '"amount":6')
    with pytest.raises(rewardrules.LedgerError, match="already used on line 2"):
        program.score_stream([referral, payment, conflicting])


def _problems(score: object, lines: list[str]) -> list[tuple[int, str | None, str]]:
    with pytest.raises(rewardrules.LedgerError) as info:
        score(lines)  # type: ignore[operator]
    return [(p.line, p.field, p.message) for p in info.value.problems]


@pytest.mark.parametrize(("batch", "chars"), [(10_000, 10**6), (2, 10**6), (1, 10**6), (10_000, 2)])
def test_stream_refuses_an_id_used_again_at_a_later_instant_as_batch_does(
    batch: int, chars: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A sorted ledger puts a repeat at the same instant next to the first,
    # but an id reused at another instant may come any number of lines
    # later: the stream must still refuse it, and say where, as `score`
    # does, whichever batch of ids each line falls in.
    monkeypatch.setattr("rewardrules.ledger.IdLog.BATCH", batch)  # ids appended in several batches
    monkeypatch.setattr("rewardrules.ledger.IdLog.BATCH_CHARS", chars)
    program = rewardrules.load(RULESETS / "prezi.rules")
    lines = [
        '{"id":"r","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"x","referee":"y"}',
        '{"id":"p","at":"2026-01-02T00:00:00Z","type":"payment","referee":"y","amount":5}',
        "",  # lines that log no id: a blank one, an exact repeat
        '{"id":"q","at":"2026-01-03T00:00:00Z","type":"payment","referee":"y","amount":5}',
        '{"id":"q","at":"2026-01-03T00:00:00Z","type":"payment","referee":"y","amount":5}',
        '{"id":"p","at":"2026-01-04T00:00:00Z","type":"payment","referee":"y","amount":5}',
        '{"id":"s","at":"2026-01-05T00:00:00Z","type":"payment","referee":"y","amount":5}',
        '{"id":"r","at":"2026-01-06T00:00:00Z","type":"something_else"}',
        '{"id":"p","at":"2026-01-07T00:00:00Z","type":"payment","referee":"y","amount":5}',
    ]
    expected = [
        (6, "id", "id `p` is already used on line 2 with different content"),
        (8, "id", "id `r` is already used on line 1 with different content"),
        (9, "id", "id `p` is already used on line 2 with different content"),
    ]
    assert _problems(program.score, lines) == expected
    assert _problems(program.score_stream, lines) == expected
    # without the reused ids, the same ledger scores
    valid = lines[:5] + lines[6:7]
    assert program.score_stream(valid).to_json() == program.score(valid).to_json()


def test_stream_tells_ids_with_a_nul_apart_as_batch_does() -> None:
    # SQLite's JSON functions end a string at NUL: such ids must not meet as one.
    program = rewardrules.load(RULESETS / "prezi.rules")
    referral = '{"id":"r","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"x","referee":"y"}'
    first = '{"id":"a\\u0000b","at":"2026-01-02T00:00:00Z","type":"payment","referee":"y","amount":5}'
    other = '{"id":"a\\u0000c","at":"2026-01-03T00:00:00Z","type":"payment","referee":"y","amount":5}'
    lines = [referral, first, other]
    assert program.score_stream(lines).to_json() == program.score(lines).to_json()
    reused = first.replace("01-02", "01-04")
    expected = [(4, "id", "id `a\\x00b` is already used on line 2 with different content")]
    assert _problems(program.score_stream, [*lines, reused]) == expected
    assert _problems(program.score, [*lines, reused]) == expected


class _FailingDatabase:
    """A SQLite connection whose disk is full."""

    def __init__(self, error: type[Exception]) -> None:
        self.error = error

    def execute(self, sql: str, *args: object) -> object:
        if sql.startswith("INSERT"):
            raise self.error("database or disk is full")
        return self

    def executemany(self, sql: str, rows: object) -> object:
        return self.execute(sql)

    def close(self) -> None:
        pass


def test_stream_reports_a_scratch_file_it_cannot_write_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    from rewardrules.cli import main
    from rewardrules.ledger import ScratchError

    monkeypatch.setattr(sqlite3, "connect", lambda *args, **kwargs: _FailingDatabase(sqlite3.OperationalError))
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text('{"id":"r","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"x","referee":"y"}\n')
    program = rewardrules.load(RULESETS / "prezi.rules")
    with pytest.raises(ScratchError, match="database or disk is full"):
        program.score_stream(ledger.read_text().splitlines())
    code = main(["score", str(RULESETS / "prezi.rules"), str(ledger), "--stream"])
    err = capsys.readouterr().err
    assert code == 2
    assert "SQLITE_TMPDIR" in err and "database or disk is full" in err and "Traceback" not in err
