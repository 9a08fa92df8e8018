"""Generate stage: AST -> rule-file text in the one canonical layout.

``rewardrules fmt`` parses a file, then prints its AST back (the way
sqlglot's generator prints an expression tree), so the result depends on
what the file means, not on how it was spaced. The AST forgets two things
the formatter must keep, and this module recovers both without touching the
parser:

* the order of declarations and clauses, which the AST groups by kind: every
  node has a span, and sorting by its start gives the order as written;
* comments, which the grammar ignores: a lexer that keeps ignored tokens
  finds them, and each is attached by its offset to the nearest declaration
  or clause (see :func:`_attach`).

docs/fmt.md states the layout; ``parse(format(x)) == parse(x)`` and
``format(format(x)) == format(x)`` are tested over generated programs.
"""

from __future__ import annotations

import bisect
import functools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from lark import Lark

from ..core.diagnostics import Diagnostic
from ..core.runtime import in_context
from ..core.source import Source, Span
from . import nodes as ast
from .parser import grammar_text, parse

#: Indentation of one block level.
INDENT = "  "
#: A clause longer than this (with its indentation) gets its lists one item per line.
MAX_WIDTH = 100

#: Words that start an aggregate right after `metric NAME =`: a derived
#: metric whose first word is one of them keeps parentheses, or it would
#: parse as an aggregate.
_AGGREGATE_WORDS = frozenset({"latest", "sum", "count", "max", "min", "first", "tiers", "graduated"})
_FIRST_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BLANK_LINE_AFTER = re.compile(r"\n[^\S\n]*\n")


@in_context
def format_text(text: str, path: str = "<rules>") -> tuple[str | None, list[Diagnostic]]:
    """The canonical form of rule-file text, or None and the syntax diagnostics."""
    return format_source(Source(path, text))


@in_context
def format_source(source: Source) -> tuple[str | None, list[Diagnostic]]:
    """:func:`format_text` for a :class:`Source`."""
    tree, diagnostics = parse(source)
    if tree is None:
        return None, diagnostics
    return format_file(tree, find_comments(source.text)), []


def format_file(tree: ast.RuleFile, comments: Sequence[Comment] = ()) -> str:
    """Print a parsed file; ``comments`` (from the same text) are put back in place."""
    root = _layout(tree)
    _attach(root, comments)
    lines = _render_root(root)
    return "\n".join(lines) + "\n" if lines else ""


def format_expr(expr: ast.Expr) -> str:
    """One expression on one line, with only the parentheses it needs."""
    return _Printer().expr(expr)


def written(node: ast.Expr | ast.Duration) -> str:
    """The node as the rule file writes it (its span's text), for messages
    that quote the user's own words. A node built by code rather than parsed
    has no span: it is printed the way ``fmt`` writes it."""
    if node.span is not None:
        return node.span.text
    return _duration(node) if isinstance(node, ast.Duration) else format_expr(node)


# -- comments ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Comment:
    """A ``#`` comment of the source text.

    ``anchor`` is where it belongs: its own offset when it stands on a line
    of its own, else the offset of the last code character before it on its
    line (the comment then trails that code)."""

    text: str
    own_line: bool
    anchor: int
    blank_after: bool  # a blank line follows it in the source


@functools.lru_cache(maxsize=1)
def _lexer() -> Lark:
    """The grammar's own lexer, used only to find comments (the parser drops
    them); it tells a `#` in a string from one that starts a comment."""
    return Lark(grammar_text(), parser="lalr", lexer="basic")


def find_comments(text: str) -> list[Comment]:
    """Every comment of (syntactically valid) text, in order."""
    found = []
    for token in _lexer().lex(text, dont_ignore=True):
        if token.type != "COMMENT":
            continue
        start, end = token.start_pos or 0, token.end_pos or 0
        line_start = text.rfind("\n", 0, start) + 1
        before = text[line_start:start].rstrip()
        own_line = not before
        anchor = start if own_line else line_start + len(before) - 1
        blank_after = _BLANK_LINE_AFTER.match(text, end) is not None
        found.append(Comment(str(token).rstrip(), own_line, anchor, blank_after))
    return found


