"""Helpers shared by subcommands: reading files and printing errors."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TYPE_CHECKING, Any

from ..core import limits
from ..core.diagnostics import Diagnostic, RuleError, render
from ..core.formatting import printable, printable_lines, quoted
from ..ledger import reading
from ..ledger.again import LedgerFile
from ..ledger.events import SHOWN_PROBLEMS, LedgerError
from ..ledger.idlog import ScratchError
from . import process
from .files import held_stops, write_whole

if TYPE_CHECKING:
    from ..score.api import Program, ScoreResult, WrittenResult
    from ..score.settle import Settled


def use_color(stream: IO[str]) -> bool:
    """Colour on a terminal only, and never when NO_COLOR is set."""
    return hasattr(stream, "isatty") and stream.isatty() and "NO_COLOR" not in os.environ


def write_json(text: str) -> None:
    """JSON is UTF-8 whatever the terminal's encoding: write bytes."""
    write_bytes(lambda out: out.write(text.encode("utf-8")))


def write_bytes(write: Callable[[Any], object]) -> None:
    """Run `write` on standard output's bytes; when standard output has no
    bytes (a test's capture), on an adapter that writes the text back."""
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        write(_TextOut())
        return
    sys.stdout.flush()
    write(buffer)
    buffer.flush()


class _TextOut:
    """Bytes (whole UTF-8 pieces) written to a text-only standard output."""

    def write(self, data: bytes) -> int:
        return sys.stdout.write(data.decode("utf-8"))


def fail(message: str, code: int = 2) -> int:
    """Print ``rewardrules: error: message`` as one `printable` line (a
    message may hold a path or a value from outside) and return ``code``.
    After a stop signal, nothing: a library may turn the interruption into
    an error of its own (py4j's lost call, said as "Spark could not run
    the query"), which is the stop's doing; `main` exits with the stop's
    code (`process.stopped`)."""
    if process.stopped() is None:
        print(printable(f"rewardrules: error: {message}"), file=sys.stderr)
    return code


def print_error_lines(text: str) -> None:
    """Lines of an error (a `LedgerError`, a `StripeError`) on standard
    error, each `printable`: what forges or colours a line is escaped, and
    only the lines' own breaks remain. After a stop signal, nothing (see
    `fail`)."""
    if process.stopped() is None:
        sys.stderr.write(printable_lines(text.split("\n")))


def read_text(path: str, exact: bool = False) -> str:
    """Read a rule file, bounded (see `reading.read_text`); raise
    OSError/UnicodeDecodeError with a clear text. ``exact`` keeps the line
    endings as the file has them (`fmt` rewrites `\r\n` to `\n`, and its
    diff must match the file's lines)."""
    return reading.read_text(path, limits.MAX_RULE_FILE_CHARS, exact=exact)


def print_diagnostics(diagnostics: list[Diagnostic], stream: IO[str]) -> None:
    color = use_color(stream)
    for diagnostic in diagnostics:
        print(render(diagnostic, color), file=stream)


def ledger_lines(path: str) -> Iterator[bytes]:
    """The lines of a ledger file, or of standard input for `-`."""
    if path == "-":
        yield from reading.read_lines(sys.stdin.buffer)
        return
    with open(path, "rb") as handle:
        yield from reading.read_lines(handle)


def describe_os_error(error: OSError, path: str) -> str:
    reason = error.strerror or str(error)
    return f"cannot read {quoted(path)}: {reason.lower()}"


def load_program(path: str, ledger: str | None = None) -> Program | int:
    """Load a rule file, or print why not and return the exit code: 1 for
    a rule file with errors; 2 when it is no rule file at all and `ledger`
    (the other argument) is named as one (`.rules`): swapped arguments, a
    bad invocation."""
    from ..score.api import load
    from ..syntax.parser import not_a_rule_file

    try:
        return load(path)
    except RuleError as error:
        print_diagnostics(error.diagnostics, sys.stderr)
        if ledger is not None and ledger.lower().endswith(".rules") and not_a_rule_file(error.diagnostics):
            return fail(_swapped_arguments(ledger))
        return 1
    except OSError as error:
        return fail(describe_os_error(error, path))
    except UnicodeDecodeError:
        return fail(f"{quoted(path)} is not UTF-8 text")


