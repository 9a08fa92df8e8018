"""The docs stay true: every `rules` block in docs/ and the README is a
valid rule file, and every diagnostic code is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import rewardrules
from rewardrules.diagnostics import CODES

from .conftest import ROOT

DOCS = sorted((ROOT / "docs").glob("*.md"))
BLOCK = re.compile(r"```rules\n(.*?)```", re.S)
SNIPPETS = [(path, i, text) for path in DOCS for i, text in enumerate(BLOCK.findall(path.read_text()), 1)]


@pytest.mark.parametrize(("path", "index", "text"), SNIPPETS, ids=[f"{p.name}#{i}" for p, i, _ in SNIPPETS])
def test_rule_snippet_checks_clean(path: Path, index: int, text: str) -> None:
    diagnostics = rewardrules.check_source(text, f"{path.name}#{index}")
    assert diagnostics == [], "\n".join(str(d) for d in diagnostics)


def test_snippets_exist() -> None:
    assert len(SNIPPETS) >= 6


def test_readme_example_checks_clean() -> None:
    text = (ROOT / "README.md").read_text()
    first = re.search(r"```\n(# Revenue.*?)```", text, re.S)
    assert first is not None
    assert rewardrules.check_source(first.group(1)) == []


def test_every_diagnostic_code_is_documented() -> None:
    text = (ROOT / "docs" / "errors.md").read_text()
    missing = [code for code in CODES if f"`{code}`" not in text]
    assert missing == []


def test_ci_runs_the_readme_test_command() -> None:
    """CI must run exactly what the README tells a newcomer to run."""
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```sh\n(.*?)\n```", readme.split("## Quickstart")[1].split("\n## ")[0], re.S)
    assert len(commands) == 2, commands
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci[-1] == commands[1]
