"""Fixes from the second review of this round: names with joiners print as
they are, the award-limit error keeps its help on a line of its own, a
decimal comma is not taken for a thousands separator, and `path=` takes a
`Path` as `load` does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import rewardrules
from rewardrules.formatting import printable, printable_patch_line
from rewardrules.htmlreport import render_html

from .conftest import RULESETS

FAMILY = "👨\u200d👩\u200d👧"
PERSIAN = "می\u200cخواهم"
FLAG = "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"


@pytest.mark.parametrize("text", [FAMILY, PERSIAN, FLAG, f"José {FAMILY} 東京"])
def test_joiners_and_emoji_tags_are_text_not_escapes(text: str) -> None:
    assert printable(text) == text
    assert printable_patch_line(text + "\n") == text + "\n"


@pytest.mark.parametrize("char", ["\u202e", "\u200b", "\ufeff", "\u061c", "\x1b", "\u2028"])
def test_what_moves_or_hides_text_is_still_escaped(char: str) -> None:
    assert char not in printable(f"a{char}b")


def test_the_award_limit_error_keeps_its_help_on_its_own_line(tmp_path: Path) -> None:
    rules = tmp_path / "e.rules"
    rules.write_text(
        "ruleset e\nevent payment { amount: money USD }\nmetric paid = sum payment.amount\n"
        'milestone step "Step" {\n  every 1 paid\n  reward referrer cash 1 USD\n}\n',
        encoding="utf-8",
    )
    ledger = tmp_path / "e.jsonl"
    ledger.write_text(
        '{"id":"r","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"a","referee":"b"}\n'
        '{"id":"p1","at":"2026-01-02T00:00:00Z","type":"payment","referee":"b","amount":"150.00"}\n',
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "rewardrules", "score", str(rules), str(ledger)], capture_output=True, text=True
    )
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[0].startswith("rewardrules: error: event `p1` would give 150 awards")
    assert lines[1].startswith("     = help: ")
    assert "\\n" not in done.stderr


@pytest.mark.parametrize(
    ("number", "hint"),
    [
        ("2,50", "numbers are written with a decimal point: `2.50`"),
        ("1,5", "numbers are written with a decimal point: `1.5`"),
        ("1,000", "numbers are written without thousands separators: `1000`"),
        ("1,000,000.50", "numbers are written without thousands separators: `1000000.50`"),
    ],
)
def test_a_decimal_comma_is_not_taken_for_a_thousands_separator(number: str, hint: str) -> None:
    text = f'ruleset c\nevent payment {{ amount: money EUR }}\nmilestone m "M" {{\n  first payment\n  reward referrer cash {number} EUR\n}}\n'
    [problem] = rewardrules.check_source(text)
    assert problem.help == hint


def test_path_arguments_take_a_path_as_load_does(tmp_path: Path) -> None:
    path = RULESETS / "zoom.rules"
    text = path.read_text(encoding="utf-8")
    program = rewardrules.compile(text, path)
    assert rewardrules.check_source(text, path) == []
    ledger = [
        '{"id":"r","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"a","referee":"b"}',
        "not json",
    ]
    for score in (program.score, program.score_stream):
        with pytest.raises(rewardrules.LedgerError) as caught:
            score(ledger, path=tmp_path / "named.jsonl")
        assert "named.jsonl:2:" in str(caught.value)
    result = program.score(ledger[:1])
    assert "named.jsonl" in render_html(program, result.data, ledger=tmp_path / "named.jsonl")
    with pytest.raises(TypeError, match="path must be str or PathLike, not int"):
        program.score(ledger[:1], path=5)
