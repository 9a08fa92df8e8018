"""Parse stage: rule-file text -> :mod:`rewardrules.ast`.

The grammar lives in ``grammar/rewardrules.lark`` (shipped as package data).
Lark's LALR parser applies :class:`_Builder` as it reduces, so even long
expressions are built without recursion; the builder also measures nesting
so a pathological file stops here with a diagnostic. Syntax errors become
diagnostics with a readable list of what was expected.
"""

from __future__ import annotations

import bisect
import contextlib
import dataclasses
import functools
import gc
import json
import re
from collections.abc import Iterator, Sequence
from decimal import Decimal
from importlib import resources
from typing import Any, NamedTuple, TypeVar

from lark import Lark, Token, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError
from lark.parsers.lalr_analysis import Shift
from lark.visitors import Transformer_NonRecursive

from ..core import limits, units
from ..core.datatypes import DURATION_UNITS
from ..core.diagnostics import Diagnostic, edit_distance, suggest
from ..core.lines import split_lines
from ..core.source import Source, Span
from . import nodes as ast
from .tables import digest, load_tables, tables_source

#: Friendly names of the grammar's pattern terminals, for "expected ..." lists.
_TERMINAL_NAMES = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a quoted string",
    "COMPARE": "a comparison (`>=`, `==` ...)",
    "ADD": "`+` or `-`",
    "MUL": "`*` or `/`",
    "$END": "the end of the file",
}


@functools.lru_cache(maxsize=1)
def grammar_text() -> str:
    """The grammar, loaded as package data (see pyproject's force-include)."""
    packaged = resources.files("rewardrules").joinpath("grammar/rewardrules.lark")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    # Running from a source checkout without install: grammar/ at the top.
    from pathlib import Path

    return (Path(__file__).resolve().parents[3] / "grammar" / "rewardrules.lark").read_text(encoding="utf-8")


class _TooDeep(Exception):
    def __init__(self, span: Span) -> None:
        self.span = span


#: An expression node that :meth:`_Builder._deep` hands back as it is.
_E = TypeVar("_E", bound=ast.Expr)


def _decimal(token: Token) -> Decimal:
    return Decimal(str(token))


def _title(rest: tuple[Any, ...]) -> str | None:
    """The title string a declaration's body starts with, if it has one."""
    return rest[0] if rest and isinstance(rest[0], str) else None


def _only(rest: tuple[Any, ...], kind: type | tuple[type, ...]) -> tuple[Any, ...]:
    """The children of a declaration of one kind (or kinds), in their order:
    a body's parts may come in any order, and each field keeps one kind."""
    return tuple(r for r in rest if isinstance(r, kind))


