"""`rewardrules score RULESET LEDGER`: score a ledger into awards."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from ..core.formatting import printable, printable_lines
from ..core.timeutil import parse_timestamp
from .common import (
    add_as_of_argument,
    add_format_argument,
    add_ledger_argument,
    add_scored_arguments,
    fail,
    scored,
    write_bytes,
)


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "score",
        help="score a ledger with a rule file",
        description="Score a ledger (JSON Lines; - for standard input) with a rule file.",
    )
    add_ledger_argument(parser)
    add_as_of_argument(parser, "score ")
    add_format_argument(parser)
    parser.add_argument(
        "--stream",
        action="store_true",
        help="score in memory bounded by referrals, not by events: lines in any order are sorted on disk first",
    )
    parser.add_argument(
        "--no-explain",
        action="store_true",
        help="leave out explanations: per referral, per referrer and each award's why (faster on large ledgers)",
    )
    add_scored_arguments(parser)
    parser.add_argument(
        "--match",
        nargs=2,
        metavar=("MATCHING", "EVENTS"),
        help="match the partner and customer events EVENTS with the matching file MATCHING first, and score "
        "the `referral` events of the accepted assignments with LEDGER's events (as `match --format referrals`)",
    )
    parser.add_argument(
        "--engine",
        choices=("python", "duckdb", "spark"),
        default="python",
        help="python (the default), duckdb: the rules compiled to one SQL query run by DuckDB embedded, "
        "or spark: the same query run by Apache Spark (see docs/sql.md; "
        "both explain each award as the Python engine does)",
    )
    parser.add_argument(
        "--spark-master",
        metavar="MASTER",
        help="with --engine spark: the Spark master URL (default local[2]: this machine, two threads)",
    )
    parser.add_argument(
        "--threads",
        type=_count,
        metavar="N",
        help="with --engine duckdb: the threads DuckDB uses (default: one per core)",
    )
    parser.add_argument(
        "--memory-limit",
        metavar="SIZE",
        help="with --engine duckdb: the memory DuckDB uses before it spills to a private temporary directory "
        "(default 1GB; a size such as 500MB or 8GB)",
    )
    parser.set_defaults(run=run)


#: a size `--memory-limit` takes: a number and a unit DuckDB reads
_SIZE = re.compile(r"[0-9]{1,9}(\.[0-9]{1,3})? ?(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


def _count(text: str) -> int:
    """A count of threads: a whole number from 1 in ASCII digits (argparse
    says the error; `str.isdigit` alone takes `²`, which `int` refuses)."""
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 1024:
        raise argparse.ArgumentTypeError(f"expected a number of threads from 1 to 1024, got {text!r}")
    return int(text)


def run(args: argparse.Namespace) -> int:
    if args.spark_master is not None and args.engine != "spark":
        return fail("--spark-master is for --engine spark")
    for value, option in ((args.threads, "--threads"), (args.memory_limit, "--memory-limit")):
        if value is not None and args.engine != "duckdb":
            return fail(f"{option} is for --engine duckdb")
    if args.memory_limit is not None and not _SIZE.fullmatch(args.memory_limit):
        return fail(f"--memory-limit: expected a size such as 500MB or 8GB, got {args.memory_limit!r}")
    if args.engine != "python" and args.match is not None:
        return fail(f"--match scores with the python engine; leave out --engine {args.engine}")
    if args.engine in ("duckdb", "spark"):
        from .sql import scored_with_duckdb

        found = scored_with_duckdb(args)
        if isinstance(found, int):
            return found
        data = found[1]
        if args.format == "json":  # the bytes of json.dumps(indent=2), written as the Python engine writes them
            from ..sql.run import EngineError
            from ..sql.write import write_result

            try:  # the awards' text is fetched from DuckDB while it is written
                write_bytes(lambda out: write_result(data, out.write))
            except EngineError as error:
                return fail(str(error))
        else:
            sys.stdout.write(text_report(data))
        return 0
    outcome = scored(args, explain=not args.no_explain, stream=args.stream, written=args.format == "json")
    if isinstance(outcome, int):
        return outcome
    _, result = outcome
    if args.format == "json":
        write_bytes(result.write_json)
    else:
        sys.stdout.write(text_report(result.data))
    return 0


def text_report(data: dict[str, Any]) -> str:
    """A plain table of awards and totals, for people. Rewards reached but
    withheld (a cap) are rows too, marked `withheld: REASON` in the status
    column and left out of the totals: nothing is paid for them. An award a
    cap cut is marked `(cut by cap from AMOUNT)` when its `why` says so (not
    with --no-explain). Names come from ledgers: every line goes through
    `printable`."""
    withheld = data.get("withheld", [])
    head = f"{data['ruleset']}: {len(data['awards'])} award(s)"
    cut = sum(1 for a in data["awards"] if _uncapped(a) is not None)
    if cut:
        head += f" ({cut} cut by a cap)"
    if withheld:
        head += f", {len(withheld)} withheld"
    lines = [f"{head} as of {data['as_of']}", ""]
    table = _table(data["awards"], withheld)
    if table:
        lines.extend(table)
        lines.append("")
    if data["totals"]:
        lines.append("totals" + (" (withheld rewards are not in them):" if withheld else ":"))
        lines.extend(f"  {total_text(t)}" for t in data["totals"])
        lines.append("")
    lines.extend(settled_lines(data))
    waiting = _progress_lines(data)
    if waiting:
        lines.append("progress:")
        lines.extend(waiting)
        lines.append("")
    if data.get("rejected"):
        lines.append("referrals not counted:")
        for r in data["rejected"]:
            lines.append(f"  event {r['event']}: {r['referrer']} -> {r['referee']}: {r['reason'].replace('_', ' ')}")
        lines.append("")
    return printable_lines(lines[:-1]) if lines[-1] == "" else printable_lines(lines)


def settled_lines(data: dict[str, Any]) -> list[str]:
    """The sections of reversals and reissued awards (each ending in a
    blank line; none without either): a reversal is money to claw back, as
    an award is money to pay, so text output lists each one, with the award
    it reverses, what it takes back and why; an award that replaces a
    reversed one (`why.reissues`: only when the run explains) names it."""
    lines: list[str] = []
    if data.get("reversals"):
        lines.append("reversals (take back what the award paid):")
        lines.extend(f"  {_reversal_text(r)}" for r in data["reversals"])
        lines.append("")
    reissued = [a for a in data["awards"] if (a.get("why") or {}).get("reissues")]
    if reissued:
        lines.append("reissued awards (each replaces an award reversed):")
        lines.extend(f"  {a['id']} reissues {a['why']['reissues']}: {a['beneficiary']} {_reward(a)}" for a in reissued)
        lines.append("")
    return lines


def _reversal_text(reversal: dict[str, Any]) -> str:
    """One reversal: `ID reverses AWARD: BENEFICIARY REWARD at AT: WHY`."""
    why = reversal["why"]
    cause = why.get("reason") or ("partly voided" if why.get("taken") is not None else "voided")
    if why.get("event") is not None:
        cause += f" by event {why['event']}"
    if why.get("taken") is not None:  # a partial void's: the total taken back after it
        cause += f" ({why['taken']} {reversal['unit']} taken back so far)"
    head = f"{reversal['id']} reverses {reversal['reverses']}"
    return f"{head}: {reversal['beneficiary']} {_reward(reversal)} at {reversal['at']}: {cause}"


def total_text(total: dict[str, Any]) -> str:
    """One line of totals: a sum (`cash confirmed: 250.00 USD in 5
    award(s)`), or, for a unit that does not add up, a count of awards of
    one rate (`discount confirmed: 5 award(s) of 20 percent`)."""
    what = f"{total['kind']} {total['status']}"
    if total.get("each"):
        return f"{what}: {total['count']} award(s) of {total['amount']} {total['unit']}"
    return f"{what}: {total['amount']} {total['unit']} in {total['count']} award(s)"


def _reward(record: dict[str, Any]) -> str:
    if record["kind"] == "item":
        return str(record["item"])
    if record.get("amount") is None:
        return f"{record['kind']} ({record['unit']}, no amount)"
    return f"{record['kind']} {record['amount']} {record['unit']}"


def _table(awards: list[dict[str, Any]], withheld: list[dict[str, Any]]) -> list[str]:
    """Awards and withheld rewards in the order of their instants (an award
    before a withheld reward of the same instant), one row each, with the
    referee: two rewards of one referrer differ by it."""
    header = ("at", "milestone", "role", "beneficiary", "referee", "amount", "status")
    dated = [(parse_timestamp(a["at"]), 0, n, a, _status(a)) for n, a in enumerate(awards)]
    dated += [(parse_timestamp(w["at"]), 1, n, w, f"withheld: {w['reason']}") for n, w in enumerate(withheld)]
    rows = [
        tuple(
            printable(str(v))
            for v in (r["at"], r["milestone"], r["role"], r["beneficiary"], r["referee"], _reward(r), status)
        )
        for _, _, _, r, status in sorted(dated, key=lambda d: d[:3])
    ]
    if not rows:
        return []
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]


def _uncapped(award: dict[str, Any]) -> str | None:
    """The amount before the cap of an award a cap cut, or None."""
    why = award.get("why") or {}
    return why.get("uncapped") if why.get("capped") else None


def _status(award: dict[str, Any]) -> str:
    """An award's status column: its status, and the cut if a cap made one."""
    uncapped = _uncapped(award)
    if uncapped is None:
        return str(award["status"])
    return f"{award['status']} (cut by cap from {uncapped})"


def _progress_lines(data: dict[str, Any]) -> list[str]:
    """One line per referral and milestone not reached yet, saying why."""
    out = []
    for referral in data.get("referrals", []):
        who = f"  {referral['referee']} (referred by {referral['referrer']})"
        for program in referral["programs"]:
            if not program["eligible"]:
                if len(referral["programs"]) == 1:
                    out.append(f"{who}: {program['why']}")
                continue
            if program.get("holds") is False:  # another referral took the referee, or it lapsed
                out.append(f"{who}: {program['attribution']}")
                continue
            for milestone in program["milestones"]:
                if not milestone["reached"] and milestone.get("progress"):
                    out.append(f"{who}: {milestone['milestone']}: {milestone['progress']}")
    for referrer in data.get("referrers", []):
        for milestone in referrer["milestones"]:
            if not milestone["reached"] and milestone.get("progress"):
                out.append(f"  {referrer['referrer']}: {milestone['milestone']}: {milestone['progress']}")
    return out
