"""Packaging: the grammar lives at the top level (grammar/) and is mapped into
the wheel as package data; a non-editable install must find it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from .conftest import ROOT


def test_wheel_carries_the_grammar_and_works_without_the_source_tree(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("rewardrules-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert "rewardrules/grammar/rewardrules.lark" in names
        site = tmp_path / "site"
        archive.extractall(site)
    probe = (
        "import rewardrules, rewardrules.parse as p; "
        f"assert rewardrules.__file__.startswith({str(site)!r}), rewardrules.__file__; "
        "prog = rewardrules.compile('event signup\\nmilestone m { first signup  reward referee credit 5 USD }'); "
        'print(len(prog.score([\'{"id":"r","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"a","referee":"b"}\','
        ' \'{"id":"s","at":"2026-01-02T00:00:00Z","type":"signup","referee":"b"}\']).awards))'
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], env={"PYTHONPATH": str(site)}, cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"
