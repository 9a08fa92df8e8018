"""The playground (playground/, docs/playground.md) in a real browser:
Debian's Chromium, headless, driven by Playwright, the page built by
`playground/build.py` and served on 127.0.0.1, every request to anywhere
else aborted. It loads, runs the real engine in Pyodide, and shows what the
CLI prints for the same files: `score --format json` after an edit,
`check`'s diagnostics for a mistake, `check --bounds`, `fmt`; a share link
restores what it holds, and a hostile one runs nothing. No console error.

The set-up is the one of tests/test_report_browser.py (Chromium installed
by .ci/run, Playwright by the `test` extra) plus Pyodide, which `npm ci`
in playground/ installs: a missing one fails these tests, never skips them.
REWARDRULES_SCREENSHOT_PLAYGROUND=path.png keeps a screenshot of the page.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import importlib.util
import io
import json
import os
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from rewardrules.cli import main

from .conftest import ROOT, RULESETS
from .test_report_browser import Opened
from .test_report_browser import browser as browser  # the module's Chromium (re-exported as a fixture)

PLAYGROUND = ROOT / "playground"
#: how long the page may take to load Python and the engine, and to answer
LOAD_MS = 90_000
ANSWER_MS = 30_000
EXAMPLE = "referral_milestones"
FIVE = 'milestone five_referrals "Five converted referrals" {\n  when conversions >= 5'
THREE = 'milestone three_referrals "Three converted referrals" {\n  when conversions >= 3'


def _build_module() -> Any:
    spec = importlib.util.spec_from_file_location("playground_build", PLAYGROUND / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The playground built into a fresh folder and served on 127.0.0.1."""
    if not (PLAYGROUND / "node_modules" / "pyodide" / "pyodide.asm.wasm").is_file():
        pytest.fail("no Pyodide in playground/node_modules: `cd playground && npm ci` (.ci/run does it)")
    out = _build_module().build(tmp_path_factory.mktemp("playground") / "site")
    handler = functools.partial(_Quiet, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class Playground:
    """The page, loaded with everything but 127.0.0.1 cut off, and what it
    said (console, page errors, dialogs) and asked for."""

    def __init__(self, browser: Any, url: str, wait: bool = True) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.outside: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("dialog", self._dialog)
        self.page.goto(url)
        if wait:
            self.settle(LOAD_MS)

    def _route(self, route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    # what the HTML report's test keeps of the console and of dialogs
    _console = Opened._console
    _dialog = Opened._dialog

    def settle(self, timeout: int = ANSWER_MS) -> None:
        """Wait until the engine has answered the last edit."""
        # a selector, not a function: the page's Content Security Policy
        # refuses the `eval` Playwright's wait_for_function would need
        self.page.locator('body[data-busy="false"]').wait_for(state="attached", timeout=timeout)
        assert not self.page.inner_text("#status").startswith("the playground could not start"), self.status

    @property
    def status(self) -> str:
        return str(self.page.inner_text("#status"))

    def text(self, selector: str) -> str:
        return str(self.page.eval_on_selector(selector, "e => 'value' in e ? e.value : e.textContent"))

    def edit(self, selector: str, text: str) -> None:
        self.page.fill(selector, text)
        self.settle()

    def assert_clean(self) -> None:
        assert self.problems == []
        assert self.dialogs == []
        assert self.outside == []


@pytest.fixture(scope="module")
def playground(browser: Any, site: str) -> Iterator[Playground]:
    page = Playground(browser, site)
    page.page.select_option("#example", EXAMPLE)
    page.settle()
    yield page
    page.context.close()


def cli(folder: Path, *args: str) -> str:
    """What `rewardrules ARGS` prints (standard output, then error) in `folder`."""
    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    os.chdir(folder)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main(list(args))
    finally:
        os.chdir(here)
    return out.getvalue() + err.getvalue()


def _files(folder: Path, page: Playground) -> tuple[str, str]:
    """The page's rule file and ledger written to `folder` under the names
    the page gives them; their names."""
    rules, ledger = page.text("#rules-name"), page.text("#ledger-name")
    (folder / rules).write_text(page.text("#rules"), encoding="utf-8")
    (folder / ledger).write_text(page.text("#ledger"), encoding="utf-8")
    return rules, ledger


def _awards_shown(page: Playground) -> list[str]:
    return list(page.page.eval_on_selector_all("#awards tbody tr", "rows => rows.map(r => r.dataset.id)"))


def test_an_edit_gives_the_awards_and_bounds_of_the_cli(playground: Playground, tmp_path: Path) -> None:
    page = playground
    rules = (RULESETS / f"{EXAMPLE}.rules").read_text(encoding="utf-8")
    assert page.text("#rules") == rules
    name, ledger = _files(tmp_path, page)
    before = page.text("#score-json")
    assert before == cli(tmp_path, "score", "--format", "json", name, ledger)
    assert _awards_shown(page) == [a["id"] for a in json.loads(before)["awards"]]
    bounds_before = page.text("#bounds")

    assert FIVE in rules
    page.edit("#rules", rules.replace(FIVE, THREE))
    name, ledger = _files(tmp_path, page)
    after = page.text("#score-json")
    assert after == cli(tmp_path, "score", "--format", "json", name, ledger)
    assert after != before
    awards = json.loads(after)["awards"]
    assert "three_referrals" in {a["milestone"] for a in awards}
    assert "five_referrals" not in {a["milestone"] for a in awards}
    assert _awards_shown(page) == [a["id"] for a in awards]
    assert page.text("#bounds") == cli(tmp_path, "check", "--bounds", name).split("checked 1 file")[0].rstrip()
    assert page.text("#explain") == cli(tmp_path, "explain", name, ledger).rstrip()

    # a bigger gift card: the bounds say so, as `check --bounds` does
    page.edit("#rules", rules.replace(FIVE, THREE).replace("referrer gift_card 50 USD", "referrer gift_card 75 USD"))
    name, _ = _files(tmp_path, page)
    bounds = page.text("#bounds")
    assert bounds != bounds_before
    assert "per referrer: 75.00 USD" in bounds
    assert bounds == cli(tmp_path, "check", "--bounds", name).split("checked 1 file")[0].rstrip()
    page.assert_clean()


def test_a_time_zone_comes_from_tzdata_in_the_page(playground: Playground, tmp_path: Path) -> None:
    """In Pyodide too the zone is read from the bundled tzdata package (a
    name in its list: core.timeutil._zone), so a cap per day in a zone
    gives the command line's awards, and a name that reaches a module of
    the package is RR111 there as here."""
    page = playground
    rules = (RULESETS / f"{EXAMPLE}.rules").read_text(encoding="utf-8")
    head = 'ruleset referral_milestones "Double-sided referral milestones"'
    cap = "  reward referrer gift_card 50 USD\n"
    assert head in rules and cap in rules
    zoned = rules.replace(head, head + ' timezone "America/Edmonton"').replace(
        cap, cap + "  cap referrer 1 rewards per day\n", 1
    )
    page.edit("#rules", zoned)
    name, ledger = _files(tmp_path, page)
    assert page.text("#score-json") == cli(tmp_path, "score", "--format", "json", name, ledger)
    assert page.text("#diagnostics") == cli(tmp_path, "check", name).rstrip()
    page.edit("#rules", zoned.replace("America/Edmonton", "__init__/Zulu"))
    name, _ = _files(tmp_path, page)
    expected = cli(tmp_path, "check", name)
    assert "error[RR111]" in expected
    assert page.text("#diagnostics") == expected.rstrip()
    page.assert_clean()


def test_a_mistake_shows_the_diagnostic_of_check(playground: Playground, tmp_path: Path) -> None:
    page = playground
    rules = (RULESETS / f"{EXAMPLE}.rules").read_text(encoding="utf-8")
    page.edit("#rules", rules.replace("when conversions >= 5", "when conversion >= 5"))
    name, _ = _files(tmp_path, page)
    expected = cli(tmp_path, "check", name)
    assert "error[RR" in expected and "did you mean `conversions`?" in expected
    assert page.text("#diagnostics") == expected.rstrip()
    line = 1 + rules[: rules.index("when conversions >= 5")].count("\n")
    marked = page.page.eval_on_selector_all("#gutter span.error", "spans => spans.map(s => s.textContent)")
    assert marked == [str(line)]
    assert _awards_shown(page) == []
    assert page.text("#bounds") == "(no bounds: the rule file has errors)"
    page.edit("#rules", rules)
    assert page.text("#diagnostics") == "checked 1 file: 0 errors, 0 warnings"
    page.assert_clean()


def test_format_gives_the_text_of_fmt(playground: Playground, tmp_path: Path) -> None:
    page = playground
    rules = (RULESETS / f"{EXAMPLE}.rules").read_text(encoding="utf-8")
    messy = rules.replace("  when", "      when").replace(" = count", "=count")
    page.edit("#rules", messy)
    name, _ = _files(tmp_path, page)
    cli(tmp_path, "fmt", name)
    page.page.click("#format")
    page.settle()
    assert page.text("#rules") == (tmp_path / name).read_text(encoding="utf-8")
    assert page.text("#rules") != messy
    page.assert_clean()


def _share_fragment(content: dict[str, Any]) -> str:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = packer.compress(json.dumps(content).encode("utf-8")) + packer.flush()
    return "#s=" + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def test_a_share_link_restores_the_rules_and_ledger(browser: Any, site: str, playground: Playground) -> None:
    page = playground
    rules = (RULESETS / f"{EXAMPLE}.rules").read_text(encoding="utf-8").replace(FIVE, THREE)
    page.edit("#rules", rules)
    page.edit("#as-of", "2026-02-05T00:00:00Z")
    page.page.click("#share")
    page.page.wait_for_selector("#share-url:not([hidden])")
    link = page.page.input_value("#share-url")
    assert link.startswith(site + "#s=")
    opened = Playground(browser, link)
    try:
        for selector in ("#rules", "#ledger", "#as-of", "#score-json", "#bounds", "#explain"):
            assert opened.text(selector) == page.text(selector), selector
        assert opened.text("#rules-name") == f"{EXAMPLE}.rules"
        opened.assert_clean()
    finally:
        opened.context.close()
    page.assert_clean()
    if os.environ.get("REWARDRULES_SCREENSHOT_PLAYGROUND"):
        page.page.screenshot(path=os.environ["REWARDRULES_SCREENSHOT_PLAYGROUND"])


def test_a_hostile_share_link_runs_nothing(browser: Any, site: str) -> None:
    hostile = "<img src=x onerror=alert(1)>"
    content = {
        "v": 1,
        "name": f"../../{hostile}",
        "rules": f"# {hostile}\n<script>alert(2)</script>\n",
        "ledger_name": "/etc/passwd",
        "ledger": hostile,
        "as_of": "x" * 500,
    }
    opened = Playground(browser, site + _share_fragment(content))
    try:
        assert opened.text("#rules") == content["rules"]
        assert opened.text("#rules-name") == "playground.rules"
        assert opened.text("#ledger-name") == "ledger.jsonl"
        assert len(opened.text("#as-of")) == 100
        assert "error[RR" in opened.text("#diagnostics")
        assert opened.page.query_selector("#diagnostics img, #diagnostics script") is None
        opened.assert_clean()
    finally:
        opened.context.close()
    # refused, and said, before Python has loaded: a link that inflates past
    # the limit, one that is not deflate, one not base64url, one too long
    fragments = (
        _share_fragment({"v": 1, "rules": "#" * 3_000_000}),
        "#s=AAAA-not-deflate",
        "#s=<svg/onload=alert(3)>",
        "#s=" + "A" * 300_000,
        _share_fragment({"v": 1, "rules": ["not", "text"]}),
    )
    for fragment in fragments:
        refused = Playground(browser, site + fragment, wait=False)
        try:
            refused.page.locator("#status", has_text="the shared link could not be read").wait_for()
            assert refused.text("#rules") == _build_module().reference_examples()[0]["rules"]
            refused.assert_clean()
        finally:
            refused.context.close()
