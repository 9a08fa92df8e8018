"""Syntax errors a newcomer makes get a diagnostic at the mistake with a
hint: a number without its unit, a `[` or `(` left open, a misspelled or
glued keyword, a thousands separator, a currency sign, typographic quotes,
and a file that is not a rule file at all."""

from __future__ import annotations

from pathlib import Path

import pytest

import rewardrules
from rewardrules.cli import main
from rewardrules.diagnostics import Diagnostic

from .conftest import ROOT, RULESETS

EVENTS = "event signup { country: text }\nevent payment { amount: money USD }\n"


def milestone(*clauses: str) -> str:
    """A file whose milestone (starting on line 3) has these clauses, one a line."""
    body = "".join(f"  {clause}\n" for clause in clauses)
    return f'{EVENTS}milestone m "M" {{\n{body}}}\n'


def errors(text: str, path: str = "case.rules") -> list[Diagnostic]:
    return rewardrules.check_source(text, path)


def only(text: str, path: str = "case.rules") -> Diagnostic:
    found = errors(text, path)
    assert len(found) == 1, [d.message for d in found]
    return found[0]


def at(diagnostic: Diagnostic) -> tuple[str, int, int]:
    return diagnostic.code, diagnostic.line, diagnostic.column


# -- 1. a number without its unit ---------------------------------------------


def test_hold_without_unit_points_at_the_number() -> None:
    found = only(milestone("first signup", "reward referrer cash 10 USD", "hold 30"))
    assert at(found) == ("RR001", 6, 8)  # `30` on the hold line, not the `}` after it
    assert "duration needs a unit" in found.message and "`30 days`" in found.message
    assert found.help is not None
    for unit in ("minutes", "hours", "days", "weeks"):
        assert f"`{unit}`" in found.help


def test_within_without_unit_does_not_swallow_the_next_clause() -> None:
    found = only(milestone("first payment within 30", "reward referrer cash 10 USD"))
    assert at(found) == ("RR001", 4, 24)
    assert "duration needs a unit" in found.message
    assert found.help is not None and "`reward` starts the next clause" in found.help


def test_every_without_metric_asks_for_the_metric() -> None:
    found = only(milestone("every 5", "reward referrer cash 10 USD"))
    assert at(found) == ("RR001", 4, 9)
    assert "`every 5` needs the metric" in found.message


def test_number_with_unit_still_parses() -> None:
    assert errors(milestone("first payment within 30 days", "reward referrer cash 10 USD", "hold 30 days")) == []


# -- 2. an open bracket -------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "column", "closing"),
    [('eligible when signup.country in ["US", "CA"', 33, "]"), ("metric x = (1 + 2", 12, ")")],
)
def test_unclosed_bracket_points_at_the_bracket(line: str, column: int, closing: str) -> None:
    text = EVENTS + line + "\n" + milestone("first signup", "reward referrer cash 10 USD").removeprefix(EVENTS)
    found = only(text)
    assert at(found) == ("RR001", 3, column)
    assert "is never closed" in found.message and "on line 4" in found.message
    assert found.help is not None and f"a `{closing}` is probably missing" in found.help


def test_unclosed_bracket_at_end_of_file() -> None:
    found = only(EVENTS + 'eligible when signup.country in ["US"\n')
    assert at(found) == ("RR003", 3, 33)
    assert found.help == "a `]` is probably missing"


def test_after_an_unclosed_bracket_later_errors_are_still_reported() -> None:
    text = (
        EVENTS
        + 'eligible when signup.country in ["US"\n'
        + milestone("first signup", "reward referrer cash 10 USD").removeprefix(EVENTS)
        + "milestone n {\n  first signup\n  reward referrer cash 5 USD\n  hold 30\n}\n"
    )
    assert [at(d) for d in errors(text)] == [("RR001", 3, 33), ("RR001", 11, 8)]


def test_missing_comma_on_the_same_line_is_not_an_open_bracket() -> None:
    found = only(EVENTS + 'eligible when signup.country in ["US" "CA"]\n')
    assert at(found) == ("RR001", 3, 39)
    assert "never closed" not in found.message


# -- 3. and 4. misspelled keywords -----------------------------------------------


@pytest.mark.parametrize(
    ("text", "wrong", "meant"),
    [
        ("milstone m {\n}\n", "milstone", "milestone"),
        ("evnt signup\n", "evnt", "event"),
        ("metirc x = 1\n", "metirc", "metric"),
        ("eligable when 1 > 0\n", "eligable", "eligible"),
        ("event payment { amount: mony USD }\n", "mony", "money"),
        (milestone("frist signup", "reward referrer cash 10 USD"), "frist", "first"),
        (milestone("First signup", "reward referrer cash 10 USD"), "First", "first"),
        # after `reward`, the expected list is long and was cut before `hold`
        (milestone("first signup", "reward referrer cash 10 USD", "hodl 30 days"), "hodl", "hold"),
    ],
)
def test_misspelled_keyword_gets_the_nearest_keyword(text: str, wrong: str, meant: str) -> None:
    found = errors(text)[0]
    assert found.message == f"unexpected `{wrong}`"
    assert found.help == f"did you mean `{meant}`?"
    assert found.span is not None and text[found.span.start : found.span.end] == wrong


def test_misspelled_keyword_read_as_a_unit_is_blamed() -> None:
    # `rewards` is read as the unit of `3`; the parser fails at `referrer`
    found = only(milestone("when signup > 3", "rewards referrer cash 10 USD"))
    assert (found.message, found.line, found.column) == ("unexpected `rewards`", 5, 3)
    assert found.help == "did you mean `reward`?"


