"""`rewardrules simulate`: how often each tier of a rate table is reached.

Each row of a rate table (`tiers of`, `graduated tiers of`) is a figure:
the referrers (a table over a per-referrer metric) or referrals in it at
the horizon, per run, with the runs where any reached it; those in no row
are counted apart. Checked against counts made here from the synthetic
ledger itself, not from the engine."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from rewardrules.cli import main
from rewardrules.simulate.generate import generate, month_names, run_seed
from rewardrules.simulate.run import Runner
from rewardrules.simulate.scenario import parse_scenario
from rewardrules.simulate.tiers import NO_ROW

from .test_simulate import PARTNERS, SMALL, report_of, rules

TIERED = """\
ruleset tiered "Tiered partner commission"

event referral { source: optional text }
event payment { amount: money USD }

metric paid = count payment where payment.amount > 0
metric conversions "Converted referrals" = count referrals where paid >= 1
metric rate "Commission rate" = tiers of conversions {
  1 to 2: 10%
  3 to 4: 15%
  5 or more: 20%
}
metric revenue = sum payment.amount where payment.amount > 0
metric bonus = graduated tiers of revenue {
  0 USD to 299.99 USD: 0%
  300 USD or more: 5%
}

milestone commission {
  each payment where payment.amount > 0
  reward referrer cash rate of payment.amount
}
"""


@pytest.fixture
def tiered(tmp_path: Path) -> Path:
    path = tmp_path / "tiered.rules"
    path.write_text(TIERED)
    return path


def _expected(events: list[dict[str, object]]) -> dict[tuple[str, str, int, str, str], int]:
    """The tier counts of a synthetic ledger, counted from its events:
    each lead is one referral (its own referee), the horizon ends the run."""
    referrer_of = {e["referee"]: e["referrer"] for e in events if e["type"] == "referral"}
    revenue = {referee: Decimal(0) for referee in referrer_of}
    for event in events:
        if event["type"] == "payment" and Decimal(str(event["amount"])) > 0:
            revenue[event["referee"]] += Decimal(str(event["amount"]))
    conversions: dict[object, int] = {}
    for referee, referrer in referrer_of.items():
        conversions[referrer] = conversions.get(referrer, 0) + (revenue[referee] > 0)
    rate = [0, 0, 0, 0]
    for n in conversions.values():
        rate[0 if 1 <= n <= 2 else 1 if 3 <= n <= 4 else 2 if n >= 5 else 3] += 1
    bonus = [0, 0, 0]
    for amount in revenue.values():
        bonus[0 if amount < 300 else 1] += 1
    rows = {
        "rate": ("1 to 2: 10%", "3 to 4: 15%", "5 or more: 20%", NO_ROW),
        "bonus": ("0 USD to 299.99 USD: 0%", "300 USD or more: 5%", NO_ROW),
    }
    counts = {"rate": rate, "bonus": bonus}
    kinds = {"rate": "referrers", "bonus": "referrals"}
    return {
        ("tiered", table, index + 1, label, kinds[table]): counts[table][index]
        for table, labels in rows.items()
        for index, label in enumerate(labels)
    }


def test_each_row_counts_the_referrers_or_referrals_in_it_at_the_horizon(tiered: Path) -> None:
    scenario = parse_scenario(SMALL.replace("[0, 1, 2], weights = [2, 2, 1]", "[0, 1, 4], weights = [1, 2, 2]"))
    runner = Runner(rules(tiered), scenario)
    for index in range(3):
        [figures] = runner.run(7, index)
        expected = _expected(generate(scenario, run_seed(7, index)))
        assert figures.tiers == expected
        assert expected[("tiered", "rate", 3, "5 or more: 20%", "referrers")] > 0  # every row is exercised
        assert expected[("tiered", "bonus", 2, "300 USD or more: 5%", "referrals")] > 0


def test_the_report_gives_each_tier_its_runs_hit_and_percentiles(tiered: Path) -> None:
    scenario = parse_scenario(SMALL)
    report = report_of(scenario, 6, 3, 1, tiered)
    rows = [(t["table"], t["row"], t["tier"], t["counts"]) for t in report["tiers"]]
    assert rows == [
        ("bonus", 1, "0 USD to 299.99 USD: 0%", "referrals"),
        ("bonus", 2, "300 USD or more: 5%", "referrals"),
        ("bonus", 3, NO_ROW, "referrals"),
        ("rate", 1, "1 to 2: 10%", "referrers"),
        ("rate", 2, "3 to 4: 15%", "referrers"),
        ("rate", 3, "5 or more: 20%", "referrers"),
        ("rate", 4, NO_ROW, "referrers"),
    ]
    runner = Runner(rules(tiered), scenario)
    per_run = [runner.run(3, index)[0].tiers for index in range(6)]
    for entry in report["tiers"]:
        key = ("tiered", entry["table"], entry["row"], entry["tier"], entry["counts"])
        values = sorted(tiers[key] for tiers in per_run)
        assert entry["runs_hit"] == sum(1 for v in values if v)
        assert entry["reached"] == {
            "runs": 6,
            "min": str(values[0]),
            "p50": str(values[2]),
            "p90": str(values[5]),
            "p99": str(values[5]),
            "max": str(values[5]),
        }
    bonus_none = next(t for t in report["tiers"] if t["table"] == "bonus" and t["tier"] == NO_ROW)
    assert bonus_none["runs_hit"] == 0  # every referral has a revenue (0 when unpaid): a tier nobody is in is a row too


def test_a_rule_file_without_rate_tables_has_no_tier_rows() -> None:
    report = report_of(parse_scenario(SMALL), 2, 1)
    assert report["tiers"] == []


def test_tiers_are_in_text_json_and_html_and_the_same_for_any_jobs(
    tiered: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "small.toml"
    scenario.write_text(SMALL)
    base = ["simulate", str(tiered), "--scenario", str(scenario), "--runs", "4"]
    assert main([*base, "--format", "json"]) == 0
    one = capsys.readouterr().out
    assert main([*base, "--format", "json", "--jobs", "2"]) == 0
    assert capsys.readouterr().out == one
    assert [t["tier"] for t in json.loads(one)["tiers"]][:2] == ["0 USD to 299.99 USD: 0%", "300 USD or more: 5%"]
    assert main(base) == 0
    text = capsys.readouterr().out
    assert "tiers reached at the horizon" in text and "tiered.rate" in text and "5 or more: 20%" in text
    assert main([*base, "--format", "html"]) == 0
    page = capsys.readouterr().out
    assert '<table id="tiers">' in page and "5 or more: 20%" in page


def test_a_backtest_counts_tiers_on_the_real_ledger(
    tiered: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = parse_scenario(SMALL)
    events = generate(scenario, run_seed(1, 0))
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text("".join(json.dumps(event) + "\n" for event in events))
    assert main(["simulate", str(tiered), "--ledger", str(ledger), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    expected = _expected(events)
    for entry in report["tiers"]:
        key = ("tiered", entry["table"], entry["row"], entry["tier"], entry["counts"])
        assert entry["reached"]["p50"] == str(expected[key])
    assert month_names(scenario.start, scenario.months)[0] == report["months_simulated"][0]


def test_each_milestone_gives_its_cost_per_run_and_its_distribution() -> None:
    """A milestone's cost per run adds up, over milestones, to the run's
    payouts; its distribution bins every run, in equal bins from the least
    cost to the greatest."""
    scenario = parse_scenario(SMALL)
    report = report_of(scenario, 9, 2)
    runner = Runner(rules(PARTNERS), scenario)
    per_run = [runner.run(2, index)[0] for index in range(9)]
    for figures in per_run:
        assert sum(figures.milestone_cost.values()) == figures.payouts["USD"]
    for entry in report["milestones"]:
        key = (entry["program"], entry["milestone"])
        costs = sorted(figures.milestone_cost.get(key, Decimal(0)) for figures in per_run)
        assert entry["cost"]["min"] == str(costs[0]) and entry["cost"]["max"] == str(costs[-1])
        bins = entry["distribution"]
        assert len(bins) == 10 and sum(b["runs"] for b in bins) == 9
        assert bins[0]["from"] == str(costs[0]) and bins[-1]["to"] == str(costs[-1])
        width = (costs[-1] - costs[0]) / 10
        for value in costs:
            index = min(9, int((value - costs[0]) / width))
            assert Decimal(bins[index]["from"]) <= value.quantize(Decimal("0.01")) + Decimal("0.01")


def test_a_histogram_of_equal_values_is_one_bin_and_a_bound_goes_up() -> None:
    from rewardrules.simulate.aggregate import histogram

    cent = Decimal("0.01")
    assert histogram([Decimal(5)] * 3, cent) == [{"from": "5", "to": "5", "runs": 3}]
    assert histogram([], cent) == []
    bins = histogram([Decimal(0), Decimal(1), Decimal(10)], cent)
    assert [b["runs"] for b in bins] == [1, 1, 0, 0, 0, 0, 0, 0, 0, 1]  # 1 is on the bound of the second bin
    assert (bins[1]["from"], bins[1]["to"]) == ("1.00", "2.00")
