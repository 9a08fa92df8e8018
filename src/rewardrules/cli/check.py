"""`rewardrules check PATH...`: report every problem in rule files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..check import check_text
from ..diagnostics import Diagnostic, Severity
from .common import describe_os_error, print_diagnostics, read_text, write_json


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "check",
        help="check rule files and report every problem",
        description="Check rule files (and folders of *.rules files); report every problem.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="a .rules file or a folder")
    parser.add_argument(
        "--format",
        choices=("text", "json", "github"),
        default="text",
        help="text for people, json for tools, github for workflow annotations",
    )
    parser.set_defaults(run=run)


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


def run(args: argparse.Namespace) -> int:
    files, missing = collect(args.paths)
    for path in missing:
        print(f"rewardrules: error: `{path}` does not exist", file=sys.stderr)
    diagnostics: list[Diagnostic] = []
    unreadable = False
    for path in files:
        try:
            text = read_text(path)
        except (OSError, UnicodeDecodeError) as error:
            message = describe_os_error(error, path) if isinstance(error, OSError) else f"`{path}` is not UTF-8 text"
            print(f"rewardrules: error: {message}", file=sys.stderr)
            unreadable = True
            continue
        diagnostics.extend(check_text(text, path)[1])
    errors = sum(d.severity is Severity.ERROR for d in diagnostics)
    if args.format == "json":
        payload = {
            "files": files,
            "diagnostics": [d.to_dict() for d in diagnostics],
            "errors": errors,
            "warnings": len(diagnostics) - errors,
        }
        write_json(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    elif args.format == "github":
        for d in diagnostics:
            level = "error" if d.severity is Severity.ERROR else "warning"
            message = d.message + (f" (help: {d.help})" if d.help else "")
            where = f"file={_escape_property(d.path)},line={d.line},col={d.column},title={d.code}"
            print(f"::{level} {where}::{_escape(message)}")
    else:
        print_diagnostics(diagnostics, sys.stdout)
        noun = "file" if len(files) == 1 else "files"
        summary = f"checked {len(files)} {noun}: {errors} error{'s' if errors != 1 else ''}"
        print(summary, file=sys.stderr)
    if missing or unreadable or not files:
        if not files and not missing:
            print("rewardrules: error: no .rules files found", file=sys.stderr)
        return 2
    return 1 if errors else 0


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    """A workflow-command property value (`file=...`): `,` and `:` separate properties."""
    return _escape(text).replace(":", "%3A").replace(",", "%2C")
