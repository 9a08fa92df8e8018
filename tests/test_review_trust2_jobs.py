"""Hostile review of `simulate --jobs`: a run that stops on an award limit
is reported as with one worker (exit 2, the limit's message), not as a
broken process pool. The limit's exception could not be unpickled (it was
rebuilt from its joined text), so the pool's result thread died."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from rewardrules.cli import main
from rewardrules.core.limits import AwardLimitError
from rewardrules.simulate.run import RuleText, simulate
from rewardrules.simulate.scenario import parse_scenario

from .test_simulate import SMALL

#: one award per cent paid: a payment of hundreds of dollars asks for
#: thousands of awards at one event, past the per-event limit
EVERY_CENT = """\
ruleset every_cent "One award per cent"

event payment { amount: money USD }

metric paid "Paid" = sum payment.amount

milestone lots "Every cent" {
  every 0.01 paid
  reward referrer cash 1 USD
}
"""


def test_an_award_limit_error_survives_pickling() -> None:
    error = AwardLimitError.at_event("pay-1", 500, "milestone `lots`")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is AwardLimitError
    fields = ("message", "hint", "event", "limit")
    assert [getattr(again, f) for f in fields] == [getattr(error, f) for f in fields]
    assert str(again) == str(error)


@pytest.mark.parametrize("jobs", [1, 2])
def test_simulate_raises_the_award_limit_whatever_the_workers(jobs: int) -> None:
    rules = [RuleText(EVERY_CENT, "every_cent.rules")]
    with pytest.raises(AwardLimitError) as caught:
        simulate(rules, parse_scenario(SMALL), 2, 7, jobs)
    assert "more than the limit of 100 at one event" in str(caught.value)


def test_the_cli_reports_the_limit_the_same_with_workers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "every_cent.rules"
    rules.write_text(EVERY_CENT, encoding="utf-8")
    scenario = tmp_path / "small.toml"
    scenario.write_text(SMALL, encoding="utf-8")
    seen = []
    for jobs in ("1", "2"):
        code = main(["simulate", str(rules), "--scenario", str(scenario), "--runs", "2", "--jobs", jobs])
        err = capsys.readouterr().err
        assert "Traceback" not in err
        seen.append((code, [line for line in err.splitlines() if "error" in line]))
    assert seen[0] == seen[1]
    assert seen[0][0] == 2
