"""A message template that passes `check` renders at scoring: without an
error, the same bytes on every run, in bounded time. Everything else is a
diagnostic at `check`, with a code and a hint: a misspelled field, a method
of a value, an ordering comparison of text, a filter with arguments it does
not take, nesting or chains past the limits; and a string that UTF-8
cannot hold."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

import rewardrules
from rewardrules import templates
from rewardrules.cli import main
from rewardrules.diagnostics import Diagnostic, RuleError

HEAD = "event payment { amount: money USD, note: optional text, items: number, keys: optional text }\n"
HEAD += "metric paid = count payment\n"

REFERRAL = {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"}
PAYMENT = {"id": "p1", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "bob", "amount": "5", "items": 3}


def rules(message: str, trigger: str = "first payment") -> str:
    return HEAD + f"milestone m {{ {trigger}  reward referrer cash 1 USD  message {json.dumps(message)} }}\n"


def check(message: str, trigger: str = "first payment") -> list[Diagnostic]:
    return rewardrules.check_source(rules(message, trigger), "t.rules")


def messages(message: str, *events: dict) -> list[str]:
    program = rewardrules.compile(rules(message))
    ledger = [json.dumps(e) for e in (events or (REFERRAL, PAYMENT))]
    return [a["message"] for a in program.score(ledger).data["awards"]]


def one(message: str, code: str) -> Diagnostic:
    found = check(message)
    assert [d.code for d in found] == [code], [(d.code, d.message) for d in found]
    return found[0]


# -- fields ------------------------------------------------------------------


def test_a_misspelled_field_is_an_error_with_a_suggestion() -> None:
    diagnostic = one("{{ payment.amout }}", "RR502")
    assert diagnostic.message == "event `payment` has no field `amout` in message template"
    assert diagnostic.help == "did you mean `amount`?"
    assert diagnostic.line == 3
    with pytest.raises(RuleError):
        rewardrules.compile(rules("{{ payment.amout }}"))


def test_a_misspelled_field_fails_check_also_with_strict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "typo.rules"
    path.write_text(rules("Paid {{ payment.amout }}"), encoding="utf-8")
    assert main(["check", "--strict", str(path)]) == 1
    out = capsys.readouterr().out
    assert "error[RR502]: event `payment` has no field `amout` in message template" in out
    assert "did you mean `amount`?" in out


def test_a_misspelled_field_anywhere_in_the_template_is_found() -> None:
    for template in ("{% if payment.nte %}x{% endif %}", "{{ 'a' ~ payment.amout }}", "{{ payment.not | upper }}"):
        assert [d.code for d in check(template)] == ["RR502"], template


def test_an_unknown_field_without_a_near_one_lists_the_fields() -> None:
    diagnostic = one("{{ payment.zzzzzzzz }}", "RR502")
    assert diagnostic.help is not None
    assert diagnostic.help.startswith("fields: ") and "amount" in diagnostic.help


def test_declared_fields_render() -> None:
    assert messages("{{ payment.amount }} {{ payment.id }} {{ payment.note | default('-', true) }}") == ["5.00 p1 -"]


# -- only values, never methods -------------------------------------------------


@pytest.mark.parametrize(
    "template",
    ["{{ referee.upper }}", "{{ amount.split }}", "{{ paid.real }}", "{{ milestone.title }}", "{{ at.strip }}"],
)
def test_a_method_of_a_value_is_refused(template: str) -> None:
    diagnostic = one(template, "RR501")
    assert "may only read a field of an event" in diagnostic.message
    name = template.split()[1].split(".")[0]
    assert diagnostic.help is not None and diagnostic.help.startswith(f"`{name}` has no fields")


def test_a_method_named_like_a_filter_points_to_the_filter() -> None:
    diagnostic = one("{{ referee.upper }}", "RR501")
    assert diagnostic.help == "`referee` has no fields; for the filter, write `{{ referee | upper }}`"


def test_a_method_of_the_event_mapping_is_not_a_field() -> None:
    diagnostic = one("{{ payment.values }}", "RR502")
    assert diagnostic.message == "event `payment` has no field `values` in message template"


def test_fields_named_like_mapping_methods_render_their_values() -> None:
    """`items` and `keys` are declared fields: the message shows the value,
    never `<built-in method items of dict object at 0x...>`."""
    event = dict(PAYMENT, keys="k1")
    assert messages("{{ payment.items }}/{{ payment.keys }}", REFERRAL, event) == ["3/k1"]
    assert messages("{{ payment.keys | default('-', true) }}", REFERRAL, PAYMENT) == ["-"]  # optional, missing


def test_rendering_is_the_same_at_every_run() -> None:
    text = "{{ payment.items }} {{ payment.keys }} {{ referee | upper }}"
    first = messages(text)
    assert first == messages(text) and " at 0x" not in first[0]


@pytest.mark.parametrize("template", ["{{ payment }}", "{{ 'x' ~ payment }}", "{% if payment %}x{% endif %}"])
def test_an_event_is_read_field_by_field(template: str) -> None:
    """The event alone was written as a Python mapping (`{'id': 'p1', ...,
    'note': None}`), which `--engine duckdb` wrote as `{}`: refused."""
    diagnostic = one(template, "RR501")
    assert diagnostic.message.startswith(
        "message templates read the event `payment` field by field, such as `{{ payment."
    )


# -- comparisons and filters -----------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "{% if paid > 1 %}x{% endif %}",
        "{% if payment.amount <= '3' %}x{% endif %}",
        "{% if 'x' in payment.note %}x{% endif %}",
        "{% if 'x' not in referee %}x{% endif %}",
    ],
)
def test_comparisons_other_than_equality_are_refused(template: str) -> None:
    diagnostic = one(template, "RR501")
    assert diagnostic.message == "message templates compare only with `==` and `!=`"


def test_equality_renders_with_a_missing_value() -> None:
    text = "{% if payment.note == 'a' %}a{% elif payment.note != 'b' %}b{% endif %}"
    assert messages(text) == ["b"]


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ referee | upper(1) }}", "the filter `upper` takes no arguments"),
        ("{{ referee | trim('x') }}", "the filter `trim` takes no arguments"),
        ("{{ referee | default(1, 2, 3) }}", "the filter `default` takes a value and `true` at most"),
    ],
)
def test_filter_arguments_are_checked(template: str, message: str) -> None:
    assert one(template, "RR501").message.startswith(message)


def test_unknown_filter_suggests_the_nearest() -> None:
    assert one("{{ referee | uper }}", "RR501").help == "did you mean `upper`?"


def test_default_renders() -> None:
    assert messages("{{ payment.note | default('none') | upper }}") == ["NONE"]


# -- limits ----------------------------------------------------------------------


def nested(depth: int) -> str:
    return "{% if referee %}" * depth + "x" + "{% endif %}" * depth


def test_nesting_up_to_the_limit_renders() -> None:
    assert messages(nested(templates.MAX_TEMPLATE_NESTING)) == ["x"]


@pytest.mark.parametrize("depth", [templates.MAX_TEMPLATE_NESTING + 1, 99, 300])
def test_nesting_past_the_limit_is_refused(depth: int) -> None:
    diagnostic = one(nested(depth), "RR401")
    assert diagnostic.message == f"message template nests blocks more than {templates.MAX_TEMPLATE_NESTING} deep"
    assert diagnostic.help is not None and diagnostic.line == 3


def test_sibling_blocks_do_not_add_up() -> None:
    text = nested(templates.MAX_TEMPLATE_NESTING) * 20
    assert check(text) == [] and messages(text) == ["x" * 20]


def test_a_filter_chain_up_to_the_limit_renders() -> None:
    assert messages("{{ referee" + " | upper" * templates.MAX_TEMPLATE_FILTERS + " }}") == ["BOB"]


@pytest.mark.parametrize("length", [templates.MAX_TEMPLATE_FILTERS + 1, 1000, 1600])
def test_a_filter_chain_past_the_limit_is_refused(length: int) -> None:
    diagnostic = one("{{ referee" + "|trim" * length + " }}", "RR401")
    assert diagnostic.message == (
        f"a tag of the message template has {length} filters (the limit is {templates.MAX_TEMPLATE_FILTERS})"
    )


def test_a_long_expression_is_refused() -> None:
    parts = templates.MAX_TEMPLATE_TAG_TOKENS // 2 + 1
    diagnostic = one("{{ " + " ~ ".join(["referee"] * parts) + " }}", "RR401")
    assert "parts (the limit is" in diagnostic.message


def test_deep_parentheses_are_refused() -> None:
    one("{{ " + "(" * 500 + "referee" + ")" * 500 + " }}", "RR401")


def test_a_number_with_too_many_digits_is_refused() -> None:
    diagnostic = one("{{ 1" + "0" * 5000 + " }}", "RR401")
    assert diagnostic.message == "number in message template has 5001 digits (the limit is 30)"


@pytest.mark.parametrize(
    ("message", "number"),
    [
        ("a{{ 12345678901234567890.5 }}", "12345678901234567890.5"),
        ("b{{ 1e999 }}", "1e999"),
        ("c{{ 0.1 ~ 'x' }}", "0.1"),
        ("{% if paid == 1.0 %}one{% endif %}", "1.0"),
        ("d{{ 1_000.5 }}", "1_000.5"),
    ],
)
def test_a_number_with_a_fraction_or_an_exponent_is_refused_where_it_is(message: str, number: str) -> None:
    """jinja2 reads such a constant as a binary float: both engines wrote
    `1.2345678901234567e+19`, `inf` and `0.10.2` until 2026-12-08. Now
    `check` refuses it, its caret under it inside the message's string."""
    diagnostic = one(message, "RR501")
    assert diagnostic.message == (
        f"message template has the number `{number}`, with a fraction or an exponent: "
        "a template reads it as a binary float, not as the exact decimal written"
    )
    assert diagnostic.help is not None and f"`'{number}'`" in diagnostic.help and "metric" in diagnostic.help
    line = rules(message).splitlines()[diagnostic.line - 1]
    assert diagnostic.span is not None and diagnostic.span.end - diagnostic.span.start == len(number)
    assert line[diagnostic.column - 1 :].startswith(number)


