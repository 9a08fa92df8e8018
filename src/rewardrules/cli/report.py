"""`rewardrules report RULESET LEDGER -o report.html`: a scoring run as one
self-contained HTML page (see docs/report.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import add_as_of_argument, add_ledger_argument, add_scored_arguments, scored, write_page


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "report",
        help="write a scoring run as one HTML page",
        description=(
            "Score a ledger with a rule file and write the result as one self-contained HTML page: "
            "totals, awards over time, a funnel per milestone, top referrers, every award explained."
        ),
    )
    add_ledger_argument(parser)
    parser.add_argument(
        "-o", "--output", metavar="FILE", required=True, help="the HTML file to write; - writes standard output"
    )
    add_as_of_argument(parser, "score ")
    add_scored_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..report.html import render_html
    from .match import is_matching_path, run_report

    if is_matching_path(args.ruleset):
        return run_report(args)  # a matching run: assignments, acceptance, declines (docs/matching.md)

    outcome = scored(args)
    if isinstance(outcome, int):
        return outcome
    program, result = outcome
    name = "<stdin>" if args.ledger == "-" else args.ledger
    page = render_html(program, result.data, ledger=Path(name).name if args.ledger != "-" else None)
    awards = len(result.data["awards"])
    return write_page(
        args, page, f"wrote {args.output}: {awards} award{'s' * (awards != 1)} as of {result.data['as_of']}"
    )
