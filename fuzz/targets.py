"""What the fuzzers feed: one function per input a user controls.

Each target must end in a result or in the documented user-error exception
(RuleError / LedgerError, and AwardLimitError when a valid rule asks the
probe for more awards than the limits allow); anything else is a bug. Shared by the
coverage-guided fuzzer (fuzz/run_atheris.py) and the mutation tests
(tests/test_fuzz.py).
"""

from __future__ import annotations

import contextlib
from functools import cache
from pathlib import Path

import rewardrules

ROOT = Path(__file__).resolve().parents[1]
#: a small ledger that exercises every reference program's event types
PROBE = [
    '{"id":"r1","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"ann","referee":"bob",'
    '"country":"US","source":"partner"}',
    '{"id":"r2","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"bob","referee":"cat",'
    '"country":"BR","source":"customer"}',
    '{"id":"s1","at":"2026-01-02T00:00:00Z","type":"subscription","referee":"bob","mrr":"1200.50"}',
    '{"id":"p1","at":"2026-01-03T00:00:00+02:00","type":"payment","referee":"bob","amount":150}',
    '{"id":"p2","at":"2026-01-03T00:00:00Z","type":"payment","referee":"cat","amount":"0.10"}',
    '{"id":"x1","at":"2026-01-04T00:00:00Z","type":"refund","referee":"cat","payment":"p2"}',
    '{"id":"u1","at":"2026-01-05T00:00:00Z","type":"purchase","referee":"bob","amount":"120"}',
    '{"id":"g1","at":"2026-01-05T00:00:00Z","type":"signup","referee":"cat"}',
    '{"id":"d1","at":"2026-01-06T00:00:00Z","type":"delivery","referee":"bob"}',
    '{"id":"l1","at":"2026-01-07T00:00:00Z","type":"licenses","referee":"cat","active":350}',
]


def rules(text: str) -> None:
    """Check rule text; if it is valid, compile it and score the probe."""
    diagnostics = rewardrules.check_source(text, "fuzz.rules")
    if any(d.severity.value == "error" for d in diagnostics):
        for diagnostic in diagnostics:
            assert diagnostic.code and diagnostic.message and diagnostic.span is not None
        return
    program = rewardrules.compile(text, "fuzz.rules")
    # the probe may not fit the fuzzed declarations, or ask for too many awards (`every 0.01 mrr`)
    with contextlib.suppress(rewardrules.LedgerError, rewardrules.AwardLimitError):
        program.score(PROBE).to_json()


@cache
def _program(name: str) -> rewardrules.Program:
    return rewardrules.load(ROOT / "rulesets" / f"{name}.rules")


def ledger(text: str, ruleset: str = "partner_and_customer") -> None:
    """Score ledger text with a reference program: a result or a LedgerError."""
    try:
        _program(ruleset).score(text.splitlines()).to_json()
    except rewardrules.LedgerError as error:
        for problem in error.problems:
            assert problem.message and problem.line >= 0
