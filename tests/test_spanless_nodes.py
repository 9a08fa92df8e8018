"""Syntax nodes built by code have no span (``span`` is ``Span | None``):
the messages that quote a node's text (lint warnings, payout bounds) print
such a node the way ``fmt`` writes it, instead of failing on ``None.text``."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest

from rewardrules.check.bounds import bounds
from rewardrules.check.checker import check
from rewardrules.check.lint import lint
from rewardrules.check.program import CheckedRuleset
from rewardrules.core.source import Source
from rewardrules.syntax import nodes as ast
from rewardrules.syntax.formatter import written
from rewardrules.syntax.parser import parse

from .conftest import ROOT
from .test_output_followups import COMPUTED_PERCENT

STRICT = ROOT / "tests" / "fixtures" / "check" / "strict"


def _without_spans(node: Any) -> Any:
    """The same tree with every span None, as code that builds nodes makes it."""
    if isinstance(node, tuple):
        return tuple(_without_spans(item) for item in node)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        parts = {f.name: _without_spans(getattr(node, f.name)) for f in dataclasses.fields(node) if f.name != "span"}
        return dataclasses.replace(node, span=None, **parts)
    return node


def _checked_both(text: str, path: str = "<rules>") -> tuple[CheckedRuleset, CheckedRuleset]:
    """The ruleset checked as parsed, and checked again from a span-less copy of its tree."""
    source = Source(path, text)
    tree, problems = parse(source)
    assert tree is not None, problems
    parsed, errors = check(tree, source)
    bare, bare_errors = check(_without_spans(tree), source)
    assert errors == [] and bare_errors == []
    assert bare.file.implicit is not None and bare.file.implicit.milestones[0].span is None
    return parsed, bare


@pytest.mark.parametrize("code", ["RR605", "RR606", "RR608"])
def test_lint_quotes_spanless_nodes_as_fmt_writes_them(code: str) -> None:
    """The fixtures are written as `fmt` writes them, so the warnings read the same."""
    path = STRICT / f"{code}.warn.rules"
    parsed, bare = _checked_both(path.read_text(encoding="utf-8"), str(path))
    expected = [d.message for d in lint(parsed)]
    assert expected and any("`" in m for m in expected)
    assert [d.message for d in lint(bare)] == expected


@pytest.mark.parametrize("text", [(STRICT / "RR605.warn.rules").read_text(encoding="utf-8"), COMPUTED_PERCENT])
def test_bounds_quote_spanless_computed_amounts(text: str) -> None:
    parsed, bare = _checked_both(text)
    assert bounds(bare) == bounds(parsed)
    described = [bound.describe() for program in bounds(bare).programs for _, bound in program.per_referral]
    assert any("(no upper bound)" in d for d in described)


def test_written_prefers_the_source_text() -> None:
    """A parsed node is quoted as the user wrote it, not reformatted."""
    source = Source(
        "<rules>", "ruleset r\nmilestone m { first payment  reward referrer cash 15%  of   payment.amount }\n"
    )
    tree, _ = parse(source)
    assert tree is not None and tree.implicit is not None
    amount = tree.implicit.milestones[0].rewards[0].amount
    assert written(amount) == "15%  of   payment.amount"
    assert written(_without_spans(amount)) == "15% of payment.amount"
    assert written(ast.Duration(Decimal(30), ast.Ident("days"))) == "30 days"
