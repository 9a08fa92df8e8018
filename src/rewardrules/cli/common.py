"""Helpers shared by subcommands: reading files and printing errors."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from ..diagnostics import Diagnostic, render


def use_color(stream: IO[str]) -> bool:
    """Colour on a terminal only, and never when NO_COLOR is set."""
    return hasattr(stream, "isatty") and stream.isatty() and "NO_COLOR" not in os.environ


def write_json(text: str) -> None:
    """JSON is UTF-8 whatever the terminal's encoding: write bytes."""
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(text)
        return
    sys.stdout.flush()
    buffer.write(text.encode("utf-8"))
    buffer.flush()


def fail(message: str, code: int = 2) -> int:
    print(f"rewardrules: error: {message}", file=sys.stderr)
    return code


def read_text(path: str) -> str:
    """Read a rule file; raise OSError/UnicodeDecodeError with a clear text."""
    return Path(path).read_text(encoding="utf-8")


def print_diagnostics(diagnostics: list[Diagnostic], stream: IO[str]) -> None:
    color = use_color(stream)
    for diagnostic in diagnostics:
        print(render(diagnostic, color), file=stream)


def ledger_lines(path: str) -> Iterator[bytes]:
    """The lines of a ledger file, or of standard input for `-`."""
    if path == "-":
        yield from sys.stdin.buffer
        return
    with open(path, "rb") as handle:
        yield from handle


def describe_os_error(error: OSError, path: str) -> str:
    reason = error.strerror or str(error)
    return f"cannot read `{path}`: {reason.lower()}"
