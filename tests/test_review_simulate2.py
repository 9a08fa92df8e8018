"""Review of `simulate --ledger L --sample SIZE` (docs/simulate.md): a
ledger line the sample reads before the scorer does is untrusted input too.
Whatever it holds, the sample is drawn and the scorer reports the line
(exit 2, its line named), never a Python traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rewardrules.cli import main
from rewardrules.simulate.sample import sample_lines

from .conftest import RULESETS

RULES = RULESETS / "referral_milestones.rules"


def _ledger(tmp_path: Path, referrers: list[str], extra: str = "") -> Path:
    lines = [
        json.dumps(
            {"id": f"r{n}", "at": f"2026-01-01T0{n}:00:00Z", "type": "referral", "referrer": name, "referee": f"b{n}"}
        )
        for n, name in enumerate(referrers)
    ]
    path = tmp_path / "ledger.jsonl"
    path.write_text(extra + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_referrer_named_with_a_lone_surrogate_is_sampled_and_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the JSON escape \ud800 decodes to a lone surrogate, which UTF-8 cannot encode
    ledger = _ledger(tmp_path, ["al\\ud800ice"])
    ledger.write_text(ledger.read_text(encoding="utf-8").replace("\\\\ud800", "\\ud800"), encoding="utf-8")
    assert "\\ud800" in ledger.read_text(encoding="utf-8")
    lines, sample = sample_lines(ledger.read_bytes().splitlines(), 1, 0)
    assert (sample.size, sample.of) == (1, 1)
    assert lines == ledger.read_bytes().splitlines()
    code = main(["simulate", str(RULES), "--ledger", str(ledger), "--sample", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert "ledger.jsonl:1: error: field `referrer`" in err and "unpaired surrogate" in err
    assert "Traceback" not in err


def test_the_sample_is_the_same_whatever_surrogates_in_other_names(tmp_path: Path) -> None:
    names = [f"p{n}" for n in range(6)] + ["x\ud800"]
    lines = [
        json.dumps({"type": "referral", "referrer": name, "referee": f"e{n}"}).encode() for n, name in enumerate(names)
    ]
    first = sample_lines(lines, 3, 7)[0]
    second = sample_lines(list(reversed(lines)), 3, 7)[0]
    assert sorted(line for line in first if line) == sorted(line for line in second if line)


def test_a_line_nested_too_deep_is_left_to_the_scorer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = _ledger(tmp_path, ["alice", "bob"], extra="[" * 100_000 + "\n")
    lines, sample = sample_lines(ledger.read_bytes().splitlines(), 1, 0)
    assert lines[0] == b"[" * 100_000 and (sample.size, sample.of) == (1, 2)
    code = main(["simulate", str(RULES), "--ledger", str(ledger), "--sample", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert "ledger.jsonl:1: error: invalid JSON: nested too deeply" in err
    assert "Traceback" not in err