@v_args(meta=True, inline=True)
class _Builder(Transformer_NonRecursive[Token, Any]):
    """Turns each reduction into an AST node (and tracks expression depth)."""

    def __init__(self, source: Source) -> None:
        super().__init__()
        self.source = source
        self.depth: dict[int, int] = {}

    # -- helpers ---------------------------------------------------------
    def _span(self, meta: Any, *fallback: Any) -> Span:
        if not getattr(meta, "empty", True):
            return self.source.span(meta.start_pos, meta.end_pos)
        for item in fallback:
            span: Span | None = getattr(item, "span", None)
            if span is not None:
                return span
        return self.source.whole()

    def _tok(self, token: Token) -> ast.Ident:
        return ast.Ident(str(token), self.source.span(token.start_pos or 0, token.end_pos or 0))

    def _deep(self, node: _E, *children: object) -> _E:
        depth = 1 + max((self.depth.get(id(c), 0) for c in children), default=0)
        if depth > limits.MAX_EXPRESSION_DEPTH:
            raise _TooDeep(node.span or self.source.whole())  # built by this class: never None
        self.depth[id(node)] = depth
        return node

    # -- top level -------------------------------------------------------
    def start(self, meta: Any, *items: Any) -> ast.RuleFile:
        rulesets = tuple(i for i in items if isinstance(i, ast.RulesetDecl))
        units = tuple(i for i in items if isinstance(i, ast.UnitDecl))
        events = tuple(i for i in items if isinstance(i, ast.EventDecl))
        metrics = tuple(i for i in items if isinstance(i, ast.MetricDecl))
        programs = tuple(i for i in items if isinstance(i, ast.Program))
        allowances = tuple(i for i in items if isinstance(i, ast.Allowance))
        loose = [i for i in items if isinstance(i, (ast.Eligible, ast.Cap, ast.Milestone, ast.Draw, ast.Attribution))]
        implicit = None
        if loose:
            implicit = ast.Program(
                name=ast.Ident("", loose[0].span),
                title=None,
                eligible=tuple(i for i in loose if isinstance(i, ast.Eligible)),
                caps=tuple(i for i in loose if isinstance(i, ast.Cap)),
                milestones=tuple(i for i in loose if isinstance(i, ast.Milestone)),
                attributions=tuple(i for i in loose if isinstance(i, ast.Attribution)),
                span=loose[0].span,
                draws=tuple(i for i in loose if isinstance(i, ast.Draw)),
            )
        return ast.RuleFile(
            rulesets, units, events, metrics, programs, implicit, span=self.source.whole(), allowances=allowances
        )

    def title(self, meta: Any, token: Token) -> str:
        return _unquote(str(token))

    def ruleset_decl(
        self, meta: Any, name: Token, title: str | None = None, timezone: ast.String | None = None
    ) -> ast.RulesetDecl:
        return ast.RulesetDecl(self._tok(name), title, timezone, span=self._span(meta))

    def timezone(self, meta: Any, token: Token) -> ast.String:
        return ast.String(_unquote(str(token)), span=self._span(meta))

    def unit_decl(self, meta: Any, name: Token, title: str | None = None) -> ast.UnitDecl:
        return ast.UnitDecl(self._tok(name), title, span=self._span(meta))

    def event_decl(self, meta: Any, name: Token, *rest: Any) -> ast.EventDecl:
        title = rest[0] if rest and isinstance(rest[0], str) and not isinstance(rest[0], Token) else None
        fields = _only(rest, ast.FieldDecl)
        return ast.EventDecl(self._tok(name), title, fields, span=self._span(meta))

    def field_decl(self, meta: Any, name: Token, *rest: Any) -> ast.FieldDecl:
        optional = any(isinstance(r, Token) and r.type == "OPTIONAL" for r in rest)
        type_ref = rest[-1]
        return ast.FieldDecl(self._tok(name), type_ref, optional, span=self._span(meta))

    def money_type(self, meta: Any, unit: Token) -> ast.TypeRef:
        return ast.TypeRef("money", self._tok(unit), span=self._span(meta))

    def quantity_type(self, meta: Any, unit: Token) -> ast.TypeRef:
        return ast.TypeRef("quantity", self._tok(unit), span=self._span(meta))

    def number_type(self, meta: Any) -> ast.TypeRef:
        return ast.TypeRef("number", span=self._span(meta))

    def text_type(self, meta: Any) -> ast.TypeRef:
        return ast.TypeRef("text", span=self._span(meta))

    def time_type(self, meta: Any) -> ast.TypeRef:
        return ast.TypeRef("time", span=self._span(meta))

    def boolean_type(self, meta: Any) -> ast.TypeRef:
        return ast.TypeRef("boolean", span=self._span(meta))

    # -- metrics ---------------------------------------------------------
    def metric_decl(self, meta: Any, name: Token, *rest: Any) -> ast.MetricDecl:
        title = rest[0] if len(rest) == 2 else None
        return ast.MetricDecl(self._tok(name), title, rest[-1], span=self._span(meta))

    def aggregate_fn(self, meta: Any, token: Token) -> str:
        return str(token)

    def target(self, meta: Any, *tokens: Token | None) -> tuple[ast.Ident, ast.Ident | None, bool]:
        earlier = bool(tokens) and isinstance(tokens[0], Token) and tokens[0].type == "EARLIER"
        head, *attr = [t for t in tokens[1:] if t is not None] if earlier else [t for t in tokens if t is not None]
        return self._tok(head), (self._tok(attr[0]) if attr else None), earlier

    def aggregate(self, meta: Any, fn: str, target: Any, *clauses: Any) -> ast.Aggregate:
        where = within = otherwise = unless = None
        for kind, value in clauses:
            if kind == "where":
                where = value
            elif kind == "within":
                within = value
            elif kind == "unless":
                unless = value
            else:
                otherwise = value
        return ast.Aggregate(
            fn, target[0], target[1], where, within, otherwise, span=self._span(meta), earlier=target[2], unless=unless
        )

    def unless(self, meta: Any, milestone: Token) -> tuple[str, Any]:
        return ("unless", self._tok(milestone))

    def graduated_tiers(self, meta: Any, metric: Token, *rows: Any) -> ast.Tiers:
        return self.tiers(meta, metric, *rows, graduated=True)

    def tiers(self, meta: Any, metric: Token, *rows: Any, graduated: bool = False) -> ast.Tiers:
        found = [r for r in rows if isinstance(r, tuple)]
        return ast.Tiers(
            ast.Ref(self._tok(metric), span=self._tok(metric).span),
            tuple(low for low, _, _ in found),
            tuple(high for _, high, _ in found),
            tuple(value for _, _, value in found),
            span=self._span(meta),
            graduated=graduated,
        )

    def tier_range(self, meta: Any, low: Any, high: Any, value: Any) -> tuple[Any, Any, Any]:
        return (low, high, value)

    def tier_open(self, meta: Any, low: Any, value: Any) -> tuple[Any, Any, Any]:
        return (low, None, value)

    def tier_bound(self, meta: Any, number: Token, unit: Token | None = None) -> ast.Number | ast.Quantity:
        if unit is None:
            return ast.Number(_decimal(number), span=self._span(meta))
        return ast.Quantity(_decimal(number), self._tok(unit), span=self._span(meta))

    def filter(self, meta: Any, expr: Any) -> tuple[str, Any]:
        return ("where", expr)

    def window(self, meta: Any, duration: ast.Duration) -> tuple[str, Any]:
        return ("within", duration)

    def fallback(self, meta: Any, expr: Any) -> tuple[str, Any]:
        return ("otherwise", expr)

    def duration(self, meta: Any, number: Token, unit: Token) -> ast.Duration:
        return ast.Duration(_decimal(number), self._tok(unit), span=self._span(meta))

    # -- programs --------------------------------------------------------
    def program_decl(self, meta: Any, name: Token, *rest: Any) -> ast.Program:
        title = _title(rest)
        return ast.Program(
            self._tok(name),
            title,
            metrics=_only(rest, ast.MetricDecl),
            eligible=_only(rest, ast.Eligible),
            caps=_only(rest, ast.Cap),
            milestones=_only(rest, ast.Milestone),
            attributions=_only(rest, ast.Attribution),
            span=self._span(meta),
            draws=_only(rest, ast.Draw),
        )

    def allowance_decl(
        self, meta: Any, name: Token, title: str | None, role: Token, amount: Any, period: Token | None
    ) -> ast.Allowance:
        return ast.Allowance(self._tok(name), title, self.cap_decl(meta, role, amount, period), span=self._span(meta))

    def draw_decl(self, meta: Any, name: Token) -> ast.Draw:
        return ast.Draw(self._tok(name), span=self._span(meta))

    def attribution_decl(
        self, meta: Any, model: Token, subject: Token, lapse: Any = None, conversion: Any = None
    ) -> ast.Attribution:
        return ast.Attribution(self._tok(model), self._tok(subject), lapse, conversion, span=self._span(meta))

    def lapse(self, meta: Any, duration: ast.Duration) -> ast.Duration:
        return duration

    def conversion(self, meta: Any, event: Token, *clauses: Any) -> ast.Conversion:
        where = dict(clauses).get("where")
        return ast.Conversion(self._tok(event), where, span=self._span(meta))

    def eligible_decl(self, meta: Any, condition: Any) -> ast.Eligible:
        return ast.Eligible(condition, span=self._span(meta))

    def cap_decl(self, meta: Any, role: Token, amount: Any, period: Token | None = None) -> ast.Cap:
        return ast.Cap(
            self._tok(role), amount, self._tok(period) if period is not None else None, span=self._span(meta)
        )

    def milestone_decl(self, meta: Any, name: Token, *rest: Any) -> ast.Milestone:
        title = _title(rest)
        kinds = (ast.WhenTrigger, ast.EventTrigger, ast.IncreaseTrigger, ast.EveryTrigger, ast.AfterTrigger)
        return ast.Milestone(
            self._tok(name),
            title,
            triggers=_only(rest, kinds),
            rewards=_only(rest, ast.Reward),
            holds=_only(rest, ast.Hold),
            voids=_only(rest, ast.Void),
            messages=_only(rest, ast.Message),
            caps=_only(rest, ast.Cap),
            span=self._span(meta),
        )

    def when_trigger(self, meta: Any, condition: Any) -> ast.WhenTrigger:
        return ast.WhenTrigger(condition, span=self._span(meta))

    def held_trigger(self, meta: Any, condition: Any, held: ast.Duration) -> ast.WhenTrigger:
        return ast.WhenTrigger(condition, span=self._span(meta), held=held)

    def after_trigger(self, meta: Any, delay: ast.Duration, *clauses: Any) -> ast.AfterTrigger:
        found = dict(clauses)
        return ast.AfterTrigger(delay, found.get("from"), found.get("if"), span=self._span(meta))

    def after_from(self, meta: Any, event: Token) -> tuple[str, ast.Ident]:
        return ("from", self._tok(event))

    def after_if(self, meta: Any, condition: Any) -> tuple[str, Any]:
        return ("if", condition)

    def _event_trigger(self, meta: Any, each: bool, event: Token, clauses: tuple[Any, ...]) -> ast.EventTrigger:
        found = dict(clauses)
        return ast.EventTrigger(each, self._tok(event), found.get("where"), found.get("within"), span=self._span(meta))

    def first_trigger(self, meta: Any, event: Token, *clauses: Any) -> ast.EventTrigger:
        return self._event_trigger(meta, False, event, clauses)

    def each_trigger(self, meta: Any, event: Token, *clauses: Any) -> ast.EventTrigger:
        return self._event_trigger(meta, True, event, clauses)

    def increase_trigger(self, meta: Any, metric: Token) -> ast.IncreaseTrigger:
        return ast.IncreaseTrigger(self._tok(metric), span=self._span(meta))

    def every_trigger(self, meta: Any, step: Token, metric: Token) -> ast.EveryTrigger:
        return ast.EveryTrigger(_decimal(step), self._tok(metric), span=self._span(meta))

    def reward(self, meta: Any, role: Token, kind: Token, amount: Any, *terms: Any) -> ast.Reward:
        own = terms[0] if terms else ()
        return ast.Reward(
            self._tok(role),
            self._tok(kind),
            amount,
            span=self._span(meta),
            holds=_only(own, ast.Hold),
            voids=_only(own, ast.Void),
            terms=bool(terms),
        )

    def reward_terms(self, meta: Any, *clauses: Any) -> tuple[Any, ...]:
        return clauses

    def hold(self, meta: Any, duration: ast.Duration) -> ast.Hold:
        return ast.Hold(duration, span=self._span(meta))

    def void(self, meta: Any, share: tuple[Any, Any] | None, event: Token, *clauses: Any) -> ast.Void:
        found = dict(clauses)
        part, whole = share if share is not None else (None, None)
        where, within = found.get("where"), found.get("within")
        return ast.Void(self._tok(event), where, within, span=self._span(meta), part=part, whole=whole)

    def share(self, meta: Any, part: Any, whole: Any) -> tuple[Any, Any]:
        return (part, whole)

    def message(self, meta: Any, token: Token) -> ast.Message:
        return ast.Message(_unquote(str(token)), span=self._span(meta))

    # -- expressions -----------------------------------------------------
    def number(self, meta: Any, token: Token) -> ast.Number:
        return ast.Number(_decimal(token), span=self._span(meta))

    def quantity(self, meta: Any, token: Token, unit: Token) -> ast.Quantity:
        return ast.Quantity(_decimal(token), self._tok(unit), span=self._span(meta))

    def percent(self, meta: Any, token: Token) -> ast.Percent:
        return ast.Percent(_decimal(token), span=self._span(meta))

    def percent_of(self, meta: Any, token: Token, operand: Any) -> ast.PercentOf:
        return self._deep(ast.PercentOf(_decimal(token), operand, span=self._span(meta)), operand)

    def rate_of(self, meta: Any, rate: Token, operand: Any) -> ast.RateOf:
        ref = ast.Ref(self._tok(rate), span=self._tok(rate).span)
        return self._deep(ast.RateOf(ref, operand, span=self._span(meta)), operand)

    def string(self, meta: Any, token: Token) -> ast.String:
        return ast.String(_unquote(str(token)), span=self._span(meta))

    def true(self, meta: Any) -> ast.Bool:
        return ast.Bool(True, span=self._span(meta))

    def false(self, meta: Any) -> ast.Bool:
        return ast.Bool(False, span=self._span(meta))

    def ref(self, meta: Any, head: Token, attr: Token | None = None) -> ast.Ref:
        return ast.Ref(self._tok(head), self._tok(attr) if attr is not None else None, span=self._span(meta))

    def arith(self, meta: Any, left: Any, op: Token, right: Any) -> ast.Arith:
        return self._deep(ast.Arith(str(op), left, right, span=self._span(meta)), left, right)

    def neg(self, meta: Any, operand: Any) -> Any:
        if isinstance(operand, ast.Number):  # fold `-5` into a literal
            return ast.Number(-operand.value, span=self._span(meta))
        if isinstance(operand, ast.Quantity):
            return ast.Quantity(-operand.value, operand.unit, span=self._span(meta))
        return self._deep(ast.Neg(operand, span=self._span(meta)), operand)

    def compare(self, meta: Any, left: Any, op: Token, right: Any, fold: bool | None = None) -> ast.Compare:
        return self._deep(ast.Compare(str(op), left, right, bool(fold), span=self._span(meta)), left, right)

    def ignoring_case(self, meta: Any) -> bool:
        return True

    def and_(self, meta: Any, left: Any, right: Any) -> ast.And:
        return self._deep(ast.And(left, right, span=self._span(meta)), left, right)

    def or_(self, meta: Any, left: Any, right: Any) -> ast.Or:
        return self._deep(ast.Or(left, right, span=self._span(meta)), left, right)

    def not_(self, meta: Any, operand: Any) -> ast.Not:
        return self._deep(ast.Not(operand, span=self._span(meta)), operand)

    def list(self, meta: Any, *items: Any) -> tuple[Any, ...]:
        return tuple(i for i in items if i is not None)

    def in_list(self, meta: Any, operand: Any, items: tuple[Any, ...], fold: bool | None = None) -> ast.InList:
        return self._deep(ast.InList(operand, items, False, bool(fold), span=self._span(meta)), operand, *items)

    def not_in_list(self, meta: Any, operand: Any, items: tuple[Any, ...], fold: bool | None = None) -> ast.InList:
        return self._deep(ast.InList(operand, items, True, bool(fold), span=self._span(meta)), operand, *items)

    def earlier(self, meta: Any, name: Token) -> ast.Ident:
        return self._tok(name)

    def in_earlier(self, meta: Any, operand: Any, name: ast.Ident) -> ast.InEarlier:
        return self._deep(ast.InEarlier(operand, name, False, span=self._span(meta)), operand)

    def not_in_earlier(self, meta: Any, operand: Any, name: ast.Ident) -> ast.InEarlier:
        return self._deep(ast.InEarlier(operand, name, True, span=self._span(meta)), operand)

    def is_set(self, meta: Any, operand: Any) -> ast.IsSet:
        return self._deep(ast.IsSet(operand, False, span=self._span(meta)), operand)

    def is_not_set(self, meta: Any, operand: Any) -> ast.IsSet:
        return self._deep(ast.IsSet(operand, True, span=self._span(meta)), operand)


