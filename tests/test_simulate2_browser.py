"""`simulate --format html` in headless Chromium: the distributions per
milestone and the tier table render, with no console error and no request,
and show the figures of the JSON for the same runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rewardrules.cli import main

from .test_report_browser import Opened, browser  # noqa: F401 (the fixture)
from .test_simulate2_tiers import TIERED
from .test_simulate_browser import SCENARIO


def test_distributions_per_milestone_and_the_tier_table_render(
    browser: Any,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rules = tmp_path / "tiered.rules"
    rules.write_text(TIERED)
    argv = ["simulate", str(rules), "--scenario", str(SCENARIO), "--runs", "12"]
    capsys.readouterr()
    assert main([*argv, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert main([*argv, "--format", "html"]) == 0
    page_file = tmp_path / "simulation.html"
    page_file.write_text(capsys.readouterr().out)
    opened = Opened(browser, page_file)
    page = opened.page
    try:
        [milestone] = report["milestones"]
        chart = page.locator("#distribution-0")
        box = chart.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 60
        assert chart.locator("rect.bin").count() == len(milestone["distribution"]) == 10
        titles = chart.locator("rect.bin title").all_text_contents()
        assert titles == [f"{b['from']} to {b['to']}: {b['runs']} run(s)" for b in milestone["distribution"]]
        rows = page.eval_on_selector_all(
            "#tiers tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
        )
        assert rows == [
            [
                f"tiered.{t['table']}",
                t["tier"],
                t["counts"],
                str(t["runs_hit"]),
                *(t["reached"][p] for p in ("p50", "p90", "p99")),
            ]
            for t in report["tiers"]
        ]
        cost = page.eval_on_selector_all("#milestones tbody tr", "rows => rows.map(r => r.cells[5].textContent)")
        assert cost == [milestone["cost"]["p50"]]
        assert opened.problems == []
        assert opened.requests == [opened.url]
    finally:
        opened.close()
