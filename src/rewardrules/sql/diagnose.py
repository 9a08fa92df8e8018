"""`check --engine sql`: every construct of a file that the SQL back end
does not compile yet, each at its line, as a diagnostic (RR450).

`compile_query` stops at the first construct it cannot compile (a query is
compiled whole or refused). Here each part of the file is compiled on its
own (the file's own lines, each `eligible when` clause, each milestone,
its voids and message, each reward's amount and cap) so that one run names
them all; the whole query is compiled last, so that a file this reports
nothing for is exactly a file `score --engine duckdb` runs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from ..compiler.generate import CompiledMilestone, CompiledRuleset
from ..core.diagnostics import Diagnostic
from ..syntax import nodes as ast
from . import explain as explanations
from . import expressions, messages, reversals
from .compile import Unsupported, _Compiler, compile_query

#: the code of a construct the SQL back end does not compile yet
CODE = "RR450"

HELP = "score it with the Python engine (the default), or see docs/sql.md for what compiles"


def refusals(compiled: CompiledRuleset, explain: bool = False) -> list[Unsupported]:
    """Every construct that does not compile, in file order, each once;
    `explain`: with each award's explanation (`compile_query`'s) and, when
    the query compiles, the explained sections' first refusal
    (`sections.compile_explained`): what `score --engine duckdb` refuses
    by default."""
    found: dict[tuple[str, int, int], Unsupported] = {}

    def attempt(part: Callable[[], object]) -> None:
        try:
            part()
        except Unsupported as refusal:
            span = refusal.span
            key = (refusal.construct, span.line if span else 0, span.column if span else 0)
            found.setdefault(key, refusal)

    compiler = _Compiler(compiled, explain=explain)
    attempt(compiler.check_program)
    for program in compiled.checked.programs:
        for clause in program.eligible:
            attempt(partial(_eligible, compiler, clause))
    for milestone in compiled.milestones:
        for part in _parts(compiler, milestone):
            attempt(part)
    attempt(lambda: compile_query(compiled, explain))
    if explain and not found:  # the explained sections, which `score --engine duckdb` writes too
        from .sections import compile_explained  # sections.py imports this package's compiler

        attempt(lambda: compile_explained(compiled))
    return sorted(found.values(), key=lambda r: (r.span.line, r.span.column) if r.span else (0, 0))


def _eligible(compiler: _Compiler, clause: ast.Expr) -> str:
    """One `eligible when` clause, compiled as `_Compiler.eligibility` does."""
    compiler.in_eligibility = True
    try:
        return compiler.expr(clause)
    finally:
        compiler.in_eligibility = False


def _parts(compiler: _Compiler, milestone: CompiledMilestone) -> list[Callable[[], object]]:
    """The pieces of a milestone compiled on their own: the milestone whole
    (its first refusal), then its voids, its message, each `void`
    condition, each reward's amount and cap, so that a refusal in one does
    not hide another's."""
    parts: list[Callable[[], object]] = [
        partial(compiler.milestone, milestone),
        partial(reversals.refuse_unsupported, compiler, milestone),
        partial(messages.hit_column, compiler, milestone),
        partial(explanations.hit_column, compiler, milestone),  # "" without explanations
    ]
    parts.extend(partial(reversals.void_clause, compiler, void) for void in milestone.info.voids)
    for index, reward in enumerate(milestone.rewards):
        if reward.constant is None:
            # as `_Compiler.amounts` compiles it: exact, a fraction where it divides
            parts.append(partial(expressions.fraction, compiler, reward.info.decl.amount))
        parts.append(partial(compiler.cap_of, milestone, index))
    return parts


def diagnostics(compiled: CompiledRuleset, explain: bool = False) -> list[Diagnostic]:
    """The refusals as `check` diagnostics (errors, code RR450); `explain`:
    as `score --engine duckdb` compiles it, with explanations."""
    return [
        Diagnostic(CODE, f"the SQL engine cannot compile {refusal.construct} yet", refusal.span, HELP)
        for refusal in refusals(compiled, explain)
    ]