def _unquote(text: str) -> str:
    try:
        value = json.loads(text)
    except ValueError:
        # An escape JSON does not know (e.g. `\q`): keep the text as written.
        value = text[1:-1]
    return str(value)


#: How the parser is built; the shipped tables (:mod:`._grammar_tables`) record them too.
_OPTIONS: dict[str, Any] = {"parser": "lalr", "propagate_positions": True, "maybe_placeholders": True}


class _WholeWords:
    """Lark's post-lexer hook, changing no token: its ``always_accept``
    makes every state of the contextual lexer read a name, so that a word
    is always read whole. Without it, where no name can stand, the lexer
    took the keyword a word starts with and the rest as another word:
    `rewards` as `reward s`, and `firstsignup` as `first signup`, accepted
    silently. Now such a word is a name where it cannot stand: an error
    at that word, with the keyword it resembles as the hint."""

    always_accept = ("NAME",)

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        return stream


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    """The parser: from the analysed grammar shipped in the package when it
    matches the grammar and the installed Lark, else built from the grammar.

    Nothing is read from a cache folder: Lark's own cache is a pickle, and a
    pickle planted in a folder that CI caches restore would run code."""
    text = grammar_text()
    shipped = _shipped_parser(text)
    return shipped if shipped is not None else Lark(text, **_OPTIONS, postlex=_WholeWords())


def _shipped_parser(grammar: str) -> Lark | None:
    """The parser loaded from :mod:`._grammar_tables` (plain Python data in
    the installed package, as trusted as this code), or None when the tables
    were made from another grammar, another Lark version or other options,
    or this Lark cannot load them: building from the grammar costs about 50 ms."""
    try:
        from . import _grammar_tables as tables
    except ImportError:  # a copy of the package without the generated module
        return None
    return load_tables(grammar, tables, _OPTIONS, _WholeWords())


def _grammar_digest(grammar: str) -> str:
    """The SHA-256 of the grammar text, as the shipped tables record it."""
    return digest(grammar)


def tables_module(grammar: str | None = None) -> str:
    """The source of :mod:`._grammar_tables` for ``grammar`` (the packaged
    one by default) and the installed Lark. After a change to the grammar or
    to Lark's version, regenerate it with ``python -m rewardrules.parse``."""
    text = grammar_text() if grammar is None else grammar
    return tables_source(text, _OPTIONS, "grammar/rewardrules.lark", "python -m rewardrules.parse", "parse._parser")


def terminal_pattern(name: str) -> str:
    """The literal text of a keyword/punctuation terminal, or '' for patterns."""
    try:
        term = _parser().get_terminal(name)
    except KeyError:
        return ""
    return term.pattern.value if term.pattern.type == "str" else ""


def keywords() -> frozenset[str]:
    """Every reserved word of the language."""
    return frozenset(_keyword_types())


def _describe_expected(expected: set[str]) -> str:
    names = []
    for name in sorted(expected):
        if name in _TERMINAL_NAMES:
            names.append(_TERMINAL_NAMES[name])
        else:
            text = terminal_pattern(name)
            names.append(f"`{text}`" if text else name.lower())
    names = sorted(set(names))
    if len(names) > 8:
        names = [*names[:8], "..."]
    return ", ".join(names)


_AGGREGATES = ("latest", "sum", "count", "max", "min", "first")


def _syntax_diagnostic(source: Source, error: UnexpectedInput) -> Diagnostic:
    pos = getattr(error, "pos_in_stream", None) or 0
    if isinstance(error, UnexpectedCharacters):
        char = source.text[pos : pos + 1]
        help_ = _character_help(source.text, pos)
        return Diagnostic("RR002", f"unexpected character `{char}`", source.span(pos, pos + 1), help_)
    unclosed = _unclosed_block(source.text, error)
    if unclosed is not None:
        misplaced = _misplaced_in(source.text, error, unclosed)
        if misplaced is not None:
            return _misplaced_diagnostic(source, unclosed.met, misplaced)
        return _unclosed_diagnostic(source, error, unclosed)
    opener = _open_bracket(source.text, error)
    if opener is not None and isinstance(error, UnexpectedToken):
        return _open_bracket_diagnostic(source, error, opener)
    if isinstance(error, UnexpectedEOF) or (isinstance(error, UnexpectedToken) and error.token.type == "$END"):
        end = len(source.text)
        expected = _describe_expected(set(getattr(error, "expected", ()) or ()))
        return Diagnostic(
            "RR003",
            "unexpected end of file",
            source.span(max(0, end - 1), end),
            f"expected {expected}; is a `}}` missing?" if expected else "is a `}` missing?",
        )
    assert isinstance(error, UnexpectedToken)
    token = error.token
    start = token.start_pos or 0
    span = source.span(start, token.end_pos or start + 1)
    expected_terms = set(error.expected or ())
    text = str(token)
    if "NAME" in expected_terms and text.isidentifier() and token.type != "NAME":
        return Diagnostic(
            "RR004",
            f"`{text}` is a reserved word and cannot be used as a name here",
            span,
            f"choose another name, such as `{text}_1`",
        )
    history = getattr(error, "token_history", None) or [v for v in _stack(error)[-1:] if isinstance(v, Token)]
    previous = str(history[-1]) if history else ""
    if previous in _AGGREGATES and (token.type == "NAME" or text == "earlier"):
        help_ = (
            f"`{previous} {text}...` is a metric of its own: declare "
            f"`metric NAME = {previous} {text}...` and use NAME here"
        )
        return Diagnostic("RR001", f"unexpected `{text}`", span, help_)
    for hint in _TOKEN_HINTS:
        found = hint(source, error)
        if found is not None:
            return found
    help_ = f"expected {_describe_expected(expected_terms)}"
    if text == "=" and "COMPARE" in expected_terms:
        help_ = "use `==` to compare two values"
    elif token.type == "NAME" and "LBRACE" in expected_terms and _is(_before_last(error), *_BLOCK_KEYWORDS):
        help_ = "a title goes in double quotes, and the block starts with `{`"
    return Diagnostic("RR001", f"unexpected `{text}`", span, help_)


