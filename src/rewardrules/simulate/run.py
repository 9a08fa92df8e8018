"""Runs: each a synthetic ledger scored by the real engine, in one order.

Run `i` of a simulation seeded `s` draws from `random.Random(run_seed(s,
i))` alone, so its ledger is the same whichever process makes it, and the
runs are gathered in run order: the same figures for any `--jobs`. Worker
processes compile the rule files from their text (a compiled program does
not cross processes), once each.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from ..core.runtime import in_context
from ..core.timeutil import format_timestamp
from ..ledger.events import LedgerError
from ..score.api import Program, compile
from .generate import generate, month_start, run_seed
from .measure import Figures, measure
from .scenario import Scenario, most_leads
from .tiers import rate_tables

_NS = 1_000_000_000
#: the most runs x referrers one simulation makes: each run's earnings per
#: referrer are held until the top earners are ranked
MAX_REFERRER_RUNS = 20_000_000
#: the most runs x leads (the most a run may make) one simulation makes:
#: a bound on the work of one call, as `MAX_LEADS_PER_RUN` bounds a run's
MAX_LEADS = 200_000_000


#: what a simulation says when one of its worker processes ended before
#: its run did (`--jobs`): the system killed it, for memory most often
WORKER_LOST = (
    "a worker process ended before its run was done (killed, most often by the system for want of memory); "
    "nothing was written: run again with fewer --jobs or --runs"
)


class SimulationError(Exception):
    """A synthetic ledger the rule file refuses (the scenario writes events,
    or fields, the rule file reads otherwise), or a simulation too large
    to make. Its text says which."""


@dataclass(frozen=True)
class RuleText:
    """A rule file's text and path: what a worker compiles."""

    text: str
    path: str


class Runner:
    """Scores runs of one scenario under one or more rule files."""

    def __init__(self, rules: list[RuleText], scenario: Scenario) -> None:
        self.programs: list[Program] = [compile(rule.text, rule.path) for rule in rules]
        self.tables = [rate_tables(program.compiled.checked) for program in self.programs]
        self.scenario = scenario
        #: the last instant of the horizon: what is still held then is the liability
        self.as_of = format_timestamp(month_start(scenario.start, scenario.months) * _NS - 1)
        #: why a rule file cannot be forecast on this scenario, or None
        self.unfit = next(filter(None, (_unwritten(program, scenario) for program in self.programs)), None)

    def run(self, seed: int, index: int) -> list[Figures]:
        """Run `index`'s figures under each rule file, from one ledger (paired)."""
        if self.unfit is not None:
            raise SimulationError(self.unfit)
        events = generate(self.scenario, run_seed(seed, index))
        figures = []
        for program, tables in zip(self.programs, self.tables, strict=True):
            try:
                result = program.score(events, as_of=self.as_of, path=f"<run {index}>")
            except LedgerError as error:
                raise SimulationError(_refused(program, error)) from None
            figures.append(measure(events, result.data, self.scenario.events, self.scenario.currency, tables))
        return figures


def _unwritten(program: Program, scenario: Scenario) -> str | None:
    """Why `program` reads event types the scenario never writes, or None.
    Such a ledger is valid (a type no line has is not an error), so the
    forecast would show the rules paying nothing with no word of why: a
    rule file that names its events otherwise must rename them in [events]."""
    written = set(scenario.events.model_dump().values())
    missing = sorted(program.compiled.used_types - written)
    if not missing:
        return None
    names = ", ".join(f"`{kind}`" for kind in missing)
    return (
        f"`{program.name}` reads {names} events, which the scenario does not write: it writes "
        f"{', '.join(f'`{kind}`' for kind in sorted(written))} (docs/simulate.md); "
        f"name the rule file's types in [events]"
    )


def _refused(program: Program, error: LedgerError) -> str:
    first = error.problems[0]
    return (
        f"the scenario's ledger does not fit `{program.name}`: {first.message} "
        f"(the scenario writes the events of docs/simulate.md; name the rule file's types in [events])"
    )


_WORKER: Runner | None = None


def _start_worker(rules: list[RuleText], scenario: Scenario) -> None:
    global _WORKER
    _WORKER = Runner(rules, scenario)


def _work(task: tuple[int, int]) -> list[Figures] | str:
    assert _WORKER is not None
    try:
        return _WORKER.run(*task)
    except SimulationError as error:
        return str(error)


@in_context
def simulate(
    rules: list[RuleText],
    scenario: Scenario,
    runs: int,
    seed: int,
    jobs: int = 1,
    progress: Callable[[int, int], Any] | None = None,
) -> list[list[Figures]]:
    """Each run's figures (per rule file), in run order; `progress(done,
    runs)` after each run. `SimulationError` when a rule file refuses a
    scenario's ledger, or when the simulation is larger than one call
    makes (`too_large`), before any run."""
    refused = too_large(scenario, runs)
    if refused is not None:
        raise SimulationError(refused)
    results: list[list[Figures]] = []
    with closing(_runs(rules, scenario, runs, seed, jobs)) as stream:  # closed at once: queued runs dropped
        for figures in stream:
            if isinstance(figures, str):
                raise SimulationError(figures)
            results.append(figures)
            if progress is not None:
                progress(len(results), runs)
    return results


def too_large(scenario: Scenario, runs: int) -> str | None:
    """Why `runs` runs of `scenario` are more than one call makes, or None.
    A run is bounded (`MAX_LEADS_PER_RUN`), but runs x leads is the work
    and runs x referrers the memory (each run's earnings per referrer are
    kept until the top earners are ranked)."""
    referrers = sum(group.count for group in scenario.referrers)
    if runs * referrers > MAX_REFERRER_RUNS:
        return (
            f"--runs: {runs:,} runs of {referrers:,} referrers is more than {MAX_REFERRER_RUNS:,} referrer-runs, "
            "the most held in memory (each referrer's earnings per run, for the top earners); run fewer"
        )
    leads = most_leads(scenario)
    if runs * leads > MAX_LEADS:
        return (
            f"--runs: {runs:,} runs of up to {leads:,} leads each is more than {MAX_LEADS:,} leads, "
            "the most one simulation makes; run fewer, or fewer referrers or referrals a month"
        )
    return None


def _runs(
    rules: list[RuleText], scenario: Scenario, runs: int, seed: int, jobs: int
) -> Generator[list[Figures] | str, None, None]:
    tasks = [(seed, index) for index in range(runs)]
    if jobs <= 1 or runs <= 1:
        runner = Runner(rules, scenario)
        for task in tasks:
            try:
                yield runner.run(*task)
            except SimulationError as error:
                yield str(error)
        return
    with ProcessPoolExecutor(
        max_workers=min(jobs, runs), initializer=_start_worker, initargs=(rules, scenario)
    ) as pool:
        # closed early (a run failed, an interrupt), `map`'s iterator cancels
        # the runs still queued; only those already in a worker finish
        try:
            yield from pool.map(_work, tasks)
        except BrokenProcessPool:  # a traceback until 2026-12-07
            yield WORKER_LOST
