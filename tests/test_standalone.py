"""The repository stands alone: a clone with nothing beside it builds, tests
and documents itself. Nothing in the project reads or links the material
that sits next to the repository on the developers' machines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import ROOT

# Built from parts so that this file does not name what it looks for.
_SIBLING = re.compile(re.escape("..") + r"""["']?\s*[/\\]+\s*["']?""" + "shared" + r"\b")

#: Everything a user's clone runs or reads: code, tests, docs, CI, packaging.
_CHECKED = ["src", "tests", "docs", "benchmarks", "fuzz", "examples", "rulesets", "grammar", ".ci"]
_CHECKED_FILES = ["README.md", "pyproject.toml", "mkdocs.yml", ".pre-commit-hooks.yaml"]


def _project_files() -> list[Path]:
    files = [ROOT / name for name in _CHECKED_FILES]
    for folder in _CHECKED:
        files += [p for p in sorted((ROOT / folder).rglob("*")) if p.is_file() and "__pycache__" not in p.parts]
    return files


def _mentions(path: Path) -> list[int]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return []
    return [number for number, line in enumerate(text.splitlines(), 1) if _SIBLING.search(line)]


def test_the_pattern_finds_what_it_looks_for() -> None:
    """The guard below would pass vacuously if the pattern never matched."""
    assert _SIBLING.search("see " + ".." + "/shared/PROGRAMS.md")
    assert _SIBLING.search('Path(__file__).parents[1] / ".." / "' + 'shared"')
    assert not _SIBLING.search("shared state, " + ".." + "/sharedstate")


def test_nothing_reads_or_links_outside_the_repository() -> None:
    found = {str(p.relative_to(ROOT)): lines for p in _project_files() if (lines := _mentions(p))}
    assert found == {}, f"files that name the developers' sibling folder (file: lines): {found}"


@pytest.mark.parametrize("name", ["LICENSE", "charge.refunded.json", "invoice.json"])
def test_the_stripe_payloads_ship_with_their_licence(name: str) -> None:
    """The real Stripe payloads the tests read are in the repository, MIT
    licensed by their authors, with the licence beside them."""
    folder = ROOT / "tests" / "fixtures" / "stripe" / "pay-rails"
    assert (folder / name).is_file()
    assert "Permission is hereby granted, free of charge" in (folder / "LICENSE").read_text(encoding="utf-8")


def test_the_readme_links_the_contract() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/contract.md)" in readme
    assert (ROOT / "docs" / "contract.md").is_file()
