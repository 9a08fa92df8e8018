"""The HTML report in a real browser: Debian's Chromium, headless, driven by
Playwright. The page renders with no console error and no request, shows
the totals that `score --format json` gives for the same run, its filter
works, and hostile names in a ledger run nothing.

The browser is part of the test set-up (.ci/run installs Chromium when it is
missing; the `test` extra installs Playwright): a missing browser fails
these tests, it does not skip them. REWARDRULES_SCREENSHOT=path.png keeps a
screenshot of the report for a person to look at.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from rewardrules.cli import main
from rewardrules.htmlreport import display_total

from .conftest import ROOT, RULESETS
from .test_report_html import HOSTILE, HOSTILE_RULES, hostile_ledger

CHROMIUM = os.environ.get("REWARDRULES_CHROMIUM", "/usr/bin/chromium")
#: Headless Chromium on a machine with no network but the package registries.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LEDGER = ROOT / "examples" / "ledger.jsonl"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.fail(f"no Chromium at {CHROMIUM}: `apt-get install -y chromium` (.ci/run does it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


class Opened:
    """A page with everything it said and asked for."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1200, "height": 900})
        self.problems: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("dialog", self._dialog)
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.url = path.as_uri()
        self.page.goto(self.url)

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def close(self) -> None:
        self.page.close()