def _unclosed_diagnostic(source: Source, error: UnexpectedInput, unclosed: _Unclosed) -> Diagnostic:
    """One diagnostic for a missing `}`, at the block it left open: the
    parser only notices at the next declaration (or the end of the file),
    which is not where the `}` belongs."""
    keyword, name, token = unclosed
    what = f"{keyword} `{name}`" if name else str(keyword)
    start = keyword.start_pos or 0
    line_end = source.text.find("\n", start)
    header = source.text[start : line_end if line_end >= 0 else len(source.text)]
    span = source.span(start, start + len(header.rstrip()))
    if token.type == "$END":
        expected = _describe_expected(set(getattr(error, "expected", None) or ()))
        return Diagnostic(
            "RR003",
            f"unexpected end of file: {what} is never closed",
            span,
            f"expected {expected}; is a `}}` missing at the end of {what}?",
        )
    line = source.span(token.start_pos or 0, token.end_pos or 0).line
    return Diagnostic(
        "RR001",
        f"{what} is never closed: `{token}` on line {line} cannot be inside it",
        span,
        f"a `}}` is probably missing at the end of {what}, before line {line}",
    )


# -- hints for common mistakes ----------------------------------------------
#: Quotes that word processors and chat apps put in place of `"` and `'`.
_TYPOGRAPHIC_QUOTES = frozenset("\u201c\u201d\u201e\u2018\u2019\u201a\u00ab\u00bb")
_NUMBER_AFTER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_NUMBER_BEFORE = re.compile(r"([0-9]+(?:\.[0-9]+)?)[ \t]*$")


def _character_help(text: str, pos: int) -> str | None:
    """The help for a character the language does not use: a quote of the
    wrong kind, or a currency sign where the language wants an ISO 4217
    code after the amount (`500 USD`, never `$500`)."""
    char = text[pos : pos + 1]
    if char == '"':
        return 'strings end on the same line with a closing `"`'
    if char == "'":
        return 'strings use double quotes: "..."'
    if char in _TYPOGRAPHIC_QUOTES:
        return 'use straight double quotes `"` (an editor may have turned them into typographic ones)'
    code = None if char.isalnum() else units.currency_for(char)
    if code is None:
        return None
    after = _NUMBER_AFTER.match(text, pos + 1)
    before = _NUMBER_BEFORE.search(text, max(0, pos - 40), pos)
    amount = after[0] if after else before[1] if before else "150"
    return f"write the amount, then the currency's ISO code: `{amount} {code}`"


def _stack(error: UnexpectedInput) -> list[Any]:
    """What the parser has read and not reduced yet: tokens and trees."""
    return list(getattr(getattr(error, "state", None), "value_stack", None) or ())


def _accepted_at(error: UnexpectedInput, index: int) -> set[str]:
    """The terminals the parser accepted where it read ``_stack(error)[index]``
    (the state it was in just before; the index may be one past the end, for
    the state the error happened in)."""
    state: Any = getattr(error, "state", None)  # None for lexer errors: AttributeError below
    try:
        return {term for term in state.parse_conf.states[state.state_stack[index]] if term.isupper()}
    except (AttributeError, IndexError, KeyError):
        return set()


def _keywords_of(terms: set[str]) -> list[str]:
    """The keywords among the terminals ``terms`` (not names, numbers, signs)."""
    return [word for word in map(terminal_pattern, terms) if word.isidentifier()]


def _is(value: Any, *types: str) -> bool:
    return isinstance(value, Token) and value.type in types


def _token_span(source: Source, token: Token) -> Span:
    start = token.start_pos or 0
    return source.span(start, token.end_pos or start + 1)


def _missing_unit(source: Source, error: UnexpectedToken) -> Diagnostic | None:
    """A number where a unit (or name) must follow, without it: `hold 30`,
    `within 30`, `every 5`. The parser notices at the next token, often on
    the next line, or reads the next clause's keyword as the unit (`within
    30` then `reward` on the next line); the mistake is at the number."""
    stack = _stack(error)
    after = ""
    if stack and _is(stack[-1], "NUMBER") and _accepted_at(error, len(stack)) == {"NAME"}:
        number = stack[-1]
    elif (
        len(stack) >= 2
        and _is(stack[-2], "NUMBER")
        and _is(stack[-1], "NAME")
        and str(stack[-1]) in keywords()
        and _accepted_at(error, len(stack) - 1) == {"NAME"}
    ):
        number, after = stack[-2], str(stack[-1])
    elif (swallowed := _keyword_as_unit(stack)) is not None:
        number, after = swallowed[0], str(swallowed[1])
    else:
        return None
    before = _DURATION_BEFORE.search(source.text, 0, number.start_pos or 0)
    clause = f"; `{after}` starts the next clause" if after else ""
    if before is not None:
        names = ", ".join(f"`{unit}`" for unit in DURATION_UNITS if unit.endswith("s"))
        message = f"a duration needs a unit: `{number} days`"
        help_ = f"write `{number}` with one of {names}{clause}"
    elif _EVERY_BEFORE.search(source.text, 0, number.start_pos or 0):
        message = f"`every {number}` needs the metric it steps through: `every {number} METRIC`"
        help_ = f"name the metric after the step, as in `every {number} conversions`{clause}"
    else:
        message = f"a name is missing after `{number}`"
        help_ = f"expected a name{clause}"
    return Diagnostic("RR001", message, _token_span(source, number), help_)


#: The clauses that a duration follows: `within`, `hold`, `for`, `after`.
_DURATION_BEFORE = re.compile(r"\b(?:within|hold|for|after)[ \t\r\n]*$")
_EVERY_BEFORE = re.compile(r"\bevery[ \t\r\n]*$")


def _keyword_as_unit(stack: list[Any]) -> tuple[Token, Token] | None:
    """The number and the keyword that a duration already reduced took as
    its unit (`lapses after 30 unless ...`: `unless` read as the unit, and
    the parser fails only at the word after it), or None."""
    tree = stack[-1] if stack else None
    if tree is None or isinstance(tree, Token) or not hasattr(tree, "scan_values"):
        return None
    tokens = list(tree.scan_values(lambda value: isinstance(value, Token)))
    if len(tokens) >= 2 and _is(tokens[-2], "NUMBER") and _is(tokens[-1], "NAME") and str(tokens[-1]) in keywords():
        return tokens[-2], tokens[-1]
    return None


_CLOSING = {"LSQB": ("RSQB", "]"), "LPAR": ("RPAR", ")")}


def _open_bracket(text: str, error: UnexpectedInput) -> Token | None:
    """The `[` or `(` that a missing `]` or `)` left open, when the parser
    noticed on a later line (or at the end of the file), where its closing
    bracket would have fit: like :func:`_unclosed_block` for `{`, the open
    brackets are the ones still on the parser's value stack."""
    if not isinstance(error, UnexpectedToken):
        return None
    opener: Token | None = next((v for v in reversed(_stack(error)) if _is(v, *_CLOSING)), None)
    if opener is None or _CLOSING[opener.type][0] not in (error.expected or ()):
        return None
    met = error.token
    if met.type != "$END" and "\n" not in text[opener.start_pos or 0 : met.start_pos or 0]:
        return None  # on the bracket's own line: a missing `,` more likely
    return opener


