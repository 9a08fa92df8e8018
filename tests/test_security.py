"""Rule files are untrusted: nothing in one can reach Python internals, read
files or the environment, or run unbounded. Each known escape is refused at
`check` with a diagnostic; pathological input ends with an error."""

from __future__ import annotations

import json

import pytest

import rewardrules

HEAD = "event payment { amount: money USD, note: optional text }\nmetric paid = count payment\n"


def codes(text: str) -> list[str]:
    return [d.code for d in rewardrules.check_source(text, "hostile.rules")]


def milestone(message: str) -> str:
    return HEAD + f"milestone m {{ when paid >= 1  reward referrer cash 1 USD  message {json.dumps(message)} }}\n"


TEMPLATE_ESCAPES = [
    ("dunder-chain", "{{ referrer.__class__.__mro__ }}"),
    ("literal-dunder", "{{ ''.__class__ }}"),
    ("format-method", "{{ '{0.__class__}'.format(referrer) }}"),
    ("percent-format", "{{ '%s' % referrer }}"),
    ("attr-filter", "{{ referrer|attr('__class__') }}"),
    ("item-access", "{{ referrer['__class__'] }}"),
    ("loop", "{% for x in referrer %}{{ x }}{% endfor %}"),
    ("range-loop", "{% for i in range(10**9) %}x{% endfor %}"),
    ("call", "{{ referrer.upper() }}"),
    ("global-cycler", "{{ cycler.__init__.__globals__ }}"),
    ("global-lipsum", "{{ lipsum() }}"),
    ("set", "{% set x = 1 %}"),
    ("include", "{% include 'x' %}"),
    ("import", "{% import 'os' as os %}"),
    ("macro", "{% macro m() %}{% endmacro %}"),
    ("arithmetic-blowup", "{{ 'x' * 100000000 }}"),
    ("power", "{{ 9 ** 9 ** 9 }}"),
    ("self", "{{ self }}"),
]


@pytest.mark.parametrize("template", [t for _, t in TEMPLATE_ESCAPES], ids=[n for n, _ in TEMPLATE_ESCAPES])
def test_template_escapes_are_refused_at_check(template: str) -> None:
    found = codes(milestone(template))
    assert found and set(found) <= {"RR501", "RR502"}, found


EXPRESSION_ESCAPES = [
    ("dunder-field", HEAD + "metric x = sum payment.__class__", "RR102"),
    ("dunder-name", HEAD + "milestone m { when __import__ >= 1 reward referrer cash 1 USD }", "RR103"),
    ("call", HEAD + "milestone m { when open('x') reward referrer cash 1 USD }", "RR001"),
    ("exponent-literal", HEAD + "metric x = paid * 1e999999", "RR105"),  # `e999999` read as an unknown unit
    ("power-operator", HEAD + "metric x = paid ** 1000", "RR001"),
    ("subscript", HEAD + "metric x = paid[0]", "RR001"),
    ("lambda", HEAD + "metric x = lambda: 1", "RR001"),
    ("huge-number", HEAD + "metric x = paid * " + "9" * 200_000, "RR401"),
    (
        "long-string",
        HEAD + 'milestone m { first payment where payment.note == "' + "a" * 20_000 + '" reward referrer cash 1 USD }',
        "RR401",
    ),
    ("deep-nesting", HEAD + "metric x = " + "(" * 500 + "paid" + " + 1)" * 500, "RR401"),
    ("long-chain", HEAD + "metric x = " + " + ".join(["paid"] * 100_000), "RR401"),
    (
        "huge-list",
        HEAD
        + "milestone m { first payment where payment.note in ["
        + ", ".join(['"a"'] * 2000)
        + "] reward referrer cash 1 USD }",
        "RR401",
    ),
    ("huge-file", HEAD + "# " + "x" * 1_100_000, "RR401"),
]