def write_report(tmp_path: Path, rules: Path, ledger: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    out = tmp_path / "report.html"
    assert main(["report", str(rules), str(ledger), "-o", str(out)]) == 0
    capsys.readouterr()
    return out


def score_json(rules: Path, ledger: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["score", str(rules), str(ledger), "--format", "json"]) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


@pytest.mark.parametrize("name", ["partner_and_customer", "referral_milestones"])
def test_the_page_shows_the_figures_of_score_json(
    name: str, browser: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = RULESETS / f"{name}.rules"
    opened = Opened(browser, write_report(tmp_path, rules, LEDGER, capsys))
    data = score_json(rules, LEDGER, capsys)
    page = opened.page
    try:
        totals = page.eval_on_selector_all(
            "#totals tbody tr",
            """rows => rows.map(r => ({
                unit: r.dataset.unit, kind: r.dataset.kind, status: r.dataset.status,
                count: Number(r.querySelector('[data-count]').textContent),
                amount: r.querySelector('[data-amount]').dataset.amount,
                shown: r.querySelector('[data-amount]').textContent.trim(),
                visible: r.offsetParent !== null,
            }))""",
        )
        keys = ("unit", "kind", "status", "count", "amount")
        assert [{k: t[k] for k in keys} for t in totals] == [{k: t[k] for k in keys} for t in data["totals"]]
        for row, total in zip(totals, data["totals"], strict=True):
            assert row["visible"]
            assert row["shown"] == display_total(total)
            # a sum, or for percent (which does not add up) `count × rate`
            figure = row["shown"].split(" ")[-1 if total.get("each") else 0]
            assert Decimal(figure.replace(",", "").rstrip("%")) == Decimal(row["amount"])
        assert page.text_content("#award-total") == str(len(data["awards"]))
        assert page.text_content("#as-of") == data["as_of"]
        assert page.locator("#awards tbody tr").count() == len(data["awards"])
        ids = page.eval_on_selector_all("#awards tbody tr", "rows => rows.map(r => r.id)")
        assert ids == [a["id"] for a in data["awards"]]
        # The charts are drawn: one per unit, with bars.
        units = {a["unit"] for a in data["awards"]}
        assert page.locator("svg.chart-svg").count() == len(units)
        assert page.locator("svg.chart-svg rect.bar").count() > 0
        box = page.locator("svg.chart-svg").first.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100
        assert opened.problems == []
        assert opened.requests == [opened.url]
    finally:
        opened.close()


def test_the_filter_keeps_matching_rows(browser: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = RULESETS / "partner_and_customer.rules"
    opened = Opened(browser, write_report(tmp_path, rules, LEDGER, capsys))
    data = score_json(rules, LEDGER, capsys)
    page = opened.page
    visible = "#awards tbody tr:not([hidden])"
    try:
        assert page.is_visible("#award-search")  # the script showed the controls
        assert page.text_content("#award-count") == f"{len(data['awards'])} awards"
        page.fill("#award-search", "alice")
        alice = [a for a in data["awards"] if "alice" in (a["beneficiary"], a["referrer"], a["referee"])]
        assert page.locator(visible).count() == len(alice)
        assert page.text_content("#award-count") == f"{len(alice)} of {len(data['awards'])} awards shown"
        page.select_option("#award-status", "void")
        assert page.locator(visible).count() == sum(a["status"] == "void" for a in alice)
        page.fill("#award-search", "")
        assert page.locator(visible).count() == sum(a["status"] == "void" for a in data["awards"])
        page.select_option("#award-status", "")
        assert page.locator(visible).count() == len(data["awards"])
        assert opened.problems == []
    finally:
        opened.close()


def test_a_long_table_is_shown_a_page_at_a_time(
    browser: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "long.jsonl"
    with ledger.open("w", encoding="utf-8") as out:
        for i in range(300):
            out.write(
                json.dumps(
                    {
                        "id": f"r{i}",
                        "at": "2026-01-01T00:00:00Z",
                        "type": "referral",
                        "referrer": f"partner{i % 7}",
                        "referee": f"c{i}",
                        "source": "partner",
                    }
                )
                + "\n"
            )
            for k in range(4):
                out.write(
                    json.dumps(
                        {
                            "id": f"p{i}-{k}",
                            "at": f"2026-0{k + 2}-01T00:00:00Z",
                            "type": "payment",
                            "referee": f"c{i}",
                            "amount": "10.00",
                        }
                    )
                    + "\n"
                )
    rules = RULESETS / "partner_and_customer.rules"
    opened = Opened(browser, write_report(tmp_path, rules, ledger, capsys))
    total = len(score_json(rules, ledger, capsys)["awards"])
    assert total == 1200
    page = opened.page
    visible = "#awards tbody tr:not([hidden])"
    try:
        assert page.locator(visible).count() == 500
        assert page.text_content("#award-count") == "500 of 1,200 awards shown"
        page.click("#award-more")
        assert page.locator(visible).count() == 1000
        assert page.text_content("#award-more") == "Show 200 more"
        page.click("#award-more")
        assert page.locator(visible).count() == 1200
        assert page.is_hidden("#award-more")
        assert page.text_content("#award-count") == "1,200 awards"
        page.fill("#award-search", "partner3")  # 43 referrals, 4 commissions each
        assert page.locator(visible).count() == 172
        page.fill("#award-search", "")
        assert page.locator(visible).count() == 500  # a new filter starts from the first page again
        assert opened.problems == []
    finally:
        opened.close()


def test_hostile_names_run_nothing(browser: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "hostile.rules"
    rules.write_text(HOSTILE_RULES, encoding="utf-8")
    opened = Opened(browser, write_report(tmp_path, rules, hostile_ledger(tmp_path / "ledger.jsonl"), capsys))
    page = opened.page
    try:
        page.fill("#award-search", "script")
        text = page.text_content("#awards") or ""
        for name in HOSTILE:
            assert name in text
        assert opened.dialogs == []
        assert page.locator("img").count() == 0
        assert opened.problems == []
        assert opened.requests == [opened.url]
    finally:
        opened.close()


def test_screenshot(browser: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A picture of the page: not empty, and kept where asked for people."""
    opened = Opened(browser, write_report(tmp_path, RULESETS / "referral_milestones.rules", LEDGER, capsys))
    try:
        target = Path(os.environ.get("REWARDRULES_SCREENSHOT", tmp_path / "report.png"))
        opened.page.screenshot(path=str(target), full_page=True)
        assert target.stat().st_size > 20_000
        height = opened.page.evaluate("document.documentElement.scrollHeight")
        assert height > 2000  # every section laid out, not a blank page
    finally:
        opened.close()
