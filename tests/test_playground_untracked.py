"""playground/build.py refuses to build the wheel while files git does not
know lie in `src/rewardrules`: hatchling would pack them, and the page
would serve them (found by the review: an untracked `.env` went in)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .test_playground_browser import _build_module


def _git(folder: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True)


def test_an_untracked_file_in_the_package_stops_the_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build = _build_module()
    package = tmp_path / "src" / "rewardrules"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (tmp_path / ".gitignore").write_text("__pycache__/\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    (package / "secrets.env").write_text("TOKEN=1\n")
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "x.pyc").write_text("")  # ignored: never listed
    monkeypatch.setattr(build, "ROOT", tmp_path)
    assert build._untracked() == ["src/rewardrules/secrets.env"]
    with pytest.raises(SystemExit, match=r"secrets\.env"):
        build._build_wheel(tmp_path / "out")
