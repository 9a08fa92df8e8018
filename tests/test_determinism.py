"""Determinism across processes: the same ruleset, ledger and as-of give the
same bytes whatever the hash seed, the global decimal context, the order of
the ledger's lines or the working directory, in real separate processes."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

from .conftest import GOLDEN, ROOT, RULESETS

PROGRAM = """
import decimal, sys
from rewardrules.cli import main
if sys.argv[1] == "odd-context":
    context = decimal.getcontext()
    context.prec, context.rounding = 5, decimal.ROUND_DOWN
    context.traps[decimal.Inexact] = False
sys.exit(main(sys.argv[2:]))
"""


def run(mode: str, args: list[str], seed: str, cwd: Path) -> bytes:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    out = subprocess.run([sys.executable, "-c", PROGRAM, mode, *args], capture_output=True, env=env, cwd=cwd)
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout


def test_same_bytes_across_processes_seeds_contexts_and_line_order(tmp_path: Path) -> None:
    cases = [
        ("partner_and_customer", "hold_refunds"),
        ("partner_and_customer", "commission_cap"),
        ("referral_milestones", "ten_conversions"),
        ("microsoft_referral", "rounding"),
    ]
    for ruleset, case in cases:
        ledger = GOLDEN / ruleset / f"{case}.jsonl"
        lines = [line for line in ledger.read_text().splitlines() if line.strip()]
        shuffled = tmp_path / f"{case}.shuffled.jsonl"
        random.Random(case).shuffle(lines)
        shuffled.write_text("\n".join(lines) + "\n")
        rules = str(RULESETS / f"{ruleset}.rules")
        outputs = {
            run("plain", ["score", rules, str(ledger), "--format", "json"], "0", ROOT),
            run("plain", ["score", rules, str(ledger), "--format", "json"], "12345", tmp_path),
            run("odd-context", ["score", rules, str(ledger), "--format", "json"], "random", ROOT),
            run("plain", ["score", rules, str(shuffled), "--format", "json"], "4242", ROOT),
        }
        assert len(outputs) == 1, f"{ruleset}/{case} differs between runs"


def test_written_json_is_the_same_bytes_as_to_json() -> None:
    """`score --format json` writes the result piece by piece; the bytes
    must be exactly those of `to_json()`, across many pieces and with text
    outside ASCII (pieces are whole strings, never split characters)."""
    import io

    from rewardrules.api import ScoreResult

    awards = [
        {"id": f"aw_{n}", "beneficiary": f"Zoë-{n} 日本", "amount": f"{n}.50", "why": {"n": [n, None]}}
        for n in range(3000)
    ]
    result = ScoreResult({"ruleset": "déjà", "awards": awards, "totals": []})
    writes: list[bytes] = []

    class Out(io.BytesIO):
        def write(self, data: bytes) -> int:  # type: ignore[override]
            writes.append(data)
            return len(data)

    result.write_json(Out())
    assert len(writes) > 1
    assert b"".join(writes) == result.to_json().encode("utf-8")