def _open_bracket_diagnostic(source: Source, error: UnexpectedToken, opener: Token) -> Diagnostic:
    """One diagnostic for a missing `]` or `)`, at the bracket left open."""
    closing = _CLOSING[opener.type][1]
    span = _token_span(source, opener)
    help_ = f"a `{closing}` is probably missing"
    if error.token.type == "$END":
        return Diagnostic("RR003", f"unexpected end of file: `{opener}` is never closed", span, help_)
    line = _token_span(source, error.token).line
    message = f"`{opener}` is never closed: `{error.token}` on line {line} cannot be inside it"
    return Diagnostic("RR001", message, span, f"{help_}, before line {line}")


def _glued_keyword(source: Source, error: UnexpectedToken) -> Diagnostic | None:
    """A name that starts with a keyword valid where it stands, and is no
    misspelling of one (`firstsignup`): a space is missing after the keyword."""
    token = error.token
    if token.type != "NAME":
        return None
    word = str(token)
    starts = [k for k in _keywords_of(set(error.expected or ())) if word.startswith(k) and len(word) > len(k)]
    if not starts:
        return None
    keyword = max(starts, key=len)
    help_ = f"`{keyword}` is a word of its own: `{keyword} {word[len(keyword) :]}`"
    return Diagnostic("RR001", f"unexpected `{word}`", _token_span(source, token), help_)


def _misspelled_before(source: Source, error: UnexpectedToken) -> Diagnostic | None:
    """A misspelled keyword read as a name: `rewards` after `when x > 3` is
    taken as the unit of `3`, and the parser only fails at the next word.
    When the name before the unexpected token is one edit from a keyword
    that was valid where it stands, blame that name."""
    stack = _stack(error)
    if not (stack and _is(stack[-1], "NAME")):
        return None
    name = str(stack[-1])
    match = suggest(name, _keywords_of(_accepted_at(error, len(stack) - 1)))
    if match is None or edit_distance(name.lower(), match.lower()) > 1:
        return None
    return Diagnostic("RR001", f"unexpected `{name}`", _token_span(source, stack[-1]), f"did you mean `{match}`?")


def _share_without_whole(source: Source, error: UnexpectedToken) -> Diagnostic | None:
    """`void refund.amount if refund`: a partial void's part without the
    whole it is a part of (`of payment.amount`)."""
    stack = _stack(error)
    if error.token.type != "IF" or "OF" not in (error.expected or ()):
        return None
    void = next((i for i in range(len(stack) - 1, -1, -1) if _is(stack[i], "VOID")), None)
    if void is None:
        return None
    part = source.text[stack[void].end_pos or 0 : error.token.start_pos or 0].strip()
    event = _NAME_AFTER.match(source.text, error.token.end_pos or 0)
    name = event[1] if event else "EVENT"
    whole = f"`void if {name}` takes the whole award back"
    if " / " in part:
        help_ = (
            f"a partial void is a part of a whole, not a division: `void {part.replace(' / ', ' of ', 1)} if {name}`"
        )
    elif " of " in part or "%" in part:
        help_ = f"a partial void is `void PART of WHOLE if {name}`, as in `void refund.amount of payment.amount`"
    else:
        help_ = f"a partial void names the whole it is a part of: `void {part} of WHOLE if {name}`, such as `of payment.amount`"
    return Diagnostic("RR001", "unexpected `if`", _token_span(source, error.token), f"{help_}; {whole}")


_NAME_AFTER = re.compile(r"[ \t\r\n]*([A-Za-z_][A-Za-z0-9_]*)")


#: Words that terms use where the language has a keyword of its own.
_SYNONYMS = {"since": "from", "until": "unless", "except": "unless", "excluding": "unless"}
_FOR_AFTER = re.compile(r"[ \t\r\n]+for[ \t\r\n]+([0-9]+(?:\.[0-9]+)?[ \t]+[A-Za-z]+)")


def _synonym(source: Source, error: UnexpectedToken) -> Diagnostic | None:
    """A word of the terms where the language has its own (`since` for
    `from`, `until` for `unless`), or `held for 60 days` (`when C for D`
    says how long already)."""
    token = error.token
    word = str(token).lower()
    if token.type != "NAME":
        return None
    held = _FOR_AFTER.match(source.text, token.end_pos or 0)
    if word == "held" and held and _keyword_types().get("for") in (error.expected or ()):
        help_ = f"`when CONDITION for {held[1]}` says how long it must hold: drop `held`"
    elif word in _SYNONYMS and _keyword_types().get(_SYNONYMS[word]) in (error.expected or ()):
        help_ = f"did you mean `{_SYNONYMS[word]}`?"
    else:
        return None
    return Diagnostic("RR001", f"unexpected `{token}`", _token_span(source, token), help_)


def _attribution_window(source: Source, error: UnexpectedToken) -> Diagnostic | None:
    """`attribution ... first payment within 30 days`: the window of an
    attribution is its lapse, `lapses after D`, written before the conversion."""
    if str(error.token) != "within":
        return None
    stack = _stack(error)
    start = next((i for i in range(len(stack) - 1, -1, -1) if _is(stack[i], "ATTRIBUTION")), None)
    if start is None or any(_is(v, "LBRACE", "RBRACE") for v in stack[start:]):
        return None
    model = str(stack[start + 1]) if start + 1 < len(stack) else "last"
    event = next((str(v) for v in reversed(stack[start:]) if _is(v, "NAME")), "EVENT")
    window = _SPACED_NUMBER.match(source.text, error.token.end_pos or 0)
    unit = _NAME_AFTER.match(source.text, window.end()) if window else None
    duration = f"{window[1]} {unit[1]}" if window and unit else "30 days"
    help_ = (
        f"an attribution's window is `lapses after {duration}`, before the conversion: "
        f"`attribution {model} referral lapses after {duration} unless first {event}`"
    )
    return Diagnostic("RR001", "unexpected `within`", _token_span(source, error.token), help_)


def _misspelled_opener(source: Source, error: UnexpectedToken) -> Diagnostic | None:
    """A `{` after an expression that began with a misspelled keyword: `teirs
    of conversions {` reads as the rate `teirs of conversions`, and the
    parser fails only at the brace. Blame the first word when it is near a
    keyword that could start there."""
    stack = _stack(error)
    if error.token.type != "LBRACE" or not stack or isinstance(stack[-1], Token):
        return None
    first = _first_token(stack[-1])
    if first is None or first.type != "NAME":
        return None
    match = suggest(str(first), _keywords_of(_accepted_at(error, len(stack) - 1)))
    if match is None:
        return None
    return Diagnostic("RR001", f"unexpected `{first}`", _token_span(source, first), f"did you mean `{match}`?")


def _misspelled_here(source: Source, error: UnexpectedToken) -> Diagnostic | None:
    """A name where only keywords (and signs) fit: suggest the nearest
    keyword first, since the list of everything expected may be long and
    cut before the one that was meant (case ignored: `First`)."""
    token = error.token
    if token.type != "NAME":
        return None
    match = suggest(str(token), _keywords_of(set(error.expected or ())))
    if match is None:
        return None
    return Diagnostic("RR001", f"unexpected `{token}`", _token_span(source, token), f"did you mean `{match}`?")


_THOUSANDS = re.compile(r"[0-9]+(?:,[0-9]+)+(?:\.[0-9]+)?")


def _thousands_separator(source: Source, error: UnexpectedToken) -> Diagnostic | None:
    """`1,000`: a comma between digits, where no list can take it."""
    token = error.token
    start, text = token.start_pos or 0, source.text
    if str(token) != "," or not text[start - 1 : start].isdigit() or not text[start + 1 : start + 2].isdigit():
        return None
    begin = start
    while begin > 0 and (text[begin - 1].isdigit() or text[begin - 1] in ",."):
        begin -= 1
    match = _THOUSANDS.match(text, begin)
    written = match[0] if match else text[begin : start + 2]
    whole, _, _ = written.partition(".")
    if all(len(group) == 3 for group in whole.split(",")[1:]):
        hint = f"numbers are written without thousands separators: `{written.replace(',', '')}`"
    else:
        # `2,50 EUR`: a decimal comma; dropping it would pay a hundred times more
        hint = f"numbers are written with a decimal point: `{whole.replace(',', '.', 1)}`"
    return Diagnostic("RR001", f"unexpected `,` in `{written}`", _token_span(source, token), hint)


