"""docs/matching.md runs: its worked example's command prints what the page
says, its reference program is the file in rulesets/matching/, and its
example ledger is the one in examples/matching/ (the runner of
tests/test_docs_examples.py, on this page alone)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import ROOT
from .test_docs_examples import _workdir, blocks, run_page

PAGE = ROOT / "docs" / "matching.md"


def test_the_matching_page_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    work = _workdir(tmp_path)
    old = Path.cwd()
    os.chdir(work)
    try:
        done = run_page(PAGE, work, capsys)
    finally:
        os.chdir(old)
    kinds = [(b.lang, b.file) for b in blocks(PAGE)]
    assert ("match", "rulesets/matching/fasttrack_matching.rules") in kinds
    assert ("json", "examples/matching/partners.jsonl") in kinds
    assert done >= 5


def test_the_matching_page_is_in_the_site_navigation() -> None:
    assert "matching.md" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")


def test_the_record_shown_is_the_first_of_the_worked_example() -> None:
    import json

    from rewardrules.match.api import load, match

    shown = next(b for b in blocks(PAGE) if b.lang == "json" and b.file is None)
    rules = load(ROOT / "rulesets" / "matching" / "fasttrack_matching.rules")
    ledger = (ROOT / "examples" / "matching" / "partners.jsonl").read_text(encoding="utf-8").splitlines()
    first = match(rules, ledger).to_dict()["assignments"][0]
    first["why"]["candidates"] = first["why"]["candidates"][:2]
    assert json.loads(shown.text) == first