def test_the_same_number_twice_is_refused_at_each_place() -> None:
    """Both problems pointed at the first `2.5` (review, 2026-12-08)."""
    found = check("{{ referee }} {{ 2.5 }} then {{ 2.5 }}")
    assert [d.code for d in found] == ["RR501", "RR501"]
    first, second = (d.column for d in found)
    line = rules("{{ referee }} {{ 2.5 }} then {{ 2.5 }}").splitlines()[found[0].line - 1]
    assert second > first and line[first - 1 :].startswith("2.5 }} then") and line[second - 1 :].startswith('2.5 }}"')


def test_a_whole_number_renders_exactly() -> None:
    out = one_message("{{ 12345678901234567890 }} {{ 1 ~ 2 }} {{ 1_000 }} {{ '0.1' }}")
    assert out == "12345678901234567890 12 1000 0.1"


def one_message(message: str) -> str:
    assert check(message) == []
    (out,) = messages(message)
    return out


# -- every template that passes check renders --------------------------------------

_NAMES = ["referee", "beneficiary", "amount", "paid", "payment.amount", "payment.note", "payment.items", "'a'", "1"]
_BAD = ["referee.upper", "payment.amout", "paid.real", "payment.get", "x"]


def _expr(rng: random.Random, depth: int) -> str:
    roll = rng.random()
    if depth <= 0 or roll < 0.35:
        return rng.choice(_NAMES if rng.random() < 0.9 else _BAD)
    if roll < 0.55:
        name = rng.choice(["upper", "lower", "title", "trim", "capitalize", "default('-')", "default", "upper(1)"])
        return f"{_expr(rng, depth - 1)} | {name}"
    if roll < 0.75:
        op = rng.choice(["==", "!=", "==", "<", "in"])
        return f"({_expr(rng, depth - 1)} {op} {_expr(rng, depth - 1)})"
    if roll < 0.85:
        return f"({_expr(rng, depth - 1)} {rng.choice(['and', 'or', '~'])} {_expr(rng, depth - 1)})"
    if roll < 0.92:
        return f"(not {_expr(rng, depth - 1)})"
    return f"({_expr(rng, depth - 1)} if {_expr(rng, depth - 1)} else {_expr(rng, depth - 1)})"


