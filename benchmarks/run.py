"""Benchmarks: rewardrules against hand-written folds and peer engines.

One command runs every section and prints a table of events/s, ratios,
peak memory and latency percentiles:

    python benchmarks/run.py                 # the default sizes (a few minutes)
    python benchmarks/run.py --full          # adds 10M events to the scale run
    python benchmarks/run.py --smoke         # tiny sizes: checks the code works

Runs alternate engine and baseline, and the table reports the median of the
repeats, so ratios hold on a noisy machine. Peer engines (zen-engine,
datalogic-py) are used when installed: `pip install -e '.[bench]'`.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import folds  # noqa: E402
import generate  # noqa: E402
import peers  # noqa: E402

import rewardrules  # noqa: E402
from rewardrules.score.api import paused_gc  # noqa: E402
from rewardrules.score.schema import CONTRACT_FIELDS  # noqa: E402

RULESET = ROOT / "rulesets" / "saas_milestones.rules"
ENGINE = "rewardrules program.score(events)"
FOLD = "hand-written fold, integer cents"
BIN = Path(sys.executable).parent / "rewardrules"


def write_ledger(path: Path, count: int, ordered: bool = False, customers: int | None = None) -> None:
    """A generated ledger; `ordered` sorts it by (at, id) with the system's
    `sort`, so even 10M events never sit in this process's memory; with
    `customers`, a fixed population of referrals however many events."""
    events = generate.events(count) if customers is None else generate.population_events(count, customers)
    if not ordered:
        with path.open("w") as handle:
            for event in events:
                handle.write(json.dumps(event, separators=(",", ":")) + "\n")
        return
    from rewardrules.core.timeutil import parse_timestamp

    keyed = path.with_suffix(".keyed")
    with keyed.open("w") as handle:
        for event in events:
            line = json.dumps(event, separators=(",", ":"))
            handle.write(f"{parse_timestamp(str(event['at'])):020d}\t{event['id']}\t{line}\n")
    env = {**os.environ, "LC_ALL": "C"}  # byte order: the same as Python's str order for these ids
    with path.open("w") as out:
        sort = subprocess.Popen(["sort", "-t", "\t", "-k1,1", "-k2,2", str(keyed)], stdout=subprocess.PIPE, env=env)
        cut = subprocess.run(["cut", "-f3-"], stdin=sort.stdout, stdout=out, check=True)
        sort.wait()
    keyed.unlink()
    if sort.returncode or cut.returncode:
        raise SystemExit("sorting the ledger failed")


def alternate(runs: dict[str, Callable[[], Any]], repeats: int) -> dict[str, list[float]]:
    """CPU seconds of each callable, run in turn `repeats` times (CPU time,
    not wall time: other processes on the machine change it less), repeat
    by repeat."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.process_time()
            run()
            times[name].append(time.process_time() - start)
    return times


def medians(times: dict[str, list[float]]) -> dict[str, float]:
    return {name: statistics.median(values) for name, values in times.items()}


TIME = Path("/usr/bin/time")


