"""The matching report in a real browser (headless Chromium, as
tests/test_report_browser.py drives it): it renders with no console error
and no request, and shows the figures of `match --format json`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rewardrules.cli import main

from . import test_report_browser
from .conftest import ROOT, RULESETS
from .test_report_browser import Opened

#: headless Chromium, the one test_report_browser.py starts
browser = test_report_browser.browser

MATCHING = RULESETS / "matching" / "fasttrack_matching.rules"
LEDGERS = [
    ROOT / "examples" / "matching" / "partners.jsonl",
    ROOT / "tests" / "golden_matching" / "fasttrack_matching" / "decline_and_acceptance.jsonl",
]


@pytest.mark.parametrize("ledger", LEDGERS, ids=lambda p: p.stem)
def test_the_matching_page_renders_the_figures_of_match_json(
    ledger: Path, browser: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "matching.html"
    assert main(["report", str(MATCHING), str(ledger), "-o", str(out)]) == 0
    capsys.readouterr()
    assert main(["match", str(MATCHING), str(ledger), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    opened = Opened(browser, out)
    page = opened.page
    try:
        ids = page.eval_on_selector_all("#assignments tbody tr", "rows => rows.map(r => r.id)")
        assert ids == [a["id"] for a in data["assignments"]]
        assert page.text_content("#assignment-total") == str(len(data["assignments"]))
        rows = page.eval_on_selector_all(
            "#acceptance tbody tr",
            "rows => rows.map(r => [...r.children].map(c => c.textContent.trim()))",
        )
        expected = [
            [r["period"], r["partner"], r["value"], str(r["received"]), str(r["accepted"]), str(r["declined"]),
             str(r["pending"]), f"{r['rate']}%"]
            for r in data["acceptance"]["rows"]
        ]  # fmt: skip
        assert [row[:8] for row in rows] == expected
        verdicts = [row[8].split()[0] for row in rows]
        assert verdicts == ["below" if r["below"] else "ok" for r in data["acceptance"]["rows"]]
        declined = sum(a["status"] == "declined" for a in data["assignments"])
        assert page.locator("#declines tbody tr").count() == declined
        # a why opens and shows the counts line
        page.locator("#assignments details summary").first.click()
        assert "counts: referrals received" in (page.locator("#assignments pre.why").first.text_content() or "")
        assert opened.problems == []
        assert opened.requests == [opened.url]
    finally:
        opened.close()