# -- layout tree -------------------------------------------------------------


@dataclass(eq=False)
class _Node:
    """A declaration or clause as the formatter lays it out.

    A leaf prints as one clause (``item``); a block (``children`` is a list)
    prints ``head {``, its children, ``}``. Comments found in the source are
    kept with the node they belong to."""

    kind: str
    start: int
    end: int
    item: object = None
    head: str = ""
    children: list[_Node] | None = None
    braced: bool = True  # the source closed it with `}` (events may have no braces)
    leading: list[Comment] = field(default_factory=list)  # own lines before it
    trailing: list[Comment] = field(default_factory=list)  # after it (or its `{`) on the same line
    closing: list[Comment] = field(default_factory=list)  # after its `}`
    inner: list[Comment] = field(default_factory=list)  # own lines before its `}`


def _bounds(node: object) -> tuple[int, int]:
    span = getattr(node, "span", None)
    return (span.start, span.end) if span is not None else (-1, -1)


def _ordered(items: Iterable[object]) -> list[object]:
    """Items in the order they were written (their spans), kind order otherwise."""
    return sorted(items, key=lambda item: _bounds(item)[0])


def _leaf(item: object) -> _Node:
    start, end = _bounds(item)
    return _Node(type(item).__name__, start, end, item=item)


def _block(item: object, head: str, children: list[_Node], braced: bool = True) -> _Node:
    start, end = _bounds(item)
    return _Node(type(item).__name__, start, end, item=item, head=head, children=children, braced=braced)


def _layout(tree: ast.RuleFile) -> _Node:
    items: list[object] = [*tree.rulesets, *tree.units, *tree.events, *tree.metrics, *tree.programs]
    items += tree.allowances
    if tree.implicit is not None:
        implicit = tree.implicit
        items += [*implicit.attributions, *implicit.eligible, *implicit.caps, *implicit.milestones, *implicit.draws]
    end = max((_bounds(i)[1] for i in items), default=0)
    return _Node("file", -1, end + 1, children=[_declaration(i) for i in _ordered(items)])


@dataclass(frozen=True)
class _Row:
    """One row of a rate table, for the layout: its own node, so that a
    comment on it stays on it."""

    low: ast.Number | ast.Quantity
    high: ast.Number | ast.Quantity | None
    value: ast.Expr
    span: Span | None = None


def _table(item: ast.MetricDecl, body: ast.Tiers) -> _Node | None:
    """A rate table as a block of rows, or None when its nodes have no spans."""
    rows = []
    for low, high, value in zip(body.lows, body.highs, body.values, strict=True):
        if low.span is None or value.span is None:
            return None
        rows.append(_Row(low, high, value, Span(low.span.source, low.span.start, value.span.end)))
    graduated = "graduated " if body.graduated else ""
    head = f"{_named('metric', item.name, item.title)} = {graduated}tiers of {body.metric.dotted}"
    return _block(item, head, [_leaf(row) for row in rows])


def _declaration(item: object) -> _Node:
    if isinstance(item, ast.MetricDecl) and isinstance(item.body, ast.Tiers):
        table = _table(item, item.body)
        if table is not None:
            return table
    if isinstance(item, ast.EventDecl):
        braced = item.span is not None and item.span.text.endswith("}")
        return _block(item, _named("event", item.name, item.title), [_leaf(f) for f in item.fields], braced)
    if isinstance(item, ast.Program):
        parts = [*item.metrics, *item.attributions, *item.eligible, *item.caps, *item.draws, *item.milestones]
        return _block(item, _named("program", item.name, item.title), [_declaration(p) for p in _ordered(parts)])
    if isinstance(item, ast.Milestone):
        parts = [*item.triggers, *item.rewards, *item.holds, *item.voids, *item.messages, *item.caps]
        return _block(item, _named("milestone", item.name, item.title), [_leaf(p) for p in _ordered(parts)])
    return _leaf(item)