def _template(rng: random.Random, depth: int) -> str:
    parts = []
    for _ in range(rng.randint(1, 3)):
        if depth > 0 and rng.random() < 0.4:
            inner = _template(rng, depth - 1)
            other = f"{{% else %}}{_template(rng, depth - 1)}" if rng.random() < 0.5 else ""
            parts.append(f"{{% if {_expr(rng, 2)} %}}{inner}{other}{{% endif %}}")
        else:
            parts.append(f"<{{{{ {_expr(rng, 4)} }}}}>")
    return "".join(parts)


def test_every_generated_template_that_passes_check_renders_the_same_bytes() -> None:
    rng = random.Random(20261201)
    contexts = [
        dict.fromkeys(templates.AWARD_NAMES, value) | {"paid": value, "payment": event}
        for value, event in (
            ("x", {"amount": "5.00", "note": "n", "items": "3"}),
            (None, {"amount": "5.00"}),
            ("", {}),
        )
    ]
    names = [*templates.AWARD_NAMES, "paid", "payment"]
    fields = {"payment": ["id", "at", "referee", "amount", "note", "items", "keys"]}
    passed = 0
    for _ in range(400):
        text = _template(rng, 3)
        if templates.check(text, names, fields):
            continue
        passed += 1
        for context in contexts:
            out = templates.render(text, context)
            assert out == templates.render(text, dict(reversed(context.items())))
            assert " at 0x" not in out and "<built-in" not in out and "bound method" not in out
    assert passed > 40  # the generator makes enough valid templates to mean something


