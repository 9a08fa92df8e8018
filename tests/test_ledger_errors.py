"""Bad ledgers through the Python API: every mistake is a LedgerError that
names the line and the field, nothing is scored, and hostile input (huge
lines, deep nesting, huge numbers) fails fast instead of crashing.

The contract is PROGRAMS.md section 1 (the ledger). Most cases use the prezi
program (a `payment` event with a required `amount: money USD`), so a
referral and a payment are the event types it uses and anything else is an
unused type.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from functools import cache
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules import LedgerError
from rewardrules.ledger import LedgerProblem

from .conftest import RULESETS, examples

AT = "2026-02-01T00:00:00Z"
REFERRAL = '{"id":"r1","at":"2026-02-01T00:00:00Z","type":"referral","referrer":"alice","referee":"bob"}'


@cache
def program(name: str = "prezi") -> rewardrules.Program:
    return rewardrules.load(RULESETS / f"{name}.rules")


def payment(amount_json: str, event_id: str = "p1", at: str = "2026-02-02T00:00:00Z") -> str:
    """A prezi payment line with `amount` written as raw JSON text."""
    return f'{{"id":"{event_id}","at":"{at}","type":"payment","referee":"bob","amount":{amount_json}}}'


def line(**fields: Any) -> str:
    return json.dumps(fields)


def problems_of(lines: list[Any], name: str = "prezi", **kwargs: Any) -> list[LedgerProblem]:
    with pytest.raises(LedgerError) as caught:
        program(name).score(lines, **kwargs)
    assert caught.value.problems, "a LedgerError always carries its problems"
    return caught.value.problems


# ---------------------------------------------------------------------------
# One bad line: (lines, expected line number, expected field, message regex)

SINGLE: list[tuple[str, list[str], int, str | None, str]] = [
    # JSON itself
    ("invalid-json-truncated", ['{"id": "a", "at": '], 1, None, r"invalid JSON"),
    (
        "invalid-json-trailing-garbage",
        ['{"id":"a","at":"2026-02-01T00:00:00Z","type":"x"} x'],
        1,
        None,
        r"invalid JSON",
    ),
    ("invalid-json-single-quotes", ["{'id': 'a'}"], 1, None, r"invalid JSON"),
    ("invalid-json-NaN-literal", [REFERRAL, payment("NaN")], 2, None, r"invalid JSON.*NaN"),
    ("invalid-json-Infinity-literal", [REFERRAL, payment("-Infinity")], 2, None, r"invalid JSON.*Infinity"),
    ("not-an-object-array", ["[1, 2]"], 1, None, r"must be a JSON object"),
    ("not-an-object-string", ['"referral"'], 1, None, r"must be a JSON object"),
    ("not-an-object-number", ["42"], 1, None, r"must be a JSON object"),
    ("not-an-object-null", ["null"], 1, None, r"must be a JSON object"),
    # the envelope: id
    ("missing-id", [line(at=AT, type="referral", referrer="a", referee="b")], 1, "id", r"missing `id`"),
    ("null-id", [line(id=None, at=AT, type="click")], 1, "id", r"missing `id`"),
    ("empty-id", [line(id="", at=AT, type="click")], 1, "id", r"non-empty string"),
    ("numeric-id", [line(id=5, at=AT, type="click")], 1, "id", r"non-empty string, not 5"),
    ("list-id", [line(id=["a"], at=AT, type="click")], 1, "id", r"non-empty string"),
    # at
    ("missing-at", [line(id="a", type="click")], 1, "at", r"missing `at`"),
    ("at-without-offset", [line(id="a", at="2026-02-01T09:30:00", type="click")], 1, "at", r"no offset"),
    ("at-without-offset-fraction", [line(id="a", at="2026-02-01T09:30:00.5", type="click")], 1, "at", r"no offset"),
    ("at-date-only", [line(id="a", at="2026-02-01", type="click")], 1, "at", r"no offset"),
    ("at-feb-30", [line(id="a", at="2026-02-30T00:00:00Z", type="click")], 1, "at", r"day 30 is out of range"),
    ("at-feb-29-non-leap", [line(id="a", at="2025-02-29T00:00:00Z", type="click")], 1, "at", r"day 29 is out of range"),
    ("at-month-13", [line(id="a", at="2026-13-01T00:00:00Z", type="click")], 1, "at", r"month 13"),
    ("at-hour-25", [line(id="a", at="2026-02-01T25:00:00Z", type="click")], 1, "at", r"hour 25"),
    ("at-leap-second", [line(id="a", at="2026-06-30T23:59:60Z", type="click")], 1, "at", r"second 60 is out of range"),
    (
        "at-offset-24h",
        [line(id="a", at="2026-02-01T00:00:00+24:00", type="click")],
        1,
        "at",
        r"offset `\+24:00` is out of range",
    ),
    ("at-words", [line(id="a", at="yesterday", type="click")], 1, "at", r"malformed"),
    ("at-number", [line(id="a", at=1767225600, type="click")], 1, "at", r"must be a string"),
    # type
    ("missing-type", [line(id="a", at=AT, referee="b")], 1, "type", r"missing `type`"),
    ("empty-type", [line(id="a", at=AT, type="")], 1, "type", r"non-empty string"),
    ("numeric-type", [line(id="a", at=AT, type=7)], 1, "type", r"non-empty string"),
    # referral parties
    (
        "referral-without-referrer",
        [line(id="r1", at=AT, type="referral", referee="bob")],
        1,
        "referrer",
        r"referral needs a `referrer`",
    ),
    (
        "referral-null-referrer",
        [line(id="r1", at=AT, type="referral", referrer=None, referee="bob")],
        1,
        "referrer",
        r"referral needs a `referrer`",
    ),
    (
        "referral-empty-referrer",
        [line(id="r1", at=AT, type="referral", referrer="", referee="bob")],
        1,
        "referrer",
        r"non-empty string",
    ),
    (
        "referral-numeric-referrer",
        [line(id="r1", at=AT, type="referral", referrer=3, referee="bob")],
        1,
        "referrer",
        r"non-empty string, not 3",
    ),
    (
        "referral-without-referee",
        [line(id="r1", at=AT, type="referral", referrer="alice")],
        1,
        "referee",
        r"needs a `referee`",
    ),
    (
        "payment-without-referee",
        [REFERRAL, line(id="p1", at=AT, type="payment", amount=5)],
        2,
        "referee",
        r"`payment` event needs a `referee`",
    ),
    (
        "payment-null-referee",
        [REFERRAL, line(id="p1", at=AT, type="payment", referee=None, amount=5)],
        2,
        "referee",
        r"`payment` event needs a `referee`",
    ),
    (
        "referee-unpaired-surrogate",
        [REFERRAL, payment("5").replace('"bob"', '"\\ud800"')],
        2,
        "referee",
        r"unpaired surrogate",
    ),
    # a required field of a used type
    (
        "payment-without-amount",
        [REFERRAL, line(id="p1", at=AT, type="payment", referee="bob")],
        2,
        "amount",
        r"`payment` events need `amount`",
    ),
    ("payment-null-amount", [REFERRAL, payment("null")], 2, "amount", r"`payment` events need `amount`"),
    # non-numeric amounts
    ("amount-abc", [REFERRAL, payment('"abc"')], 2, "amount", r'must be a number, not "abc"'),
    ("amount-true", [REFERRAL, payment("true")], 2, "amount", r"must be a number, not true"),
    ("amount-false", [REFERRAL, payment("false")], 2, "amount", r"must be a number, not false"),
    ("amount-empty-string", [REFERRAL, payment('""')], 2, "amount", r"must be a number"),
    ("amount-comma-decimal", [REFERRAL, payment('"12,50"')], 2, "amount", r"must be a number"),
    ("amount-padded-string", [REFERRAL, payment('" 12.50"')], 2, "amount", r"must be a number"),
    ("amount-NaN-string", [REFERRAL, payment('"NaN"')], 2, "amount", r"must be a number"),
    ("amount-Infinity-string", [REFERRAL, payment('"Infinity"')], 2, "amount", r"must be a number"),
    ("amount-list", [REFERRAL, payment("[1]")], 2, "amount", r"must be a number"),
    ("amount-object", [REFERRAL, payment('{"value": 1}')], 2, "amount", r"must be a number"),
    # numbers too large or too small to be amounts
    ("amount-1000-digit-integer", [REFERRAL, payment("9" * 1000)], 2, "amount", r"out of range"),
    ("amount-1000-digit-decimal", [REFERRAL, payment("1." + "1" * 1000)], 2, "amount", r"out of range"),
    ("amount-1e999999", [REFERRAL, payment("1e999999")], 2, "amount", r"out of range"),
    ("amount-minus-1e999999", [REFERRAL, payment("-1e999999")], 2, "amount", r"out of range"),
    ("amount-1e-999999", [REFERRAL, payment("1e-999999")], 2, "amount", r"out of range"),
    ("amount-1000-digit-string", [REFERRAL, payment('"' + "9" * 1000 + '"')], 2, "amount", r"amount"),
    # ids are unique
    (
        "same-id-different-content",
        [REFERRAL, line(id="r1", at=AT, type="referral", referrer="alice", referee="carol")],
        2,
        "id",
        r"id `r1` is already used on line 1 with different content",
    ),
    (
        "same-id-across-types",
        [REFERRAL, line(id="r1", at=AT, type="click", referee="bob")],
        2,
        "id",
        r"already used on line 1",
    ),
    # unused types: free fields are ignored, but the envelope is still checked
    (
        "unused-type-numeric-id",
        [line(id=5, at=AT, type="click", anything={"x": [1, None]})],
        1,
        "id",
        r"non-empty string",
    ),
    ("unused-type-missing-at", [line(id="c1", type="click", amount="abc")], 1, "at", r"missing `at`"),
    ("unused-type-at-without-offset", [line(id="c1", at="2026-02-01 10:00:00", type="click")], 1, "at", r"no offset"),
    ("unused-type-missing-type", [line(id="c1", at=AT, amount=True)], 1, "type", r"missing `type`"),
]


@pytest.mark.parametrize(("lines", "line_no", "field", "pattern"), [c[1:] for c in SINGLE], ids=[c[0] for c in SINGLE])
def test_one_bad_line(lines: list[str], line_no: int, field: str | None, pattern: str) -> None:
    with pytest.raises(LedgerError, match=pattern) as caught:
        program().score(lines)
    problems = caught.value.problems
    assert len(problems) == 1, problems
    problem = problems[0]
    assert isinstance(problem, LedgerProblem)
    assert (problem.line, problem.field) == (line_no, field)
    # str() renders PATH:LINE: ... and names the field, for the CLI.
    rendered = str(caught.value)
    assert rendered.startswith(f"<ledger>:{line_no}: error: ")
    if field is not None:
        assert f"field `{field}`" in rendered


@pytest.mark.parametrize(
    ("lines", "line_no", "pattern"),
    [
        ([REFERRAL.encode(), b'{"id":"\xff","at":"2026-02-01T00:00:00Z","type":"x"}\n'], 2, r"not UTF-8"),
        ([REFERRAL.encode() + b"\r\n", b'{"id": \n'], 2, r"invalid JSON"),
        ([b"\n", b"[]\n"], 2, r"must be a JSON object"),
    ],
    ids=["bytes-not-utf8", "bytes-invalid-json", "bytes-not-object"],
)
def test_bad_bytes_lines(lines: list[bytes], line_no: int, pattern: str) -> None:
    """The CLI feeds bytes lines (with their newlines); same rules."""
    with pytest.raises(LedgerError, match=pattern) as caught:
        program().score(lines)
    assert [p.line for p in caught.value.problems] == [line_no]


def test_missing_offset_problem_has_a_hint() -> None:
    (problem,) = problems_of([line(id="a", at="2026-02-01T09:30:00", type="referral", referrer="x", referee="y")])
    assert problem.field == "at"
    assert "offset" in problem.message and "2026-02-01T09:30:00" in problem.message
    assert problem.hint is not None and "Z" in problem.hint


def test_a_required_text_field_of_the_wrong_type() -> None:
    """partner_and_customer: `refund.payment` is a required text field."""
    lines = [
        '{"id":"r1","at":"2026-01-05T00:00:00Z","type":"referral","referrer":"alice","referee":"bob","source":"customer"}',
        '{"id":"f1","at":"2026-01-06T00:00:00Z","type":"refund","referee":"bob","payment":17}',
        '{"id":"f2","at":"2026-01-06T00:00:00Z","type":"refund","referee":"bob"}',
    ]
    problems = problems_of(lines, "partner_and_customer")
    assert [(p.line, p.field) for p in problems] == [(2, "payment"), (3, "payment")]
    assert "must be a string, not 17" in problems[0].message
    assert "`refund` events need `payment`" in problems[1].message


def test_an_optional_field_may_be_absent_but_not_ill_typed() -> None:
    """partner_and_customer: `referral.source` is optional text."""
    good = '{"id":"r1","at":"2026-01-05T00:00:00Z","type":"referral","referrer":"alice","referee":"bob"}'
    program("partner_and_customer").score([good])  # absent: fine
    bad = '{"id":"r1","at":"2026-01-05T00:00:00Z","type":"referral","referrer":"alice","referee":"bob","source":1}'
    (problem,) = problems_of([bad], "partner_and_customer")
    assert (problem.line, problem.field) == (1, "source")


# ---------------------------------------------------------------------------
# Numbers are exact


def _qualifying_credit(amount: Any) -> list[str]:
    """microsoft_referral: 5% of a qualifying purchase, rounded half-even."""
    events = [
        {
            "id": "r1",
            "at": "2026-02-01T00:00:00Z",
            "type": "referral",
            "referrer": "alice",
            "referee": "bob",
            "country": "US",
        },
        {"id": "q1", "at": "2026-02-02T00:00:00Z", "type": "purchase", "referee": "bob", "amount": amount},
    ]
    result = program("microsoft_referral").score(events)
    return [a.amount for a in result.awards if a.milestone == "qualifying_purchase"]


@pytest.mark.parametrize(
    ("amount_json", "expected"),
    [
        ("99.90", []),  # below 100: exact, so no qualifying purchase
        ("100.10", ["5.00"]),  # 5.005 -> 5.00 half-even (a binary float gives 5.005000000000001 -> 5.01)
        ("100.50", ["5.02"]),  # 5.025 -> 5.02
        ('"100.70"', ["5.04"]),  # decimal string
        ("100", ["5.00"]),
        ("1.0005e2", ["5.00"]),  # 100.05 -> 5.0025 -> 5.00 (exponent form of a JSON decimal)
    ],
    ids=["json-99.90", "json-100.10", "json-100.50", "string-100.70", "json-int-100", "json-exponent"],
)
def test_json_decimals_are_exact(amount_json: str, expected: list[str]) -> None:
    lines = [
        '{"id":"r1","at":"2026-02-01T00:00:00Z","type":"referral","referrer":"alice","referee":"bob","country":"US"}',
        f'{{"id":"q1","at":"2026-02-02T00:00:00Z","type":"purchase","referee":"bob","amount":{amount_json}}}',
    ]
    result = program("microsoft_referral").score(lines)
    assert [a.amount for a in result.awards if a.milestone == "qualifying_purchase"] == expected


def test_prezi_accepts_a_json_decimal_amount() -> None:
    result = program().score([REFERRAL, payment("99.90")])
    assert [(a.milestone, a.beneficiary, a.amount) for a in result.awards] == [("paid_upgrade", "alice", "3")]


@pytest.mark.parametrize(
    "amount", [99.9, 100.1, 0.5, 1e300, float("nan"), float("inf")], ids=["99.9", "100.1", "0.5", "1e300", "nan", "inf"]
)
def test_python_float_amount_is_rejected_as_inexact(amount: float) -> None:
    with pytest.raises(LedgerError, match=r"not an exact amount") as caught:
        _qualifying_credit(amount)
    (problem,) = caught.value.problems
    assert (problem.line, problem.field) == (2, "amount")


@pytest.mark.parametrize(
    ("amount", "expected"),
    [(Decimal("100.10"), ["5.00"]), ("100.10", ["5.00"]), (100, ["5.00"])],
    ids=["Decimal", "decimal-string", "int"],
)
def test_exact_python_amounts_are_accepted(amount: Any, expected: list[str]) -> None:
    assert _qualifying_credit(amount) == expected


def test_python_bool_amount_is_not_a_number() -> None:
    with pytest.raises(LedgerError, match=r"must be a number, not true"):
        _qualifying_credit(True)


# ---------------------------------------------------------------------------
# Duplicates, unused types, blank lines


PARTNER_REFERRAL = (
    '{"id":"r1","at":"2026-01-02T00:00:00Z","type":"referral","referrer":"acme","referee":"corp","source":"partner"}'
)
PARTNER_PAYMENT = '{"id":"c1","at":"2026-02-01T00:00:00Z","type":"payment","referee":"corp","amount":"100.00"}'


def _commissions(lines: list[str]) -> list[str]:
    result = program("partner_and_customer").score(lines)
    return [a.amount for a in result.awards if a.milestone == "partner_commission"]


def test_exact_duplicate_line_counts_once() -> None:
    assert _commissions([PARTNER_REFERRAL, PARTNER_PAYMENT]) == ["15.00"]
    assert _commissions([PARTNER_REFERRAL, PARTNER_PAYMENT, PARTNER_PAYMENT, PARTNER_PAYMENT]) == ["15.00"]
    # the same object written with another key order and spacing is the same content
    reordered = json.dumps(dict(reversed(json.loads(PARTNER_PAYMENT).items())), separators=(", ", " : "))
    assert _commissions([PARTNER_PAYMENT, PARTNER_REFERRAL, reordered]) == ["15.00"]
    # a duplicated referral is one referral
    assert _commissions([PARTNER_REFERRAL, PARTNER_REFERRAL, PARTNER_PAYMENT]) == ["15.00"]


def test_same_id_different_amount_names_both_lines() -> None:
    other = PARTNER_PAYMENT.replace('"100.00"', '"100.01"')
    problems = problems_of([PARTNER_REFERRAL, "", PARTNER_PAYMENT, other], "partner_and_customer")
    assert [(p.line, p.field) for p in problems] == [(4, "id")]
    assert "line 3" in problems[0].message and "`c1`" in problems[0].message


def test_unused_types_with_arbitrary_fields_are_ignored() -> None:
    noise = [
        line(
            id="n1",
            at="2026-02-01T12:00:00Z",
            type="click",
            amount="abc",
            referee=None,
            payload={"deep": [1, {"x": None}], "n": "1e999"},
        ),
        line(id="n2", at="2026-02-01T12:00:00+02:00", type="page_view", mrr=True, active="many", country=3),
        '{"id":"n3","at":"2026-02-01T13:00:00Z","type":"email","score":1.5,"big":1e400}',
    ]
    base = [REFERRAL, payment("15")]
    plain = program().score(base, as_of="2026-03-01T00:00:00Z").data["awards"]
    noisy = program().score(noise + base + noise, as_of="2026-03-01T00:00:00Z").data["awards"]
    assert plain == noisy
    assert len(plain) == 1


def test_unused_types_still_set_the_default_as_of() -> None:
    later = line(id="n9", at="2026-05-01T00:00:00+02:00", type="newsletter", whatever=[1, 2])
    result = program().score([REFERRAL, payment("15"), later])
    assert result.data["as_of"] == "2026-04-30T22:00:00Z"


def test_blank_lines_are_allowed_and_still_counted() -> None:
    lines = ["", "   ", REFERRAL, "\t", "\n", payment("15"), "\r\n"]
    result = program().score(lines)
    assert len(result.awards) == 1
    # line numbers count blank lines
    (problem,) = problems_of(["", "  ", REFERRAL, "", payment('"x"')])
    assert problem.line == 5


def test_empty_and_all_blank_ledgers_score_nothing() -> None:
    assert program().score([]).data["awards"] == []
    assert program().score(["", "  ", "\n"]).data["awards"] == []


# ---------------------------------------------------------------------------
# Hostile input: an error, quickly, never a crash


def _fast(lines: list[Any], budget: float = 3.0) -> list[LedgerProblem]:
    start = time.perf_counter()
    problems = problems_of(lines)
    assert time.perf_counter() - start < budget
    return problems


@pytest.mark.parametrize("as_bytes", [False, True], ids=["str", "bytes"])
def test_a_10mb_line_is_rejected_quickly(as_bytes: bool) -> None:
    huge = '{"id":"a","at":"2026-02-01T00:00:00Z","type":"click","blob":"' + "x" * 10_000_000 + '"}'
    lines: list[Any] = [REFERRAL, huge, payment("15")]
    if as_bytes:
        lines = [x.encode() + b"\n" for x in lines]
    (problem,) = _fast(lines)
    assert problem.line == 2
    assert "longer than" in problem.message


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 100_000 + "1" + "}" * 100_000,
        "[" * 100_000,
        '{"id":"a","at":"2026-02-01T00:00:00Z","type":"click","x":' + "[" * 50 + "]" * 50 + "}",
        '{"id":"a","at":"2026-02-01T00:00:00Z","type":"click","x":' + "[" * 5000 + "]" * 5000 + "}",
    ],
    ids=["arrays-100k", "objects-100k", "unclosed-100k", "nested-50", "nested-5000"],
)
def test_deep_nesting_is_an_error_not_a_crash(text: str) -> None:
    (problem,) = _fast([REFERRAL, text])
    assert problem.line == 2
    assert "nest" in problem.message or "invalid JSON" in problem.message


@pytest.mark.parametrize(
    "amount_json",
    ["9" * 1000, "9" * 5000, "1e999999", "1E+999999999", "0." + "0" * 1000 + "1"],
    ids=["1000-digits", "5000-digits", "1e999999", "1E+999999999", "tiny-1000-zeros"],
)
def test_huge_numbers_are_errors(amount_json: str) -> None:
    (problem,) = _fast([REFERRAL, payment(amount_json)])
    assert problem.line == 2


# ---------------------------------------------------------------------------
# Every error is reported, and nothing is scored


def test_several_errors_are_all_reported_with_line_numbers() -> None:
    lines = [
        REFERRAL,  # 1 ok
        '{"id":',  # 2 invalid JSON
        line(id="p0", at="2026-02-02T00:00:00", type="payment", referee="bob", amount=1),  # 3 no offset
        "",  # 4 blank
        payment('"abc"', event_id="p2"),  # 5 non-numeric amount
        "[]",  # 6 not an object
        line(id="r2", at=AT, type="referral", referee="carol"),  # 7 no referrer
        payment("15", event_id="p3"),  # 8 ok
        payment("16", event_id="p3"),  # 9 same id, different content
        line(id="c1", type="click"),  # 10 unused type without `at`
    ]
    problems = problems_of(lines, path="ledger.jsonl")
    assert [(p.line, p.field) for p in problems] == [
        (2, None),
        (3, "at"),
        (5, "amount"),
        (6, None),
        (7, "referrer"),
        (9, "id"),
        (10, "at"),
    ]
    with pytest.raises(LedgerError) as caught:
        program().score(lines, path="ledger.jsonl")
    text = str(caught.value)
    for number in (2, 3, 5, 6, 7, 9, 10):
        assert f"ledger.jsonl:{number}: error: " in text
    assert "ledger.jsonl:1:" not in text and "ledger.jsonl:8:" not in text


def test_one_line_can_have_several_problems() -> None:
    problems = problems_of([line(id="", at="2026-02-01T00:00:00", type="payment", amount="abc")])
    assert {p.field for p in problems} >= {"id", "at"}
    assert all(p.line == 1 for p in problems)


def test_many_problems_are_all_kept_but_the_message_is_bounded() -> None:
    lines = [line(id=f"e{i}", at="2026-02-01T00:00:00", type="click") for i in range(200)]
    with pytest.raises(LedgerError) as caught:
        program().score(lines)
    assert [p.line for p in caught.value.problems] == list(range(1, 201))
    assert "and 150 more" in str(caught.value)


@pytest.mark.parametrize("position", ["first", "middle", "last"])
def test_nothing_is_scored_when_any_line_is_bad(position: str) -> None:
    good = [
        REFERRAL,
        payment("15"),
        '{"id":"r2","at":"2026-02-01T00:00:00Z","type":"referral","referrer":"alice","referee":"carol"}',
        payment("20", event_id="p2", at="2026-02-03T00:00:00Z").replace("bob", "carol"),
    ]
    assert len(program().score(good).awards) == 2
    bad = line(id="x", at="2026-02-05T00:00:00", type="click")
    index = {"first": 0, "middle": 2, "last": len(good)}[position]
    lines = [*good[:index], bad, *good[index:]]
    problems = problems_of(lines)
    assert [p.line for p in problems] == [index + 1]


def test_an_invalid_as_of_is_a_ledger_error_naming_as_of() -> None:
    with pytest.raises(LedgerError, match=r"no offset") as caught:
        program().score([REFERRAL], as_of="2026-02-01T00:00:00")
    assert caught.value.problems[0].field == "as_of"


# ---------------------------------------------------------------------------
# The generated fast path accepts only what the exact validator accepts

_VALUES = st.sampled_from(
    [
        None, "", "a", "cus1", "ref1", "é", "\ud800", " 1", "12.50", "-3", "1e5", "9" * 31, "007", "NaN",
        0, 5, -2, True, False, 1.5, 10**40, Decimal("1.5"), Decimal("NaN"), Decimal("1E+5"), Decimal("-0.001"),
        [], {}, "2026-02-01T00:00:00Z", "2026-02-01T00:00:00.5+05:30", "2026-02-30T00:00:00Z",
        "2026-02-01 00:00:00z", "2026-02-01T00:00:00",
    ]
)  # fmt: skip
_TIMES = st.sampled_from(["2026-02-01T00:00:00Z", "2026-03-01T09:30:00.25-02:00", "2026-13-01T00:00:00Z", 5, None])


_VALID = {"number": "3", "quantity": "12.50", "text": "US", "time": "2026-02-03T00:00:00Z", "boolean": True}


def _ruleset_objects(name: str) -> st.SearchStrategy[dict[str, Any]]:
    """A valid event of one of the program's types, with up to three keys
    changed to near misses (non-ASCII, unpaired surrogates, wrong types,
    bad numbers and timestamps) or removed."""
    reader = program(name)._reader()
    kinds = [*sorted(reader.kinds.items()), ("click", [])]

    def valid(kind: tuple[str, list[tuple[str, str, bool]]]) -> dict[str, Any]:
        event_type, schema = kind
        obj: dict[str, Any] = {"id": "e1", "at": "2026-02-01T00:00:00Z", "type": event_type, "referee": "cus1"}
        if event_type == "referral":
            obj["referrer"] = "ref1"
        return obj | {field: _VALID[kind] for field, kind, _ in schema}

    def mutate(obj: dict[str, Any], changes: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(obj)
        for key, value in changes:
            if value is _REMOVE:
                out.pop(key, None)
            else:
                out[key] = value
        return out

    keys = st.sampled_from(
        ["id", "at", "type", "referee", "referrer", "extra", *sorted({f for _, s in kinds for f, _, _ in s})]
    )
    changes = st.lists(st.tuples(keys, st.one_of(_VALUES, _TIMES, st.just(_REMOVE))), max_size=3)
    return st.builds(mutate, st.sampled_from(kinds).map(valid), changes)


_REMOVE = object()


@pytest.mark.parametrize("name", sorted(p.stem for p in RULESETS.glob("*.rules")))
@settings(max_examples=examples(300), deadline=None)
@given(data=st.data())
def test_fast_path_accepts_only_what_the_exact_validator_accepts(name: str, data: st.DataObject) -> None:
    reader = program(name)._reader()
    obj = data.draw(_ruleset_objects(name))
    problems: list[LedgerProblem] = []
    exact = reader.event(obj, 1, problems)
    fast = reader.fast(obj, 1)
    if fast is not None:
        assert exact is not None, (obj, problems)
        assert (fast.id, fast.at, fast.type, fast.referrer, fast.referee) == (
            exact.id, exact.at, exact.type, exact.referrer, exact.referee,
        )  # fmt: skip
        if exact.type in reader.kinds:  # the fields of a type no rule uses are never read
            assert fast.record == exact.record
    # and a whole ledger read in one loop agrees with the exact validator
    try:
        events, _ = reader.read_all([(1, obj, obj)], lambda o: o)
    except LedgerError:
        assert exact is None
    else:
        assert exact is not None
        assert events == ([exact.record] if exact.type in reader.kinds else [])


def test_the_reader_generator_writes_names_only_as_constants() -> None:
    """Names reach generated code only as `repr`'d constants: even one that
    is not an identifier (the grammar allows none) stays a plain key."""
    from rewardrules.ledger import _fast_source

    assert "def read_all" in _fast_source({"payment": [("amount", "quantity", False)]})
    source = _fast_source({"payment": [("x')+ACCEPT(1)#", "text", False)]})
    assert repr("x')+ACCEPT(1)#") in source
    assert "ACCEPT" not in source.replace(repr("x')+ACCEPT(1)#"), "")
