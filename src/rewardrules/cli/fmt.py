"""`rewardrules fmt PATH...`: rewrite rule files in the canonical layout."""

from __future__ import annotations

import argparse
import difflib
import sys
from typing import Any

from ..core.formatting import printable, printable_patch_line, quoted
from ..report.findings import formatter
from .check import collect
from .common import describe_os_error, fail, print_diagnostics, read_text
from .files import PartlyWritten, held_stops, write_whole


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "fmt",
        help="rewrite rule files in the canonical layout",
        description=(
            "Rewrite rule files (and folders of *.rules files) in the canonical layout, keeping comments. "
            "A file with syntax errors is left as it is and its errors are printed."
        ),
        epilog="exit codes: 0 done (or nothing to change), 1 syntax errors or (with --check/--diff) files to change, "
        "2 bad invocation or unreadable file",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="a .rules file or a folder")
    parser.add_argument("--check", action="store_true", help="write nothing; list the files that would change")
    parser.add_argument("--diff", action="store_true", help="write nothing; print the changes as a unified diff")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    files, missing = collect(args.paths)
    for path in missing:
        fail(f"{quoted(path)} does not exist")
    if not files and not missing:
        print("rewardrules: error: no .rules files found", file=sys.stderr)
    texts = _read_all(files)
    if missing or texts is None or not files:
        return 2  # nothing is written when any input is wrong
    dry_run = args.check or args.diff
    changed, broken, unwritten = 0, 0, 0
    for path, text in texts:
        formatted, diagnostics = formatter(text)(text, path)
        if formatted is None:
            print_diagnostics(diagnostics, sys.stderr)
            broken += 1
            continue
        if formatted == text:
            continue
        changed += 1
        if args.diff:
            sys.stdout.writelines(_diff(path, text, formatted))
        if args.check:
            print(printable(f"would reformat {path}"), file=sys.stderr if args.diff else sys.stdout)
        if not dry_run and not _write(path, formatted):
            unwritten += 1
    _summary(len(files), changed, broken, dry_run, unwritten)
    if unwritten:
        return 2
    return 1 if broken or (dry_run and changed) else 0


def _read_all(files: list[str]) -> list[tuple[str, str]] | None:
    """Every file's text, or None (after saying why) if one cannot be read."""
    texts, ok = [], True
    for path in files:
        try:
            texts.append((path, read_text(path, exact=True)))
        except (OSError, UnicodeDecodeError) as error:
            message = (
                describe_os_error(error, path) if isinstance(error, OSError) else f"{quoted(path)} is not UTF-8 text"
            )
            fail(message)
            ok = False
    return texts if ok else None


def _diff(path: str, before: str, after: str) -> list[str]:
    """The change as a unified diff that `patch` or `git apply` takes, safe
    to print: control characters from the file are escaped (see
    `formatting.printable_patch_line`), a tab or line ending is kept."""
    name = printable(path)
    lines = difflib.unified_diff(_lines(before), _lines(after), f"{name} (original)", f"{name} (formatted)")
    return [_patch_line(line) for line in lines]


def _patch_line(line: str) -> str:
    """One line of the diff, printable; a last line without a newline would
    run into the next hunk's header, so it gets the marker patch knows."""
    safe = printable_patch_line(line)
    return safe if line.endswith("\n") else safe + "\n\\ No newline at end of file\n"


def _lines(text: str) -> list[str]:
    """Lines as `patch` counts them: ended by a newline only. (`str.splitlines`
    also ends a line at a form feed, U+001C, U+2028 and others, which would
    break the diff in the middle of a line.)"""
    lines = text.split("\n")
    last = lines.pop()
    return [line + "\n" for line in lines] + ([last] if last else [])


def _write(path: str, text: str) -> bool:
    """Rewrite the file whole or not at all (`files.write_whole`) and say
    so; False after saying why not, and in what state the file is."""
    with held_stops(path):  # a stop comes after what became of the file is said
        try:
            write_whole(path, text)
        except OSError as error:
            reason = (error.strerror or str(error)).lower()
            state = "" if isinstance(error, PartlyWritten) else " (it is as it was)"
            fail(f"cannot write {quoted(path)}: {reason}{state}")
            return False
        print(printable(f"reformatted {path}"))
    return True


def _summary(total: int, changed: int, broken: int, dry_run: bool, unwritten: int) -> None:
    """The last line: how many files changed (or would), how many were
    left alone, and why; a file that could not be written is counted as
    such, never as reformatted (its error says in what state it is)."""

    def files(n: int) -> str:
        return f"{n} file{'' if n == 1 else 's'}"

    verb = "would be reformatted" if dry_run else "reformatted"
    parts = [f"{files(changed - unwritten)} {verb}", f"{files(total - changed - broken)} unchanged"]
    if unwritten:
        parts.append(f"{files(unwritten)} could not be written")
    if broken:
        parts.append(f"{files(broken)} with syntax errors (not formatted)")
    print(", ".join(parts), file=sys.stderr)
