"""The `referrers` section of `score --engine duckdb` reads the first
program's eligibility, so a later program's per-referrer milestone or
metric would be left out of it (found in review: the engine listed the
referrer in both programs, DuckDB in one, exit 0). Such files are refused
when explaining, at the line, and scored the same with `--no-explain`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import rewardrules
from rewardrules.sql.compile import Unsupported, compile_query
from rewardrules.sql.sections import compile_explained

from .test_sql_backend import duckdb_json, python_json

RULES = """\
ruleset tl
event referral {}
event purchase { amount: number }
metric total = sum purchase.amount
program a {
  metric friends = count referrals
  milestone m {
    each purchase where total > 1 and friends > 0
    reward referrer cash 1 USD
  }
}
program b {
  %s
  milestone n {
    %s
    reward referrer cash 1 USD
  }
}
"""

LEDGER = [
    '{"id":"r1","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"ann","referee":"bob"}',
    '{"id":"r2","at":"2026-01-02T00:00:00Z","type":"referral","referrer":"ann","referee":"cat"}',
    '{"id":"p1","at":"2026-01-03T00:00:00Z","type":"purchase","referee":"bob","amount":2}',
    '{"id":"p2","at":"2026-01-04T00:00:00Z","type":"purchase","referee":"cat","amount":3}',
]


@pytest.mark.parametrize(
    ("metric", "trigger", "where"),
    [
        ("metric cnt = count referrals", "when cnt >= 1", (15, 5)),
        ("metric cnt = count referrals", "when cnt >= 2", (15, 5)),
    ],
)
def test_a_later_programs_referrer_terms_are_refused_when_explaining(
    tmp_path: Path, metric: str, trigger: str, where: tuple[int, int]
) -> None:
    path = tmp_path / "two.rules"
    path.write_text(RULES % (metric, trigger), encoding="utf-8")
    prog = rewardrules.load(path)
    with pytest.raises(Unsupported) as refused:
        compile_explained(prog.compiled)
    assert "per-referrer milestones in a program after the first" in refused.value.construct
    span = refused.value.span
    assert span is not None and (span.line, span.column) == where
    compile_query(prog.compiled)  # the awards alone compile
    assert duckdb_json(prog, LEDGER, None) == python_json(prog, LEDGER, None)


def test_a_later_programs_referrer_metric_alone_is_explained(tmp_path: Path) -> None:
    """A per-referrer metric in a later program whose milestones are all
    per referral: the engine lists no referrer for that program, nor does
    the query (not refused)."""
    path = tmp_path / "two.rules"
    path.write_text(RULES % ("metric cnt = count referrals", "each purchase where total > 2"), encoding="utf-8")
    prog = rewardrules.load(path)
    expected = prog.score(LEDGER).to_json()
    assert [(r["referrer"], r["program"]) for r in json.loads(expected)["referrers"]] == [("ann", "a")]
    assert _explained(prog, tmp_path) == expected


def _explained(prog: rewardrules.Program, folder: Path) -> str:
    """`score --engine duckdb`'s explained output (the default)."""
    ledger = folder / "ledger.jsonl"
    ledger.write_text("".join(line + "\n" for line in LEDGER), encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "rewardrules",
            "score",
            "--engine",
            "duckdb",
            "--format",
            "json",
            str(prog_path(folder)),
            str(ledger),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def prog_path(folder: Path) -> Path:
    return folder / "two.rules"
