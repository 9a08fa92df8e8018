"""Award messages with the SQL back end: the values computed by the query,
for the awards only; the template rendered by the Python engine's renderer.

A `message` template (jinja2, sandboxed, see `check.templates`) reads the
award's fields, the program's metrics after the triggering event and the
triggering event's fields. The query computes, for each award of a
milestone with a message, the metrics and fields its template names, as a
`msg` column (`MAP(VARCHAR, VARCHAR)`: each value as text, NULL for no
value); `render` writes them as the Python engine does and renders the
template with the same renderer, so the message is the same text.

Texts, booleans, money in a currency (written with the currency's
decimals: a quotient rounded half to even from its exact fraction, as
reward amounts are; a zero whose Decimal is signed, `-0.00`, with its
minus, by `sql.signs`) and counts are sent as their text. Another number is
written by the Python engine with the decimals its Decimal carries
(`1.5`, `1.50`), while an exact DECIMAL column has the decimals of its
widest value: it is sent as `VALUE@EXPONENT`, the exponent computed by
`sql.exponents`. One that divides or reads a rate table (the engine
writes a quotient to 100 significant digits) is sent as the values its
formula reads and computed by `render` as the engine computes it
(`sql.quotients`). The triggering event's instant and its
time fields are sent as their nanoseconds and written as the engine
writes instants.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from jinja2 import nodes

from ..check import templates
from ..check.program import MetricInfo, MilestoneInfo, ProgramInfo
from ..compiler.generate import CompiledMilestone
from ..core.datatypes import BOOLEAN, DURATION, NUMBER, QUANTITY, TEXT, TIME, Type
from ..core.formatting import format_value
from ..core.runtime import CONTEXT
from ..core.source import Span
from ..core.units import is_currency, minor_exponent
from ..syntax import nodes as ast
from . import compile as sql  # not `from .compile import`: compile.py imports this module
from . import exponents, expressions, quotients, signs

if TYPE_CHECKING:
    from ..check.program import CheckedRuleset
    from .compile import _Compiler

_NO_MAP = "CAST(NULL AS MAP(VARCHAR, VARCHAR))"
#: the triggering event's fields the Python engine keeps, read as these columns
_HEAD = {"id": "id", "referee": "referee", "referrer": "referrer"}


def names(text: str, event: str | None) -> tuple[list[str], list[str]]:
    """The top-level names a template reads (besides the event), and the
    fields of the triggering event it reads (`payment.amount`), sorted."""
    tree = templates.environment().parse(text)
    fields = sorted({n.attr for n in tree.find_all(nodes.Getattr) if isinstance(n.node, nodes.Name)})
    found = sorted({n.name for n in tree.find_all(nodes.Name) if n.ctx == "load" and n.name != event})
    return found, fields


def hit_column(compiler: _Compiler, milestone: CompiledMilestone) -> str:
    """`, MAP(...) AS msg` for the hit rows of a milestone with a message
    (its values at the triggering event), else ""."""
    info = milestone.info
    if info.message is None:
        return ""
    program = compiler.checked.programs[milestone.program]
    metrics, fields = names(info.message, info.event)
    keys: list[str] = []
    values: list[str] = []
    for name in metrics:
        metric = program.metrics.get(name)
        if metric is None:
            continue  # an award field (`amount`, `referee`): the record has it
        _refuse_type(compiler, metric.type, name, info)
        keys.append(sql.literal(name))
        values.append(_metric_text(compiler, metric, info))
    event = compiler.checked.events.get(info.event) if info.event is not None else None
    for name in fields:
        assert event is not None  # the checker allows fields of the triggering event only
        keys.append(sql.literal(f"{event.name}.{name}"))
        values.append(_field(compiler, event.name, name, info))
    if not keys:
        return f", {_NO_MAP} AS msg"
    return f", MAP([{', '.join(keys)}], [{', '.join(values)}]) AS msg"


def _metric_text(compiler: _Compiler, metric: MetricInfo, info: MilestoneInfo) -> str:
    """A metric's value at the hit row as the text `render` reads."""
    return value_text(compiler, metric, info.decl, lambda construct: _refusal(compiler, construct, info))


