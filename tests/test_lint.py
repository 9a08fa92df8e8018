"""House rules as tests: ruff (lint and format) and mypy pass on the code, so
`pytest` is the one command that runs every check."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from .conftest import ROOT


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(ROOT / ".venv" / "bin")) or shutil.which(name)
    if found is None:  # the test extra installs them; not having them is a broken set-up
        pytest.fail(f"`{name}` is not installed: pip install -e '.[test]'")
    return found


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "src", "tests", "benchmarks", "fuzz"],
        ["ruff", "format", "--check", "src", "tests", "benchmarks", "fuzz"],
        ["mypy"],
    ],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_tool_passes(command: list[str]) -> None:
    result = subprocess.run([_tool(command[0]), *command[1:]], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_python_version() -> None:
    assert sys.version_info >= (3, 11)
