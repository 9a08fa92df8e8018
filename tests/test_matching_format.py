"""`fmt` for matching files: one clause a line, comments kept, the same
rules after formatting, and formatting twice changes nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardrules.cli import main
from rewardrules.match.check import check_text
from rewardrules.match.format import format_text

from .conftest import RULESETS, examples

REFERENCE = RULESETS / "matching" / "fasttrack_matching.rules"
#: A string or a comment (strings first: a `#` in a title is no comment).
TOKENS = re.compile(r'"(?:\\.|[^"\\\n])*"|#[^\n]*')


def comments(text: str) -> list[str]:
    return [m.group().rstrip() for m in TOKENS.finditer(text) if m.group().startswith("#")]


def test_a_messy_file_gets_one_clause_a_line_and_keeps_its_comments() -> None:
    messy = (
        "# head\n"
        'matching   m   "M"   # trailing\n'
        "workload teams workload security\n\n\n"
        "require endorsement ,  # inside\n   location\n"
        "attribute location\n"
        "round   robin by workload,location per quarter tie break partner # end\n"
        "# last\n"
    )
    formatted, found = format_text(messy, "m.rules")
    assert found == []
    assert formatted == (
        "# head\n"
        'matching m "M"  # trailing\n'
        "workload teams\n"
        "workload security\n"
        "\n"
        "# inside\n"
        "require endorsement, location\n"
        "attribute location\n"
        "round robin by workload, location per quarter\n"
        "tie break partner  # end\n"
        "# last\n"
    )


def test_the_reference_program_is_formatted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    assert format_text(text)[0] == text
    assert main(["fmt", "--check", str(REFERENCE)]) == 0
    broken = tmp_path / "broken.rules"
    broken.write_text("matching m\nclaims second\n", encoding="utf-8")
    assert main(["fmt", "--check", str(broken)]) == 1
    assert "error[RR801]: unexpected `second`" in capsys.readouterr().err


def gaps(draw: st.DrawFn, line: str) -> str:
    """The line with each space outside its strings and comment redrawn."""
    parts = []
    last = 0
    for token in TOKENS.finditer(line):
        parts.append(_spread(draw, line[last : token.start()]))
        parts.append(token.group() + ("\n" if token.group().startswith("#") else ""))
        last = token.end()
    parts.append(_spread(draw, line[last:]))
    return "".join(parts)


def _spread(draw: st.DrawFn, text: str) -> str:
    gap = st.sampled_from([" ", "  ", "\n", "\n\n", " # a note\n", "\t"])
    return re.sub(" ", lambda _: draw(gap), text)


@st.composite
def layouts(draw: st.DrawFn) -> str:
    return "\n".join(gaps(draw, line) for line in REFERENCE.read_text(encoding="utf-8").splitlines()) + "\n"


@settings(max_examples=examples(40), deadline=None)
@given(layouts())
def test_formatting_keeps_the_rules_and_the_comments_and_is_idempotent(text: str) -> None:
    formatted, found = format_text(text, "m.rules")
    assert found == [] and formatted is not None
    assert check_text(formatted, "m.rules") == check_text(text, "m.rules")
    assert comments(formatted) == comments(text)
    assert format_text(formatted, "m.rules")[0] == formatted
