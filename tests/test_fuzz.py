"""Fuzzing: random edits of the shipped rule files and golden ledgers must
end in a diagnostic, a LedgerError or a score, never an uncaught exception;
interesting inputs found so far are kept in tests/fuzz_corpus/ as
regressions; and the coverage-guided atheris targets run briefly in CI."""

from __future__ import annotations

import random
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import GOLDEN, LONG, ROOT, RULESETS, examples

sys.path.insert(0, str(ROOT / "fuzz"))
import targets

CORPUS = ROOT / "tests" / "fuzz_corpus"
#: pieces that make edits meaningful to the grammar, not just noise
TOKENS = [
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ".",
    ":",
    "=",
    "==",
    ">=",
    "<",
    "+",
    "-",
    "*",
    "/",
    "%",
    '"',
    "#",
    "\n",
    " ",
    "0",
    "1.5",
    "99999999999999999999999999999999",
    "USD",
    "MB",
    "days",
    "when",
    "first",
    "each",
    "every",
    "whenever",
    "increases",
    "reward",
    "referrer",
    "referee",
    "cash",
    "item",
    "hold",
    "void",
    "if",
    "where",
    "within",
    "otherwise",
    "metric",
    "milestone",
    "program",
    "event",
    "cap",
    "per",
    "quarter",
    "eligible",
    "message",
    "{{ referee }}",
    "{% if x %}",
    "count",
    "sum",
    "latest",
    "referrals",
    "increase",
    "optional",
    "money",
    "text",
    "time",
    "number",
    "boolean",
    "timezone",
    "not",
    "and",
    "or",
    "in",
    "is set",
    "\x00",
    "é",
    "\ufeff",
    "\\",
    "'",
]
JSON_TOKENS = [
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    '"',
    "null",
    "true",
    "1e400",
    "-0",
    "0.1",
    '"2026-13-01T00:00:00Z"',
    '"2026-01-01T00:00:00"',
    '"id"',
    '"at"',
    '"type"',
    '"referral"',
    '"payment"',
    '"amount"',
    "\n",
    "\\u0000",
    '"\\ud800"',
    "9" * 40,
]


def mutate(text: str, rng: random.Random, tokens: list[str]) -> str:
    """One to three random edits: delete, duplicate, insert a token, swap."""
    for _ in range(rng.randint(1, 3)):
        if not text:
            text = rng.choice(tokens)
            continue
        i = rng.randrange(len(text))
        j = min(len(text), i + rng.randint(1, 12))
        op = rng.randrange(4)
        if op == 0:
            text = text[:i] + text[j:]
        elif op == 1:
            text = text[:j] + text[i:j] + text[j:]
        elif op == 2:
            text = text[:i] + rng.choice(tokens) + text[i:]
        else:
            k = rng.randrange(len(text))
            text = text[:i] + text[k : k + (j - i)] + text[j:]
    return text


RULE_FILES = sorted(RULESETS.glob("*.rules"))
LEDGERS = sorted(GOLDEN.glob("*/*.jsonl"))


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.stem)
def test_mutated_rule_files_end_in_diagnostics_or_scores(path: Path) -> None:
    rng = random.Random(f"rules:{path.stem}")  # seeded: the same cases every run
    text = path.read_text()
    for _ in range(examples(150)):
        case = mutate(text, rng, TOKENS)
        try:
            targets.rules(case)
        except Exception:  # pragma: no cover - keep the case, then fail
            (CORPUS / f"rules-{path.stem}-{rng.randrange(10**9)}.rules").write_text(case)
            raise


@pytest.mark.parametrize("path", LEDGERS[::3], ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_mutated_ledgers_end_in_errors_or_scores(path: Path) -> None:
    rng = random.Random(f"ledger:{path}")
    text = path.read_text()
    for _ in range(examples(100)):
        case = mutate(text, rng, JSON_TOKENS)
        try:
            targets.ledger(case, path.parent.name)
        except Exception:  # pragma: no cover
            (CORPUS / f"ledger-{path.parent.name}-{rng.randrange(10**9)}.jsonl").write_text(case)
            raise


CORPUS_CASES = sorted(p for p in CORPUS.iterdir() if p.suffix in (".rules", ".jsonl"))


@pytest.mark.parametrize("path", CORPUS_CASES, ids=lambda p: p.name)
def test_corpus_regressions(path: Path) -> None:
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".rules":
        targets.rules(text)
    else:
        targets.ledger(text)


def test_corpus_is_not_empty() -> None:
    assert len(CORPUS_CASES) >= 4


@pytest.mark.parametrize("target", ["rules", "ledger"])
def test_coverage_guided_fuzzer_runs_briefly(target: str, tmp_path: Path) -> None:
    """A short atheris run: a fixed count of inputs by default, five minutes
    in the long run (docs/reliability.md).

    libFuzzer reads its memory as the process's peak resident size, which
    Linux carries across `fork` and `execve`: started from a test worker
    that had held 2.7 GB (Spark's and DuckDB's tests), the fuzzer counted
    that as its own and stopped at once with "out-of-memory" (limit 2 GB).
    Its limit is that peak plus the 2 GB it allows itself. A case it finds
    is written to `tmp_path`, never into the working directory (the clone)."""
    inherited = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # KiB on Linux
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "fuzz" / "run_atheris.py"),
            target,
            *(["-max_total_time=300"] if LONG else ["-runs=500", "-max_total_time=120"]),
            "-print_final_stats=1",
            f"-rss_limit_mb={inherited + 2048}",
            f"-artifact_prefix={tmp_path}/",
            str(tmp_path / "corpus"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Done" in run.stderr
