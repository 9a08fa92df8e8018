"""Packaging: files that are not Python modules (the grammar, mapped from
the top-level grammar/ folder; the HTML report's templates) go into the
wheel, and an installed wheel works without the source tree."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from .conftest import ROOT, RULESETS

PACKAGE_DATA = [
    "rewardrules/grammar/rewardrules.lark",
    "rewardrules/templates_html/report.html.j2",
    "rewardrules/templates_html/report.css",
    "rewardrules/templates_html/report.js",
    "rewardrules/lexer.py",
]


def test_wheel_carries_its_data_and_works_without_the_source_tree(tmp_path: Path) -> None:
    build = [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*build, "-w", str(tmp_path)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("rewardrules-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(site)
    assert [name for name in PACKAGE_DATA if name not in names] == []
    # the project's own licence travels with it
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names), sorted(names)
    ledger = ROOT / "examples" / "tiny.jsonl"
    probe = (
        "import rewardrules; from rewardrules.htmlreport import render_html; "
        f"assert rewardrules.__file__.startswith({str(site)!r}), rewardrules.__file__; "
        "prog = rewardrules.compile('event signup\\nmilestone m { first signup  reward referee credit 5 USD }'); "
        'print(len(prog.score([\'{"id":"r","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"a","referee":"b"}\','
        ' \'{"id":"s","at":"2026-01-02T00:00:00Z","type":"signup","referee":"b"}\']).awards)); '
        f"p = rewardrules.load({str(RULESETS / 'zoom.rules')!r}); "
        f"print(len(render_html(p, p.score(open({str(ledger)!r}, 'rb')).data)) > 10000)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], env={"PYTHONPATH": str(site)}, cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "True"]
