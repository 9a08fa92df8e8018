"""The benchmark code keeps working: a smoke run on a tiny ledger prints
every table. No timing is asserted here (docs/performance.md has figures)."""

from __future__ import annotations

import re
import subprocess
import sys

from .conftest import ROOT


def test_benchmark_smoke_run_prints_every_table() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    titles = ("In-process scoring", "Evaluating the three milestones", "Profile of program.score", "Reading a referral")
    titles += ("Whole process", "Incremental session")
    for title in (*titles, "Scale", "Start-up", "Compile time"):
        assert f"## {title}" in run.stdout
    assert "rewardrules program.score(events)" in run.stdout


def test_the_dialect_benchmark_prints_a_time_and_a_digest_per_dialect() -> None:
    """`benchmarks/sql_dialects.py` on one program: a line per dialect, and
    the digest of what it wrote does not depend on the run."""
    command = [sys.executable, str(ROOT / "benchmarks" / "sql_dialects.py")]
    command += ["--dialects", "spark,postgres", "--programs", "saas_milestones"]
    digests = []
    for _ in range(2):
        run = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr[-3000:]
        lines = run.stdout.splitlines()
        assert re.fullmatch(r"load average [0-9.]+; [1-9] statements", lines[0])  # one program's, of 93
        assert [line.split()[0] for line in lines[1:]] == ["spark", "postgres"]
        assert all(re.fullmatch(r"\S+ +[0-9.]+ s CPU  [0-9a-f]{16}", line) for line in lines[1:])
        digests.append([line.split()[-1] for line in lines[1:]])
    assert digests[0] == digests[1] and digests[0][0] != digests[0][1]


def test_the_dialect_benchmark_refuses_a_program_it_does_not_have() -> None:
    command = [sys.executable, str(ROOT / "benchmarks" / "sql_dialects.py"), "--programs", "saas_milestone"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "no reference program named saas_milestone" in run.stderr
