"""The scaling curve of `score --engine spark` (issue 19, goal 2).

`saas_milestones` on the seeded ledgers of `generate.py`, one whole process
per size (Spark's start-up included, as a user waits for it):

    python benchmarks/spark_scaling.py --events 1000000,2000000,5000000 [--master local[2]]
        [--parts 8] [--driver-memory 4g] [--dir /tmp/bench]

For each size it writes the ledger (once, kept in `--dir`) and splits it
into `--parts` JSON Lines part files in a directory (whole lines, in turn:
a partitioned ledger as a warehouse job writes one), runs `rewardrules
score --engine spark --spark-master MASTER --format json` on that directory
with the ledger read by Spark itself (Spark's driver JVM given
`--driver-memory` through `PYSPARK_SUBMIT_ARGS`, or Spark's own default
with `--driver-memory spark`; in local mode it is the executor too), then
`--engine duckdb` on the single file
and checks that both print the same bytes (both `--no-explain`: the curve
is the awards' path; the explained output on both is held to the Python
engine byte for byte by the tests): the figures mean nothing unless
they do. It prints one Markdown row per size: wall time, CPU time and peak
resident memory of the whole process tree (the Python driver and Spark's
JVM, sampled from /proc every 0.2 s: a process that lives less than that
is missed; the JVM's and the Python driver's peaks apart too), events per
second of wall time, and the load average (1 min) at the start and the end
of the Spark run.

Linux only (/proc). The figures in docs/performance.md are from this
script; the machine was shared, so take them as a shape, not a promise.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RULES = str(ROOT / "rulesets" / "saas_milestones.rules")
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _children(pid: int) -> list[int]:
    """`pid` and all its descendants, from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += parents.get(current, [])
    return tree


def _sample(pid: int) -> tuple[float, int] | None:
    """(CPU seconds, resident bytes) of one process, None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK, int(fields[21]) * PAGE


def _is_java(pid: int) -> bool:
    """Whether the process is a Java runtime (Spark's JVM)."""
    try:
        with open(f"/proc/{pid}/comm", "rb") as handle:
            return handle.read().strip() == b"java"
    except OSError:
        return False


def measured(command: list[str], out: str) -> tuple[float, float, int, int, int, int]:
    """Run `command` with its standard output in `out` and its standard
    error in `out` + ".err" (read when it fails): (wall seconds, CPU
    seconds and peak resident bytes of its process tree, the peaks of its
    JVM and of the rest (the Python driver) apart, exit code)."""
    start = time.perf_counter()
    with open(out, "wb") as sink, open(out + ".err", "wb") as errors:
        process = subprocess.Popen(command, stdout=sink, stderr=errors)
        cpu: dict[int, float] = {}
        peak = peak_jvm = peak_rest = 0
        while process.poll() is None:
            jvm = rest = 0
            for pid in _children(process.pid):
                found = _sample(pid)
                if found is not None:
                    cpu[pid] = found[0]
                    if _is_java(pid):
                        jvm += found[1]
                    else:
                        rest += found[1]
            peak, peak_jvm, peak_rest = max(peak, jvm + rest), max(peak_jvm, jvm), max(peak_rest, rest)
            time.sleep(0.2)
    wall = time.perf_counter() - start
    return wall, sum(cpu.values()), peak, peak_jvm, peak_rest, process.returncode


def ledger(events: int, folder: Path) -> Path:
    """The seeded ledger of `events` events, written once."""
    path = folder / f"ledger-{events}.jsonl"
    if not path.exists():
        with open(path, "wb") as out:
            subprocess.run(
                [sys.executable, str(ROOT / "benchmarks" / "generate.py"), "--events", str(events), "--seed", "7"],
                stdout=out,
                check=True,
            )
    return path


def parts(path: Path, count: int) -> Path:
    """The ledger at `path` as `count` part files in a directory, line `n`
    in part `n % count`, written once."""
    folder = path.with_suffix(f".parts{count}")
    if not folder.exists():
        building = folder.with_suffix(".tmp")
        building.mkdir(exist_ok=True)
        outs = [open(building / f"part-{n:05d}.jsonl", "wb") for n in range(count)]  # noqa: SIM115
        with open(path, "rb") as lines:
            for n, line in enumerate(lines):
                outs[n % count].write(line)
        for out in outs:
            out.close()
        building.rename(folder)
    return folder


def _load() -> str:
    with open("/proc/loadavg", encoding="ascii") as handle:
        return handle.read().split()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", default="1000000,2000000,5000000")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--parts", type=int, default=8, help="JSON Lines part files per ledger (0: one file)")
    parser.add_argument(
        "--driver-memory", default="4g", help="the heap of Spark's driver JVM (`spark`: Spark's own default, 1g)"
    )
    parser.add_argument("--dir", default="/tmp/rewardrules-spark-bench")
    args = parser.parse_args()
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    cli = [sys.executable, "-m", "rewardrules", "score", "--format", "json", "--no-explain", RULES]
    if args.driver_memory != "spark":  # else as `score` runs when not told: Spark's own default heap
        os.environ["PYSPARK_SUBMIT_ARGS"] = f"--driver-memory {args.driver_memory} pyspark-shell"
    print(
        "| events | heap | wall | CPU | peak memory (driver + JVM) | JVM | Python | events/s | load "
        "| same bytes as `--engine duckdb` |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for events in (int(n) for n in args.events.split(",")):
        path = ledger(events, folder)
        read = parts(path, args.parts) if args.parts else path
        spark_out, duck_out = folder / f"spark-{events}.json", folder / f"duckdb-{events}.json"
        before = _load()
        wall, cpu, peak, jvm, rest, code = measured(
            [*cli[:4], "--engine", "spark", "--spark-master", args.master, *cli[4:], str(read)], str(spark_out)
        )
        after = _load()
        with open(duck_out, "wb") as sink:
            subprocess.run([*cli[:4], "--engine", "duckdb", *cli[4:], str(path)], stdout=sink, check=True)
        same = code == 0 and spark_out.read_bytes() == duck_out.read_bytes()
        print(
            f"| {events / 1e6:g}M | {args.driver_memory} | {wall:.0f} s | {cpu:.0f} s | {peak / 2**30:.1f} GB | "
            f"{jvm / 2**30:.2f} GB | {rest / 2**20:.0f} MB | {events / wall:,.0f} | "
            f"{before} to {after} | "
            f"{'yes' if same else 'NO (exit ' + str(code) + ')'} |",
            flush=True,
        )
        if code != 0:
            said = (folder / f"spark-{events}.json.err").read_text(errors="replace").strip().splitlines()
            print(f"  Spark's run failed: {said[-1] if said else '(nothing on standard error)'}", file=sys.stderr)


if __name__ == "__main__":
    main()
