"""`rewardrules check PATH...`: report every problem in rule files.

`--strict` adds the warnings of the lint stage (RR6xx), `--bounds` prints
the payout bounds, `--fail-level` decides whether warnings fail the run.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.diagnostics import Diagnostic, Severity
from ..core.formatting import printable_lines, quoted
from ..core.lines import split_lines
from ..core.render import github
from ..report.findings import findings
from .common import add_format_argument, describe_os_error, fail, print_diagnostics, read_text, write_json

if TYPE_CHECKING:
    from ..check.bounds import RulesetBounds
    from ..check.program import CheckedRuleset


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "check",
        help="check rule files and report every problem",
        description="Check rule files (and folders of *.rules files); report every problem.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="a .rules file or a folder")
    add_format_argument(parser, github="for workflow annotations", sarif="for code scanning")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="also warn about rules that are legal but likely wrong (RR6xx: dead milestones, tiers out of "
        "order, unused declarations, unbounded liability, ...)",
    )
    parser.add_argument(
        "--fail-level",
        choices=("error", "warning"),
        default="error",
        help="exit 1 on errors only (default), or on warnings too",
    )
    parser.add_argument(
        "--bounds",
        action="store_true",
        help="print the most one referral and one referrer can earn, per unit (always in --format json)",
    )
    parser.add_argument(
        "--engine",
        choices=("python", "sql"),
        default="python",
        help="sql: also report every construct the SQL back end does not compile yet (RR450), at its line "
        "(see docs/sql.md)",
    )
    parser.set_defaults(run=run)


@dataclass
class FileReport:
    path: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    bounds: RulesetBounds | None = None


def collect(paths: list[str]) -> tuple[list[str], list[str]]:
    """Rule files named or found below folders, and the paths that are missing."""
    files: list[str] = []
    missing: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(str(p) for p in sorted(path.rglob("*.rules")))
        elif path.exists():
            files.append(raw)
        else:
            missing.append(raw)
    return files, missing


def check_file(path: str, text: str, strict: bool, with_bounds: bool, sql: bool = False) -> FileReport:
    """Check one file (`report.findings`, which the language server shares);
    bound it only when it has no error (that stage is imported only when
    asked for: start-up stays short). With `sql`, a file without errors is
    also compiled to SQL, and what does not compile yet is reported."""
    checked, diagnostics = findings(path, text, strict)
    if checked is not None and sql:
        diagnostics = sorted(diagnostics + _sql_refusals(checked), key=Diagnostic.sort_key)
    report = FileReport(path, diagnostics)
    if checked is not None and with_bounds:
        from ..check.bounds import bounds

        report.bounds = bounds(checked)
    return report


def _sql_refusals(checked: CheckedRuleset) -> list[Diagnostic]:
    """Every construct of a checked file the SQL back end does not compile
    yet (RR450), each at its line: as `score --engine duckdb` compiles it,
    with each award's explanation."""
    from ..compiler.generate import compile_ruleset
    from ..sql.diagnose import diagnostics

    return diagnostics(compile_ruleset(checked), explain=True)


def run(args: argparse.Namespace) -> int:
    files, missing = collect(args.paths)
    for path in missing:
        fail(f"{quoted(path)} does not exist")
    reports: list[FileReport] = []
    unread = list(missing)  # said as errors of their own: named, never checked
    with_bounds = args.bounds or args.format == "json"
    for path in files:
        try:
            text = read_text(path)
        except (OSError, UnicodeDecodeError) as error:
            message = (
                describe_os_error(error, path) if isinstance(error, OSError) else f"{quoted(path)} is not UTF-8 text"
            )
            fail(message)
            unread.append(path)
            continue
        reports.append(check_file(path, text, args.strict, with_bounds, args.engine == "sql"))
    diagnostics = [d for report in reports for d in report.diagnostics]
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    warnings = len(diagnostics) - errors
    _print(args, reports, unread, diagnostics, errors, warnings)
    if unread or not files:
        if not files and not missing:
            print("rewardrules: error: no .rules files found", file=sys.stderr)
        return 2
    return 1 if errors or (args.fail_level == "warning" and warnings) else 0


def _print(
    args: argparse.Namespace,
    reports: list[FileReport],
    unread: list[str],
    diagnostics: list[Diagnostic],
    errors: int,
    warnings: int,
) -> None:
    if args.format == "json":
        payload = {
            "files": [r.path for r in reports],
            "diagnostics": [d.to_dict() for d in diagnostics],
            "errors": errors,
            "warnings": warnings,
            "bounds": [r.bounds.to_dict() for r in reports if r.bounds is not None],
            # (a path that does not exist, or a file too large, not UTF-8 or unreadable: never checked)
            "unread": unread,
        }
        write_json(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    elif args.format == "sarif":
        from ..report.sarif import sarif_log

        log = sarif_log([(r.path, r.diagnostics) for r in reports])
        write_json(json.dumps(log, indent=2, ensure_ascii=False) + "\n")
    elif args.format == "github":
        for report in reports:
            for d in report.diagnostics:
                print(github(d.to_problem(report.path)))
    else:
        print_diagnostics(diagnostics, sys.stdout)
        if args.bounds:
            for report in reports:
                if report.bounds is not None:
                    # item names from the rule file: one line each, printable
                    sys.stdout.write(printable_lines(split_lines(report.bounds.render())))
        # the files checked: one that could not be read (too large, not
        # UTF-8, unreadable) was said as an error of its own and is not one
        checked = len(reports)
        summary = f"checked {checked} {'file' if checked == 1 else 'files'}: {errors} error{'s' if errors != 1 else ''}"
        summary += f", {warnings} warning{'s' if warnings != 1 else ''}"
        if unread:
            summary += f"; {len(unread)} {'file' if len(unread) == 1 else 'files'} could not be read"
        print(summary, file=sys.stderr)
