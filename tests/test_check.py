"""Check stage: every user mistake is a diagnostic with a code, a location
and (where it helps) a hint; a file with several mistakes reports them all."""

from __future__ import annotations

import pytest

import rewardrules
from rewardrules.diagnostics import Severity, render

from .conftest import RULESETS

HEAD = """
event payment { amount: money USD, note: optional text }
event usage { data: quantity MB }
event subscription { mrr: money USD }
metric mrr = latest subscription.mrr
metric paid = count payment where payment.amount > 0
metric total = sum payment.amount
metric data = latest usage.data
"""

# (id, rule text appended to HEAD, expected code, expected fragment of the message, expected help fragment)
CASES = [
    ("syntax-equals", "milestone m { when mrr = 1 reward referrer cash 1 USD }", "RR001", "unexpected `=`", "`==`"),
    ("syntax-eof", "milestone m { when mrr >= 1", "RR003", "end of file", "`}`"),
    ("syntax-char", "milestone m { message 'hi' }", "RR002", "unexpected character", "double quotes"),
    (
        "syntax-aggregate-inline",
        "milestone m { when latest payment.amount > 1 reward referrer cash 1 USD }",
        "RR001",
        "unexpected",
        "metric of its own",
    ),
    ("unknown-event", "metric x = count paymnt", "RR101", "unknown event `paymnt`", "`payment`"),
    ("unknown-field", "metric x = sum payment.amout", "RR102", "no field `amout`", "`amount`"),
    (
        "unknown-name",
        "milestone m { when totl > 5 reward referrer cash 1 USD }",
        "RR103",
        "unknown name `totl`",
        "`total`",
    ),
    ("duplicate-metric", "metric mrr = sum payment.amount", "RR104", "`mrr` is declared twice", None),
    (
        "duplicate-milestone",
        "milestone m { when paid >= 1 reward referrer cash 1 USD } milestone m { when paid >= 2 reward referrer cash 1 USD }",
        "RR104",
        "milestone `m` is declared twice",
        None,
    ),
    ("unknown-currency", "event refund { amount: money UDS }", "RR105", "`UDS` is not a currency", "`USD`"),
    (
        "unknown-unit",
        "milestone m { when paid >= 1 reward referrer storage 5 MBB }",
        "RR105",
        "unknown unit `MBB`",
        "`MB`",
    ),
    (
        "unknown-role",
        "milestone m { when paid >= 1 reward refferer cash 1 USD }",
        "RR106",
        "unknown role",
        "`referrer`",
    ),
    (
        "unknown-kind",
        "milestone m { when paid >= 1 reward referrer csh 1 USD }",
        "RR107",
        "unknown reward kind",
        "`cash`",
    ),
    (
        "unknown-period",
        "cap referrer 10 USD per quater milestone m { when paid >= 1 reward referrer cash 1 USD }",
        "RR108",
        "unknown period",
        "`quarter`",
    ),
    ("unknown-duration", "metric x = count payment within 3 dayz", "RR109", "unknown duration unit", "`days`"),
    ("builtin-field", "event refund { id: text }", "RR110", "built-in field", None),
    ("unknown-zone", 'ruleset z timezone "Mars/Olympus"', "RR111", "unknown time zone", "IANA"),
    (
        "money-vs-storage",
        "milestone m { when total >= 10 MB reward referrer cash 1 USD }",
        "RR202",
        "cannot compare money (USD) with quantity (MB)",
        None,
    ),
    ("add-units", "metric x = total + data", "RR202", "cannot add quantity (MB) to money (USD)", None),
    ("multiply-money", "metric x = total * total", "RR201", "cannot multiply", None),
    (
        "text-order",
        'milestone m { first payment where payment.note > "a" reward referrer cash 1 USD }',
        "RR201",
        "only be compared with `==` and `!=`",
        None,
    ),
    (
        "count-vs-money",
        "milestone m { when paid >= 10 USD reward referrer cash 1 USD }",
        "RR201",
        "cannot compare number with money (USD)",
        None,
    ),
    (
        "not-a-condition",
        "milestone m { when total reward referrer cash 1 USD }",
        "RR203",
        "a condition is expected",
        None,
    ),
    (
        "event-field-out-of-scope",
        "milestone m { when paid >= 1 reward referrer cash 10% of payment.amount }",
        "RR204",
        "fields of `payment` are not available",
        None,
    ),
    ("metric-in-filter", "metric x = count payment where total > 5", "RR204", "metrics cannot be used", None),
    (
        "increase-out-of-scope",
        "milestone m { when paid >= 1 reward referrer cash 1 USD * increase }",
        "RR204",
        "`increase` is not available",
        None,
    ),
    ("count-with-field", "metric x = count payment.amount", "RR205", "counts events", None),
    ("sum-without-field", "metric x = sum payment", "RR205", "needs a field", None),
    ("max-referrals", "metric x = max referrals", "RR205", "is not supported", None),
    ("no-trigger", "milestone m { reward referrer cash 1 USD }", "RR301", "has no trigger", None),
    (
        "two-triggers",
        "milestone m { when paid >= 1 first payment reward referrer cash 1 USD }",
        "RR302",
        "more than one trigger",
        None,
    ),
    ("no-reward", "milestone m { when paid >= 1 }", "RR303", "has no reward", None),
    (
        "fractional-count",
        "milestone m { when paid >= 2.5 reward referrer cash 1 USD }",
        "RR304",
        "can never be a count",
        None,
    ),
    ("zero-window", "metric x = count payment within 0 days", "RR304", "greater than zero", None),
    ("every-zero", "milestone m { every 0 paid reward referrer cash 1 USD }", "RR304", "greater than zero", None),
    # a duration is counted in whole nanoseconds: 0.06 ns was a window of 0 (`check --bounds` divided by
    # it), 1.5 ns one of 1, until 2026-12-08
    (
        "sub-nanosecond-window",
        "metric x = count earlier referrals within 0.000000000001 minutes",
        "RR304",
        "a duration must be a whole number of nanoseconds, and this is 0.06 ns",
        "at least 1 ns, in whole nanoseconds (1 minute is 60,000,000,000 ns)",
    ),
    (
        "fractional-nanosecond-hold",
        "milestone m { when paid >= 1 reward referrer cash 1 USD hold 0.000000000025 minutes }",
        "RR304",
        "whole number of nanoseconds, and this is 1.5 ns",
        None,
    ),
    (
        "fractional-nanosecond-timer",
        "milestone m { after 0.0000000000001 hours if paid >= 1 reward referrer cash 1 USD }",
        "RR304",
        "this is 0.36 ns",
        None,
    ),
    (
        "fractional-nanosecond-literal",
        "metric f = latest payment.at milestone m { when f - referral.at <= 0.00000000000001 weeks "
        "reward referrer cash 1 USD }",
        "RR304",
        "this is 6.048 ns",
        "(1 week is 604,800,000,000,000 ns)",
    ),
    (
        "cap-zero",
        "cap referrer 0 USD milestone m { when paid >= 1 reward referrer cash 1 USD }",
        "RR304",
        "greater than zero",
        None,
    ),
    ("unitless-reward", "milestone m { when paid >= 1 reward referrer cash 500 }", "RR305", "needs a unit", "500 USD"),
    ("item-without-name", "milestone m { when paid >= 1 reward referrer item 1 USD }", "RR305", "names the item", None),
    ("cash-in-percent", "milestone m { when paid >= 1 reward referrer cash 10 percent }", "RR305", "is money", None),
    ("cycle", "metric a = b + 1 metric b = a + 1", "RR307", "depends on itself", None),
    # a cycle whose formulas keep a type (`is set` of an error is a boolean) read by
    # eligibility: judging whether it is settled at the referral recursed without end
    (
        "cycle-in-eligibility",
        "metric c = d is set metric d = c is set program p { eligible when c "
        "milestone m { when paid >= 1 reward referrer cash 1 USD } }",
        "RR307",
        "depends on itself",
        None,
    ),
    ("long-number", "metric x = total + " + "1" * 40, "RR401", "digits", None),
    (
        "template-loop",
        'milestone m { when paid >= 1 reward referrer cash 1 USD message "{% for x in y %}{% endfor %}" }',
        "RR501",
        "cannot use `for`",
        None,
    ),
    (
        "template-call",
        'milestone m { when paid >= 1 reward referrer cash 1 USD message "{{ referrer.__class__ }}" }',
        "RR501",
        "may only read a field",
        None,
    ),
    (
        "template-unknown-name",
        'milestone m { when paid >= 1 reward referrer cash 1 USD message "{{ refferer }}" }',
        "RR502",
        "unknown name `refferer`",
        "`referrer`",
    ),
    (
        "template-syntax",
        'milestone m { when paid >= 1 reward referrer cash 1 USD message "{{ referrer " }',
        "RR501",
        "message template",
        None,
    ),
    (
        "loose-milestone-with-programs",
        "program p { milestone a { when paid >= 1 reward referrer cash 1 USD } } milestone b { when paid >= 2 reward referrer cash 1 USD }",
        "RR306",
        "inside a `program` block",
        None,
    ),
]


