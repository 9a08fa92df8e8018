"""Review of issue 17, `check --strict`: a reward that is a rate table of
fixed amounts pays at most its largest row, as `check --bounds` says, so
paid once per referral it is no unbounded liability (RR605); a table that
reads the ledger in its rows, or a repeating milestone, still is."""

from __future__ import annotations

from rewardrules.check.checker import check_text
from rewardrules.check.lint import lint

HEAD = (
    "event payment { amount: money USD }\n"
    "metric spent = sum payment.amount\n"
    "metric bonus = tiers of spent { 0 USD to 99.99 USD: 5 USD  100 USD or more: 10 USD }\n"
)


def codes(text: str) -> list[str]:
    checked, problems = check_text(text, "case.rules")
    assert checked is not None and problems == [], problems
    return [d.code for d in lint(checked)]


def test_a_table_of_fixed_amounts_paid_once_is_bounded() -> None:
    assert "RR605" not in codes(f"{HEAD}milestone c {{ when spent > 0 USD  reward referrer cash bonus }}\n")


def test_a_table_of_fixed_amounts_paid_at_every_payment_is_not() -> None:
    assert "RR605" in codes(f"{HEAD}milestone c {{ each payment  reward referrer cash bonus }}\n")


def test_a_table_that_reads_the_ledger_is_not() -> None:
    text = (
        "event payment { amount: money USD }\n"
        "metric spent = sum payment.amount\n"
        "metric bonus = tiers of spent { 0 USD to 99.99 USD: 5 USD  100 USD or more: spent }\n"
        "milestone c { when spent > 0 USD  reward referrer cash bonus }\n"
    )
    assert "RR605" in codes(text)


RATES = (
    "event payment { amount: money USD }\n"
    "metric paid = count payment\n"
    "metric conversions = count referrals where paid >= 1\n"
    "metric rate = tiers of conversions { 1 to 4: 10%  5 to 9: 50%  10 or more: 20% }\n"
)


def test_a_rate_table_of_a_fixed_amount_is_bounded_by_its_highest_rate() -> None:
    from rewardrules.check.bounds import program_bounds

    text = f"{RATES}milestone c {{ first payment  reward referrer cash rate of 200 USD }}\n"
    checked, problems = check_text(text, "case.rules")
    assert checked is not None and problems == []
    assert "RR605" not in [d.code for d in lint(checked)]
    [program] = checked.programs
    [(role, bound)] = program_bounds(program).per_referral
    assert role == "referrer"
    assert bound.total == 100  # 50% of 200 USD, the highest row


def test_a_rate_table_of_the_ledgers_amount_stays_unbounded() -> None:
    text = f"{RATES}milestone c {{ first payment  reward referrer cash rate of payment.amount }}\n"
    assert "RR605" in codes(text)
