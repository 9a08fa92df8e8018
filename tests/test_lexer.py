"""The Pygments lexer of the rule language (src/rewardrules/lexer.py): every
token of every ruleset and doc snippet is classified, the main kinds of
token get the right types, and Pygments finds the lexer by its entry point."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from pygments.lexers import find_lexer_class_for_filename, get_lexer_by_name
from pygments.token import (
    Comment,
    Error,
    Keyword,
    Name,
    Number,
    Operator,
    String,
    _TokenType,
)

from rewardrules.lexer import RESERVED, RewardRulesLexer

from .conftest import ROOT, RULESETS

RULE_FILES = sorted(RULESETS.glob("*.rules"))
SNIPPETS = [
    (f"{page.name}#{i}", text)
    for page in [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
    for i, text in enumerate(re.findall(r"```rules\n(.*?)```", page.read_text(encoding="utf-8"), re.S), 1)
]
SOURCES = [(p.name, p.read_text(encoding="utf-8")) for p in RULE_FILES] + SNIPPETS


def tokens(text: str) -> list[tuple[_TokenType, str]]:
    return [(t, v) for t, v in RewardRulesLexer().get_tokens(text) if v.strip()]


def kind_of(text: str, word: str) -> _TokenType:
    """The token type of the first token equal to `word`."""
    for token, value in tokens(text):
        if value == word:
            return token
    raise AssertionError(f"`{word}` is not a token of {text!r}")


@pytest.mark.parametrize(("name", "text"), SOURCES, ids=[n for n, _ in SOURCES])
def test_every_token_is_classified(name: str, text: str) -> None:
    found = list(RewardRulesLexer().get_tokens_unprocessed(text))
    errors = [(pos, value) for pos, token, value in found if token in Error]
    assert errors == [], f"{name}: unclassified text {errors[:5]}"
    assert "".join(v for _, _, v in found) == text  # nothing lost, nothing added


def test_there_is_something_to_lex() -> None:
    assert len(RULE_FILES) >= 12
    assert len(SNIPPETS) >= 10


PARTNER = (RULESETS / "partner_and_customer.rules").read_text(encoding="utf-8")
CPOR = (RULESETS / "fasttrack_cpor.rules").read_text(encoding="utf-8")
TESLA = (RULESETS / "tesla.rules").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "word", "expected"),
    [
        (PARTNER, "ruleset", Keyword.Declaration),
        (PARTNER, "program", Keyword.Declaration),
        (PARTNER, "milestone", Keyword.Declaration),
        (PARTNER, "eligible", Keyword),
        (PARTNER, "first", Keyword),
        (PARTNER, "each", Keyword),
        (PARTNER, "hold", Keyword),
        (PARTNER, "within", Keyword),
        (PARTNER, "cap", Keyword),
        (PARTNER, "optional", Keyword.Type),
        (PARTNER, "money", Keyword.Type),
        (PARTNER, "of", Operator.Word),
        (PARTNER, "customers", Name.Namespace),
        (PARTNER, "customer_conversion", Name.Function),
        (PARTNER, "refund", Name.Class),
        (PARTNER, "amount", Name.Attribute),
        (PARTNER, "referral", Name.Class),
        (PARTNER, "referrer", Name.Builtin),
        (PARTNER, "cash", Name.Builtin.Pseudo),
        (PARTNER, "100", Number),
        (PARTNER, "15", Number),
        (PARTNER, "%", Operator),
        (PARTNER, "==", Operator),
        (PARTNER, "quarter", Name.Constant),
        (PARTNER, "Customer referrals", String.Double),
        (PARTNER, "# One file, two programs by referral source (seed 004).", Comment.Single),
        (CPOR, "paid_licenses", Name.Variable),
        (CPOR, "whenever", Keyword),
        (CPOR, "increase", Name.Builtin),
        (CPOR, "number", Keyword.Type),
        (TESLA, "supercharger_miles", Name.Constant),
        (TESLA, "unit", Keyword.Declaration),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 30 else "",
)
def test_token_types(text: str, word: str, expected: _TokenType) -> None:
    assert kind_of(text, word) is expected


@pytest.mark.parametrize(
    ("text", "word", "expected"),
    [
        ("metric m = sum payment.amount where payment.amount > 0 within 30 days", "30", Number),
        ("metric m = sum payment.amount where payment.amount > 0 within 30 days", "days", Name.Constant),
        # A number then a keyword: `0 within`, not an amount in a unit `within`.
        ("metric m = sum payment.amount where payment.amount > 0 within 30 days", "within", Keyword),
        ("milestone m { when mrr >= 1000 USD  reward referrer cash 500 USD }", "USD", Name.Constant),
        ("milestone m { when x >= 1  reward referee storage 500 MB }", "MB", Name.Constant),
        ("milestone m { every 3 conversions  reward referrer gift_card 25 USD }", "conversions", Name.Variable),
        ("metric c = count referrals where paid >= 1", "referrals", Name.Builtin),
        ('eligible when referral.country not in ["US"]', "not", Operator.Word),
        ("eligible when referral.trial is not set", "set", Operator.Word),
        ("milestone m { when true  reward referee discount 10 percent }", "true", Keyword.Constant),
        ("milestone m { when true  reward referee discount 10 percent }", "percent", Name.Constant),
        ('milestone m { when true  reward referrer item "Trip to Paris" }', "item", Name.Builtin.Pseudo),
    ],
)
def test_token_types_in_snippets(text: str, word: str, expected: _TokenType) -> None:
    assert kind_of(text, word) is expected


def test_message_templates_are_interpolations() -> None:
    found = tokens(
        'milestone m { when true  reward referee credit 1 USD  message "Hi {{ referee }}{% if x %}!{% endif %}" }'
    )
    assert (String.Interpol, "{{ referee }}") in found
    assert (String.Interpol, "{% if x %}") in found
    assert (String.Double, "Hi ") in found


def test_an_unterminated_string_ends_at_the_end_of_its_line() -> None:
    found = tokens('ruleset x "no end\nevent payment')
    assert (String.Double, "no end") in found
    assert (Keyword.Declaration, "event") in found  # the next line is lexed as code again


def test_reserved_words_are_those_of_the_language_reference() -> None:
    text = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    section = text.split("## Reserved words", 1)[1]
    listed = re.search(r"`([^`]*)`", section, re.S)
    assert listed is not None
    assert sorted(RESERVED) == sorted(listed.group(1).split())


def test_pygments_finds_the_lexer_by_its_entry_point() -> None:
    assert type(get_lexer_by_name("rewardrules")) is RewardRulesLexer
    assert type(get_lexer_by_name("rules")) is RewardRulesLexer
    assert find_lexer_class_for_filename("program.rules") is RewardRulesLexer


def test_pygmentize_highlights_a_rule_file(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pygments", "-l", "rewardrules", "-f", "html", str(RULESETS / "dropbox.rules")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert '<span class="kd">ruleset</span>' in out.stdout
    assert '<span class="err">' not in out.stdout
