"""What the playground runs in the browser imports nothing Pyodide lacks.

Pyodide (the playground's Python, docs/playground.md) ships no pydantic
core, no msgspec and no DuckDB. `check`, `check --bounds`, `fmt`, `score`
and `explain` must run without them and print, byte for byte, what they
print with them: a subprocess refuses those imports and its output is
compared with the normal CLI's.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import GOLDEN, ROOT, RULESETS

#: The compiled packages Pyodide's npm package does not ship, and the ones
#: only they bring.
ABSENT = ("pydantic", "pydantic_core", "msgspec", "orjson", "duckdb", "sqlglot", "pygls", "pygments", "annotated_types")

BLOCKED_CLI = f"""
import importlib.abc, sys

class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.partition(".")[0] in {ABSENT!r}:
            raise ImportError(f"No module named {{name!r}}")

sys.meta_path.insert(0, Absent())
from rewardrules.cli import main
code = main(sys.argv[1:])
loaded = sorted({{m.partition(".")[0] for m in sys.modules}} & set({ABSENT!r}))
assert not loaded, loaded
sys.exit(code)
"""


def _run(args: list[str], blocked: bool) -> subprocess.CompletedProcess[bytes]:
    command = [sys.executable, "-c", BLOCKED_CLI] if blocked else [sys.executable, "-m", "rewardrules"]
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"}
    return subprocess.run([*command, *args], cwd=ROOT, env=env, capture_output=True, timeout=120, check=False)


def _ledger(name: str) -> str:
    return str(sorted((GOLDEN / name).glob("*.jsonl"))[-1].relative_to(ROOT))


CASES = [
    ["check", "--bounds", "--strict", "rulesets/referral_milestones.rules"],
    ["check", "--format", "json", "rulesets/partner_and_customer.rules"],
    ["score", "--format", "json", "rulesets/referral_milestones.rules", _ledger("referral_milestones")],
    ["score", "rulesets/partner_and_customer.rules", _ledger("partner_and_customer")],
    ["explain", "rulesets/microsoft_referral.rules", _ledger("microsoft_referral")],
]


@pytest.mark.parametrize("args", CASES, ids=lambda a: "-".join(Path(x).stem for x in a[:1] + a[-2:]))
def test_the_browsers_commands_need_no_compiled_package(args: list[str]) -> None:
    assert (RULESETS / "referral_milestones.rules").exists()
    blocked, normal = _run(args, blocked=True), _run(args, blocked=False)
    assert blocked.returncode == normal.returncode, blocked.stderr.decode()
    assert blocked.stdout == normal.stdout
    assert blocked.stderr == normal.stderr
    assert normal.stdout


def test_fmt_reads_the_same_without_them(tmp_path: Path) -> None:
    messy = tmp_path / "messy.rules"
    text = (RULESETS / "referral_milestones.rules").read_text(encoding="utf-8")
    messy.write_text(text.replace("  when", "      when").replace(" = count", "=count"), encoding="utf-8")
    args = ["fmt", "--diff", str(messy)]
    blocked, normal = _run(args, blocked=True), _run(args, blocked=False)
    assert normal.returncode == 1
    assert b"+  when conversions >= 5" in normal.stdout
    assert (blocked.returncode, blocked.stdout, blocked.stderr) == (normal.returncode, normal.stdout, normal.stderr)


def test_a_ledger_mistake_reads_the_same_without_msgspec(tmp_path: Path) -> None:
    """Without the fast decoder every line goes to the exact one: a bad
    line's problem (line and field) is the same."""
    ledger = tmp_path / "bad.jsonl"
    ledger.write_text(
        '{"id":"r1","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"a","referee":"b"}\n'
        '{"id":"p1","at":"2026-01-02T00:00:00Z","type":"payment","referee":"b","amount":1e999999999}\n'
        '{"id":"p2","at":"2026-01-02T00:00:00Z","type":"payment","referee":"b","amount":"x"\n',
        encoding="utf-8",
    )
    args = ["score", "rulesets/referral_milestones.rules", str(ledger)]
    blocked, normal = _run(args, blocked=True), _run(args, blocked=False)
    assert normal.returncode == 2
    assert (blocked.returncode, blocked.stdout, blocked.stderr) == (normal.returncode, normal.stdout, normal.stderr)
