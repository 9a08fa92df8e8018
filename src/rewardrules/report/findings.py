"""What `check` and `fmt` say about one file's text, for every front end.

`rewardrules check`, `rewardrules fmt` and the language server (`lsp/`)
all take a file's text and must say the same: a matching file (its first
word is `matching`) goes to its own checker and formatter, a rule file to
the checker, and `strict` adds the lint stage's warnings (RR6xx) when
there is no error. One function each, so the editor never disagrees with
the command line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..check.checker import check_text
from ..core.diagnostics import Diagnostic, Severity, has_errors
from ..match.parse import is_matching_file
from ..syntax.formatter import format_text

if TYPE_CHECKING:
    from ..check.program import CheckedRuleset

Formatter = Callable[[str, str], tuple[str | None, list[Diagnostic]]]


def findings(path: str, text: str, strict: bool) -> tuple[CheckedRuleset | None, list[Diagnostic]]:
    """The checked program (None for a matching file or one with errors)
    and every diagnostic of `check` (`--strict`: with its warnings), in
    order. The lint stage is imported only when asked for: start-up stays
    short."""
    if is_matching_file(text):
        from ..match.check import check_text as check_matching

        found = check_matching(text, path)[1]
        return None, [d for d in found if strict or d.severity is Severity.ERROR]
    checked, diagnostics = check_text(text, path)
    if checked is not None and not has_errors(diagnostics) and strict:
        from ..check.lint import lint

        diagnostics = sorted(diagnostics + lint(checked), key=Diagnostic.sort_key)
    return (checked if not has_errors(diagnostics) else None), diagnostics


def formatter(text: str) -> Formatter:
    """The formatter of a file's text: a matching file has its own."""
    if is_matching_file(text):
        from ..match.format import format_text as format_matching

        return format_matching
    return format_text
