"""`simulate --format html` in a real browser (headless Chromium, as
tests/test_report_browser.py): the page renders with no console error
and no request, draws the fan chart of the cumulative cost, and shows the
figures `--format json` gives for the same runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rewardrules.cli import main

from .conftest import ROOT, RULESETS
from .test_report_browser import Opened, browser  # noqa: F401 (the fixture)

SCENARIO = ROOT / "examples" / "simulate" / "launch.toml"
RULES = RULESETS / "partner_and_customer.rules"


def simulated(capsys: pytest.CaptureFixture[str], *more: str) -> str:
    capsys.readouterr()
    assert main(["simulate", str(RULES), "--scenario", str(SCENARIO), "--runs", "4", *more]) == 0
    return capsys.readouterr().out


def test_the_page_shows_the_figures_of_the_json_and_draws_the_fan(
    browser: Any,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    capped = tmp_path / "capped.rules"
    capped.write_text(RULES.read_text().replace("5000 USD per quarter", "1000 USD per quarter"))
    page_file = tmp_path / "simulation.html"
    page_file.write_text(simulated(capsys, "--compare", str(capped), "--format", "html"))
    report = json.loads(simulated(capsys, "--compare", str(capped), "--format", "json"))
    opened = Opened(browser, page_file)
    page = opened.page
    try:
        rows = page.eval_on_selector_all(
            "#totals tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
        )
        usd = report["payouts"]["USD"]
        assert rows[0] == ["payouts USD", usd["p50"], usd["p90"], usd["p99"]]
        assert page.locator("#milestones tbody tr").count() == len(report["milestones"])
        assert page.locator("#compare-withheld tbody tr").count() == len(report["compare"]["withheld"]) > 0
        for fan in ("#fan", "#compare-fan"):
            assert page.locator(f"{fan} polygon.band").count() == 2
            assert page.locator(f"{fan} polyline.p50").count() == 1
            box = page.locator(fan).bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 100
        assert opened.problems == []
        assert opened.requests == [opened.url]
    finally:
        opened.close()


def test_names_from_outside_are_escaped(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    hostile = tmp_path / "hostile.toml"
    hostile.write_text(
        SCENARIO.read_text().replace('name = "Partner and customer launch"', 'name = "<script>alert(1)</script>"')
    )
    capsys.readouterr()
    assert main(["simulate", str(RULES), "--scenario", str(hostile), "--runs", "1", "--format", "html"]) == 0
    out = capsys.readouterr().out
    assert "<script>" not in out and "&lt;script&gt;alert(1)&lt;/script&gt;" in out
