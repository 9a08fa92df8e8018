"""`rewardrules match RULES LEDGER`: who receives each referred customer, and why.

Also `rewardrules diff OLD NEW LEDGER` when OLD is a matching file
(`run_diff`): the workloads that would change hands.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..core.diagnostics import RuleError
from ..core.formatting import quoted
from ..core.lines import split_lines
from ..core.timeutil import format_timestamp
from ..ledger.events import LedgerError
from .common import (
    add_as_of_argument,
    add_format_argument,
    describe_os_error,
    fail,
    ledger_lines,
    print_diagnostics,
    print_error_lines,
    read_text,
    swapped_arguments,
    write_json,
    write_page,
)

if TYPE_CHECKING:
    from ..match.api import MatchResult
    from ..match.check import MatchRules


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
    parser.add_argument("--request", metavar="ID", help="only this request's assignments, each with its why")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    rules = _load(args.rules, 1, args.ledger)
    if isinstance(rules, int):
        return rules
    result = _matched(rules, args, ledger_lines(args.ledger))
    if isinstance(result, int):
        return result
    if args.request is not None:
        result = _one_request(result, args.request)
        if isinstance(result, int):
            return result
    if args.format == "json":
        write_json(result.to_json())
    elif args.format == "referrals":
        write_json(result.to_referrals())
    else:
        sys.stdout.write(result.to_text())
    return 0


def _one_request(result: MatchResult, request: str) -> MatchResult | int:
    """The result narrowed to one request, or exit code 2 for a request the
    ledger does not have (with the nearest one)."""
    narrowed = result.of_request(request)
    if narrowed.assignments:
        return narrowed
    return _unknown("request", request, {a.request for a in result.assignments}, result)


def _load(path: str, invalid: int, ledger: str | None = None, usage: str = "RULES LEDGER") -> MatchRules | int:
    """The checked matching file, or the exit code after saying why:
    ``invalid`` for a file with errors, 2 for one that cannot be read, or
    for a ledger given as the matching file and a rule file as ``ledger``
    (swapped arguments, as `score` says, with the ``usage`` they swapped)."""
    from ..match.api import load
    from ..syntax.parser import not_a_rule_file

    try:
        return load(path)
    except RuleError as error:
        print_diagnostics(error.diagnostics, sys.stderr)
        if ledger is not None and ledger.lower().endswith(".rules") and not_a_rule_file(error.diagnostics):
            return fail(swapped_arguments(ledger, usage))
        return invalid
    except OSError as error:
        return fail(describe_os_error(error, path))
    except UnicodeDecodeError:
        return fail(f"{quoted(path)} is not UTF-8 text")


def _matched(
    rules: MatchRules, args: argparse.Namespace, lines: Iterable[Any], strict: bool = True
) -> MatchResult | int:
    """The result of matching LEDGER, or the exit code (2) after saying why."""
    from ..match.api import match, parse_as_of

    try:
        as_of = parse_as_of(args.as_of)
    except LedgerError as error:
        return fail(f"--as-of: {error.problems[0].message}")
    name = "<stdin>" if args.ledger == "-" else args.ledger
    try:
        return match(rules, lines, as_of=as_of, path=name, strict=strict)
    except LedgerError as error:
        print_error_lines(str(error))
        return fail(f"the ledger has {len(error.problems)} problem(s) under {quoted(rules.name)}; nothing was matched")
    except OSError as error:
        return fail(describe_os_error(error, args.ledger))


def referral_lines(rules_path: str, ledger: str, as_of: int | None) -> list[bytes] | int:
    """`score ... --match MATCHING EVENTS`: the `referral` events matching
    EVENTS makes as of ``as_of`` (default: EVENTS' last event), as the lines
    `match --format referrals` writes; or the exit code after saying why (1
    for a matching file with errors, 2 for bad input), as `match` says it."""
    from ..core.timeutil import format_timestamp

    rules = _load(rules_path, 1, ledger, "--match MATCHING EVENTS")
    if isinstance(rules, int):
        return rules
    when = None if as_of is None else format_timestamp(as_of)
    args = argparse.Namespace(as_of=when, ledger=ledger)
    try:
        lines = list(ledger_lines(ledger))
    except OSError as error:
        return fail(describe_os_error(error, ledger))
    result = _matched(rules, args, lines)
    if isinstance(result, int):
        return result
    return [line.encode("utf-8") + b"\n" for line in split_lines(result.to_referrals())]


def run_explain(args: argparse.Namespace) -> int:
    """`rewardrules explain MATCHING LEDGER [--request ID] [--customer ID]`:
    each assignment as a decision (`report.match_explain`). Exit 0
    explained, 1 the matching file has errors, 2 bad input (a request or a
    customer the ledger does not have, with the nearest one; a request of
    another customer than --customer; an option of reward rules)."""
    from ..report.match_explain import explain_matches

    result = _matched_instead(args, "explains", ("referrer", "referee", "settled", "max_awards_per_event"))
    if isinstance(result, int):
        return result
    for what, value in (("request", args.request), ("customer", args.customer)):
        known = {getattr(a, what) for a in result.assignments}
        if value is not None and value not in known:
            return _unknown(what, value, known, result)
    explanation = explain_matches(result, args.request, args.customer)
    if not explanation.data["explanations"] and args.request is not None and args.customer is not None:
        customers = sorted({a.customer for a in result.assignments if a.request == args.request})
        code = fail(f"request {quoted(args.request)} is not a request of customer {quoted(args.customer)}")
        print_error_lines(f"     = help: it is {', '.join(map(quoted, customers))}'s; leave out --customer")
        return code
    if args.format == "json":
        write_json(json.dumps(explanation.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(explanation.text())
    return 0


def _matched_instead(args: argparse.Namespace, verb: str, reward_options: tuple[str, ...]) -> MatchResult | int:
    """`explain` or `report` given a matching file as RULESET: the result of
    matching LEDGER with it, or the exit code after saying why (an option
    only reward rules have is a bad invocation: exit 2)."""
    for option in reward_options:
        if getattr(args, option, None) is not None:
            flag = "--" + option.replace("_", "-")
            return fail(f"{flag} {verb} reward rules; {quoted(args.ruleset)} is a matching file")
    rules = _load(args.ruleset, 1, args.ledger)
    if isinstance(rules, int):
        return rules
    return _matched(rules, args, ledger_lines(args.ledger))


def run_report(args: argparse.Namespace) -> int:
    """`rewardrules report MATCHING LEDGER -o FILE`: the matching run as one
    HTML page (`report.match_html`). Exit 0 written, 1 the matching file has
    errors, 2 bad input or an option of reward rules."""
    from pathlib import Path

    from ..match.text import as_of_text
    from ..report.match_html import render_match_html

    result = _matched_instead(args, "reports", ("settled", "max_awards_per_event"))
    if isinstance(result, int):
        return result
    page = render_match_html(result, None if args.ledger == "-" else Path(args.ledger).name)
    count = len(result.assignments)
    as_of = as_of_text(None if result.as_of is None else format_timestamp(result.as_of))
    return write_page(args, page, f"wrote {args.output}: {count} assignment{'s' * (count != 1)} {as_of}")


def _unknown(what: str, value: str, known: set[str], result: MatchResult) -> int:
    """Exit code 2 for a request or customer no assignment names, with the nearest one."""
    from ..core.diagnostics import did_you_mean
    from ..core.timeutil import format_timestamp

    when = "in a ledger with no events" if result.as_of is None else f"as of {format_timestamp(result.as_of)}"
    code = fail(f"no {what} {quoted(value)} {when}")
    hint = did_you_mean(value, known)
    if hint:
        print_error_lines(f"     = help: {hint}")
    return code


def is_matching_path(path: str) -> bool:
    """Whether the file at ``path`` is a matching file (False when it cannot
    be read: the caller's own reading reports that)."""
    from ..match.parse import is_matching_file

    try:
        return is_matching_file(read_text(path))
    except (OSError, UnicodeDecodeError):
        return False


def run_diff(args: argparse.Namespace) -> int:
    """`rewardrules diff OLD NEW LEDGER` for two matching files: the
    workloads that change hands. Exit 0 same, 1 different, 2 bad input (an
    invalid matching file included: 1 would read as "differs"), as for an
    option only reward rules have (--max-awards-per-event)."""
    from ..match.diff import diff_markdown, diff_matches, diff_text

    if args.max_awards_per_event is not None:
        return fail(f"--max-awards-per-event diffs reward rules; {quoted(args.old)} is a matching file")
    old, new = _load(args.old, 2), _load(args.new, 2)
    if isinstance(old, int) or isinstance(new, int):
        return 2
    try:
        lines = list(ledger_lines(args.ledger))
    except OSError as error:
        return fail(describe_os_error(error, args.ledger))
    before = _matched(old, args, lines, strict=False)
    if isinstance(before, int):
        return before
    after = _matched(new, args, lines, strict=False)
    if isinstance(after, int):
        return after
    diff = diff_matches(before, after)
    if args.format == "json":
        write_json(json.dumps(diff, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    elif args.format == "markdown":
        name = "<stdin>" if args.ledger == "-" else args.ledger
        sys.stdout.write(diff_markdown(diff, args.old, args.new, name))
    else:
        sys.stdout.write(diff_text(diff))
    return 1 if diff["changed"] else 0