def value_text(compiler: _Compiler, metric: MetricInfo, node: object, refuse: Callable[[str], sql.Unsupported]) -> str:
    """A metric's value on a row of `totals` as the text `render` (and
    `value`) reads: money with its sign, another number `VALUE@EXPONENT`;
    what cannot be written so is refused by `refuse(construct)` (a
    message's, or the explained sections': sql/sections.py)."""
    divides = metric.formula is not None and expressions.divides(compiler, metric.formula)
    if _is_money(metric.type) and divides:  # rounded half to even from the exact fraction
        assert metric.formula is not None
        return _money_quotient(compiler, metric.formula, metric.type)
    if evaluated(compiler.checked, metric):  # the values it reads: `render` computes it (sql/quotients.py)
        return quotients.sent(compiler, metric, lambda leaf: _leaf_exponent(compiler, leaf, metric, node, refuse))
    if divides:  # its text is the quotient to 100 significant digits
        raise refuse(f"reading `{metric.name}` (a number that involves a division)")
    value = compiler.metric(metric, node)
    if _is_money(metric.type):  # a zero keeps its sign (`-0.00`)
        try:
            negative = signs.metric(compiler, metric, node)
        except sql.Unsupported:
            raise refuse(f"reading `{metric.name}` (money whose zero may be negative)") from None
        return signs.signed_text(value, negative)
    if metric.type.kind in (NUMBER, QUANTITY):
        try:
            exponent = exponents.metric(compiler, metric, node)
        except sql.Unsupported:
            raise refuse(f"reading `{metric.name}` (a number of this kind)") from None
        return f"CAST({value} AS VARCHAR) || '@' || CAST({exponent} AS VARCHAR)"
    return f"CAST({value} AS VARCHAR)"


def evaluated(checked: CheckedRuleset, metric: MetricInfo) -> bool:
    """Whether a metric is sent as the values it reads and computed by
    `render` (`sql.quotients`): a number (not money) that divides or reads
    `rate of` or a rate table."""
    return not _is_money(metric.type) and quotients.computed(checked, metric)


def metric_value(checked: CheckedRuleset, metric: MetricInfo, text: str | None) -> Any:
    """A metric's value from the text `value_text` wrote, as the Python
    engine has it (a message's, or the explained sections')."""
    if evaluated(checked, metric):
        return quotients.value(checked, metric, text)
    return value_of(text, metric.type)


def _leaf_exponent(
    compiler: _Compiler, leaf: MetricInfo, read: MetricInfo, node: object, refuse: Callable[[str], sql.Unsupported]
) -> str:
    """The exponent of a value a computed metric (`read`) reads, refused by
    `refuse`, naming the metric read."""
    try:
        return exponents.metric(compiler, leaf, node)
    except sql.Unsupported:
        raise refuse(f"reading `{read.name}` (a number of this kind)") from None


def _money_quotient(compiler: _Compiler, formula: ast.Expr, typ: Type) -> str:
    """Money that divides, in minor units rounded half to even (its sign
    apart: the rounding is symmetric), written `[-]UNITS E-PLACES`: a
    negative quotient that rounds to nothing is `-0.00`, as the engine's
    `quantize` keeps the sign, and so is a zero quotient whose sign is set
    (`-0.00 / 2`: `sql.signs`)."""
    places = minor_exponent(typ.unit or "")
    value = expressions.fraction(compiler, formula)
    units = expressions.half_even_ratio(f"ABS({value.num})", value.den or "1", places, compiler.lets.name)
    sign = (
        f"CASE WHEN {value.num} < 0 OR ({value.num} = 0 AND {signs.negative(compiler, formula)}) THEN '-' ELSE '' END"
    )
    return f"{sign} || CAST({units} AS VARCHAR) || 'E-{places}'"


