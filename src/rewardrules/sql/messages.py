"""Award messages with the SQL back end: the values computed by the query,
for the awards only; the template rendered by the Python engine's renderer.

A `message` template (jinja2, sandboxed, see `check.templates`) reads the
award's fields, the program's metrics after the triggering event and the
triggering event's fields. The query computes, for each award of a
milestone with a message, the metrics and fields its template names, as a
`msg` column (`MAP(VARCHAR, VARCHAR)`: each value as text, NULL for no
value); `render` writes them as the Python engine does and renders the
template with the same renderer, so the message is the same text.

Only values whose text is the same from both engines are compiled: texts,
booleans, money in a currency (written with the currency's decimals) and
counts (whole numbers). Another number is written by the Python engine
with the decimals its arithmetic gave (`1.5`), while an exact DECIMAL
column has the decimals of its widest value (`1.50`): refused, and so is
a time.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from jinja2 import nodes

from ..check import templates
from ..check.program import MetricInfo, MilestoneInfo, ProgramInfo
from ..compiler.generate import CompiledMilestone
from ..core.datatypes import BOOLEAN, NUMBER, QUANTITY, TEXT, Type
from ..core.formatting import format_value
from ..core.source import Span
from ..core.units import is_currency
from . import compile as sql  # not `from .compile import`: compile.py imports this module
from . import expressions

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
        _refuse_type(compiler, metric.type, name, info, _is_count(metric))
        if metric.formula is not None and expressions.divides(compiler, metric.formula):
            # its text is the quotient rounded by the Python engine's context
            raise _refusal(compiler, f"a message reading `{name}` (a value that involves a division)", info)
        keys.append(sql.literal(name))
        values.append(f"CAST({compiler.metric(metric, info.decl)} AS VARCHAR)")
    event = compiler.checked.events.get(info.event) if info.event is not None else None
    for name in fields:
        assert event is not None  # the checker allows fields of the triggering event only
        value = _field(compiler, event.name, name, info)
        keys.append(sql.literal(f"{event.name}.{name}"))
        values.append(f"CAST({value} AS VARCHAR)")
    if not keys:
        return f", {_NO_MAP} AS msg"
    return f", MAP([{', '.join(keys)}], [{', '.join(values)}]) AS msg"


def _field(compiler: _Compiler, event: str, name: str, info: MilestoneInfo) -> str:
    """The column of a field of the triggering event, at the hit row."""
    if name in _HEAD:
        return _HEAD[name]
    found = compiler.checked.events[event].fields.get(name)
    if found is None or found.builtin:
        raise _refusal(compiler, f"a message reading `{event}.{name}`", info)
    _refuse_type(compiler, found.type, f"{event}.{name}", info, False)
    kind = "number" if found.type.numeric else found.type.kind
    column = sql.Column(event, name, kind)
    compiler.columns.setdefault(column.name, column)
    return sql.ident(column.name)


def _is_count(metric: MetricInfo) -> bool:
    agg = metric.aggregate
    return metric.formula is None and agg is not None and agg.fn == "count"


def _refuse_type(compiler: _Compiler, typ: Type, name: str, info: MilestoneInfo, count: bool) -> None:
    if typ.kind in (TEXT, BOOLEAN) or count:
        return
    if typ.kind == QUANTITY and is_currency(typ.unit or ""):
        return
    what = "a number" if typ.kind in (NUMBER, QUANTITY) else f"a {typ.kind}"
    raise _refusal(compiler, f"a message reading `{name}` ({what})", info)


def _refusal(compiler: _Compiler, construct: str, info: MilestoneInfo) -> sql.Unsupported:
    """A refusal at the milestone's `message` clause."""
    span = info.message_span if isinstance(info.message_span, Span) else info.decl.span
    return sql.Unsupported(construct, span, compiler.path)


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
            context[key] = format_value(_value(text, program.metrics[key].type), program.metrics[key].type)
        else:
            name = key.partition(".")[2]
            field = checked.events[key.partition(".")[0]].fields.get(name)
            typ = field.type if field is not None else None
            event[name] = format_value(_value(text, typ), typ)
    if info.event is not None:
        context[info.event] = event
    return templates.render(info.message or "", context)


def _value(text: str | None, typ: Type | None) -> Any:
    """A value the query wrote as text, back as the Python engine has it."""
    if text is None or typ is None or typ.kind == TEXT:
        return text
    if typ.kind == BOOLEAN:
        return text == "true"
    return Decimal(text)