def child(command: list[str], stdout: Any = subprocess.DEVNULL) -> tuple[float, int]:
    """CPU seconds (user + system) and peak RSS (KiB) of a whole process.

    The peak comes from GNU time when it is there: a child forked from this
    (large) process would otherwise report this process's memory as its own."""
    with tempfile.NamedTemporaryFile("r") as report:
        wrapped = [str(TIME), "-f", "%M", "-o", report.name, *command] if TIME.exists() else command
        process = subprocess.Popen(wrapped, stdout=stdout, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
        peak = int(report.read().split()[-1]) if TIME.exists() else usage.ru_maxrss
    elapsed = usage.ru_utime + usage.ru_stime
    if status != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{process.stderr.read().decode() if process.stderr else ''}")
    return elapsed, peak


def row(table: list[tuple[str, ...]], *cells: object) -> None:
    table.append(tuple(str(c) for c in cells))


def print_table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n## {title}\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")


def in_process(count: int, repeats: int, workdir: Path) -> None:
    path = workdir / "inproc.jsonl"
    write_ledger(path, count)
    events = [json.loads(line, parse_float=Decimal) for line in path.open()]
    program = rewardrules.load(RULESET)
    engine_awards = [{k: a[k] for k in CONTRACT_FIELDS} for a in program.score(events, explain=False).data["awards"]]
    if engine_awards != folds.fold_decimal(events):
        raise SystemExit("the engine and the hand-written fold disagree: the comparison would be meaningless")
    runs: dict[str, Callable[[], Any]] = {
        "loop that only iterates the events": lambda: _iterate(events),
        FOLD: lambda: folds.fold_cents(events),
        "hand-written fold, Decimal": lambda: folds.fold_decimal(events),
        ENGINE: lambda: program.score(events, explain=False),
    }
    for name, tests in peers.available().items():
        runs[name] = lambda tests=tests: peers.fold(events, tests)
    times = alternate(runs, repeats)
    middle = medians(times)
    base = middle[FOLD]
    table: list[tuple[str, ...]] = []
    for name, seconds in middle.items():
        row(table, name, f"{count / seconds / 1000:,.0f}k", f"{seconds / base:.2f}")
    print_table(
        f"In-process scoring, saas_milestones, {count:,} events (median of {repeats})",
        ("implementation", "events/s", "x hand-written fold (cents)"),
        table,
    )
    # The same ratio within each repeat, where engine and fold ran back to back.
    paired = [e / f for e, f in zip(times[ENGINE], times[FOLD], strict=True)]
    print(f"\nprogram.score / fold (cents), repeat by repeat: {', '.join(f'{r:.2f}' for r in paired)}")
    # Noise only adds time: the ratio of the fastest runs is the other usual estimate.
    print(f"program.score / fold (cents), best of {repeats} each: {min(times[ENGINE]) / min(times[FOLD]):.2f}")
    evaluation(events, program, repeats)


def evaluation(events: list[dict[str, Any]], program: rewardrules.Program, repeats: int) -> None:
    """The program's conditions alone, per subscription event (peers.py)."""
    inputs = peers.evaluation_inputs(events)
    evaluators = {
        "conditions written in Python": peers.evaluate_by_hand,
        "rewardrules generated code": peers.evaluate_rewardrules(program),
    }
    for name, tests in peers.available().items():
        evaluators[name] = peers.evaluate(tests)
    for name, tests in peers.available("event.mrr").items():
        evaluators[f"{name}, whole event as context"] = peers.evaluate_on_events(tests, events)
    if len({evaluate(inputs) for evaluate in evaluators.values()}) != 1:
        raise SystemExit("the evaluators disagree: the comparison would be meaningless")
    middle = medians(alternate({name: lambda f=f: f(inputs) for name, f in evaluators.items()}, repeats))
    ours = middle["rewardrules generated code"]
    table: list[tuple[str, ...]] = []
    for name, seconds in middle.items():
        row(table, name, f"{seconds / len(inputs) * 1e6:.2f}", f"{seconds / ours:.2f}")
    print_table(
        f"Evaluating the three milestones of one subscription event, {len(inputs):,} events (median of {repeats})",
        ("implementation", "us per event", "x rewardrules"),
        table,
    )


def profile(count: int, repeats: int) -> None:
    """Where `program.score` spends its time, stage by stage, against the
    fold (cyclic GC off, best of the repeats: the cost of the work itself),
    and what touching one more object of a referral costs per event."""
    from decimal import localcontext

    from rewardrules.core.runtime import CONTEXT
    from rewardrules.score.engine import Engine, run
    from rewardrules.score.result import Reporter

    events = list(generate.events(count))
    program = rewardrules.load(RULESET)
    best: dict[str, float] = {}

    def timed(name: str, work: Callable[[], Any]) -> Any:
        start = time.process_time()
        result = work()
        best[name] = min(best.get(name, float("inf")), time.process_time() - start)
        return result

    with paused_gc():
        for _ in range(repeats):
            timed("hand-written fold, integer cents (all of it)", lambda: folds.fold_cents(events))
            timed("rewardrules program.score(events) (all of it)", lambda: program.score(events, explain=False))
            ordered, latest = timed("read and validate", lambda: program._read(events, "<ledger>"))
            timed("sort", ordered.sort)
            # `run` empties the list it feeds (engine.run): the events read below, kept first
            subscriptions = [record for record in ordered if record[2] == "subscription"]
            engine = Engine(program.compiled)
            timed("evaluate", lambda engine=engine, ordered=ordered: run(engine, ordered))
            timed("write the result", lambda engine=engine, latest=latest: Reporter(engine, latest).build(False))
    total = best["rewardrules program.score(events) (all of it)"]
    table: list[tuple[str, ...]] = []
    for name, seconds in best.items():
        row(table, name, f"{seconds / count * 1e6:.2f}", f"{seconds / total:.0%}")
    print_table(
        f"Profile of program.score, {count:,} events (best of {repeats}, cyclic GC off)",
        ("stage", "us per event", "share of score"),
        table,
    )
    # The state an event reaches: its referral, then one more object of it at a time.
    referrals = engine.state.referrals
    reads = {
        "the referral's metric slots": lambda r: r.m[0],
        "+ its reached flags": lambda r: (r.m[0], r.done[0]),
        "+ its program links": lambda r: (r.m[0], r.done[0], r.links[0]),
    }
    costs: dict[str, float] = {}
    with paused_gc(), localcontext(CONTEXT):
        for name, read in reads.items():
            samples = []
            for _ in range(repeats):
                start = time.process_time()
                for record in subscriptions:
                    read(referrals[record[3]])
                samples.append(time.process_time() - start)
            costs[name] = min(samples) / len(subscriptions) * 1e6
    table = []
    previous = None
    for name, us in costs.items():
        row(table, name, f"{us:.2f}", "" if previous is None else f"{us - previous:+.2f}")
        previous = us
    print_table(
        f"Reading a referral's state for each of {len(subscriptions):,} subscription events (best of {repeats})",
        ("read", "us per event", "added"),
        table,
    )


def whole_process(count: int, repeats: int, workdir: Path) -> None:
    path = workdir / "cli.jsonl"
    write_ledger(path, count)
    commands = {
        "script: json.loads + hand-written fold": [sys.executable, str(HERE / "cli_fold.py"), str(path)],
        "rewardrules score --format json --no-explain": [
            str(BIN),
            "score",
            str(RULESET),
            str(path),
            "--format",
            "json",
            "--no-explain",
        ],
    }
    samples: dict[str, list[tuple[float, int]]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            samples[name].append(child(command))
    base = statistics.median(t for t, _ in samples["script: json.loads + hand-written fold"])
    table: list[tuple[str, ...]] = []
    for name, values in samples.items():
        seconds = statistics.median(t for t, _ in values)
        peak = max(m for _, m in values)
        row(
            table,
            name,
            f"{seconds:.2f}",
            f"{count / seconds / 1000:,.0f}k",
            f"{seconds / base:.2f}",
            f"{peak / 1024:,.0f}",
        )
    print_table(
        f"Whole process on a {count:,}-event JSONL ledger (median of {repeats})",
        ("command", "CPU seconds", "events/s", "x script", "peak RSS MiB"),
        table,
    )


def session_latency(count: int, repeats: int) -> None:
    """`session.add` for each event of a ledger in order against batch
    scoring of the same events: a new session each pass, session and batch
    passes alternating (CPU time, medians). The latencies come from one
    more pass that clocks each add, kept apart so that the clock does not
    weigh on the ratio."""
    from rewardrules.core.timeutil import parse_timestamp

    events = [dict(e) for e in generate.events(count)]
    events.sort(key=lambda e: (parse_timestamp(str(e["at"])), str(e["id"])))
    program = rewardrules.load(RULESET)

    def feed() -> None:
        add = program.session().add
        for event in events:
            add(event)

    times = alternate({"session": feed, "batch": lambda: program.score(events, explain=False)}, repeats)
    middle = medians(times)
    session = program.session()
    latencies = []
    for event in events:
        start = time.perf_counter_ns()
        session.add(event)
        latencies.append(time.perf_counter_ns() - start)
    latencies.sort()
    batch = middle["batch"] / count * 1e6
    table: list[tuple[str, ...]] = []
    row(table, f"batch score, per event (median of {repeats})", f"{batch:.1f}", "", "", "1.00")
    row(
        table,
        f"session.add(event) (median of {repeats})",
        f"{middle['session'] / count * 1e6:.1f}",
        f"{latencies[count // 2] / 1000:.1f}",
        f"{latencies[int(count * 0.99)] / 1000:.1f}",
        f"{middle['session'] / middle['batch']:.2f}",
    )
    print_table(
        f"Incremental session, {count:,} events in order",
        ("path", "mean us", "median us", "p99 us", "x batch per event"),
        table,
    )
    paired = [s / b for s, b in zip(times["session"], times["batch"], strict=True)]
    print(f"\nsession / batch, repeat by repeat: {', '.join(f'{r:.2f}' for r in paired)}")


def scale(sizes: list[int], workdir: Path, customers: int) -> None:
    """Time and peak memory as the ledger grows. Two ledgers per size: the
    usual one (referrals grow with events) and one with a fixed population
    of referrals, where streaming memory must stay flat."""
    table: list[tuple[str, ...]] = []
    previous: tuple[float, float] | None = None
    for size in sizes:
        path = workdir / f"scale-{size}.jsonl"
        write_ledger(path, size, ordered=True)
        command = [str(BIN), "score", str(RULESET), str(path), "--format", "json", "--no-explain"]
        # batch holds the whole ledger: past 1M events it is the streaming mode's job
        batch = child(command) if size <= 1_000_000 else None
        stream = child([*command, "--stream"])
        path.unlink()
        # a fixed population's ledger has at least one event per referral
        fixed = None
        if size >= customers:
            write_ledger(path, size, ordered=True, customers=customers)
            fixed = child([*command, "--stream"])
            path.unlink()
        row(
            table,
            f"{size:,}",
            f"{batch[0]:.2f}" if batch else "-",
            f"{batch[1] / 1024:,.0f}" if batch else "-",
            f"{stream[0]:.2f}",
            f"{stream[1] / 1024:,.0f}",
            f"{stream[0] / previous[0]:.1f}" if previous else "",
            f"{fixed[0]:.2f}" if fixed else "-",
            f"{fixed[1] / 1024:,.0f}" if fixed else "-",
            f"{fixed[0] / previous[1]:.1f}" if fixed and previous and previous[1] else "",
        )
        previous = (stream[0], fixed[0] if fixed else 0.0)
    print_table(
        f"Scale (ordered ledgers, whole process; last three columns: {customers:,} referrals whatever the size)",
        (
            "events",
            "batch CPU s",
            "batch peak MiB",
            "--stream CPU s",
            "--stream peak MiB",
            "x time for 10x events",
            "fixed: --stream CPU s",
            "fixed: peak MiB",
            "fixed: x time for 10x events",
        ),
        table,
    )


def startup(repeats: int) -> None:
    # As installed from a wheel: pip writes the bytecode of every module, so
    # do the same for this (editable) checkout before timing start-up.
    compileall.compile_dir(ROOT / "src" / "rewardrules", quiet=1)
    commands = {
        "python -c 'import lark, pydantic, jinja2'": [sys.executable, "-c", "import lark, pydantic, jinja2"],
        "rewardrules check rulesets/saas_milestones.rules": [str(BIN), "check", str(RULESET)],
    }
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, command in commands.items():
            samples[name].append(child(command)[0])
    base = statistics.median(samples["python -c 'import lark, pydantic, jinja2'"])
    table: list[tuple[str, ...]] = []
    for name, values in samples.items():
        seconds = statistics.median(values)
        row(table, name, f"{seconds * 1000:.0f}", f"{seconds / base:.2f}")
    print_table(f"Start-up (median of {repeats})", ("command", "CPU ms", "x importing the dependencies"), table)


def compile_time(sizes: list[int], repeats: int) -> None:
    table: list[tuple[str, ...]] = []
    for size in sizes:
        text = "event subscription { mrr: money USD }\nmetric mrr = latest subscription.mrr\n" + "".join(
            f"milestone m{i} {{ when mrr >= {i + 1} USD  reward referrer cash 1 USD }}\n" for i in range(size)
        )
        seconds = statistics.median(_timed(lambda text=text: rewardrules.compile(text)) for _ in range(repeats))
        row(table, f"{size:,}", f"{seconds * 1000:.1f}", f"{seconds / size * 1e6:.0f}")
    print_table("Compile time by number of milestones", ("milestones", "ms", "us per milestone"), table)


def _iterate(events: list[dict[str, Any]]) -> None:
    for _ in events:
        pass


def _timed(run: Callable[[], Any]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_300_000, help="ledger size for the in-process run")
    parser.add_argument("--cli-events", type=int, default=1_000_000, help="ledger size for the whole-process run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="scale up to 10M events")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repeat: the code works")
    parser.add_argument(
        "--sections",
        default="inprocess,profile,process,session,scale,startup,compile",
        help="comma-separated subset of: inprocess, profile, process, session, scale, startup, compile",
    )
    args = parser.parse_args()
    if args.smoke:
        args.events, args.cli_events, args.repeats = 2_000, 2_000, 1
        sizes = [1_000, 10_000]
    else:
        sizes = [10_000, 100_000, 1_000_000] + ([10_000_000] if args.full else [])
    print(
        f"# rewardrules benchmarks\n\nmachine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {platform.platform()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        wanted = set(args.sections.split(","))
        if "inprocess" in wanted:
            in_process(args.events, args.repeats, workdir)
        if "profile" in wanted:
            profile(min(args.events, 200_000), max(args.repeats, 5))
        if "process" in wanted:
            whole_process(args.cli_events, args.repeats, workdir)
        if "session" in wanted:
            session_latency(min(args.events, 200_000), max(args.repeats, 3))
        if "scale" in wanted:
            scale(sizes, workdir, 2_000 if args.smoke else 20_000)
        if "startup" in wanted:
            startup(max(args.repeats, 5))
        if "compile" in wanted:
            compile_time([10, 100, 1000] if not args.smoke else [10, 100], args.repeats)


if __name__ == "__main__":
    main()