@pytest.mark.parametrize(("text", "code", "message", "help_"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_diagnostic(text: str, code: str, message: str, help_: str | None) -> None:
    diagnostics = rewardrules.check_source(HEAD + text, "case.rules")
    found = [d for d in diagnostics if d.code == code]
    assert found, f"expected {code}, got: " + "; ".join(f"{d.code} {d.message}" for d in diagnostics)
    diagnostic = found[0]
    assert message in diagnostic.message
    if help_ is not None:
        assert diagnostic.help is not None and help_ in diagnostic.help
    assert diagnostic.span is not None and diagnostic.line > HEAD.count("\n")
    assert diagnostic.message == diagnostic.message.strip() and "\n" not in diagnostic.message


@pytest.mark.parametrize(
    "text",
    [
        "metric x = count earlier referrals within 0.0000000001 minutes",  # 6 ns
        "milestone m { when paid >= 1 reward referrer cash 1 USD hold 1.5 days }",
        # zero is a duration an expression may compare with
        "metric f = latest payment.at milestone m { when f - referral.at >= 0 days reward referrer cash 1 USD }",
    ],
)
def test_a_duration_of_whole_nanoseconds_is_accepted(text: str) -> None:
    assert [d.code for d in rewardrules.check_source(HEAD + text, "case.rules") if d.code == "RR304"] == []


def test_every_problem_is_reported_in_one_run() -> None:
    text = (
        HEAD
        + """
metric a = count paymnt
metric b = sum payment.amout
milestone m { when totl > 5 reward refferer cash 1 USD }
milestone n { when paid >= 1 reward referrer csh 1 USD }
"""
    )
    codes = [d.code for d in rewardrules.check_source(text, "many.rules")]
    assert codes == ["RR101", "RR102", "RR103", "RR106", "RR107"]


def test_rendered_diagnostic_has_location_source_line_caret_and_help() -> None:
    text = "event payment { amount: money USD }\nmetric x = sum payment.amout\n"
    (diagnostic,) = [d for d in rewardrules.check_source(text, "rules/x.rules") if d.code == "RR102"]
    lines = render(diagnostic).splitlines()
    assert lines[0] == "rules/x.rules:2:24: error[RR102]: event `payment` has no field `amout`"
    assert lines[1].endswith("| metric x = sum payment.amout")
    assert lines[2].endswith("^^^^^") and lines[2].index("^") == lines[1].index("amout")
    assert lines[3] == "     = help: did you mean `amount`?"


def test_load_raises_rule_error_with_all_diagnostics(tmp_path) -> None:
    path = tmp_path / "bad.rules"
    path.write_text("metric x = count paymnt\nmetric y = count refnd\n")
    with pytest.raises(rewardrules.RuleError, match=r"bad.rules:1:18: error\[RR101\]") as info:
        rewardrules.load(path)
    assert [d.code for d in info.value.diagnostics].count("RR101") == 2


@pytest.mark.parametrize("path", sorted(RULESETS.glob("*.rules")), ids=lambda p: p.stem)
def test_reference_rulesets_are_clean(path) -> None:
    diagnostics = rewardrules.check_source(path.read_text(), str(path))
    assert diagnostics == []


def test_deeply_nested_expression_is_refused_quickly() -> None:
    text = "event e { n: number }\nmetric x = " + " + ".join(["1"] * 5000)
    (diagnostic,) = rewardrules.check_source(text, "deep.rules")
    assert diagnostic.code == "RR401" and "nested too deeply" in diagnostic.message


def test_keywords_are_names_where_unambiguous() -> None:
    text = (
        "event payment { amount: money USD }\nmetric count = count payment\n"
        "milestone first { when count >= 1 reward referrer cash 1 USD }\n"
    )
    assert rewardrules.check_source(text) == []


def test_severity_is_error_for_every_check_problem() -> None:
    diagnostics = rewardrules.check_source(HEAD + "metric x = count paymnt")
    assert {d.severity for d in diagnostics} == {Severity.ERROR}


def test_every_syntax_error_is_reported_with_its_true_location() -> None:
    text = (
        "event payment { amount: money USD }\n"
        "milestone a {\n  when count payment >= 1\n  reward referrer cash 1 USD\n}\n"
        "milestone b {\n  first payment where payment.amount = 5\n  reward referrer cash 1 USD\n}\n"
        "milestone c { first payment reward referrer cash 1 USD }\n"
    )
    found = [(d.code, d.line, d.column) for d in rewardrules.check_source(text, "two.rules")]
    assert found == [("RR001", 3, 14), ("RR001", 7, 38)]
