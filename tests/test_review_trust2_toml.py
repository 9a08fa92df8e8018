"""Hostile review of the TOML inputs (simulation scenarios, rule test
files): read in bounded time, every mistake a problem of the file, never a
traceback. tomllib parses nested arrays recursively (a RecursionError at a
few kilobytes), and a scenario's numbers were unbounded Decimals:
`months = 1e888888888888888888` (31 bytes) kept pydantic busy without end."""

from __future__ import annotations

from pathlib import Path

import pytest

from rewardrules.cli import main
from rewardrules.simulate.scenario import ScenarioError, parse_scenario
from rewardrules.testing import TestFileError, parse_test_file

from .conftest import RULESETS
from .test_simulate import SMALL

DEEP_ARRAY = "a = " + "[" * 5000 + "]" * 5000 + "\n"
DEEP_TABLE = "a = " + "{b = " * 3000 + "1" + "}" * 3000 + "\n"


@pytest.mark.parametrize("text", [DEEP_ARRAY, DEEP_TABLE], ids=["array", "inline-table"])
def test_a_deeply_nested_scenario_is_a_problem_of_the_file(text: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "deep.toml")
    assert "nests too deeply" in caught.value.text()


@pytest.mark.parametrize("text", [DEEP_ARRAY, DEEP_TABLE], ids=["array", "inline-table"])
def test_a_deeply_nested_test_file_is_a_problem_of_the_file(text: str) -> None:
    with pytest.raises(TestFileError) as caught:
        parse_test_file(text, "deep.test.toml")
    assert "nests too deeply" in str(caught.value)


def test_simulate_reports_a_deep_scenario_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "deep.toml"
    scenario.write_text(DEEP_ARRAY, encoding="utf-8")
    code = main(["simulate", str(RULESETS / "partner_and_customer.rules"), "--scenario", str(scenario)])
    err = capsys.readouterr().err
    assert code == 2
    assert "nests too deeply" in err
    assert "Traceback" not in err


def test_simulate_reports_an_overlong_integer_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Python refuses to convert an integer of more than 4300 digits: tomllib
    lets that ValueError out."""
    scenario = tmp_path / "long.toml"
    scenario.write_text(SMALL.replace("seed = 7", "seed = " + "9" * 5000), encoding="utf-8")
    code = main(["simulate", str(RULESETS / "partner_and_customer.rules"), "--scenario", str(scenario)])
    err = capsys.readouterr().err
    assert code == 2
    assert "4300 digits" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1e-999999", "out of range"),
        ("0." + "0" * 40 + "5", "too many digits"),
        ("1e31", "out of range"),
    ],
)
def test_a_scenario_number_is_bounded_as_a_ledger_number(value: str, reason: str) -> None:
    """A rate or amount in a scenario has a ledger number's bounds (30 digits,
    exponent within 30): these were taken as valid rates on the old code."""
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(SMALL.replace("churn_rate = 0.05", f"churn_rate = {value}"), "s.toml")
    assert reason in caught.value.text()


def test_a_huge_exponent_is_refused_before_any_arithmetic() -> None:
    """`months = 1e888888888888888888`: on the old code, validation never ended."""
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(SMALL.replace("months = 4", "months = 1e888888888888888888"), "s.toml")
    assert "out of range" in caught.value.text()


def test_ordinary_scenario_numbers_still_read_exactly() -> None:
    scenario = parse_scenario(SMALL.replace("churn_rate = 0.05", "churn_rate = 0.000_5"), "s.toml")
    assert str(scenario.referrers[0].churn_rate) == "0.0005"