#: Strings, comments and braces: what :func:`_braces_balanced` reads.
_BRACE_SCAN = re.compile(r'"(?:\\.|[^"\\\n])*"|#[^\n]*|[{}]')
#: Declarations that stand at the top of a file only, never in a block.
_TOP_ONLY = frozenset({"ruleset", "unit", "event", "program", "allowance"})
#: What owns a `{`, by the keyword that opened it (the nearest before it).
_BRACE_OWNERS = frozenset({"PROGRAM", "MILESTONE", "EVENT", "REWARD", "TIERS", "GRADUATED"})


def _braces_balanced(text: str) -> bool:
    """Whether every `{` of the file (outside strings and comments) has its
    `}`: then no `}` is missing, whatever block the parser thinks is open."""
    depth = 0
    for match in _BRACE_SCAN.finditer(text):
        token = match[0]
        if token in "{}":
            depth += 1 if token == "{" else -1
            if depth < 0:
                return False
    return depth == 0


def _misplaced_in(text: str, error: UnexpectedInput, unclosed: _Unclosed) -> str | None:
    """The block a declaration was written inside when the parser met it in
    an open block but the file's braces are balanced: no `}` is missing,
    the declaration is in the wrong place (`allowance` in a program, `draw`
    in a milestone, `cap` in a reward's terms). None when a `}` is missing."""
    if not _braces_balanced(text):
        return None
    stack = _stack(error)
    if unclosed.met is not getattr(error, "token", None):
        stack = stack[:-1]  # a keyword read as a field name (see _unclosed_block)
    braces = [i for i, value in enumerate(stack) if _is(value, "LBRACE")]
    owners = [i for i, value in enumerate(stack[: braces[-1]]) if _is(value, *_BRACE_OWNERS)] if braces else []
    if not owners:
        return None
    owner = stack[owners[-1]]
    name = stack[owners[-1] + 1] if owner.type in _BLOCK_KEYWORDS else None
    if owner.type == "REWARD":
        return "the terms of a reward"
    if owner.type in ("TIERS", "GRADUATED"):
        return "a rate table"
    return f"{owner} `{name}`" if _is(name, "NAME") else str(owner)


def _misplaced_diagnostic(source: Source, met: Token, block: str) -> Diagnostic:
    """A declaration inside a block that cannot hold it, at the declaration."""
    keyword = str(met)
    if block == "the terms of a reward":
        help_ = f"a reward's terms hold only `hold` and `void` clauses: move `{keyword}` out of its braces"
    elif keyword in _TOP_ONLY:
        help_ = f"declare `{keyword}` at the top of the file, outside every block"
    elif block.startswith("milestone") and keyword in ("eligible", "draw", "attribution", "metric"):
        help_ = f"`{keyword}` belongs to the program: move it out of the milestone, before or after it"
    elif block.startswith("event"):
        help_ = f"an event block holds only fields (`name: type`): move `{keyword}` after its `}}`"
    elif block == "a rate table":
        help_ = "a rate table holds only rows (`LOW to HIGH: VALUE`, `LOW or more: VALUE`)"
    else:
        help_ = f"move `{keyword}` out of {block}"
    return Diagnostic("RR001", f"`{keyword}` cannot be inside {block}", _token_span(source, met), help_)


def _end_of_misplaced(text: str, start: int, starts: list[int]) -> int:
    """Where a misplaced declaration at ``start`` ends, for recovery: at the
    next declaration on a later line, or at the `}` of the block it is in."""
    line_end = text.find("\n", start)
    later = [s for s in starts if s > line_end] if line_end >= 0 else []
    end = later[0] if later else len(text)
    depth = 0
    for match in _BRACE_SCAN.finditer(text, start, end):
        depth += {"{": 1, "}": -1}.get(match[0], 0)
        if depth < 0:
            return match.start()
    return end


#: Clauses whose order is fixed inside a declaration (`where` before `within`).
_ORDERED_CLAUSES = ("where", "within", "unless", "otherwise", "from", "if", "lapses", "before", "for")
#: Tokens where the clauses of the declaration that failed begin (besides
#: the keywords that start a declaration).
_CLAUSE_BOUNDARIES = frozenset({"LBRACE", "RBRACE", "REWARD", "HOLD", "VOID", "MESSAGE"})


def _first_token(value: Any) -> Token | None:
    """The first token of a value of the parser's stack (a token or a tree)."""
    while not isinstance(value, Token):
        children = getattr(value, "children", None)
        if not children:
            return None
        value = next((child for child in children if child is not None), None)
    return value


def _out_of_order(source: Source, error: UnexpectedToken) -> Diagnostic | None:
    """A clause written after one it must precede (`within 30 days where
    ...`, `after 30 days if C from EVENT`): the clause was accepted earlier
    in the same declaration, before a clause that is already there."""
    word = str(error.token)
    if word not in _ORDERED_CLAUSES:
        return None
    kind = _keyword_types().get(word)
    stack = _stack(error)
    for index in range(len(stack) - 1, -1, -1):
        first = _first_token(stack[index])
        if kind in _accepted_at(error, index):
            if first is None or str(first) == word or str(first) not in keywords():
                return None  # a repeated clause, or a value: not a question of order
            return Diagnostic(
                "RR001",
                f"unexpected `{word}` after `{first}`",
                _token_span(source, error.token),
                f"write `{word} ...` before `{first} ...`",
            )
        if first is not None and first.type in _CLAUSE_BOUNDARIES | _DECLARATION_TYPES:
            return None
    return None


def _keyword_as_a_name(source: Source, error: UnexpectedToken) -> Diagnostic | None:
    """A keyword read where a name could stand too (`tiers` after `metric
    x =`, `earlier` after `sum`), then a token that only a name accepts
    (`tiers + 1`, `sum earlier.amount`): a file that names a metric or an
    event like a keyword (as a file written before the keyword did). The
    mistake is the name, not the token after it."""
    stack = _stack(error)
    if not stack or not isinstance(stack[-1], Token) or stack[-1].type == "NAME":
        return None
    word = str(stack[-1])
    if word not in keywords() or "NAME" not in _accepted_at(error, len(stack) - 1):
        return None
    state: Any = error.state
    try:
        action, after_name = state.parse_conf.states[state.state_stack[len(stack) - 1]]["NAME"]
        if action is not Shift or error.token.type not in state.parse_conf.states[after_name]:
            return None
    except (AttributeError, IndexError, KeyError):
        return None
    return Diagnostic(
        "RR004",
        f"`{word}` is a reserved word and cannot be used as a name here",
        _token_span(source, stack[-1]),
        f"choose another name, such as `{word}_1`",
    )


_SPACED_NUMBER = re.compile(r"[ \t]*([0-9]+(?:\.[0-9]+)?)")


def _tier_shorthand(source: Source, error: UnexpectedToken) -> Diagnostic | None:
    """A rate table's row written as terms write it, `1-4: 10%` or `10+:
    20%`: a `-` or `+` right after a row's low bound, where `to` or `or
    more` goes."""
    stack, sign = _stack(error), str(error.token)
    if sign not in "+-" or not stack or not _is(stack[-1], "NUMBER"):
        return None
    if not {"TO", "OR"} <= _accepted_at(error, len(stack)):
        return None
    low = str(stack[-1])
    high = _SPACED_NUMBER.match(source.text, error.token.end_pos or 0)
    if sign == "-" and high:
        help_ = f"a row is `LOW to HIGH: VALUE`: write `{low} to {high[1]}`"
    else:
        help_ = f"the last row may be open: write `{low} or more`"
    return Diagnostic("RR001", f"unexpected `{sign}`", _token_span(source, error.token), help_)


_IGNORING_CASE_HELP = (
    '`ignoring case` follows the comparison it applies to: `X == "partner" ignoring case`, `X in [...] ignoring case`'
)


def _before_last(error: UnexpectedInput) -> Any:
    """The value of the parser's stack before the last one (None if none)."""
    stack = _stack(error)
    return stack[-2] if len(stack) >= 2 else None


