"""`rewardrules explain RULESET LEDGER`: the score told in plain language.

Per referrer and referral: what was earned, when and why; what was not and
why; what comes next. Exit codes: 0 explained; 1 the rule file has errors;
2 bad invocation or input (unreadable file, invalid ledger or --as-of, a
--referrer / --referee that names nobody in the ledger).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..core.diagnostics import did_you_mean
from ..core.formatting import printable, quoted
from .common import (
    add_as_of_argument,
    add_format_argument,
    add_ledger_argument,
    add_scored_arguments,
    fail,
    scored,
    write_json,
)


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "explain",
        help="explain, per referral, what was earned and why, and what is next",
        description="Explain a score in plain language: per referral, what was earned, when and why; "
        "what was not and why; and what comes next (see docs/explain.md).",
        epilog="exit codes: 0 success, 1 the rule file has errors, 2 bad invocation or input",
    )
    add_ledger_argument(parser)
    parser.add_argument("--referrer", metavar="ID", help="only the referrals of this referrer")
    parser.add_argument("--referee", metavar="ID", help="only the referral of this referred person")
    add_as_of_argument(parser)
    add_format_argument(parser)
    add_scored_arguments(parser)
    parser.add_argument("--request", metavar="ID", help="a matching file: only this request's assignments")
    parser.add_argument("--customer", metavar="ID", help="a matching file: only this customer's assignments")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .match import is_matching_path, run_explain

    if is_matching_path(args.ruleset):
        return run_explain(args)  # why each partner got each referral (docs/matching.md)
    if args.request is not None or args.customer is not None:
        option = "--request" if args.request is not None else "--customer"
        return fail(f"{option} explains a matching file; {quoted(args.ruleset)} is a reward rule file")
    from ..report.explain import explanation, known_people
    from ..report.trace import void_causes

    outcome = scored(args, verb="explained")
    if isinstance(outcome, int):
        return outcome
    program, traced = outcome
    referrers, referees = known_people(traced.data)
    for option, value, known in (("--referrer", args.referrer, referrers), ("--referee", args.referee, referees)):
        if value is not None and value not in known:
            role = option.removeprefix("--")
            print(
                printable(f"rewardrules: error: no referral with {role} {quoted(value)} as of {traced.data['as_of']}"),
                file=sys.stderr,
            )
            hint = did_you_mean(value, known)
            if hint:
                print(printable(f"     = help: {hint}"), file=sys.stderr)
            return 2
    result = explanation(traced.data, args.referrer, args.referee, program=program, voids=void_causes(traced.data))
    if args.format == "json":
        write_json(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(result.text())
    return 0