def _attach(root: _Node, comments: Iterable[Comment]) -> None:
    """Give each comment to the node it belongs to.

    A comment on a line of its own leads the next declaration or clause of
    the block it is in (or, inside a clause written over several lines, that
    clause); with nothing after it in the block it stays at the block's end.
    A comment after code trails the clause that code belongs to, or the
    block's `{` or `}` it follows."""
    for comment in comments:
        block, leaf = _locate(root, comment.anchor)
        if comment.own_line:
            if leaf is not None:
                leaf.leading.append(comment)
            else:
                _next_in(block, comment.anchor).append(comment)
        elif leaf is not None:
            leaf.trailing.append(comment)
        else:
            _after_code_in(block, comment).append(comment)


def _locate(root: _Node, offset: int) -> tuple[_Node, _Node | None]:
    """The innermost block containing ``offset`` and the leaf containing it, if any."""
    block = root
    while True:
        children = block.children or []
        index = bisect.bisect_right(children, offset, key=lambda n: n.start) - 1
        if index < 0 or offset >= children[index].end:
            return block, None
        child = children[index]
        if child.children is None:
            return block, child
        block = child


def _next_in(block: _Node, offset: int) -> list[Comment]:
    children = block.children or []
    index = bisect.bisect_right(children, offset, key=lambda n: n.start)
    return children[index].leading if index < len(children) else block.inner


def _after_code_in(block: _Node, comment: Comment) -> list[Comment]:
    offset = comment.anchor
    if block.kind != "file" and block.braced and offset == block.end - 1:
        return block.closing
    children = block.children or []
    index = bisect.bisect_right(children, offset, key=lambda n: n.start) - 1
    if index >= 0:  # after a child, e.g. after the comma that ends a field
        child = children[index]
        return child.closing if child.children is not None and child.braced else child.trailing
    if block.kind == "file":  # not after any code: cannot happen in parsed text
        return _next_in(block, offset)
    return block.trailing


# -- rendering ---------------------------------------------------------------


@dataclass
class _Lines:
    """A node's output: ``prefix`` (its comment lines) and ``body``."""

    prefix: list[str]
    body: list[str]


def _render_root(root: _Node) -> list[str]:
    out: list[str] = []
    previous: tuple[_Node, _Lines] | None = None
    for child in root.children or []:
        lines = _render(child, "")
        if previous is not None and not _grouped(previous, (child, lines)):
            out.append("")
        out += lines.prefix + lines.body
        previous = (child, lines)
    if root.inner:
        if out:
            out.append("")
        out += _comment_lines(root.inner, "")
    return out


def _grouped(first: tuple[_Node, _Lines], second: tuple[_Node, _Lines]) -> bool:
    """Consecutive one-line declarations of one kind (metrics, units, events
    with at most one field ...) stay together; everything else is separated
    by a blank line."""
    (a, a_lines), (b, b_lines) = first, second
    one_line = len(a_lines.body) == 1 and len(b_lines.body) == 1
    return one_line and a.kind == b.kind and not b_lines.prefix and b.kind not in ("Program", "Milestone")


def _render(node: _Node, indent: str) -> _Lines:
    prefix = _comment_lines(node.leading, indent, blank_last=True)
    if node.children is None:
        body = _with_trailing(prefix, indent, _leaf_text(node.item, indent), node.trailing)
        return _Lines(prefix, body)
    children = node.children
    if node.kind == "EventDecl" and len(children) <= 1 and not node.inner and not any(c.leading for c in children):
        text = node.head + (f" {{ {_leaf_text(children[0].item, indent)} }}" if children else "")
        comments = node.trailing + [c for child in children for c in child.trailing] + node.closing
        return _Lines(prefix, _with_trailing(prefix, indent, text, comments))
    inner_comments = node.inner
    closing = node.closing
    if len(closing) > 1:  # several comments cannot share the `}` line: keep them above it
        inner_comments, closing = inner_comments + closing, []
    if not children and not inner_comments:
        return _Lines(prefix, _with_trailing(prefix, indent, node.head + " {}", node.trailing + closing))
    body = _with_trailing(prefix, indent, node.head + " {", node.trailing)
    inside = indent + INDENT
    previous: _Node | None = None
    for child in children:
        if previous is not None and _blank_between(previous, child):
            body.append("")
        lines = _render(child, inside)
        body += lines.prefix + lines.body
        previous = child
    if inner_comments:
        if previous is not None and previous.kind == "Milestone":
            body.append("")
        body += _comment_lines(inner_comments, inside)
    body += _with_trailing(body, indent, "}", closing)
    return _Lines(prefix, body)


