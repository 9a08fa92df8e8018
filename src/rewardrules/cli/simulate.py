"""`rewardrules simulate RULES --scenario S.toml`: what a program would pay.

Scores many seeded synthetic ledgers (a scenario) or one real ledger (a
backtest, `--ledger`) with the real engine and reports, per unit and per
month, P50/P90/P99 of payouts, pending liability, revenue, cost per
customer and ROI, milestone and cap hits and the top earners
(docs/simulate.md). `--compare OTHER.rules` scores the same ledgers under
a second rule file (paired runs). Exit codes: 0 done; 1 a rule file has
errors; 2 bad invocation or input (scenario, ledger, a ledger the rules
refuse).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..core.formatting import quoted
from ..core.timeutil import parse_timestamp
from ..ledger import reading
from ..ledger.events import LedgerError
from .common import (
    add_format_argument,
    describe_os_error,
    fail,
    ledger_lines,
    load_program,
    print_error_lines,
    read_text,
    write_json,
)

#: the most runs one call makes
MAX_RUNS = 100_000


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "simulate",
        help="forecast what a rule file would pay over many simulated futures (or backtest it on a ledger)",
        description="Score many seeded synthetic ledgers drawn from a scenario (or one real ledger, --ledger) "
        "with the real engine, and report percentiles of payouts, pending liability, revenue, cost per customer "
        "and ROI, per unit and month (see docs/simulate.md).",
        epilog="exit codes: 0 done, 1 a rule file with errors, 2 bad invocation or input",
    )
    parser.add_argument("ruleset", metavar="RULES", help="the .rules file")
    given = parser.add_mutually_exclusive_group(required=True)
    given.add_argument("--scenario", metavar="FILE", help="the scenario, TOML (rewardrules schema scenario)")
    given.add_argument("--ledger", metavar="FILE", help="backtest: a real ledger (JSON Lines) instead of a scenario")
    parser.add_argument("--runs", type=_whole(1, MAX_RUNS), help="simulated futures (default 100)")
    parser.add_argument("--seed", type=_whole(0, 2**63 - 1), help="the seed (default: the scenario's `seed`)")
    parser.add_argument(
        "--jobs", type=_whole(1, 64), help="worker processes (default 1; the result does not depend on it)"
    )
    parser.add_argument("--compare", metavar="OTHER", help="a second rule file scored on the same ledgers (paired)")
    parser.add_argument("--currency", type=_currency, help="backtest: the currency of payments (default USD)")
    parser.add_argument(
        "--sample",
        type=_sample,
        metavar="SIZE",
        help="backtest on a sample of the ledger's referrers: a share (0.1) or a number (500); --seed picks it",
    )
    add_format_argument(parser, html="one offline page: a fan chart of the cost, the milestone and cap tables")
    parser.set_defaults(run=run)


def _whole(low: int, high: int) -> Any:
    def parse(text: str) -> int:
        if text.isascii() and text.isdecimal() and len(text) <= 19 and low <= int(text) <= high:
            return int(text)
        raise argparse.ArgumentTypeError(f"expected a whole number from {low:,} to {high:,}, not {text!r}")

    return parse


def _sample(text: str) -> Any:
    from ..simulate.sample import sample_size

    try:
        return sample_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _currency(text: str) -> str:
    """A currency code as a scenario's `currency` is written (three capital
    letters): `eur` would count no payment (their unit is `EUR`) and say nothing."""
    if len(text) == 3 and text.isascii() and text.isalpha() and text.isupper():
        return text
    raise argparse.ArgumentTypeError(f"expected a currency code of three capital letters (USD, EUR), not {text!r}")


def run(args: argparse.Namespace) -> int:
    from ..simulate.run import RuleText, SimulationError

    misplaced = _misplaced(args)
    if misplaced is not None:
        return fail(misplaced)
    args.runs, args.jobs, args.currency = args.runs or 100, args.jobs or 1, args.currency or "USD"
    rules: list[RuleText] = []
    for path in [args.ruleset, *([args.compare] if args.compare else [])]:
        program = load_program(path)
        if isinstance(program, int):
            return program
        rules.append(RuleText(read_text(path), path))
    try:
        report = _backtest(args, rules) if args.ledger is not None else _forecast(args, rules)
    except SimulationError as error:
        return fail(str(error))
    if isinstance(report, int):
        return report
    if args.format == "json":
        write_json(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    elif args.format == "html":
        from ..report.simulation import render_simulation

        write_json(render_simulation(report))  # UTF-8, whatever the terminal's encoding
    else:
        from ..simulate.render import text

        sys.stdout.write(text(report))
    return 0


def _misplaced(args: argparse.Namespace) -> str | None:
    """An option of the other mode, which would be ignored without a word:
    a scenario names its currency, and a backtest is one run of one ledger."""
    if args.ledger is None and args.currency is not None:
        return "--currency is for a backtest (--ledger); a scenario names its own (`currency = ...`)"
    if args.ledger is None and args.sample is not None:
        return "--sample is for a backtest (--ledger): a sample of a real ledger's referrers"
    if args.ledger is None:
        return None
    given = [name for name in ("runs", "seed", "jobs") if getattr(args, name) is not None]
    if args.sample is not None and "seed" in given:  # the seed picks the sample
        given.remove("seed")
    if given:
        return f"--{given[0]} is for a forecast (--scenario); a backtest (--ledger) is one run of that ledger"
    return None


def _forecast(args: argparse.Namespace, rules: list[Any]) -> dict[str, Any] | int:
    from ..simulate.aggregate import record
    from ..simulate.generate import month_names, places
    from ..simulate.run import simulate
    from ..simulate.scenario import MAX_SCENARIO_BYTES, ScenarioError, parse_scenario

    try:
        data = reading.read_regular_bytes(args.scenario, MAX_SCENARIO_BYTES, "a scenario")
        scenario = parse_scenario(data.decode("utf-8"), args.scenario)
    except OSError as error:
        return fail(f"--scenario: {describe_os_error(error, args.scenario)}")
    except UnicodeDecodeError:
        return fail(f"--scenario: {quoted(args.scenario)} is not UTF-8 text")
    except ScenarioError as error:
        print_error_lines(str(error))
        return fail(f"the scenario has {len(error.problems)} problem(s); nothing was simulated")
    seed = scenario.seed if args.seed is None else args.seed
    months = month_names(scenario.start, scenario.months)
    runs = simulate(rules, scenario, args.runs, seed, args.jobs, _progress())
    header = {
        "scenario": {"name": scenario.name, "path": args.scenario, "groups": [_group(g) for g in scenario.referrers]},
        "runs": args.runs,
        "seed": seed,
        "currency": scenario.currency,
        "months_simulated": months,
    }
    return record(header, runs, [rule.path for rule in rules], months, scenario.currency, places(scenario.currency))


def _group(group: Any) -> dict[str, Any]:
    plain, sales = group.rates()
    return {
        "name": group.name,
        "source": group.source,
        "count": group.count,
        "sales_involvement": str(group.sales_involvement),
        "conversion": str(plain),
        "conversion_with_sales": str(sales),
    }


def _backtest(args: argparse.Namespace, rules: list[Any]) -> dict[str, Any] | int:
    """The same report from one real ledger: one run, its figures."""
    from ..score.api import compile
    from ..simulate.aggregate import record
    from ..simulate.generate import places
    from ..simulate.measure import measure, month_of, revenue_problems
    from ..simulate.sample import sample_lines
    from ..simulate.scenario import Events
    from ..simulate.tiers import rate_tables

    try:
        lines = list(ledger_lines(args.ledger))
    except OSError as error:
        return fail(describe_os_error(error, args.ledger))
    header: dict[str, Any] = {"ledger": args.ledger, "runs": 1, "seed": None, "currency": args.currency}
    latest = None
    if args.sample is not None:
        lines, sample = sample_lines(lines, args.sample, args.seed or 0)
        header.update(seed=sample.seed, sample=sample.record())
        latest = sample.latest
    results = []
    for rule in rules:
        program = compile(rule.text, rule.path)
        try:
            result = program.score(lines, as_of=None if latest is None else _text(latest), path=args.ledger)
        except LedgerError as error:
            print_error_lines(str(error))
            return fail(f"the ledger has {len(error.problems)} problem(s); nothing was simulated")
        results.append((result.data, rate_tables(program.compiled.checked)))
    numbered = _decoded(lines)
    events = [event for _, event in numbered]
    names = Events.model_validate({})
    problems = revenue_problems(numbered, names)
    if problems:
        print_error_lines(str(LedgerError(problems, args.ledger)))
        return fail(f"the ledger has {len(problems)} problem(s); nothing was simulated")
    figures = [measure(events, data, names, args.currency, tables) for data, tables in results]
    instants = sorted([*(parse_timestamp(event["at"]) for event in events), *([latest] if latest is not None else [])])
    months = _month_range(month_of(_text(instants[0])), month_of(_text(instants[-1]))) if instants else []
    header["months_simulated"] = months
    return record(header, [figures], [rule.path for rule in rules], months, args.currency, places(args.currency))


def _decoded(lines: list[Any]) -> list[tuple[int, dict[str, Any]]]:
    """The ledger's objects with their line numbers, decoded as the scorer
    decodes them (bounded, numbers exact: `ledger.decode.iter_lines`; the
    scorer has refused a line that is not an object)."""
    from ..ledger.decode import iter_lines

    return [(line, value) for line, value, problem in iter_lines(lines) if problem is None and isinstance(value, dict)]


def _text(ns: int) -> str:
    from ..core.timeutil import format_timestamp

    return format_timestamp(ns)


def _month_range(first: str, last: str) -> list[str]:
    year, month = int(first[:4]), int(first[5:7])
    names = []
    while f"{year:04d}-{month:02d}" <= last:
        names.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return names


def _progress() -> Any:
    """`run N/M` on standard error, rewritten in place, on a terminal only."""
    if not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()):
        return None

    def show(done: int, total: int) -> None:
        width = 30
        filled = width * done // total
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] run {done}/{total}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show
