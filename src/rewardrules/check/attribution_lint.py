"""The warnings of `check --strict` about attribution and case (RR620,
RR621): kept beside `lint`, which runs them, as the constructs are.

RR620: a list whose texts differ only in case. Without `ignoring case`,
`referral.source in ["Partner", "partner"]` is the usual sign of a ledger
whose spelling varies, and still misses "PARTNER"; with it, the second
spelling is the same item twice.

RR621: a program whose attribution lets a later referral take the referee,
with a milestone that pays at the referral itself: every referral that
takes the referee pays it again, to its own referrer.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..core.diagnostics import Diagnostic, Severity
from ..syntax import nodes as ast
from .program import CheckedRuleset, MilestoneInfo, ProgramInfo


def case_variants(checked: CheckedRuleset) -> Iterator[Diagnostic]:
    """RR620: two texts of one list that are equal ignoring case."""
    for node in ast.walk(checked.file):  # type: ignore[arg-type]  # walks any node, declarations too
        if not isinstance(node, ast.InList):
            continue
        seen: dict[str, ast.String] = {}
        for item in node.items:
            if not isinstance(item, ast.String):
                continue
            first = seen.setdefault(item.value.casefold(), item)
            if first is item:
                continue
            if node.fold:
                help_ = "with `ignoring case` they are the same item: remove one"
            else:
                help_ = "to match every spelling of it, write one of them and add `ignoring case` after the list"
            yield Diagnostic(
                "RR620",
                f"the list holds `{_quoted(first)}` and `{_quoted(item)}`, which differ only in case",
                item.span,
                help_,
                Severity.WARNING,
            )


def paid_per_claim(checked: CheckedRuleset) -> Iterator[Diagnostic]:
    """RR621: a milestone paid at the referral event, in a program where a
    later referral can take the referee (each such referral pays it again)."""
    for program in checked.programs:
        if not program.attribution.moves:
            continue
        for milestone in program.milestones:
            if _at_referral(checked, milestone):
                yield Diagnostic(
                    "RR621",
                    f"milestone `{milestone.name}` pays at the referral, and under {_model(program)} "
                    "each later referral that takes the referee pays it again, to its own referrer",
                    milestone.decl.name.span,
                    "pay at the conversion (`first EVENT ...`), or keep `attribution first referral`",
                    Severity.WARNING,
                )


def _at_referral(checked: CheckedRuleset, milestone: MilestoneInfo) -> bool:
    """Whether a per-referral milestone is reached at its referral event
    whatever follows: `first referral`, `each referral`, a `when` that
    reads no metric (only the referral's fields and constants), or a timer
    set at the referral whatever follows (`after D`, with no `from` and an
    `if` that reads no metric): each referral that takes the referee sets
    its own."""
    if milestone.level != "referral":
        return False
    trigger = milestone.trigger
    if isinstance(trigger, ast.EventTrigger):
        return trigger.event.text == "referral"
    if isinstance(trigger, ast.WhenTrigger) or (isinstance(trigger, ast.AfterTrigger) and trigger.anchor is None):
        refs = [node for node in ast.walk(trigger.condition) if isinstance(node, ast.Ref)]
        return all(_referral_field(checked, ref) for ref in refs)
    return False


def _referral_field(checked: CheckedRuleset, ref: ast.Ref) -> bool:
    """Whether a name is a field of the referral event (known at the referral)."""
    binding = checked.bindings.get(ref)
    return binding is not None and binding.kind == "field" and binding.event_role == "referral"


def _model(program: ProgramInfo) -> str:
    decl = program.attribution.decl
    return f"`{decl.span.text}`" if decl is not None and decl.span is not None else "its attribution"


def _quoted(item: ast.String) -> str:
    return item.span.text if item.span is not None else f'"{item.value}"'