def _blank_between(previous: _Node, current: _Node) -> bool:
    """Inside a program, milestones are set off by blank lines."""
    return previous.kind == "Milestone" or current.kind == "Milestone"


def _comment_lines(comments: list[Comment], indent: str, blank_last: bool = False) -> list[str]:
    """Comment lines, keeping one blank line where the source had blank lines
    after a comment (after the last one only when ``blank_last``)."""
    lines = []
    for i, comment in enumerate(comments):
        lines.append(indent + comment.text)
        if comment.blank_after and (blank_last or i < len(comments) - 1):
            lines.append("")
    return lines


def _with_trailing(above: list[str], indent: str, text: str, trailing: list[Comment]) -> list[str]:
    """``text`` (maybe several lines) with its trailing comment; two or more
    comments cannot share one line, so they move to lines of their own above
    it (appended to ``above``)."""
    if comments := trailing if len(trailing) > 1 else []:
        above.extend(indent + c.text for c in comments)
    lines = [indent + line if i == 0 else line for i, line in enumerate(text.split("\n"))]
    if len(trailing) == 1:
        lines[-1] += "  " + trailing[0].text
    return lines


# -- clauses -----------------------------------------------------------------


def _leaf_text(item: object, indent: str) -> str:
    """A clause on one line, or with its lists one item per line when too long."""
    if isinstance(item, ast.MetricDecl) and isinstance(item.body, ast.Tiers):  # one row per line
        return _clause(item, _Printer(explode=True, indent=indent))
    flat = _clause(item, _Printer())
    if len(indent) + len(flat) <= MAX_WIDTH:
        return flat
    return _clause(item, _Printer(explode=True, indent=indent))


def _named(keyword: str, name: ast.Ident, title: str | None) -> str:
    return f"{keyword} {name.text}" + (f" {quote(title)}" if title is not None else "")


def _clause(item: object, p: _Printer) -> str:
    match item:
        case ast.RulesetDecl(name, title, timezone):
            zone = f" timezone {quote(timezone.value)}" if timezone is not None else ""
            return _named("ruleset", name, title) + zone
        case ast.UnitDecl(name, title):
            return _named("unit", name, title)
        case ast.FieldDecl(name, type_ref, optional):
            unit = f" {type_ref.unit.text}" if type_ref.unit is not None else ""
            return f"{name.text}: {'optional ' if optional else ''}{type_ref.kind}{unit}"
        case ast.MetricDecl(name, title, body):
            return f"{_named('metric', name, title)} = {_metric_body(body, p)}"
        case ast.Eligible(condition):
            return f"eligible when {p.expr(condition)}"
        case ast.Attribution():
            return _attribution(item, p)
        case ast.Cap(role, amount, period):
            return f"cap {role.text} {p.expr(amount)}" + (f" per {period.text}" if period is not None else "")
        case ast.Allowance(name, title, cap):
            return f"{_named('allowance', name, title)} {_clause(cap, p).removeprefix('cap ')}"
        case ast.Draw(name):
            return f"draw from {name.text}"
        case ast.WhenTrigger(condition, _, held):
            return f"when {p.expr(condition)}" + (f" for {_duration(held)}" if held is not None else "")
        case ast.AfterTrigger(delay, anchor, condition):
            anchored = f" from {anchor.text}" if anchor is not None else ""
            return f"after {_duration(delay)}{anchored}" + (f" if {p.expr(condition)}" if condition is not None else "")
        case ast.EventTrigger(each, event, where, within):
            return f"{'each' if each else 'first'} {event.text}" + _filters(p, where, within)
        case ast.IncreaseTrigger(metric):
            return f"whenever {metric.text} increases"
        case ast.EveryTrigger(step, metric):
            return f"every {number(step)} {metric.text}"
        case ast.Reward(role, kind, amount):
            return f"reward {role.text} {kind.text} {p.expr(amount)}" + _terms(p, item)
        case ast.Hold(duration):
            return f"hold {_duration(duration)}"
        case ast.Void(event, where, within):
            return f"void {_share(p, item)}if {event.text}" + _filters(p, where, within)
        case ast.Message(template):
            return f"message {quote(template)}"
        case _Row(low, high, value):
            bounds = f"{p.expr(low)} to {p.expr(high)}" if high is not None else f"{p.expr(low)} or more"
            return f"{bounds}: {p.expr(value)}"
    raise TypeError(f"not a clause: {type(item).__name__}")


