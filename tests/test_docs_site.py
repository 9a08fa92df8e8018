"""The documentation site builds: `mkdocs build --strict` (a broken link or a
page missing from the navigation fails it), with the rule language
highlighted by rewardrules' lexer and nothing loaded from the network."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def _nav_pages(entries: list[object]) -> list[str]:
    pages: list[str] = []
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        if isinstance(value, list):
            pages += _nav_pages(value)
        else:
            pages.append(str(value))
    return pages


def test_every_page_is_in_the_navigation() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    pages = {p.name for p in (ROOT / "docs").glob("*.md")}
    missing = pages - set(_nav_pages(config["nav"]))
    assert missing == set(), f"add these pages to `nav` in mkdocs.yml: {sorted(missing)}"


def test_every_page_is_built(site: Path) -> None:
    for page in (ROOT / "docs").glob("*.md"):
        assert (site / page.with_suffix(".html").name).is_file(), page.name


def test_rule_files_are_highlighted_by_our_lexer(site: Path) -> None:
    html = (site / "cookbook.html").read_text(encoding="utf-8")
    assert '<span class="kd">ruleset</span>' in html
    assert '<span class="nf">paying_customer</span>' in html
    assert '<span class="err">' not in html


def test_the_site_loads_nothing_from_the_network(site: Path) -> None:
    remote = re.compile(r"<(?:script|link|img)\b[^>]*\b(?:src|href)=\"(?:https?:)?//", re.I)
    for page in site.glob("*.html"):
        found = remote.findall(page.read_text(encoding="utf-8"))
        assert found == [], f"{page.name} loads {found}"
