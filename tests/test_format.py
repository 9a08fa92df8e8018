"""The formatter (`rewardrules fmt`, src/rewardrules/format.py).

* identity fixtures: files already in the canonical layout (every reference
  ruleset, tests/fixtures/format/*.rules and every expected output) come out
  byte for byte;
* input/expected pairs: tests/fixtures/format/NAME.in.rules -> NAME.out.rules;
* tables for parentheses, numbers and strings;
* properties over generated programs (tests/strategies.py): formatting keeps
  the AST and every comment, is idempotent, and `check` never raises;
* the command line: rewriting, --check, --diff and the exit codes.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from rewardrules import ast
from rewardrules.check import check_text
from rewardrules.cli import main
from rewardrules.core.formatting import quoted
from rewardrules.format import find_comments, format_expr, format_file, format_text, number, quote
from rewardrules.parse import parse
from rewardrules.source import Source

from .conftest import ROOT, RULESETS, examples
from .strategies import rule_files

FIXTURES = ROOT / "tests" / "fixtures" / "format"
PAIRS = sorted(FIXTURES.glob("*.in.rules"))
IDENTITY = sorted(
    [*RULESETS.glob("*.rules"), *(p for p in FIXTURES.glob("*.rules") if not p.name.endswith(".in.rules"))]
)
PROPERTIES = settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fmt(text: str) -> str:
    formatted, diagnostics = format_text(text, "<test>")
    assert formatted is not None, diagnostics
    return formatted


def tree(text: str) -> ast.RuleFile:
    parsed, diagnostics = parse(Source("<test>", text))
    assert parsed is not None, diagnostics
    return parsed


def comments(text: str) -> Counter[str]:
    """The comments of a file, as the formatter writes them (trailing spaces dropped)."""
    return Counter(c.text for c in find_comments(text))


# ---------------------------------------------------------------------------
# fixtures


@pytest.mark.parametrize("path", IDENTITY, ids=[f"{p.parent.name}/{p.name}" for p in IDENTITY])
def test_canonical_file_is_unchanged(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert fmt(text).splitlines() == text.splitlines()  # line by line, for a readable failure
    assert fmt(text) == text


@pytest.mark.parametrize("path", PAIRS, ids=[p.name.removesuffix(".in.rules") for p in PAIRS])
def test_input_formats_to_expected(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    expected = path.with_name(path.name.replace(".in.rules", ".out.rules")).read_text(encoding="utf-8")
    assert fmt(source).splitlines() == expected.splitlines()
    assert fmt(source) == expected
    assert tree(expected) == tree(source)
    assert comments(expected) == comments(source)


def test_fixtures_exist() -> None:
    assert {p.name.removesuffix(".in.rules") for p in PAIRS} >= {"comments", "parens", "lists", "spacing"}
    assert len(IDENTITY) >= 12 + len(PAIRS) + 1


# ---------------------------------------------------------------------------
# expressions, numbers, strings

PARENS = [
    ("(a + b) * c", "(a + b) * c"),
    ("a - (b - c)", "a - (b - c)"),
    ("(a - b) - c", "a - b - c"),
    ("a + (b * c)", "a + b * c"),
    ("a / (b * c)", "a / (b * c)"),
    ("(a / b) * c", "a / b * c"),
    ("((((a))))", "a"),
    ("-(a + b)", "-(a + b)"),
    ("-(a * b)", "-(a * b)"),
    ("-(-a)", "--a"),
    ("-(5)", "-5"),
    ("-(5 USD) * 2", "-5 USD * 2"),
    ("15% of (a + b)", "15% of (a + b)"),
    ("(15% of a) * b", "15% of a * b"),
    ("15% of (-a)", "15% of -a"),
    ("a or (b or c)", "a or (b or c)"),
    ("(a or b) or c", "a or b or c"),
    ("a or (b and c)", "a or b and c"),
    ("(a or b) and c", "(a or b) and c"),
    ("not (a and b)", "not (a and b)"),
    ("not (a > b)", "not a > b"),
    ("(not a) and b", "not a and b"),
    ("(a > b) == true", "(a > b) == true"),
    ("(a + 1) > (b * 2)", "a + 1 > b * 2"),
    ("(a + 1) in [(1), (2 + 3), (a or b)]", "a + 1 in [1, 2 + 3, a or b]"),
    ("(a in [1]) in [true]", "(a in [1]) in [true]"),
    ("(a is set) is not set", "(a is set) is not set"),
    ("(a.b - 1) is not set", "a.b - 1 is not set"),
]


@pytest.mark.parametrize(("written", "expected"), PARENS, ids=[w for w, _ in PARENS])
def test_expression_keeps_only_needed_parentheses(written: str, expected: str) -> None:
    body = tree(f"metric x = {written}").metrics[0].body
    assert format_expr(body) == expected  # type: ignore[arg-type]
    assert tree(f"metric x = {expected}") == tree(f"metric x = {written}")


@pytest.mark.parametrize("word", ["count", "sum", "latest", "max", "min", "first"])
def test_metric_starting_with_an_aggregate_word_keeps_parentheses(word: str) -> None:
    text = f"metric x = ({word}) * 2\n"
    assert fmt(text) == f"metric x = ({word} * 2)\n"
    assert tree(fmt(text)) == tree(text)


NUMBERS = [("1000", "1000"), ("2.50", "2.50"), ("0.0000001", "0.0000001"), ("007", "7"), ("0.000", "0.000")]


@pytest.mark.parametrize(("written", "expected"), NUMBERS, ids=[w for w, _ in NUMBERS])
def test_numbers_are_written_as_their_decimal(written: str, expected: str) -> None:
    assert number(Decimal(written)) == expected
    assert fmt(f"cap referrer {written} USD") == f"cap referrer {expected} USD\n"


def test_numbers_are_never_in_scientific_notation() -> None:
    assert number(Decimal("1E+3")) == "1000"
    assert number(Decimal("1E-9")) == "0.000000001"


STRINGS = [
    ('"plain"', '"plain"'),
    ('"\\u00e9t\\u00e9"', '"été"'),
    ('"tab\\there"', '"tab\\there"'),
    ('"quote \\" and \\\\"', '"quote \\" and \\\\"'),
    ('"\\/"', '"/"'),
    ('"lone \\ud800"', '"lone \\ud800"'),
    ('"unknown escape \\q"', '"unknown escape \\\\q"'),
]


@pytest.mark.parametrize(("written", "expected"), STRINGS, ids=[w for w, _ in STRINGS])
def test_strings_are_requoted_with_json_escapes(written: str, expected: str) -> None:
    text = f"unit u {written}"
    assert fmt(text) == f"unit u {expected}\n"
    assert tree(fmt(text)) == tree(text)


def test_quote_escapes_a_lone_surrogate() -> None:
    assert quote("a\ud800") == '"a\\ud800"'
    fmt("unit u " + quote("a\ud800")).encode("utf-8")  # writable as UTF-8


# ---------------------------------------------------------------------------
# layout details


def test_declarations_keep_their_order() -> None:
    text = "milestone m { reward referrer cash 1 USD  first payment }\nevent payment\nruleset late\n"
    assert fmt(text) == (
        "milestone m {\n  reward referrer cash 1 USD\n  first payment\n}\n\nevent payment\n\nruleset late\n"
    )


def test_one_line_declarations_of_one_kind_stay_together() -> None:
    text = "metric a = 1 metric b = 2 # b\nunit x unit y\n# z is apart\nunit z"
    assert fmt(text) == "metric a = 1\nmetric b = 2  # b\n\nunit x\nunit y\n\n# z is apart\nunit z\n"


def test_empty_file_and_comment_only_file() -> None:
    assert fmt("") == ""
    assert fmt("  \n\n") == ""
    assert fmt("# only\n\n\n# comments   \n") == "# only\n\n# comments\n"


def test_line_endings_become_newlines() -> None:
    assert fmt("unit a # one\r\nunit b\r\n") == "unit a  # one\nunit b\n"


def test_several_comments_for_one_line_move_above_it() -> None:
    text = "event e {\n  a: number # one\n} # two\n"
    assert fmt(text) == "# one\n# two\nevent e { a: number }\n"
    assert fmt(fmt(text)) == fmt(text)


def test_format_file_prints_an_ast_without_comments() -> None:
    text = (RULESETS / "partner_and_customer.rules").read_text(encoding="utf-8")
    printed = format_file(tree(text))
    assert tree(printed) == tree(text)
    assert "#" not in printed


def test_syntax_error_gives_diagnostics_not_text() -> None:
    formatted, diagnostics = format_text("metric x = \n", "bad.rules")
    assert formatted is None
    assert [d.code for d in diagnostics] == ["RR003"]


# ---------------------------------------------------------------------------
# properties over generated programs


@PROPERTIES
@given(rule_files())
def test_format_keeps_the_ast_and_every_comment(text: str) -> None:
    formatted = fmt(text)
    assert tree(formatted) == tree(text)
    assert comments(formatted) == comments(text)


@PROPERTIES
@given(rule_files())
def test_format_is_idempotent(text: str) -> None:
    formatted = fmt(text)
    assert fmt(formatted) == formatted


@settings(PROPERTIES, max_examples=examples(60))
@given(rule_files())
def test_check_never_raises_and_reports_the_same_after_format(text: str) -> None:
    _, diagnostics = check_text(text)
    _, after = check_text(fmt(text))
    assert Counter(d.code for d in after) == Counter(d.code for d in diagnostics)


# ---------------------------------------------------------------------------
# command line

MESSY = "event signup\nmilestone m {first signup reward referrer cash 5 USD}  # done\n"
TIDY = "event signup\n\nmilestone m {\n  first signup\n  reward referrer cash 5 USD\n}  # done\n"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "messy.rules").write_text(MESSY, encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "tidy.rules").write_text(TIDY, encoding="utf-8")
    (tmp_path / "notes.txt").write_text(MESSY, encoding="utf-8")
    return tmp_path


def test_fmt_rewrites_files_below_a_folder(capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    code, out, err = run_cli(capsys, "fmt", folder)
    assert code == 0
    assert (folder / "messy.rules").read_text(encoding="utf-8") == TIDY
    assert (folder / "sub" / "tidy.rules").read_text(encoding="utf-8") == TIDY
    assert (folder / "notes.txt").read_text(encoding="utf-8") == MESSY
    assert out == f"reformatted {folder / 'messy.rules'}\n"
    assert "1 file reformatted, 1 file unchanged" in err


def test_fmt_of_a_canonical_file_writes_nothing(capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    tidy = folder / "sub" / "tidy.rules"
    before = tidy.stat().st_mtime_ns
    code, out, _ = run_cli(capsys, "fmt", tidy)
    assert (code, out) == (0, "")
    assert tidy.stat().st_mtime_ns == before


def test_check_lists_files_that_would_change(capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    code, out, err = run_cli(capsys, "fmt", "--check", folder)
    assert code == 1
    assert out == f"would reformat {folder / 'messy.rules'}\n"
    assert "1 file would be reformatted, 1 file unchanged" in err
    assert (folder / "messy.rules").read_text(encoding="utf-8") == MESSY
    assert run_cli(capsys, "fmt", "--check", folder / "sub")[0] == 0


def test_diff_shows_the_change_without_writing(capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    messy = folder / "messy.rules"
    code, out, _ = run_cli(capsys, "fmt", "--diff", messy)
    assert code == 1
    assert out.startswith(f"--- {messy} (original)\n+++ {messy} (formatted)\n@@ ")
    assert "-milestone m {first signup reward referrer cash 5 USD}  # done\n" in out
    assert "+  reward referrer cash 5 USD\n" in out
    assert messy.read_text(encoding="utf-8") == MESSY
    assert run_cli(capsys, "fmt", "--diff", folder / "sub") == (
        0,
        "",
        "0 files would be reformatted, 1 file unchanged\n",
    )


def test_diff_marks_a_missing_last_newline(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "a.rules"
    path.write_text("unit a", encoding="utf-8")
    _, out, _ = run_cli(capsys, "fmt", "--diff", path)
    assert out.endswith("-unit a\n\\ No newline at end of file\n+unit a\n")


def test_file_with_syntax_errors_is_not_rewritten(capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    broken = folder / "broken.rules"
    broken.write_text("unit  u\nmetric x =\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "fmt", folder)
    assert code == 1
    assert broken.read_text(encoding="utf-8") == "unit  u\nmetric x =\n"
    assert f"{broken}:2:" in err
    assert "error[RR003]: unexpected end of file" in err
    assert "   2 | metric x =" in err
    assert "1 file with syntax errors (not formatted)" in err
    assert (folder / "messy.rules").read_text(encoding="utf-8") == TIDY  # the others are formatted
    assert "Traceback" not in err


def test_missing_path_exits_2_and_writes_nothing(capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    code, _, err = run_cli(capsys, "fmt", folder / "messy.rules", folder / "nope.rules")
    assert code == 2
    assert f"{quoted(folder / 'nope.rules')} does not exist" in err  # cut when tmp_path is long
    assert (folder / "messy.rules").read_text(encoding="utf-8") == MESSY


def test_folder_without_rule_files_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "fmt", tmp_path)
    assert code == 2
    assert "no .rules files found" in err


def test_unreadable_file_exits_2_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "latin1.rules"
    path.write_bytes("unit caf\xe9".encode("latin-1"))
    result = subprocess.run(
        [sys.executable, "-m", "rewardrules", "fmt", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "is not UTF-8 text" in result.stderr
    assert "Traceback" not in result.stderr


def test_fmt_needs_a_path(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["fmt"])
    assert exit_.value.code == 2
