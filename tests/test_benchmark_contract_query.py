"""The hand-written DuckDB scorer that does the contract's work
(benchmarks/contract_query.py), the bar `score --engine duckdb` is measured
against in docs/performance.md: its result is the engine's, byte for byte,
and it refuses what a correct scorer must refuse. No timing here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

SCRIPT = ROOT / "benchmarks" / "contract_query.py"
RULES = ROOT / "rulesets" / "saas_milestones.rules"


def _run(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, *args], capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("contract") / "ledger.jsonl"
    made = _run(str(ROOT / "benchmarks" / "generate.py"), "--events", "30000", "--seed", "11")
    assert made.returncode == 0, made.stderr
    path.write_bytes(made.stdout)
    return path


def test_its_result_is_the_engines_byte_for_byte(ledger: Path) -> None:
    mine = _run(str(SCRIPT), str(ledger))
    engine = _run("-m", "rewardrules", "score", str(RULES), str(ledger), "--format", "json", "--no-explain")
    assert mine.returncode == 0, mine.stderr
    assert engine.returncode == 0, engine.stderr
    assert mine.stdout.count(b'"milestone"') > 100  # not vacuous: many awards
    assert mine.stdout == engine.stdout


def test_a_ledger_without_awards_is_written_as_the_engine_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    path.write_text('{"id":"r1","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"a","referee":"c"}\n')
    mine = _run(str(SCRIPT), str(path))
    engine = _run("-m", "rewardrules", "score", str(RULES), str(path), "--format", "json", "--no-explain")
    assert b'"awards": []' in engine.stdout
    assert mine.stdout == engine.stdout


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"id":"x1","at":"2026-02-30T00:00:00Z","type":"payment","referee":"c"}', b"1 bad lines"),
        ('{"id":"x1","at":"2026-01-01 00:00:00","type":"payment","referee":"c"}', b"1 bad lines"),
        ('{"id":"x1","at":"2026-01-01T00:00:00Z","type":"subscription","referee":"c","mrr":"1e3"}', b"1 bad lines"),
        ('{"id":"r1","at":"2026-01-01T00:00:00Z","type":"payment","referee":"c"}', b"1 ids used twice"),
    ],
)
def test_it_refuses_what_a_correct_scorer_refuses(tmp_path: Path, line: str, reason: bytes) -> None:
    path = tmp_path / "ledger.jsonl"
    first = '{"id":"r1","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"a","referee":"c"}'
    path.write_text(f"{first}\n{line}\n", encoding="utf-8")
    done = _run(str(SCRIPT), str(path))
    assert done.returncode != 0
    assert reason in done.stderr
    assert done.stdout == b""