@pytest.mark.parametrize(
    ("text", "word", "meant"),
    [
        (milestone("first signup", "rewards referrer cash 10 USD"), "rewards", "reward"),
        ("event signup\nmilestones m {\n  first signup\n  reward referrer cash 5 USD\n}\n", "milestones", "milestone"),
    ],
)
def test_keyword_glued_to_more_letters_is_blamed_whole(text: str, word: str, meant: str) -> None:
    # where no name can stand, `rewards` was read as `reward` then a name `s`
    found = only(text)
    assert found.message == f"unexpected `{word}`"
    assert found.span is not None and text[found.span.start : found.span.end] == word
    assert found.help == f"did you mean `{meant}`?"


# -- 5. currency signs and typographic quotes ----------------------------------


@pytest.mark.parametrize(
    ("clause", "written"),
    [
        ("when payment.amount >= $500", "`500 USD`"),
        ("reward referrer cash 150 €", "`150 EUR`"),
        ("reward referrer cash £20", "`20 GBP`"),
        ("reward referrer cash 1000 ¥", "`1000 JPY`"),
        ("reward referrer cash ₹300", "`300 INR`"),
    ],
)
def test_currency_sign_hints_the_iso_code(clause: str, written: str) -> None:
    found = errors(milestone("first payment", clause))[0]
    assert found.code == "RR002"
    assert found.help is not None and written in found.help


@pytest.mark.parametrize(
    "text",
    [
        "event signup\nmilestone m “Friend paid” {\n  first signup\n  reward referrer cash 5 USD\n}\n",
        EVENTS + 'eligible when signup.country in [“US”, "CA"]\n',
        EVENTS + "eligible when signup.country in [‘US’]\n",
    ],
)
def test_typographic_quotes_hint_straight_quotes(text: str) -> None:
    found = errors(text)[0]
    assert found.code == "RR002"
    assert found.help is not None and 'straight double quotes `"`' in found.help


# -- 6. thousands separators ------------------------------------------------------


@pytest.mark.parametrize(("amount", "plain"), [("1,000", "1000"), ("1,000,000.50", "1000000.50")])
def test_thousands_separator(amount: str, plain: str) -> None:
    found = only(milestone(f"when payment.amount >= {amount} USD", "reward referrer cash 10 USD"))
    assert (found.line, found.column) == (4, 27)  # the comma
    assert found.help == f"numbers are written without thousands separators: `{plain}`"


def test_comma_in_a_list_is_still_a_separator() -> None:
    assert errors(milestone('first signup where signup.country in ["1","2"]', "reward referrer cash 1 USD")) == []


# -- 7. not a rule file ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "looks_like"),
    [
        ("ledger.jsonl", "a JSON Lines ledger"),
        ("ledger.json", "a JSON file"),
        ("unnamed.rules", "JSON (a ledger?)"),
    ],
)
def test_json_given_as_rules_says_what_it_looks_like(path: str, looks_like: str) -> None:
    text = (ROOT / "examples" / "tiny.jsonl").read_text(encoding="utf-8")
    found = only(text, path)  # one diagnostic: the rest would be noise
    assert at(found) == ("RR001", 1, 1)
    assert found.help is not None and looks_like in found.help


def test_rule_test_file_given_to_check_says_run_test(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", str(RULESETS / "dropbox.test.toml")])
    out = capsys.readouterr()
    assert code == 1
    assert "looks like a rule test file: run it with `rewardrules test`" in out.out + out.err


def test_score_with_swapped_arguments_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["score", str(ROOT / "examples" / "tiny.jsonl"), str(RULESETS / "dropbox.rules")])
    out = capsys.readouterr()
    assert code == 2
    assert "a JSON Lines ledger, not a rule file" in out.err
    assert "are the arguments swapped? the rule file comes first: RULESET LEDGER" in out.err


def test_score_with_a_broken_rule_file_is_not_called_swapped(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rules = tmp_path / "bad.rules"
    rules.write_text("evnt signup\n", encoding="utf-8")
    code = main(["score", str(rules), str(ROOT / "examples" / "tiny.jsonl")])
    out = capsys.readouterr()
    assert code == 1
    assert "swapped" not in out.err


@pytest.mark.parametrize(
    ("clauses", "word", "written"),
    [
        (("firstsignup", "reward referrer cash 10 USD"), "firstsignup", "`first signup`"),
        (("first signup", "rewardreferrer cash 10 USD"), "rewardreferrer", "`reward referrer`"),
    ],
)
def test_keyword_run_into_the_next_word_is_an_error(clauses: tuple[str, ...], word: str, written: str) -> None:
    # these were read as `first signup` and `reward referrer`, without a word
    found = only(milestone(*clauses))
    assert found.message == f"unexpected `{word}`"
    assert found.help is not None and written in found.help


def test_words_are_whole_also_when_the_parser_is_built_from_the_grammar(monkeypatch: pytest.MonkeyPatch) -> None:
    from rewardrules import parse

    monkeypatch.setattr(parse, "_shipped_parser", lambda grammar: None)
    parse._parser.cache_clear()
    try:
        assert [d.message for d in errors(milestone("firstsignup", "reward referrer cash 10 USD"))] == [
            "unexpected `firstsignup`"
        ]
    finally:
        monkeypatch.undo()
        parse._parser.cache_clear()
