"""The playground's Python side, run by Pyodide in the browser.

Every answer is the CLI's own: the page's rule file and ledger are written
to Pyodide's in-memory file system and `rewardrules.cli.main` runs `check`,
`check --bounds`, `fmt`, `score --format json` and `explain` on them, its
standard output and error captured. So the page shows what a terminal
would, byte for byte (tests/test_playground_browser.py compares them).
Answers go back to the page as JSON text.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from typing import Any

from rewardrules.cli import main

WORK = "/home/pyodide/playground"
#: what a name from the page (an example's, or a share's) may look like
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,80}\Z")
os.makedirs(WORK, exist_ok=True)
os.chdir(WORK)


def _cli(argv: list[str]) -> dict[str, Any]:
    """Run one command: its exit code, standard output and error."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as stop:  # argparse's refusals
            code = stop.code if isinstance(stop.code, int) else 2
    return {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


def _name(name: str, suffix: str, default: str) -> str:
    """A file name for the page's text: its example's name when it is a
    plain one, else `default` (a shared link's name is untrusted)."""
    stem = name[: -len(suffix)] if name.endswith(suffix) else name
    return f"{stem}{suffix}" if _NAME.match(stem) else f"{default}{suffix}"


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="") as file:
        file.write(text)


def analyse(name: str, rules: str, ledger_name: str, ledger: str, as_of: str, strict: bool) -> str:
    """Check the rule file (diagnostics as text and as records, bounds
    when it has no error) and, when it has none, score and explain the
    ledger as of `as_of` (empty: the last event)."""
    rules_path = _name(name, ".rules", "playground")
    ledger_path = _name(ledger_name, ".jsonl", "ledger")
    _write(rules_path, rules)
    _write(ledger_path, ledger)
    flags = ["--strict"] if strict else []
    answer: dict[str, Any] = {"rules_path": rules_path, "ledger_path": ledger_path}
    answer["check"] = _cli(["check", *flags, rules_path])
    report = _cli(["check", "--format", "json", *flags, rules_path])
    records = json.loads(report["stdout"]) if report["stdout"] else {"diagnostics": [], "errors": 1}
    answer["diagnostics"] = records["diagnostics"]
    if records["errors"]:
        return json.dumps(answer)
    answer["bounds"] = _cli(["check", "--bounds", rules_path])
    if ledger.strip():
        when = ["--as-of", as_of] if as_of.strip() else []
        answer["score"] = _cli(["score", "--format", "json", rules_path, ledger_path, *when])
        if answer["score"]["code"] == 0:
            answer["explain"] = _cli(["explain", rules_path, ledger_path, *when])
    return json.dumps(answer)


def fmt(name: str, rules: str) -> str:
    """`fmt` the rule file: the formatted text, or the command's complaint
    (a syntax error leaves the text as it is)."""
    path = _name(name, ".rules", "playground")
    _write(path, rules)
    done = _cli(["fmt", path])
    with open(path, encoding="utf-8", newline="") as file:
        done["text"] = file.read()
    return json.dumps(done)