def _earlier_field(stack: list[Any]) -> str | None:
    """The field F of `earlier referrals.F` when it is the last thing the
    parser read (its tokens, not reduced yet)."""
    if len(stack) >= 4 and _is(stack[-4], _keyword_types().get("earlier", "")) and _is(stack[-1], "NAME"):
        return str(stack[-1])
    return None


def _ignoring_case(source: Source, error: UnexpectedToken) -> Diagnostic | None:
    """`ignore case`, `case insensitive`, or `ignoring case` before the
    comparison: the words of :ref:`ignoring case` as people write them."""
    token, word = error.token, str(error.token).lower()
    fits = _keyword_types().get("ignoring") in (error.expected or ())
    earlier = _earlier_field(_stack(error))
    if word == "ignoring" and earlier is not None:
        help_ = (
            f"`ignoring case` does not apply to `in earlier referrals.{earlier}`, which compares values as "
            "written: put the field in one case in the ledger"
        )
    elif word.startswith("ignor") and word != "ignoring" and fits:
        help_ = "did you mean `ignoring case`?"
    elif word == "case" or (word == "ignoring" and not fits):
        help_ = _IGNORING_CASE_HELP
    else:
        return None
    return Diagnostic("RR001", f"unexpected `{token}`", _token_span(source, token), help_)


#: A cap or an allowance up to its number, just before a `reward` that
#: should have been `rewards` (`cap referrer 3 reward per month`).
_COUNT_BEFORE = re.compile(r"\b(?:cap|allowance\s+\w+(?:\s+\"[^\"\n]*\")?)\s+\w+\s+[0-9]+(?:\.[0-9]+)?\s*$")


def _cap_words(source: Source, error: UnexpectedToken) -> Diagnostic | None:
    """A cap (or an allowance) written as its terms say it: without its
    role (`cap 3 rewards`), per its own role (`3 rewards per referrer per
    month`), or `3 reward`, which starts a reward clause instead."""
    stack = _stack(error)
    token = error.token
    allowance = _is(_before_last(error), "ALLOWANCE")
    if token.type == "NUMBER" and stack and (_is(stack[-1], "CAP") or allowance):
        what = "a cap names its role first: `cap referrer 3 ...`"
        if allowance:
            what = f"an allowance names its role first: `allowance {stack[-1]} referrer {token} ...`"
        return Diagnostic("RR001", f"unexpected `{token}`", _token_span(source, token), what)
    if token.type == "PER" and len(stack) >= 2 and _is(stack[-2], "PER") and str(stack[-1]) in ("referrer", "referee"):
        span = source.span(stack[-2].start_pos or 0, stack[-1].end_pos or 0)
        help_ = "a cap counts for each beneficiary of its role already: write `per month` alone"
        return Diagnostic("RR001", f"unexpected `per {stack[-1]}`", span, help_)
    reward = next((v for v in reversed([*stack, token]) if _is(v, "REWARD")), None)
    if reward is not None and _COUNT_BEFORE.search(source.text, 0, reward.start_pos or 0):
        help_ = "did you mean `rewards`? (`cap referrer 3 rewards` counts rewards)"
        return Diagnostic("RR001", "unexpected `reward`", _token_span(source, reward), help_)
    return None


