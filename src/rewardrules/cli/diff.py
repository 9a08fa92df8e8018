"""`rewardrules diff OLD.rules NEW.rules LEDGER`: what a rule change would change.

Replays the ledger under both versions and lists the awards added, removed
and changed, per milestone and per referrer, with the cost delta per unit.
Exit codes: 0 the awards are the same; 1 they differ; 2 bad invocation or
input (unreadable file, invalid rule file, invalid ledger or --as-of).
A rule file with errors is bad input here (not 1), since 1 means "differs".
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..core.formatting import quoted
from ..ledger.events import LedgerError
from .common import (
    add_as_of_argument,
    add_format_argument,
    add_ledger_argument,
    add_limit_argument,
    describe_os_error,
    fail,
    ledger_lines,
    load_program,
    print_error_lines,
    write_json,
)


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "diff",
        help="compare the awards of two versions of a rule file on a ledger",
        description="Replay a ledger under two versions of a rule file and report the awards added, "
        "removed and changed, per milestone and referrer, and the cost change per unit (see docs/diff.md).",
        epilog="exit codes: 0 no differences, 1 differences, 2 bad invocation or input (including a rule file "
        "with errors)",
    )
    parser.add_argument("old", metavar="OLD", help="the current .rules file")
    parser.add_argument("new", metavar="NEW", help="the proposed .rules file")
    add_ledger_argument(parser, with_ruleset=False)
    add_as_of_argument(parser)
    add_format_argument(parser, markdown="for a pull-request comment")
    add_limit_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..report.diff import diff_results
    from ..score.api import parse_as_of
    from .match import is_matching_path, run_diff

    if is_matching_path(args.old):
        return run_diff(args)  # two versions of a matching file (docs/matching.md)

    try:
        as_of = parse_as_of(args.as_of)
    except LedgerError as error:
        return fail(f"--as-of: {error.problems[0].message}")
    programs = []
    for path in (args.old, args.new):
        program = load_program(path)
        if isinstance(program, int):
            return 2  # an invalid rule file is bad input: 1 would read as "differs"
        programs.append(program)
    name = "<stdin>" if args.ledger == "-" else args.ledger
    try:
        lines = list(ledger_lines(args.ledger))
    except OSError as error:
        return fail(describe_os_error(error, args.ledger))
    results = []
    for label, program in zip(("OLD", "NEW"), programs, strict=True):
        try:
            limit = args.max_awards_per_event
            results.append(program.score(lines, as_of=as_of, explain=False, path=name, max_awards_per_event=limit))
        except LedgerError as error:
            print_error_lines(str(error))
            return fail(
                f"the ledger has {len(error.problems)} problem(s) under {label} {quoted(program.name)}; nothing was compared"
            )
    diff = diff_results(results[0].data, results[1].data)
    diff.old_path, diff.new_path, diff.ledger = args.old, args.new, name
    if args.format == "json":
        write_json(json.dumps(diff.to_dict(), indent=2, ensure_ascii=False) + "\n")
    elif args.format == "markdown":
        sys.stdout.write(diff.markdown())
    else:
        sys.stdout.write(diff.text())
    return 0 if diff.equal else 1