def _tiers(body: ast.Tiers, p: _Printer) -> str:
    """A rate table, one row per line below the metric (`p.indent` is the
    metric's indent)."""
    rows = []
    for low, high, value in zip(body.lows, body.highs, body.values, strict=True):
        rows.append(f"{p.indent}{INDENT}{_clause(_Row(low, high, value), _Printer())}\n")
    graduated = "graduated " if body.graduated else ""
    return f"{graduated}tiers of {body.metric.dotted} {{\n{''.join(rows)}{p.indent}}}"


def _attribution(item: ast.Attribution, p: _Printer) -> str:
    """`attribution MODEL referral [lapses after D] [unless|before first E ...]`:
    the word before the conversion is `unless` after a lapse, else `before`."""
    text = f"attribution {item.model.text} {item.subject.text}"
    if item.lapse is not None:
        text += f" lapses after {_duration(item.lapse)}"
    if item.conversion is not None:
        word = "unless" if item.lapse is not None else "before"
        text += f" {word} first {item.conversion.event.text}" + _filters(p, item.conversion.where, None)
    return text


def _metric_body(body: ast.Aggregate | ast.Expr, p: _Printer) -> str:
    if isinstance(body, ast.Tiers):
        return _tiers(body, p)
    if isinstance(body, ast.Aggregate):
        target = body.source.text + (f".{body.field.text}" if body.field is not None else "")
        earlier = "earlier " if body.earlier else ""
        text = f"{body.fn} {earlier}{target}" + _filters(p, body.where, None)
        text += f" unless voided {body.unless.text}" if body.unless is not None else ""
        text += f" within {_duration(body.within)}" if body.within is not None else ""
        return text + (f" otherwise {p.expr(body.otherwise)}" if body.otherwise is not None else "")
    text = p.expr(body)
    first = _FIRST_WORD.match(text)
    return f"({text})" if first is not None and first.group() in _AGGREGATE_WORDS else text


def _filters(p: _Printer, where: ast.Expr | None, within: ast.Duration | None) -> str:
    text = f" where {p.expr(where)}" if where is not None else ""
    return text + (f" within {_duration(within)}" if within is not None else "")


def _terms(p: _Printer, reward: ast.Reward) -> str:
    """A reward's own hold and voids, on its line: `` { hold 30 days }``,
    `` { }`` for none (held and voided by nothing), or nothing."""
    if not reward.terms:
        return ""
    clauses = [_clause(c, p) for c in [*reward.holds, *reward.voids]]
    return " { " + "  ".join(clauses) + (" }" if clauses else "}")


def _share(p: _Printer, void: ast.Void) -> str:
    """The share of a partial `void` (``refund.amount of payment.amount ``),
    or nothing. A part that ends in `%` is parenthesized: `10% of x` would
    read as one percentage; so is one that ends in a bare name, which would
    read as a rate (`(fees) of x`, not `fees of x`)."""
    if void.part is None or void.whole is None:
        return ""
    part = p.expr(void.part, _SUM)
    if isinstance(void.part, ast.Percent) or _ends_in_bare_name(void.part):
        part = f"({part})"
    return f"{part} of {p.expr(void.whole, _SUM)} "


def _ends_in_bare_name(expr: ast.Expr) -> bool:
    """Whether the printed expression ends in a name without a dot, which an
    `of` after it would take as a rate (`NAME of X`)."""
    while True:
        match expr:
            case ast.Ref():
                return expr.attr is None
            case ast.Arith(_, _, right):
                expr = right
            case ast.Neg(operand) | ast.PercentOf(_, operand) | ast.RateOf(_, operand):
                expr = operand
            case _:
                return False


