"""Diagnostics a newcomer meets first: the right code for a type or unit
mismatch (decided from the types, not from the wording of the message),
where the first of two duplicate declarations is, and the ISO 4217 code
for a currency written as a word."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

import rewardrules
from rewardrules.cli import main
from rewardrules.diagnostics import Diagnostic, render

from .conftest import ROOT

HEAD = """event payment { amount: money USD, note: optional text, size: quantity MB }
metric total = sum payment.amount
metric data = sum payment.size
"""
TAIL = "milestone m { first payment  reward referrer cash 1 USD }\n"


def diagnostics(text: str) -> list[Diagnostic]:
    return rewardrules.check_source(text, "case.rules")


def only(text: str, code: str) -> Diagnostic:
    found = [d for d in diagnostics(text) if d.code == code]
    assert len(found) == 1, [(d.code, d.message) for d in diagnostics(text)]
    return found[0]


# -- mismatch codes ---------------------------------------------------------

MISMATCHES = [
    # the same unit on both sides is never a unit mismatch
    ("square", "metric x = total * total", "RR201"),
    ("money-times-size", "metric x = total * data", "RR201"),
    ("add-units", "metric x = total + data", "RR202"),
    ("divide-units", "metric x = total / data", "RR202"),
    ("compare-units", "milestone c { when total > data  reward referrer cash 1 USD }", "RR202"),
    ("compare-text", 'milestone c { when total == "a"  reward referrer cash 1 USD }', "RR201"),
    ("add-percent-to-money", "metric x = total + 5 percent", "RR202"),
    ("list-of-other-unit", "milestone c { when total in [1 USD, 2 MB]  reward referrer cash 1 USD }", "RR202"),
    ("list-of-text", 'milestone c { when total in ["a"]  reward referrer cash 1 USD }', "RR201"),
    ("otherwise-unit", "metric x = latest payment.amount otherwise 0 MB", "RR202"),
    ("otherwise-text", 'metric x = latest payment.amount otherwise "none"', "RR201"),
]


@pytest.mark.parametrize(("text", "code"), [c[1:] for c in MISMATCHES], ids=[c[0] for c in MISMATCHES])
def test_mismatch_code_follows_the_types(text: str, code: str) -> None:
    found = [d for d in diagnostics(HEAD + text + "\n" + TAIL) if d.code in ("RR201", "RR202")]
    assert [d.code for d in found] == [code], [(d.code, d.message) for d in found]


def test_multiplying_an_amount_by_itself_is_a_type_error_not_a_unit_mismatch() -> None:
    text = HEAD + "milestone e { each payment  reward referrer cash payment.amount * payment.amount }\n"
    diagnostic = only(text, "RR201")
    assert diagnostic.message == "cannot multiply money (USD) by money (USD)"
    assert not [d for d in diagnostics(HEAD + "metric x = total * total\n" + TAIL) if d.code == "RR202"]


# -- duplicates say where the first one is ---------------------------------

DUPLICATES = [
    ("metric", "metric total = count payment\n", "metric `total` is declared twice", (2, 8)),
    ("event", "event payment { other: number }\n", "event `payment` is declared twice", (1, 7)),
    (
        "milestone",
        "milestone m { first payment  reward referrer cash 2 USD }\n",
        "milestone `m` is declared twice",
        (4, 11),
    ),
    ("unit", "unit seats\nunit seats\n", "unit `seats` is declared twice", (4, 6)),
]


@pytest.mark.parametrize(("extra", "message", "first"), [d[1:] for d in DUPLICATES], ids=[d[0] for d in DUPLICATES])
def test_a_duplicate_says_where_the_first_declaration_is(extra: str, message: str, first: tuple[int, int]) -> None:
    text = HEAD + TAIL + extra if extra.startswith("milestone") else HEAD + extra + TAIL
    found = [d for d in diagnostics(text) if d.code == "RR104"]
    assert len(found) == 1, [(d.code, d.message) for d in diagnostics(text)]
    (diagnostic,) = found
    assert diagnostic.message == message
    assert diagnostic.help is not None
    assert f"the first is declared at line {first[0]}, column {first[1]}" in diagnostic.help
    # the second declaration is the one reported, below the first
    assert (diagnostic.line, diagnostic.column) > first


def test_a_duplicate_field_and_program_name_the_first_place() -> None:
    text = (
        "event payment { amount: money USD, amount: money EUR }\n"
        "program p { milestone a { first payment  reward referrer cash 1 USD } }\n"
        "program p { milestone b { first payment  reward referrer cash 1 USD } }\n"
    )
    found = sorted((d.message, d.help) for d in diagnostics(text) if d.code == "RR104")
    assert found == [
        ("field `amount` is declared twice in event `payment`", "the first is declared at line 1, column 17"),
        ("program `p` is declared twice", "the first is declared at line 2, column 9"),
    ]


def test_a_second_ruleset_line_points_at_the_first() -> None:
    text = 'ruleset a "A"\nruleset b "B"\n' + HEAD + TAIL
    diagnostic = only(text, "RR104")
    assert diagnostic.line == 2
    assert diagnostic.help == "the first is declared at line 1, column 1; remove this line"


def test_three_declarations_all_point_at_the_first() -> None:
    text = HEAD + "metric total = count payment\nmetric total = count payment\n" + TAIL
    helps = [d.help for d in diagnostics(text) if d.code == "RR104"]
    assert len(helps) == 2
    assert all(h is not None and h.startswith("the first is declared at line 2, column 8") for h in helps)


# -- currency words ----------------------------------------------------------

CURRENCY_CASES = [
    ("dollars", "USD"),
    ("dollar", "USD"),
    ("usd", "USD"),
    ("Usd", "USD"),
    ("euros", "EUR"),
    ("euro", "EUR"),
    ("eur", "EUR"),
    ("pounds", "GBP"),
    ("yen", "JPY"),
    ("Yen", "JPY"),
]


@pytest.mark.parametrize(("word", "code"), CURRENCY_CASES)
def test_a_currency_word_in_an_amount_suggests_its_iso_code(word: str, code: str) -> None:
    diagnostic = only(HEAD + f"milestone c {{ first payment  reward referrer cash 150 {word} }}\n", "RR105")
    assert diagnostic.message == f"unknown unit `{word}`"
    assert diagnostic.help is not None and diagnostic.help.startswith(f"did you mean `{code}`?")
    assert f"unit {word}" not in diagnostic.help


@pytest.mark.parametrize(("word", "code"), CURRENCY_CASES)
def test_a_currency_word_in_a_money_field_suggests_its_iso_code(word: str, code: str) -> None:
    diagnostic = only(f"event refund {{ amount: money {word} }}\n" + HEAD + TAIL, "RR105")
    assert diagnostic.message == f"`{word}` is not a currency"
    assert diagnostic.help is not None and diagnostic.help.startswith(f"did you mean `{code}`?")


def test_a_currency_word_in_a_quantity_field_suggests_its_iso_code() -> None:
    diagnostic = only("event refund { amount: quantity dollars }\n" + HEAD + TAIL, "RR105")
    assert diagnostic.help is not None and diagnostic.help.startswith("did you mean `USD`?")


def test_other_unknown_units_still_suggest_a_declaration_or_a_near_unit() -> None:
    assert only(HEAD + "metric x = total + 1 seats\n" + TAIL, "RR105").help == "declare it with `unit seats`"
    assert only(HEAD + "metric x = data + 1 MBB\n" + TAIL, "RR105").help == "did you mean `MB`?"


def test_every_currency_word_maps_to_a_known_code() -> None:
    from rewardrules.units import CURRENCY_EXPONENTS, CURRENCY_WORDS, currency_for

    assert set(CURRENCY_WORDS.values()) <= set(CURRENCY_EXPONENTS)
    assert all(word == word.lower() and word not in CURRENCY_EXPONENTS for word in CURRENCY_WORDS)
    assert currency_for("USD") is None and currency_for("seats") is None


# -- the first declaration as a related location ---------------------------------

DUPLICATE_METRIC = HEAD + "metric total = count payment\n" + TAIL


def test_a_duplicate_shows_the_first_declaration_under_a_note() -> None:
    (diagnostic,) = [d for d in diagnostics(DUPLICATE_METRIC) if d.code == "RR104"]
    (related,) = diagnostic.related
    assert related.message == "first declared here"
    assert (related.span.line, related.span.column, related.span.text) == (2, 8, "total")
    lines = render(diagnostic).splitlines()
    note = lines.index("     = note: first declared here")
    assert lines[note + 1] == "   2 | metric total = sum payment.amount"
    assert lines[note + 2] == "     |        -----"


def test_json_and_sarif_carry_the_first_declaration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "dup.rules"
    path.write_text(DUPLICATE_METRIC, encoding="utf-8")
    assert main(["check", "--format", "json", str(path)]) == 1
    (found,) = json.loads(capsys.readouterr().out)["diagnostics"]
    assert found["related"] == [
        {"line": 2, "column": 8, "end_line": 2, "end_column": 13, "message": "first declared here"}
    ]
    assert main(["check", "--format", "sarif", str(path)]) == 1
    log = json.loads(capsys.readouterr().out)
    schema = json.loads((ROOT / "tests" / "fixtures" / "check" / "sarif-schema-2.1.0.json").read_text("utf-8"))
    jsonschema.Draft4Validator(schema).validate(log)
    (result,) = log["runs"][0]["results"]
    (location,) = result["relatedLocations"]
    assert location["message"] == {"text": "first declared here"}
    assert location["physicalLocation"]["region"] == {"startLine": 2, "startColumn": 8, "endLine": 2, "endColumn": 13}


def test_other_diagnostics_have_no_related_location() -> None:
    text = HEAD + "metric x = total + data\n" + TAIL
    assert [d.related for d in diagnostics(text)] == [()]
