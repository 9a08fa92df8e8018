"""`rewardrules lsp` on the command line: without the optional pygls it
says how to install it and exits with 2, never a traceback."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from rewardrules.cli import main


def test_without_pygls_it_says_what_to_install(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pygls" else real(name, *a))
    assert main(["lsp"]) == 2
    captured = capsys.readouterr()
    assert captured.err == "rewardrules: error: the language server needs pygls: pip install 'rewardrules[lsp]'\n"
    assert captured.out == ""


def test_it_is_a_listed_subcommand(capsys: Any) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    assert "run the language server" in capsys.readouterr().out
