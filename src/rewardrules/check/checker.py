"""Check stage: resolve names, infer types, enforce limits.

Input is the AST of one rule file; output is a :class:`CheckedRuleset` and a
list of diagnostics. The checker never stops at the first problem: each
declaration is checked on its own, and an expression with an error gets the
type ``error`` so that one mistake does not cascade into many.

The guarantee this stage gives the rest of the pipeline: a ruleset with no
error diagnostic compiles, and its evaluators cannot fail at scoring time
because of the rules themselves (types agree, every name resolves, every
division is guarded, every quantity is bounded).

:class:`Checker` runs the passes in file order: the texts (``messages``),
the declarations (``declarations``), the shared metrics (``expressions``),
then each program (``programs``, which types its expressions and checks
its message templates as it meets them). Their shared state is ``scope``.
"""

from __future__ import annotations

from ..core.diagnostics import Diagnostic
from ..core.runtime import in_context
from ..core.source import Source
from ..syntax import nodes as ast
from .program import (
    CheckedRuleset,
    ProgramInfo,
)
from .programs import Programs


class Checker(Programs):
    """The checker: runs the passes over one rule file, in file order."""

    # -- entry point -----------------------------------------------------
    def run(self) -> CheckedRuleset:
        self._unicode()
        name, title = self._ruleset_name()
        timezone = self._timezone()
        self._declare_units()
        self._declare_events()
        shared = self._metric_scope(self.file.metrics, {}, None)
        self.allowances = self._allowances()
        programs: list[ProgramInfo] = []
        declared = list(self.file.programs)
        if self.file.implicit is not None:
            if declared:
                self.error(
                    "RR306",
                    "milestones, caps and eligibility must be inside a `program` block when the file has programs",
                    self.file.implicit.span,
                    "move this into one of the file's `program { ... }` blocks",
                )
            else:
                declared.append(self.file.implicit)
        seen_programs: dict[str, ast.Ident] = {}
        for program in declared:
            first_program = seen_programs.get(program.name.text)
            if first_program is not None:
                self._duplicate(
                    f"program `{program.name.text}` is declared twice", program.name.span, first_program.span
                )
            else:
                seen_programs[program.name.text] = program.name
            programs.append(self._program(program, shared, name))
        self._check_milestone_names(programs)
        return CheckedRuleset(
            name=name,
            title=title,
            source=self.source,
            file=self.file,
            events=self.events,
            units=self.units,
            programs=programs,
            timezone=timezone,
            allowances=list(self.allowances.values()),
            types=self.types,
            nullable=self.nullable,
            bindings=self.bindings,
        )


@in_context
def check_text(text: str, path: str = "<rules>") -> tuple[CheckedRuleset | None, list[Diagnostic]]:
    """Parse and check rule-file text: the checked ruleset (None after a
    syntax error) and every diagnostic, in file order."""
    from ..syntax.parser import parse, paused_gc

    with paused_gc():
        source = Source(path, text)
        tree, diagnostics = parse(source)
        if tree is None:
            return None, diagnostics
        checked, found = check(tree, source)
    return checked, sorted(diagnostics + found, key=Diagnostic.sort_key)


def check(file: ast.RuleFile, source: Source) -> tuple[CheckedRuleset, list[Diagnostic]]:
    """Run the checker over a parsed file."""
    checker = Checker(file, source)
    checked = checker.run()
    return checked, checker.diagnostics