@pytest.mark.parametrize(("text", "code"), [c[1:] for c in EXPRESSION_ESCAPES], ids=[c[0] for c in EXPRESSION_ESCAPES])
def test_expression_escapes_and_limits_are_refused_at_check(text: str, code: str) -> None:
    assert code in codes(text)


def test_many_milestones_end_in_a_diagnostic() -> None:
    text = HEAD + "".join(f"milestone m{i} {{ when paid >= 1 reward referrer cash 1 USD }}\n" for i in range(100_000))
    assert "RR401" in codes(text)  # the file is over the size limit: refused before parsing


def test_hostile_names_and_strings_cannot_reach_generated_code() -> None:
    # user names never become Python names, and strings are emitted with repr
    text = """
event referral { note: optional text }
metric __class__ = count referral
milestone __import__ {
  when referral.note in ["'); import os; ('", "\\\\", "\\"", "{{ x }}"]
  reward referee discount 5 percent
}
"""
    assert codes(text) == []
    program = rewardrules.compile(text)
    for note, expected in (("'); import os; ('", 1), ('"', 1), ("safe", 0)):
        event = {
            "id": "r",
            "at": "2026-01-01T00:00:00Z",
            "type": "referral",
            "referrer": "a",
            "referee": "b",
            "note": note,
        }
        assert len(program.score([event]).data["awards"]) == expected
    assert "import os" not in program.compiled.source.replace("'); import os; ('", "")


def test_generated_code_has_no_builtins() -> None:
    program = rewardrules.load("rulesets/saas_milestones.rules")
    step = next(iter(program.compiled.steps.values()))
    assert step.__globals__["__builtins__"] == {}


def test_repeated_awards_at_one_event_are_bounded() -> None:
    """Past 100 awards at one event (the default limit) scoring stops with
    an error (it used to pay 1,000 and postpone the rest to later events,
    unsaid)."""
    text = """
event sale { amount: money USD }
metric revenue = sum sale.amount
milestone every_cent { every 0.01 revenue  reward referrer credit 1 USD }
"""
    program = rewardrules.compile(text)
    events = [
        {"id": "r", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "a", "referee": "b"},
        {"id": "s", "at": "2026-01-02T00:00:00Z", "type": "sale", "referee": "b", "amount": "1000000"},
    ]
    with pytest.raises(rewardrules.AwardLimitError, match="more than the limit of 100 at one event"):
        program.score(events, explain=False)


HOSTILE_LEDGERS = [
    (
        "million-digit-number",
        '{"id":"p","at":"2026-01-02T00:00:00Z","type":"payment","referee":"b","amount":' + "9" * 1_000_000 + "}",
    ),
    ("huge-exponent", '{"id":"p","at":"2026-01-02T00:00:00Z","type":"payment","referee":"b","amount":1e999999}'),
    ("nested-100k", '{"id":"p","at":"2026-01-02T00:00:00Z","type":"x","deep":' + "[" * 100_000 + "]" * 100_000 + "}"),
    ("ten-megabyte-line", '{"id":"p","at":"2026-01-02T00:00:00Z","type":"x","pad":"' + "x" * 10_000_000 + '"}'),
    ("nan", '{"id":"p","at":"2026-01-02T00:00:00Z","type":"payment","referee":"b","amount":NaN}'),
    ("infinity-string", '{"id":"p","at":"2026-01-02T00:00:00Z","type":"payment","referee":"b","amount":"Infinity"}'),
]


@pytest.mark.parametrize("line", [c[1] for c in HOSTILE_LEDGERS], ids=[c[0] for c in HOSTILE_LEDGERS])
def test_hostile_ledger_lines_end_in_an_error(line: str) -> None:
    program = rewardrules.load("rulesets/prezi.rules")
    referral = '{"id":"r","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"a","referee":"b"}'
    with pytest.raises(rewardrules.LedgerError) as info:
        program.score([referral, line])
    (problem,) = info.value.problems
    assert problem.line == 2