def add_ledger_argument(parser: Any, with_ruleset: bool = True) -> None:
    """The `LEDGER` positional (after `RULESET` unless `with_ruleset` is
    false), written once so every command that scores reads it alike."""
    if with_ruleset:
        parser.add_argument("ruleset", metavar="RULESET", help="the .rules file")
    parser.add_argument("ledger", metavar="LEDGER", help="the ledger, JSON Lines; - reads standard input")


def add_as_of_argument(parser: Any, verb: str = "") -> None:
    """`--as-of TS`, the same for every command that replays a ledger;
    `verb` ("score ") starts its help where the command scores."""
    parser.add_argument("--as-of", metavar="TS", help=f"{verb}as of this RFC 3339 instant (default: the latest event)")


def add_format_argument(parser: Any, **more: str) -> None:
    """`--format`: text for people and json for tools everywhere, then the
    formats only this command writes (`more`: name -> what it is for)."""
    uses = {"text": "for people", "json": "for tools", **more}
    parser.add_argument(
        "--format", choices=tuple(uses), default="text", help=", ".join(f"{name} {use}" for name, use in uses.items())
    )


def add_scored_arguments(parser: Any) -> None:
    """`--settled` and `--max-awards-per-event`, last in `score`, `explain`
    and `report`: the options `scored` reads besides the inputs."""
    add_settled_argument(parser)
    add_limit_argument(parser)


def add_settled_argument(parser: Any) -> None:
    """`--settled FILE`, the same for `score`, `explain` and `report`, so
    that each shows what the app was told rather than a fresh run."""
    parser.add_argument(
        "--settled",
        metavar="FILE",
        help="what the app already paid: a previous result (--format json) or a JSON list of award records; "
        "those awards are never rewritten, only reversed",
    )


def add_limit_argument(parser: Any) -> None:
    """`--max-awards-per-event N`, the same for `score`, `explain`, `report`
    and `diff`, so that a run one of them allows the others show too."""
    parser.add_argument(
        "--max-awards-per-event",
        metavar="N",
        type=_per_event,
        help=f"the most awards one event may give (default {limits.MAX_AWARDS_PER_EVENT:,}); past it scoring stops, "
        "with nothing issued",
    )


def _per_event(text: str) -> int:
    """`--max-awards-per-event` as a number, or argparse's usage error (exit 2)."""
    try:
        return limits.per_event_limit(int(text) if text.isascii() and text.isdecimal() and len(text) <= 9 else text)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"expected a whole number from 1 to {limits.MAX_AWARDS_PER_RUN:,}, not {text!r}")


def read_settled_file(path: str, verb: str = "scored") -> Settled | int:
    """The `--settled` statement, read as a rule file is (a regular file, in
    bounded size: `limits.MAX_SETTLED_FILE_BYTES`) and checked; on a
    problem, print it and return exit code 2. Memory running out while it is
    parsed is such a problem too, never a traceback."""
    from ..score.settle import read_settled

    try:
        data = reading.read_regular_bytes(path, limits.MAX_SETTLED_FILE_BYTES, "a settled statement")
        parsed = json.loads(data)
    except OSError as error:
        return fail(f"--settled: {describe_os_error(error, path)}")
    except MemoryError:
        return fail(f"--settled: {quoted(path)} does not fit in memory")
    except RecursionError:
        return fail(f"--settled: {quoted(path)} nests too deep")
    except ValueError as error:
        return fail(f"--settled: {quoted(path)} is not JSON: {error}")
    del data
    try:
        return read_settled(parsed, path)
    except LedgerError as error:
        return _statement_problem(error, verb)
    except MemoryError:
        return fail(f"--settled: {quoted(path)} does not fit in memory")


def _statement_problem(error: LedgerError, verb: str) -> int:
    print_error_lines(str(error))
    return fail(f"the settled statement has a problem; nothing was {verb}")


def _of_ruleset(program: Program, settled: Settled, verb: str) -> int | None:
    """Refuse a statement of another ruleset than RULESET (exit code 2),
    before the ledger is read: its problem is the statement's."""
    from ..score.api import settled_statement

    try:
        settled_statement(settled, program.compiled)
    except LedgerError as error:
        return _statement_problem(error, verb)
    return None