#: Hints tried in order for an unexpected token; the first that applies wins.
_TOKEN_HINTS = (
    _missing_unit,
    _thousands_separator,
    _ignoring_case,
    _cap_words,
    _tier_shorthand,
    _keyword_as_a_name,
    _out_of_order,
    _share_without_whole,
    _attribution_window,
    _synonym,
    _misspelled_before,
    _misspelled_opener,
    _misspelled_here,
    _glued_keyword,
)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while rules are parsed and
    checked, or a ledger scored (:mod:`.api`).

    Both allocate hundreds of thousands to millions of small objects (Lark's
    tree, the AST, the checker's types; events and awards) that form no
    reference cycles, and the collector would walk the growing heap again
    and again: a 10,000-milestone file took 4.6 s of CPU to check with it,
    2.6 s without (benchmarks/check_scale.py); a third of the run time on
    large ledgers. Reference counting still frees everything; the collector
    resumes afterwards, even after an exception, and in nested uses by the
    outermost.

    Do the work in a function called inside the block, so that its state is
    freed before the collector resumes: whatever is still alive then sits in
    the youngest generation, and the collector's first pass walks all of it
    (about a tenth of a scoring run).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def parse(source: Source) -> tuple[ast.RuleFile | None, list[Diagnostic]]:
    """Parse a rule file. Returns the AST, or None and the diagnostics."""
    with paused_gc():
        return _parse(source)


def _parse(source: Source) -> tuple[ast.RuleFile | None, list[Diagnostic]]:
    """:func:`parse`, with the collector paused."""
    if len(source.text) > limits.MAX_RULE_FILE_CHARS:
        return None, [
            Diagnostic(
                "RR401",
                f"rule file is too large ({len(source.text)} characters; the limit is {limits.MAX_RULE_FILE_CHARS})",
                source.whole(),
                "split the programs into several files",
            )
        ]
    parser = _parser()
    try:
        # LALR builds the tree without recursion, and the builder walks it
        # without recursion, so a long expression cannot overflow the stack.
        result = _Builder(source).transform(parser.parse(source.text))
    except UnexpectedInput as error:
        return None, _syntax_errors(source, error)
    except VisitError as error:
        inner = error.orig_exc
        if isinstance(inner, _TooDeep):
            return None, [_too_deep(inner.span)]
        raise inner from None
    except _TooDeep as error:
        return None, [_too_deep(error.span)]
    except RecursionError:
        return None, [_too_deep(source.whole())]
    return result, []


#: Keywords that start a declaration (or a clause on a line of its own).
_DECLARATION_WORDS = (
    "ruleset", "unit", "event", "metric", "program", "milestone", "eligible", "cap", "allowance", "draw", "attribution",
)  # fmt: skip
#: Lines where a declaration starts: where parsing resumes after an error.
_DECLARATION = re.compile(r"^[ \t]*(?:" + "|".join(_DECLARATION_WORDS) + r")\b", re.M)
#: Syntax errors reported per file at most; later ones are mostly echoes.
#: Each costs one parse of the file, so recovery is linear in the file's size.
MAX_SYNTAX_ERRORS = 10


def _syntax_errors(source: Source, first: UnexpectedInput) -> list[Diagnostic]:
    """Every syntax error, not only the first: blank out the declaration
    that failed (keeping offsets, so lines and columns stay true) and parse
    again from the next declaration, like sqlglot and rustc recover.

    Each round scans the text a fixed number of times and parses it once,
    and there are at most :data:`MAX_SYNTAX_ERRORS` rounds: the work is
    linear in the size of the file, whatever the number of declarations."""
    _read_keyword(first)
    diagnostics = [_syntax_diagnostic(source, first)]
    foreign = _foreign_file(source, diagnostics[0])
    if foreign is not None:
        # Not a rule file at all: its other "errors" would only be noise.
        return [dataclasses.replace(diagnostics[0], help=foreign)]
    text = source.text
    error: UnexpectedInput | None = first
    while error is not None and len(diagnostics) < MAX_SYNTAX_ERRORS:
        region = _failed_region(text, error)
        if region is None:
            break
        begin, resume = region
        text = text[:begin] + _blank(text[begin:resume]) + text[resume:]
        try:
            _parser().parse(text)
            error = None
        except UnexpectedInput as again:
            _read_keyword(again)
            error = again
            if _error_offset(again, len(text)) <= resume:
                break  # the blanked region broke a block: what follows would be noise
            diagnostics.append(_syntax_diagnostic(source, again))
    return diagnostics


#: Other files of the project that end up where a rule file is expected,
#: by how their name ends (lowercased), and what to say about them.
_FOREIGN_SUFFIXES = (
    (".test.toml", "a rule test file: run it with `rewardrules test`"),
    (".toml", "a TOML file, not a rule file"),
    (".jsonl", "a JSON Lines ledger, not a rule file"),
    (".json", "a JSON file, not a rule file"),
)


def _foreign_file(source: Source, first: Diagnostic) -> str | None:
    """The help for a file that is not a rule file (a ledger, a rule test
    file) given where one is expected, judged by its name, or by its first
    character when that is where parsing failed: no rule file starts with
    `{` or `[`, every JSON document and ledger line does."""
    name = source.path.lower()
    for suffix, what in _FOREIGN_SUFFIXES:
        if name.endswith(suffix):
            return f"this file looks like {what}"
    text = source.text
    start = len(text) - len(text.lstrip())
    if text[start : start + 1] in ("{", "[") and first.span is not None and first.span.start == start:
        return _JSON_HELP
    if _starts_matching_file(text, first):
        return _MATCHING_HELP
    return None


def _starts_matching_file(text: str, first: Diagnostic) -> bool:
    """Whether parsing failed at a first declaration `matching NAME`: a
    partner-matching file (docs/matching.md), which only `rewardrules match`
    (and `check`, `fmt`, `diff`) read; every other command would otherwise
    answer with the grammar's list of expected keywords."""
    if first.span is None or not _only_comments(text[: first.span.start]):
        return False
    return re.match(r"matching\s", text[first.span.start :]) is not None


def _only_comments(text: str) -> bool:
    """Whether ``text`` holds nothing but blank lines and `#` comments."""
    return all(not line.strip() or line.lstrip().startswith("#") for line in split_lines(text))


_MATCHING_HELP = (
    "this is a partner-matching file (it starts with `matching`), not reward rules: "
    "run it with `rewardrules match MATCHING LEDGER` (docs/matching.md)"
)


_JSON_HELP = "this file looks like JSON (a ledger?), not a rule file"
#: `_foreign_file` for the other languages' parsers (matching files).
foreign_file = _foreign_file


def not_a_rule_file(diagnostics: Sequence[Diagnostic]) -> bool:
    """Whether a parse failed because the file is no rule file at all (a
    ledger, JSON or a rule test file: `_foreign_file`), not a rule file with
    mistakes: the CLI then asks whether its arguments were swapped."""
    helps = {f"this file looks like {what}" for _, what in _FOREIGN_SUFFIXES} | {_JSON_HELP}
    return len(diagnostics) == 1 and diagnostics[0].help in helps


def _read_keyword(error: UnexpectedInput) -> None:
    """Give the unexpected token its keyword's type when it is a keyword
    read as a name (every lexer state reads names: :class:`_WholeWords`)
    where no name can stand, as the lexer typed it before: a `milestone`
    met inside an open block is a declaration, not a name."""
    if not isinstance(error, UnexpectedToken) or error.token.type != "NAME" or "NAME" in (error.expected or ()):
        return
    kind = _keyword_types().get(str(error.token))
    if kind is not None:
        error.token = Token.new_borrow_pos(kind, str(error.token), error.token)


@functools.lru_cache(maxsize=1)
def _keyword_types() -> dict[str, str]:
    """The terminal type of each keyword, by its text."""
    return {
        term.pattern.value: term.name
        for term in _parser().terminals
        if term.pattern.type == "str" and term.pattern.value.isidentifier()
    }


def _error_offset(error: UnexpectedInput, size: int) -> int:
    """Where the parser stopped: ``size`` at the end of the file (Lark
    gives the end the position of the last token), 0 when Lark does not say."""
    if isinstance(error, UnexpectedEOF) or (isinstance(error, UnexpectedToken) and error.token.type == "$END"):
        return size
    return getattr(error, "pos_in_stream", None) or 0


def _failed_region(text: str, error: UnexpectedInput) -> tuple[int, int] | None:
    """The characters to blank out after ``error``, as (begin, resume): from
    the start of the declaration that failed to the next declaration on a
    later line; for a block left open, from that block's declaration to the
    declaration that the parser met inside it (for a `[` or `(` left open,
    to the token met). None when nothing follows."""
    position = _error_offset(error, len(text))
    if position >= len(text):
        return None
    starts = [m.start() for m in _DECLARATION.finditer(text)]
    unclosed = _unclosed_block(text, error)
    if unclosed is not None and _misplaced_in(text, error, unclosed) is not None:
        start = unclosed.met.start_pos or position
        return start, _end_of_misplaced(text, start, starts)
    if unclosed is not None:
        index = bisect.bisect_right(starts, unclosed.keyword.start_pos or 0) - 1
        return (starts[index] if index >= 0 else 0), unclosed.met.start_pos or position
    opener = _open_bracket(text, error)
    if opener is not None:  # likewise for a `[` or `(` left open
        index = bisect.bisect_right(starts, opener.start_pos or 0) - 1
        return (starts[index] if index >= 0 else 0), position
    line_end = text.find("\n", position)
    if line_end < 0:
        return None
    after = bisect.bisect_right(starts, line_end)
    if after == len(starts):
        return None
    before = bisect.bisect_right(starts, position) - 1
    return (starts[before] if before >= 0 else 0), starts[after]


#: Terminal types of the keywords that open a `{ ... }` block.
_BLOCK_KEYWORDS = frozenset({"PROGRAM", "MILESTONE", "EVENT"})
#: Terminal types of the keywords that start a declaration.
_DECLARATION_TYPES = frozenset(word.upper() for word in _DECLARATION_WORDS)


class _Unclosed(NamedTuple):
    """A block that a missing `}` left open, and where the parser noticed."""

    keyword: Token  # `milestone`, `program` or `event`
    name: str
    met: Token  # the declaration (or the end of the file) found inside it


def _unclosed_block(text: str, error: UnexpectedInput) -> _Unclosed | None:
    """The block a missing `}` left open, when the parser stopped at the end
    of the file or at a declaration that cannot be inside the innermost open
    block, where a `}` would have fit; None for any other error.

    Lark keeps what it has not reduced yet on its value stack: a `{` there
    belongs to a block that is still open, the innermost one last. Inside an
    event block a keyword can be read as a field name (`metric` in
    `metric paid = ...`), so a field name that is a declaration keyword at
    the start of its line counts as a declaration too."""
    if not isinstance(error, UnexpectedToken):
        return None
    stack = list(getattr(getattr(error, "state", None), "value_stack", None) or ())
    met = error.token
    if met.type == "$END" or met.type in _DECLARATION_TYPES:
        if "RBRACE" not in (error.expected or ()):
            return None
    elif stack and _keyword_as_name(text, stack[-1], met):
        met = stack.pop()
    else:
        return None
    braces = [i for i, value in enumerate(stack) if isinstance(value, Token) and value.type == "LBRACE"]
    if not braces:
        return None
    header = stack[: braces[-1]]
    for i in range(len(header) - 1, -1, -1):
        value = header[i]
        if isinstance(value, Token) and value.type in _BLOCK_KEYWORDS:
            if met is not error.token and value.type != "EVENT":
                return None  # only an event block reads a keyword as a (field) name
            name = header[i + 1] if i + 1 < len(header) else None
            return _Unclosed(value, str(name) if isinstance(name, Token) else "", met)
    return None


def _keyword_as_name(text: str, value: Any, following: Token) -> bool:
    """Whether ``value`` is a declaration keyword read as a name, first on
    its line and followed on that line by what follows that keyword in a
    declaration (a name, or `when` after `eligible`), as in `metric paid`,
    and not as in a field (`unit: text`)."""
    if not (isinstance(value, Token) and value.type == "NAME" and str(value) in _DECLARATION_WORDS):
        return False
    if following.type != ("WHEN" if str(value) == "eligible" else "NAME"):
        return False
    start = value.start_pos or 0
    first_on_line = not text[text.rfind("\n", 0, start) + 1 : start].strip()
    return first_on_line and "\n" not in text[start : following.start_pos or start]


def _blank(text: str) -> str:
    """The same text with everything but line breaks turned into spaces."""
    return _NOT_NEWLINE.sub(" ", text)


_NOT_NEWLINE = re.compile(r"[^\n]")


def _too_deep(span: Span) -> Diagnostic:
    return Diagnostic(
        "RR401",
        f"expression is nested too deeply (the limit is {limits.MAX_EXPRESSION_DEPTH} levels)",
        span,
        "split it into several metrics",
    )


def write_tables() -> None:
    """Regenerate ``_grammar_tables.py`` beside this module (`python -m
    rewardrules.syntax.parser`, or the old `python -m rewardrules.parse`)."""
    from pathlib import Path

    Path(__file__).with_name("_grammar_tables.py").write_text(tables_module(), encoding="utf-8")


if __name__ == "__main__":
    write_tables()
