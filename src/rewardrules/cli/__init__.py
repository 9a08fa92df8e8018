"""The command line: one module per subcommand, one exit-code contract.

Exit codes (the same for every subcommand): 0 success; 1 findings (invalid
rules, failing rule tests); 2 bad invocation or bad input (unreadable file,
invalid ledger). A user's mistake never prints a Python traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from contextlib import suppress
from typing import Any, TextIO, cast

from .. import __version__
from ..core.limits import AwardLimitError
from ..core.runtime import in_context
from . import process
from .streams import ErrorStream

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_INPUT = 2

#: The subcommands, each a module of this package with `add_parser`. A
#: module is imported only to run its command (or to show the full help), so
#: `rewardrules check` loads neither the scoring engine nor pydantic.
_COMMANDS = (
    "check", "score", "schema", "ingest", "report", "test", "explain", "diff", "fmt", "match", "sql", "simulate", "lsp",
)  # fmt: skip


class _Parser(argparse.ArgumentParser):
    """argparse's parser, except that its own output (`--help`,
    `--version`) that cannot be written is an error: argparse drops an
    `OSError` there, and with `PYTHONUNBUFFERED` set (as container images
    often do) `--version > /dev/full` exited 0 having written nothing."""

    def _print_message(self, message: str, file: Any = None) -> None:
        file = file or sys.stderr
        if message and file is not None:  # (None: an app with no standard error, as argparse allows)
            file.write(message)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: every subcommand, or just `only`."""
    parser = _Parser(
        prog="rewardrules",
        description="Referral and partner reward programs as rule files: check them, score ledgers with them.",
        epilog="exit codes: 0 success, 1 findings (invalid rules, failing tests), 2 bad invocation or input",
    )
    parser.add_argument("--version", action="version", version=f"rewardrules {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _COMMANDS if only is None else (only,):
        importlib.import_module(f".{name}", __name__).add_parser(sub)
    return parser


@in_context
def main(argv: Sequence[str] | None = None) -> int:
    """Run `rewardrules ARGS` (`argv`, else the process's own) and give
    its exit code. Called by an app, it leaves the process's standard
    streams as it found them."""
    nowhere = None
    if sys.stderr is None:  # started with standard error closed (`2>&-`): what a command says there goes
        # nowhere (`print(file=None)` would write it to standard output)
        nowhere = sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (closed below, or the process's)
    said = sys.stderr
    # a failed write to standard error fails nothing (`streams`); one stream
    # for both (`sys.stderr = sys.stdout` in an app) stays as it is, since
    # its failures are the output's
    stand_in = ErrorStream(said) if said is not sys.stdout else None
    if stand_in is not None:
        sys.stderr = cast(TextIO, stand_in)
    kept: list[tuple[Any, str | None]] = []
    try:
        if sys.stdout is None:  # started with standard output closed (`>&-`): every command writes there
            print("rewardrules: error: standard output is closed: nothing can be written", file=sys.stderr)
            return 2
        _errors_replaced(kept, (sys.stdout, said), stand_in)
        return _main(argv)
    finally:
        if not process.owned():  # an app's process: its streams as they were
            _errors_put_back(kept)
            if stand_in is not None:
                stand_in.retire()
                if sys.stderr is stand_in:
                    sys.stderr = said
            if nowhere is not None:
                nowhere.close()
                if sys.stderr is nowhere:
                    sys.stderr = None


def _errors_replaced(kept: list[tuple[Any, str | None]], streams: tuple[Any, Any], stand_in: Any) -> None:
    """Standard output and error (`streams`) write what their encoding
    cannot as backslash escapes: a terminal that cannot show a name must
    not turn into a traceback. Each stream changed is added to `kept` with
    its `errors` before, as it is changed. `reconfigure` flushes first: a
    stream whose flush fails (an app's, holding text for a full disk) is
    left as it is; standard error's `stand_in` then counts it lost, and
    standard output's next write fails as the command's output."""
    for stream in {id(s): s for s in streams if hasattr(s, "reconfigure")}.values():
        errors = stream.errors
        try:
            stream.reconfigure(errors="backslashreplace")
        except (OSError, ValueError):
            if stand_in is not None and stream is stand_in.stream:
                stand_in.lost = True
            continue
        kept.append((stream, errors))


def _errors_put_back(kept: list[tuple[Any, str | None]]) -> None:
    """`_errors_replaced` undone, in an app's process (`main()`), which
    kept them changed for good until 2026-12-07. `reconfigure` flushes
    first: where that fails (the reader gone, a full disk) the stream
    keeps its escapes, and what it holds stays for the app's next flush
    to write or fail on, as it did before."""
    for stream, errors in reversed(kept):
        with suppress(ValueError, OSError):  # closed, or its flush failed: left as it is (above)
            stream.reconfigure(errors=errors)


def _main(argv: Sequence[str] | None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        code = _run(arguments)
        stop = process.stopped()  # in an error a command caught and said (`common.fail`), or in 130
    except BaseException:
        # Ctrl-C or SIGTERM, once every `with` and `finally` ran (scratch
        # folders removed), in whatever exception a library made of it
        stop = process.stopped()
        if stop is None:
            raise
    return code if stop is None else stop


def _run(arguments: list[str]) -> int:
    """Parse the command and run it: the errors no command says itself are
    said here, never as a traceback (`--help` to a full disk among them)."""
    command = arguments[0] if arguments and arguments[0] in _COMMANDS else None
    try:
        args = build_parser(command).parse_args(arguments)
        code: int = args.run(args)
    except BrokenPipeError:
        # `rewardrules score ... | head`: the reader left; not an error. The
        # command's own process closes standard error, so Python's report
        # of the output it cannot flush at the exit is not printed; an
        # app's is left open (`main()` closed it until 2026-12-07).
        if process.owned():  # (started with none, `2>&-`: `main`'s stand-in)
            sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    except OSError as error:
        # what no command reads is its output: standard output on a full
        # disk (`> /dev/full`) or a gone terminal, said without a traceback
        from .process import unwritable

        return unwritable(error)
    except AwardLimitError as error:
        # the rules ask for more awards than a limit allows: bad input, stated
        # (message and help on lines of their own, each escaped)
        from .common import print_error_lines

        print_error_lines(f"rewardrules: error: {error}")
        return EXIT_INPUT
    return code


def run() -> None:
    """Console-script entry point: the command is the whole process (see
    `process`)."""
    process.begin()
    try:
        code = main()
    except SystemExit as stop:  # argparse's `--help`, `--version` and refusals
        if stop.code is not None and not isinstance(stop.code, int):
            raise  # a message: Python says it (none of the command's own)
        # their output is flushed as a command's is: a reader gone is no
        # error, a full disk is said (Python's own flush at the exit said
        # `Exception ignored ...` and exited with 120)
        code = stop.code or 0
    process.end(code)