def _swapped_arguments(ledger: str, usage: str = "RULESET LEDGER") -> str:
    """Why the rule file failed when a rule file was given as the ledger:
    the errors just printed are the ledger's, read as rules."""
    return (
        f"`{printable(ledger)}` looks like the rule file and was given as the ledger; "
        f"are the arguments swapped? the rule file comes first: {usage}"
    )


#: `_swapped_arguments` for the commands outside this module (`match`).
swapped_arguments = _swapped_arguments


def scored(args: Any, verb: str = "scored", **options: Any) -> tuple[Program, ScoreResult | WrittenResult] | int:
    """What `score`, `explain` and `report` share: read `--settled` (when
    the command has it), take `--max-awards-per-event`, check `--as-of`, load RULESET, score LEDGER (`-`:
    standard input); on any problem print it and return the exit code (1
    for invalid rules, 2 for bad input)."""
    from ..score.api import parse_as_of

    if getattr(args, "settled", None) is not None:
        settled = read_settled_file(args.settled, verb)
        if isinstance(settled, int):
            return settled
        options["settled"] = settled
    if getattr(args, "max_awards_per_event", None) is not None:
        options["max_awards_per_event"] = args.max_awards_per_event
    try:
        as_of = parse_as_of(args.as_of)
    except LedgerError as error:
        return fail(f"--as-of: {error.problems[0].message}")  # an option, not the ledger
    program = load_program(args.ruleset, args.ledger)
    if isinstance(program, int):
        return program
    if "settled" in options and (problem := _of_ruleset(program, options["settled"], verb)) is not None:
        return problem
    lines = matched_ledger(args, as_of)
    if isinstance(lines, int):
        return lines
    name = "<stdin>" if args.ledger == "-" else args.ledger
    process.pause_collector()
    stream = options.pop("stream", False)
    if options.pop("written", False):  # a result to write as JSON once: made as it is written
        options["stream"] = stream
        score: Callable[..., Any] = program.score_written
    else:
        score = program.score_stream if stream else program.score
    try:
        result = score(lines, as_of=as_of, path=name, **options)
    except LedgerError as error:
        if isinstance(lines, MatchedLedger):
            return lines.refused(error, verb)
        print_error_lines(str(error))
        return fail(f"the ledger has {len(error.problems)} problem(s); nothing was {verb}")
    except ScratchError as error:
        return fail(str(error))
    except OSError as error:
        return fail(describe_os_error(error, args.ledger))
    process.leave_to_exit(program, result)
    return program, result


def matched_ledger(args: Any, as_of: int | None) -> Iterable[bytes] | MatchedLedger | int:
    """LEDGER's lines, followed, with `--match MATCHING EVENTS`, by the
    `referral` events that matching EVENTS makes (`match --format
    referrals`): after the ledger's own lines, so a problem in LEDGER keeps
    its line number (and one in a referral is told as the referral's:
    `MatchedLedger`). An exit code when the matching fails (said why)."""
    if getattr(args, "match", None) is None:  # a file that can be read again (`ledger.again`)
        return LedgerFile(handle=sys.stdin.buffer) if args.ledger == "-" else LedgerFile(args.ledger)
    lines = ledger_lines(args.ledger)
    from .match import referral_lines

    if _one_stream(args.ledger, args.match[1]):
        return fail(
            "LEDGER and the EVENTS of --match both read standard input (or one pipe): the first to read it "
            "would leave nothing to the other; name a file for one of them"
        )
    referrals = referral_lines(args.match[0], args.match[1], as_of)
    if isinstance(referrals, int):
        return referrals
    return MatchedLedger(lines, referrals, "<stdin>" if args.match[1] == "-" else args.match[1])


def _one_stream(ledger: str, events: str) -> bool:
    """Whether LEDGER and EVENTS name one stream (`-` and `/dev/stdin` on
    a pipe or a terminal, one named pipe twice), read once: EVENTS, read
    first, would leave LEDGER empty and the score wrong without a word. A
    regular file, or a device such as `/dev/null`, reads the same twice."""

    def identity(path: str) -> os.stat_result | None:
        try:
            return os.fstat(sys.stdin.fileno()) if path == "-" else os.stat(path)
        except (OSError, ValueError):  # no such file (reading it says so), no standard input
            return None

    if ledger == "-" and events == "-":
        return True
    first, second = identity(ledger), identity(events)
    if first is None or second is None or (first.st_dev, first.st_ino) != (second.st_dev, second.st_ino):
        return False
    mode = first.st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or ("-" in (ledger, events) and sys.stdin.isatty())


