"""The command line: one module per subcommand, one exit-code contract.

Exit codes (the same for every subcommand): 0 success; 1 findings (invalid
rules, failing rule tests); 2 bad invocation or bad input (unreadable file,
invalid ledger). A user's mistake never prints a Python traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from . import check, diff, explain, fmt, ingest, report, schema, score, test

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_INPUT = 2

_COMMANDS = {"check": check, "score": score, "schema": schema, "ingest": ingest, "report": report}
_COMMANDS.update(test=test, explain=explain, diff=diff)
_COMMANDS["fmt"] = fmt


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rewardrules",
        description="Referral and partner reward programs as rule files: check them, score ledgers with them.",
        epilog="exit codes: 0 success, 1 findings (invalid rules, failing tests), 2 bad invocation or input",
    )
    parser.add_argument("--version", action="version", version=f"rewardrules {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for _name, module in _COMMANDS.items():
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        # A terminal that cannot show a name must not turn into a traceback.
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except BrokenPipeError:
        # `rewardrules score ... | head`: the reader left; not an error.
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    return code


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
