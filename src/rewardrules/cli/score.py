"""`rewardrules score RULESET LEDGER`: score a ledger into awards."""

from __future__ import annotations

import argparse
import re
import sys
from typing import TYPE_CHECKING, Any, cast

from ..ledger.idlog import ScratchError
from ..report.score import write_text
from .common import (
    add_as_of_argument,
    add_format_argument,
    add_ledger_argument,
    add_scored_arguments,
    fail,
    scored,
    write_bytes,
)

if TYPE_CHECKING:
    from ..score.api import WrittenResult


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
        from ..sql.run import EngineError
        from ..sql.write import read_records, write_result

        try:  # the awards' text is fetched from DuckDB while it is written
            if args.format == "json":  # the bytes of json.dumps(indent=2), written as the Python engine writes them
                write_bytes(lambda out: write_result(data, out.write))
            else:  # the same records, read back from that text
                write_text(read_records(data), sys.stdout.write)
        except (EngineError, ScratchError) as error:
            return fail(str(error))
        return 0
    outcome = scored(args, explain=not args.no_explain, stream=args.stream, written=True)
    if isinstance(outcome, int):
        return outcome
    result = cast("WrittenResult", outcome[1])  # `written=True`
    if args.format == "json":
        write_bytes(result.write_json)
    else:  # made while it is written, as the JSON is: its rows kept on disk meanwhile
        try:
            result.write(lambda fields: write_text(fields, sys.stdout.write))
        except ScratchError as error:
            return fail(str(error))
    return 0