def _duration(duration: ast.Duration) -> str:
    return f"{number(duration.value)} {duration.unit.text}"


def number(value: Decimal) -> str:
    """A number as written: ``1000``, ``2.50``, never ``1E+3``."""
    return format(value, "f")


def quote(text: str) -> str:
    """A string literal with JSON escapes (a lone surrogate, which the file
    could not encode, is written as its escape)."""
    quoted = json.dumps(text, ensure_ascii=False)
    return "".join(f"\\u{ord(ch):04x}" if "\ud800" <= ch <= "\udfff" else ch for ch in quoted)


# -- expressions -------------------------------------------------------------

# Binding strength, loosest first, as in the grammar's rule ladder.
_OR, _AND, _NOT, _COMPARE, _SUM, _PRODUCT, _UNARY, _ATOM = range(1, 9)


class _Printer:
    """Prints expressions with the fewest parentheses that parse back the
    same. With ``explode``, every ``[...]`` list is written one item per line
    below a clause indented by ``indent``."""

    def __init__(self, explode: bool = False, indent: str = "") -> None:
        self.explode = explode
        self.indent = indent

    def expr(self, expr: ast.Expr, level: int = _OR, depth: int = 0) -> str:
        text, own = self._expr(expr, depth)
        return f"({text})" if own < level else text

    def _expr(self, e: ast.Expr, depth: int) -> tuple[str, int]:
        match e:
            case ast.Number(value):
                return number(value), _UNARY if value.is_signed() else _ATOM
            case ast.Quantity(value, unit):
                return f"{number(value)} {unit.text}", _UNARY if value.is_signed() else _ATOM
            case ast.Percent(value):
                return f"{number(value)}%", _ATOM
            case ast.PercentOf(value, operand):
                return f"{number(value)}% of {self.expr(operand, _UNARY, depth)}", _ATOM
            case ast.RateOf(rate, operand):
                return f"{rate.dotted} of {self.expr(operand, _UNARY, depth)}", _ATOM
            case ast.String(value):
                return quote(value), _ATOM
            case ast.Bool(value):
                return ("true" if value else "false"), _ATOM
            case ast.Ref():
                return e.dotted, _ATOM
            case ast.Arith(op, left, right):
                level = _SUM if op in "+-" else _PRODUCT
                return f"{self.expr(left, level, depth)} {op} {self.expr(right, level + 1, depth)}", level
            case ast.Neg(operand):
                return f"-{self.expr(operand, _UNARY, depth)}", _UNARY
            case ast.Compare(op, left, right, fold):
                text = f"{self.expr(left, _SUM, depth)} {op} {self.expr(right, _SUM, depth)}"
                return text + (" ignoring case" if fold else ""), _COMPARE
            case ast.And(left, right):
                return f"{self.expr(left, _AND, depth)} and {self.expr(right, _NOT, depth)}", _AND
            case ast.Or(left, right):
                return f"{self.expr(left, _OR, depth)} or {self.expr(right, _AND, depth)}", _OR
            case ast.Not(operand):
                return f"not {self.expr(operand, _NOT, depth)}", _NOT
            case ast.InList(operand, items, negated, fold):
                word = "not in" if negated else "in"
                text = f"{self.expr(operand, _SUM, depth)} {word} {self._list(items, depth + 1)}"
                return text + (" ignoring case" if fold else ""), _COMPARE
            case ast.InEarlier(operand, field, negated):
                word = "not in" if negated else "in"
                return f"{self.expr(operand, _SUM, depth)} {word} earlier referrals.{field.text}", _COMPARE
            case ast.IsSet(operand, negated):
                return f"{self.expr(operand, _SUM, depth)} is {'not ' if negated else ''}set", _COMPARE
        raise TypeError(f"not an expression: {type(e).__name__}")

    def _list(self, items: tuple[ast.Expr, ...], depth: int) -> str:
        texts = [self.expr(item, _OR, depth) for item in items]
        if not self.explode or not items:
            return "[" + ", ".join(texts) + "]"
        inside = self.indent + INDENT * depth
        outside = self.indent + INDENT * (depth - 1)
        return "[\n" + "".join(f"{inside}{text},\n" for text in texts) + f"{outside}]"
