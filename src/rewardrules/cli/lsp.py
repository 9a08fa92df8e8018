"""`rewardrules lsp`: the language server, over stdin and stdout.

An editor starts it (docs/editor.md); it needs the optional `lsp` extra
(`pip install 'rewardrules[lsp]'`, which brings pygls), and says so, with
exit code 2, when that is missing. It exits with 0 when the editor asked
it to shut down before it ended, else 1 (the protocol's rule).
"""

from __future__ import annotations

import argparse
import importlib.util
from typing import Any

from .common import fail


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "lsp",
        help="run the language server (for editors; speaks LSP over stdio)",
        description="Run the language server: diagnostics as you type (those of `check --strict`), formatting, "
        "hover, completion, definitions, references, symbols, rename and quick fixes. An editor starts it; "
        "it reads LSP messages on standard input and writes them on standard output.",
    )
    parser.add_argument(
        "--stdio", action="store_true", help="use standard input and output (the default and only transport)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("pygls") is None:
        fail("the language server needs pygls: pip install 'rewardrules[lsp]'")
        return 2
    from ..lsp.server import serve

    return serve()