def _field(compiler: _Compiler, event: str, name: str, info: MilestoneInfo) -> str:
    """The text of a field of the triggering event, at the hit row."""
    if name in _HEAD:
        return _HEAD[name]
    if name == "at":  # nanoseconds, written as an instant by `render`
        return 'CAST("at" AS VARCHAR)'
    found = compiler.checked.events[event].fields.get(name)
    if found is None or found.builtin:
        raise _refusal(compiler, f"reading `{event}.{name}`", info)
    _refuse_type(compiler, found.type, f"{event}.{name}", info)
    # a time field is read as the text of its nanoseconds (the Python reader's records)
    kind = "number" if found.type.numeric else found.type.kind
    column = sql.Column(event, name, kind)
    compiler.columns.setdefault(column.name, column)
    value = sql.ident(column.name)
    if _is_money(found.type):  # a zero keeps its sign (`-0.00`)
        return signs.signed_text(value, signs.field(compiler, event, name))
    if kind == "number":
        return f"CAST({value} AS VARCHAR) || '@' || CAST({exponents.field(compiler, event, name)} AS VARCHAR)"
    return f"CAST({value} AS VARCHAR)"


def _is_money(typ: Type) -> bool:
    return typ.kind == QUANTITY and is_currency(typ.unit or "")


def _refuse_type(compiler: _Compiler, typ: Type, name: str, info: MilestoneInfo) -> None:
    if typ.kind in (TEXT, BOOLEAN, NUMBER, QUANTITY, TIME, DURATION):
        return
    raise _refusal(compiler, f"reading `{name}` (a {typ.kind})", info)


def _refusal(compiler: _Compiler, construct: str, info: MilestoneInfo) -> sql.Unsupported:
    """A refusal at the milestone's `message` clause."""
    span = info.message_span if isinstance(info.message_span, Span) else info.decl.span
    return sql.Unsupported(f"a message {construct}", span, compiler.path)


def row_value(milestone: CompiledMilestone) -> str:
    """The `msg` column of a reward's award rows."""
    return "msg" if milestone.info.message is not None else _NO_MAP


def render(
    checked: CheckedRuleset, milestone: CompiledMilestone, record: dict[str, Any], values: dict[str, Any] | None
) -> str:
    """The award's message, as `score.result.Reporter._message` writes it,
    from the record and the values the query computed."""
    info = milestone.info
    program: ProgramInfo = checked.programs[milestone.program]
    context: dict[str, Any] = {
        "ruleset": checked.name,
        "program": program.name,
        "milestone": info.name,
        "title": info.title or info.name,
        "at": record["at"],
        **{k: record[k] for k in ("role", "beneficiary", "referrer", "referee", "kind", "amount", "unit", "item")},
    }
    event: dict[str, Any] = {}
    for key, text in (values or {}).items():
        if key in program.metrics:
            context[key] = format_value(metric_value(checked, program.metrics[key], text), program.metrics[key].type)
        else:
            name = key.partition(".")[2]
            field = checked.events[key.partition(".")[0]].fields.get(name)
            typ = field.type if field is not None else None
            event[name] = format_value(value_of(text, typ), typ)
    if info.event is not None:
        context[info.event] = event
    return templates.render(info.message or "", context)


def value_of(text: str | None, typ: Type | None) -> Any:
    """A value the query wrote as text, back as the Python engine has it:
    a number sent as `VALUE@EXPONENT` with that exponent."""
    if text is None or typ is None or typ.kind == TEXT:
        return text
    if typ.kind == BOOLEAN:
        return text == "true"
    if typ.kind in (TIME, DURATION):  # nanoseconds, an int as the engine's
        return int(text)
    value, _, exponent = text.partition("@")
    if not exponent:
        return Decimal(value)
    return Decimal(value).quantize(Decimal(1).scaleb(int(exponent), CONTEXT), context=CONTEXT)