class MatchedLedger:
    """LEDGER's lines then the referrals `--match` made, counting LEDGER's
    lines as they are read: a problem past them is in a referral, which is
    no line of LEDGER and is told as one of `match --format referrals`."""

    def __init__(self, ledger: Iterator[bytes], referrals: list[bytes], events: str) -> None:
        self._ledger = ledger
        self._referrals = referrals
        self.events = events
        self.own = 0  # LEDGER's lines read so far

    def __iter__(self) -> Iterator[bytes]:
        for line in self._ledger:
            self.own += 1
            yield line
        yield from self._referrals

    def refused(self, error: LedgerError, verb: str) -> int:
        """Print the problems of the joined ledger, each at its own file's
        line (LEDGER's, or the referral's among those made from EVENTS), and
        return the exit code (2)."""
        origin = f"<referrals --match made from {self.events}>"
        shown = error.problems[:SHOWN_PROBLEMS]  # as many as `LedgerError` tells
        for problem in shown:
            if problem.line > self.own:
                print_error_lines(dataclasses.replace(problem, line=problem.line - self.own).render(origin))
            else:
                print_error_lines(problem.render(error.path))
        if len(error.problems) > len(shown):
            print_error_lines(f"... and {len(error.problems) - len(shown)} more")
        theirs = sum(problem.line > self.own for problem in error.problems)
        where = f" ({theirs} in the referrals of --match)" if theirs else ""
        return fail(f"the ledger has {len(error.problems)} problem(s){where}; nothing was {verb}")


def write_page(args: Any, page: str, said: str) -> int:
    """Write a report page: to standard output for `-o -`, else to the file
    `-o` names, then print `said` (`wrote FILE: ...`); the exit code, 2
    after saying why it cannot be written. A file the report was made from
    (RULESET, LEDGER, `--settled`) is never written over: a slip of `-o
    ledger.jsonl` would lose the ledger. A file that is standard output's
    own (`-o /dev/stdout`) is `-o -`: written through it, with no `wrote`
    line, which went into the page (a pipe) or over its first bytes (a
    file opened again at its start; found by review, 2026-12-07)."""
    output = args.output
    for name in ("ruleset", "ledger", "settled"):
        given = getattr(args, name, None)
        if given is not None and output != "-" and _same_file(output, given):
            return fail(f"-o {quoted(output)} is the {name.upper()} the report was made from; name another file")
    if output == "-" or _is_standard_output(output):
        write_json(page)  # UTF-8, as the page says, whatever the terminal's encoding
        return 0
    with held_stops(output):  # a stop comes after what became of the file is said
        try:
            write_whole(output, page)
        except OSError as error:
            reason = (error.strerror or str(error)).lower()
            return fail(f"cannot write {quoted(output)}: {reason}")
        print(printable(said))
    return 0


def _is_standard_output(path: str) -> bool:
    """Whether `path` names standard output's own file (a file, a pipe, a
    terminal: `/dev/stdout`); False for an app's stream without one."""
    descriptor = getattr(sys.stdout, "fileno", None)
    try:
        return descriptor is not None and os.path.samestat(os.stat(path), os.fstat(descriptor()))
    except (OSError, ValueError):
        return False


def _same_file(first: str, second: str) -> bool:
    """Whether two paths name one existing file (False when either is
    missing); `second` may be `-`, standard input (`report - -o /dev/stdin
    < ledger.jsonl` named the ledger too, found by review, 2026-12-07)."""
    try:
        if second == "-":  # (a regular file: `-o /dev/null` with a ledger from /dev/null is no slip)
            output = os.stat(first)
            return stat.S_ISREG(output.st_mode) and os.path.samestat(output, os.fstat(0))
        return os.path.samefile(first, second)
    except (OSError, ValueError):
        return False
