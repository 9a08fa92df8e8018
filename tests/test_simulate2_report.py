"""`rewardrules simulate`: the text report when the rules pay more than
the currency."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rewardrules.cli import main

from .test_simulate import SMALL

CASH_AND_ITEM = """\
ruleset cash_and_item
event referral { source: optional text }
event payment { amount: money USD }
milestone first_payment {
  first payment where payment.amount > 0
  reward referrer cash 10 USD
  reward referee item "t-shirt"
}
"""


def test_the_monthly_cost_is_in_the_currency_whatever_else_is_paid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`item` sorts after `USD`: the month table once showed the items
    (the last unit of the totals) under the currency's place."""
    rules, scenario = tmp_path / "cash_and_item.rules", tmp_path / "small.toml"
    rules.write_text(CASH_AND_ITEM)
    scenario.write_text(SMALL)
    argv = ["simulate", str(rules), "--scenario", str(scenario), "--runs", "3"]
    assert main([*argv, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert sorted(report["payouts"]) == ["USD", "item"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    month = report["months"][-1]
    header = next(line for line in text.splitlines() if line.lstrip().startswith("month "))
    row = next(line for line in text.splitlines() if line.lstrip().startswith(month["month"]))
    assert header.split()[1:3] == ["paid", "USD"]
    assert row.split()[1] == month["payouts"]["USD"]["p50"] != month["payouts"]["item"]["p50"]
    assert row.split()[4] == month["cumulative_payouts"]["USD"]["p50"]
