"""The benchmark code keeps working: a smoke run on a tiny ledger prints
every table. No timing is asserted here (docs/performance.md has figures)."""

from __future__ import annotations

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