# -- text UTF-8 cannot hold ---------------------------------------------------------

MILESTONE = "milestone m { first payment  reward referrer cash 1 USD }\n"
SURROGATES = [
    ("message", HEAD + 'milestone m { first payment  reward referrer cash 1 USD  message "a\\ud800" }\n'),
    ("item", HEAD + 'milestone m { first payment  reward referrer item "trip \\udfff" }\n'),
    ("title", HEAD + 'milestone m "\\ud83d" { first payment  reward referrer cash 1 USD }\n'),
    ("condition", HEAD + 'milestone m { first payment where payment.note == "\\ud800"  reward referrer cash 1 USD }\n'),
    ("ruleset", 'ruleset r "\\udc00"\n' + HEAD + MILESTONE),
    ("event-title", 'event refund "\\ud800" { amount: money USD }\n' + HEAD + MILESTONE),
]


@pytest.mark.parametrize("text", [s[1] for s in SURROGATES], ids=[s[0] for s in SURROGATES])
def test_a_lone_surrogate_is_a_diagnostic(text: str) -> None:
    found = rewardrules.check_source(text, "s.rules")
    assert [d.code for d in found] == ["RR002"], [(d.code, d.message) for d in found]
    assert found[0].message.startswith("string has an unpaired surrogate escape `\\u")
    assert found[0].help is not None


def test_a_surrogate_pair_is_fine() -> None:
    assert "\\ud83d\\ude00" in rules("smile \U0001f600")  # written as a pair of escapes
    assert messages("smile \U0001f600") == ["smile \U0001f600"]


def test_cli_reports_a_lone_surrogate_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "s.rules"
    path.write_text(SURROGATES[0][1], encoding="utf-8")
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "error[RR002]: string has an unpaired surrogate escape `\\ud800`" in out


def test_score_refuses_a_lone_surrogate_before_writing_awards(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The message used to render, and the JSON output failed to encode it."""
    path = tmp_path / "s.rules"
    path.write_text(SURROGATES[0][1], encoding="utf-8")
    ledger = tmp_path / "l.jsonl"
    ledger.write_text("\n".join(json.dumps(e) for e in (REFERRAL, PAYMENT)) + "\n", encoding="utf-8")
    assert main(["score", "--format", "json", str(path), str(ledger)]) == 1
    captured = capsys.readouterr()
    assert "error[RR002]" in captured.out + captured.err
    assert "Traceback" not in captured.out + captured.err
