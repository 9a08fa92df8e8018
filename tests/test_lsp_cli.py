"""`rewardrules lsp` on the command line: without the optional pygls it
says how to install it and exits with 2, never a traceback."""

from __future__ import annotations

import importlib.util
import json
import subprocess
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


def _message(body: dict[str, Any]) -> bytes:
    data = json.dumps(body).encode()
    return b"Content-Length: %d\r\n\r\n" % len(data) + data


_START = _message(
    {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}, "processId": None}}
) + _message({"jsonrpc": "2.0", "method": "initialized", "params": {}})
_SHUTDOWN = _message({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
_EXIT = _message({"jsonrpc": "2.0", "method": "exit"})


def test_the_exit_code_is_the_protocol_s() -> None:
    """0 when the editor asked to shut down before the server ended (then
    `exit`, or its standard input ended), else 1: an `exit` without
    `shutdown`, or standard input ended without it (the editor gone).
    pygls decides the code but its `start_io` dropped it: the command
    exited 0 in every case until 2026-12-07."""
    from .lsp_client import CONFIG

    sessions = {
        "shutdown, exit": _START + _SHUTDOWN + _EXIT,
        "shutdown, the end": _START + _SHUTDOWN,
        "exit": _START + _EXIT,
        "the end": _START,
    }
    started = {
        name: subprocess.Popen(
            CONFIG.server_command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=CONFIG.server_env
        )
        for name in sessions
    }
    try:
        for name, process in started.items():
            process.communicate(sessions[name], timeout=120)
    finally:
        for process in started.values():
            process.kill()
            process.wait()
    codes = {name: process.returncode for name, process in started.items()}
    assert codes == {"shutdown, exit": 0, "shutdown, the end": 0, "exit": 1, "the end": 1}
