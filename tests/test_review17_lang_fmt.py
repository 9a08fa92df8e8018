"""Review of issue 17, `fmt`: the share of a partial void is written so
that it parses back the same. `PART of WHOLE` reads a name before `of` as
a rate (`fee of payment.amount`), so a part that ends in a bare name keeps
its parentheses (else `fmt` turned a file that parses into one that does
not)."""

from __future__ import annotations

from rewardrules.format import format_text
from rewardrules.parse import parse
from rewardrules.source import Source

HEAD = (
    "event payment { amount: money USD, fee: money USD }\n"
    "event refund { payment: text, amount: money USD }\n"
    "metric fees = sum refund.amount\n"
    "milestone c {\n"
    "  each payment\n"
    "  reward referrer cash 10% of payment.amount\n"
    "  hold 90 days\n"
)


def formatted(void: str) -> str:
    text = f"{HEAD}  {void}\n}}\n"
    out, problems = format_text(text)
    assert problems == [] and out is not None
    tree, problems = parse(Source("again.rules", out))
    assert problems == [] and tree is not None, out
    assert format_text(out) == (out, [])
    return next(line.strip() for line in out.splitlines() if line.strip().startswith("void"))


def test_a_part_that_is_a_bare_name_keeps_its_parentheses() -> None:
    assert formatted("void (fees) of payment.amount if refund") == "void (fees) of payment.amount if refund"


def test_a_part_that_ends_in_a_bare_name_keeps_its_parentheses() -> None:
    line = formatted("void (refund.amount - fees) of payment.amount if refund")
    assert line == "void (refund.amount - fees) of payment.amount if refund"


def test_a_part_whose_percentage_reads_a_bare_name_keeps_its_parentheses() -> None:
    line = formatted("void (10% of fees) of payment.amount if refund")
    assert line == "void (10% of fees) of payment.amount if refund"


def test_a_plain_share_is_unchanged() -> None:
    line = formatted("void refund.amount of payment.amount if refund where refund.payment == payment.id")
    assert line == "void refund.amount of payment.amount if refund where refund.payment == payment.id"
