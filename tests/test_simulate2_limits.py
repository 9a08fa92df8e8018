"""`rewardrules simulate`: what one call may make, and how it stops.

A run that fails ends the simulation at once: the runs still queued for
the worker processes are dropped, not run to be thrown away. One call is
bounded in runs x leads (its work) and runs x referrers (its memory), with
an error naming the limit before any run."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from rewardrules.cli import main
from rewardrules.simulate import run as running
from rewardrules.simulate.run import MAX_LEADS, RuleText, SimulationError, simulate, too_large
from rewardrules.simulate.scenario import most_leads, parse_scenario

from .conftest import RULESETS
from .test_simulate import SMALL

PARTNERS = RULESETS / "partner_and_customer.rules"


def test_a_failed_run_drops_the_queued_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run 0 fails; each other run leaves a mark. The workers are forked
    (they inherit the patched `Runner.run`), so the marks count the runs
    made: a handful (those already in a worker), not the 199 queued."""
    assert multiprocessing.get_start_method() == "fork"
    marks = tmp_path / "marks"
    marks.mkdir()

    def run(self: running.Runner, seed: int, index: int) -> list[running.Figures]:
        if index == 0:
            raise SimulationError("run 0 refused")
        (marks / str(index)).write_text("")
        import time

        time.sleep(0.02)  # a run takes time: the queue is still full when run 0 fails
        return [running.Figures()]

    monkeypatch.setattr(running.Runner, "run", run)
    rules = [RuleText(PARTNERS.read_text(), str(PARTNERS))]
    with pytest.raises(SimulationError, match="run 0 refused"):
        simulate(rules, parse_scenario(SMALL), 200, 1, jobs=2)
    assert len(list(marks.iterdir())) < 100


def test_runs_times_leads_is_bounded_with_the_limit_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = parse_scenario(SMALL.replace("[0, 1, 2]", "[0, 1, 50]"))
    leads = most_leads(scenario)
    assert leads == (30 * 50 + 60 * 1) * 4
    most_runs = MAX_LEADS // leads
    assert too_large(scenario, most_runs) is None
    refused = too_large(scenario, most_runs + 1)
    assert refused is not None and f"{MAX_LEADS:,} leads" in refused and f"{leads:,} leads each" in refused
    with pytest.raises(SimulationError, match="leads, the most one simulation makes"):
        simulate([RuleText(PARTNERS.read_text(), str(PARTNERS))], scenario, most_runs + 1, 1)
    # on the command line: exit 2, nothing on standard output, no run made
    busy = tmp_path / "busy.toml"
    busy.write_text(SMALL.replace("count = 30", "count = 12000").replace("months = 4", "months = 60"))
    code = main(["simulate", str(PARTNERS), "--scenario", str(busy), "--runs", "200"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and "200,000,000 leads" in err and "Traceback" not in err
