"""`rewardrules match RULES LEDGER`: who receives each referred customer, and why."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..core.diagnostics import RuleError
from ..core.formatting import quoted
from ..ledger.events import LedgerError
from .common import (
    add_as_of_argument,
    add_format_argument,
    describe_os_error,
    fail,
    ledger_lines,
    print_diagnostics,
    print_error_lines,
    write_json,
)


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "match",
        help="match referred customers to partners with a matching file",
        description="Match the requests of a partner and customer ledger (JSON Lines; - for standard input) "
        "to partners with a matching file; each assignment says why.",
    )
    parser.add_argument("rules", metavar="RULES", help="the matching file (.rules, starting with `matching`)")
    parser.add_argument("ledger", metavar="LEDGER", help="the partner and customer events, JSON Lines; - reads stdin")
    add_as_of_argument(parser, "match ")
    add_format_argument(parser, referrals="the accepted assignments as `referral` events of a reward ledger")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..match.api import load, match, parse_as_of

    try:
        as_of = parse_as_of(args.as_of)
    except LedgerError as error:
        return fail(f"--as-of: {error.problems[0].message}")
    try:
        rules = load(args.rules)
    except RuleError as error:
        print_diagnostics(error.diagnostics, sys.stderr)
        return 1
    except OSError as error:
        return fail(describe_os_error(error, args.rules))
    except UnicodeDecodeError:
        return fail(f"{quoted(args.rules)} is not UTF-8 text")
    name = "<stdin>" if args.ledger == "-" else args.ledger
    try:
        result = match(rules, ledger_lines(args.ledger), as_of=as_of, path=name)
    except LedgerError as error:
        print_error_lines(str(error))
        return fail(f"the ledger has {len(error.problems)} problem(s); nothing was matched")
    except OSError as error:
        return fail(describe_os_error(error, args.ledger))
    if args.format == "json":
        write_json(result.to_json())
    elif args.format == "referrals":
        write_json(result.to_referrals())
    else:
        sys.stdout.write(result.to_text())
    return 0
