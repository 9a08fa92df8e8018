"""`rewardrules ingest stripe PATH...`: billing events -> a ledger on stdout.

The ledger (JSON Lines, sorted by ``at`` then ``id``) goes to standard
output so it can be piped into ``rewardrules score RULESET -``; the summary
of what was skipped goes to standard error. Malformed payloads exit 2 with
``PATH: event EVT_ID: field `data.object.amount`: message`` and write no
ledger at all, so a half ledger is never scored.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from ..core.formatting import printable_lines, quoted
from ..core.units import CURRENCY_EXPONENTS
from .common import fail, print_error_lines

if TYPE_CHECKING:  # the adapter is imported only when this command runs
    from ..sources.stripe import Options


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "ingest",
        help="turn another system's data into a ledger",
        description="Turn another system's data into a ledger (JSON Lines on standard output).",
    )
    sources = parser.add_subparsers(dest="source", metavar="SOURCE")
    sources.required = True
    stripe = sources.add_parser(
        "stripe",
        help="Stripe events (webhook payloads) -> ledger",
        description="Map Stripe events to referral, subscription, payment and refund ledger events "
        "(see docs/stripe.md). PATH: a file with one event, a JSON array, JSON Lines, "
        "or a folder of *.json/*.jsonl/*.ndjson files (read with its subfolders).",
        epilog="exit codes: 0 success, 2 bad invocation, unreadable file or malformed payload",
    )
    stripe.add_argument("paths", metavar="PATH", nargs="+", help="event files or folders")
    stripe.add_argument(
        "--referrer-key", metavar="KEY", default="referrer", help="metadata key naming the referrer (default: referrer)"
    )
    stripe.add_argument(
        "--no-client-reference-id",
        action="store_true",
        help="do not read a checkout session's client_reference_id as the referrer",
    )
    stripe.add_argument(
        "--referral-attribute",
        metavar="NAME=KEY",
        action="append",
        default=[],
        help="copy metadata KEY onto referral events as NAME (repeatable; default: source=referral_source)",
    )
    stripe.add_argument(
        "--currency", metavar="CODE", help="expect all money in this ISO 4217 currency; any other is an error"
    )
    stripe.add_argument("--live-only", action="store_true", help="drop test-mode (livemode false) payloads")
    stripe.add_argument("--quiet", action="store_true", help="print no summary on standard error")
    stripe.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..sources import SourceError, read_payloads
    from ..sources.stripe import StripeError, ingest

    options = _options(args)
    if isinstance(options, str):
        return fail(options)
    try:
        result = ingest(read_payloads(args.paths), options)
    except SourceError as error:
        for message in error.messages:
            fail(message)
        return 2
    except StripeError as error:
        print_error_lines(str(error))
        return fail(f"{len(error.problems)} malformed payload(s); no ledger was written")
    sys.stdout.writelines(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n" for row in result.ledger)
    sys.stdout.flush()
    if not args.quiet:
        sys.stderr.write(printable_lines(f"rewardrules: {line}" for line in result.report.lines()))
    return 0


def _options(args: argparse.Namespace) -> Options | str:
    """The options, or what is wrong with them."""
    from ..sources.stripe import Options

    attributes = dict(Options().referral_attributes)
    for spec in args.referral_attribute:
        name, sep, key = spec.partition("=")
        if not sep or not name.strip() or not key.strip():
            return f"--referral-attribute: expected NAME=KEY, not {quoted(spec)}"
        if name.strip() in ("id", "at", "type", "referrer", "referee"):
            return f"--referral-attribute: {quoted(name.strip())} is a ledger field of its own"
        attributes[name.strip()] = key.strip()
    currency = args.currency.upper() if args.currency else None
    if currency is not None and currency not in CURRENCY_EXPONENTS:
        return f"--currency: {quoted(args.currency)} is not an iso 4217 currency code"
    if not args.referrer_key.strip():
        return "--referrer-key: must not be empty"
    return Options(
        referrer_key=args.referrer_key.strip(),
        use_client_reference_id=not args.no_client_reference_id,
        referral_attributes=attributes,
        currency=currency,
        live_only=args.live_only,
    )
