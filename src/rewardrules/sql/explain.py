"""Award explanations (`why`) computed by the SQL query, for the awards only.

`score` explains each award (`score.result.Reporter._why`): the event that
triggered it, the values its milestone tested as they were then (`values`,
the names of `CompiledMilestone.why_names`), its occurrence, whether a cap
cut it (`capped`) from what amount (`uncapped`), and, for an award taken
back whole before it was paid, the void event (`voided_by`). When the
query is compiled with explanations (`compile_query(..., explain=True)`)
each award row has a `why` column: that object as the JSON text
`json.dumps(why, indent=2, ensure_ascii=False)` gives, so any warehouse can
read it with its JSON functions and `score --engine duckdb` writes it as
the Python engine does (re-indented at the award's depth, `sql.write`).

It is built in three steps, so that nothing is computed per event:

- on each milestone's hit rows (`hit_column`), the `values` object, each
  value written in SQL as `formatting.format_value` writes it: money with
  its currency's decimals (rounded half to even from the exact value, a
  negative zero `-0.00`: `sql.signs`), another number without decimals when
  it is whole, else with those its Decimal carries (`sql.exponents`), text
  escaped as `json` escapes it, booleans, `null`;
- on each reward's award rows (`row_values`), plain columns: the event,
  the occurrence, the `values` text, the amount before caps, and the type
  and rule of an award's first void event when its status is `void`
  (`sql.reversals`);
- in the final award rows (`final`), after caps: the whole object, its
  texts escaped there once for every reward (an escape is about 1 KB of
  SQL), with `capped` and `uncapped` where a cap cut the amount.

A timer's award names the event that started its clock (`event` of the
timer, `sql.timers`: the `sev` column). Partial voids decide statuses in
Python (`cli.sql.partial_results`), which adds their `voided_by` there.
A value of a kind not written here is refused at its milestone, only when
explanations are asked for (`check --engine sql` reports it too).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..check.program import CheckedRuleset, MetricInfo
from ..compiler.generate import CompiledMilestone
from ..core.datatypes import BOOLEAN, DURATION, NUMBER, QUANTITY, TEXT, TIME, Type
from ..core.units import is_currency, minor_exponent
from ..syntax import nodes as ast
from . import compile as sql  # not `from .compile import`: compile.py imports this module
from . import exponents, expressions, messages, quotients, signs

if TYPE_CHECKING:
    from .compile import _Compiler

#: the columns award rows carry for `final` (left out of the result): the
#: event explained, the occurrence, `why.values`, the void event's type
#: (NULL unless the query sets the status `void`: never for a partial
#: void, decided in Python) and rule, and the amount before caps; `final`
#: writes their text once for every reward, not on each reward's rows
COLUMNS = ("why_event", "why_occurrence", "why_values", "why_void", "why_rule", "why_uncut")

#: the key of the object an explanation gives in place of a number that
#: `score` computes from the values its formula reads (`computed`)
INPUTS = "inputs"

#: what `json` writes for each control character (`json.dumps` escapes
#: these, `"` and `\\`; with `ensure_ascii=False`, nothing else)
_SHORT = {8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}


def text(value: str) -> str:
    """SQL: a text value's JSON text (`json.dumps` of it, `null` for NULL)."""
    escaped = f"REPLACE(REPLACE({value}, CHR(92), '\\\\'), CHR(34), '\\\"')"
    for code in range(32):
        written = _SHORT.get(code, f"\\u{code:04x}")
        escaped = f"REPLACE({escaped}, CHR({code}), {sql.literal(written)})"
    return f"CASE WHEN {value} IS NULL THEN 'null' ELSE '\"' || {escaped} || '\"' END"


def instant(value: str) -> str:
    """SQL: an instant (BIGINT nanoseconds) as `format_timestamp` writes it,
    in quotes: floor divisions, so that an instant before 1970 is right too."""
    nanos = f"((({value}) % 1000000000 + 1000000000) % 1000000000)"
    micros = f"((({value}) - ((({value}) % 1000) + 1000) % 1000) // 1000)"
    # a BIGINT (as in DuckDB already): elsewhere `//` is an exact DECIMAL(38, 0) (`dialect._exact_integers`),
    # which Spark's `timestamp_micros` does not take
    stamp = f"MAKE_TIMESTAMP(CAST({micros} AS BIGINT))"
    clock = f"STRFTIME({stamp}, '%Y-%m-%d') || 'T' || STRFTIME({stamp}, '%H:%M:%S')"
    fraction = f"CASE WHEN {nanos} = 0 THEN '' ELSE '.' || RTRIM(LPAD(CAST({nanos} AS VARCHAR), 9, '0'), '0') END"
    return f"'\"' || {clock} || {fraction} || 'Z\"'"


# -- values ------------------------------------------------------------------
def tested(compiler: _Compiler, milestone: CompiledMilestone) -> list[tuple[str, ast.Ref | None]]:
    """The names an award's `values` give, each with the reference to read
    it by (None: the metric a `whenever`/`every` milestone tests), in the
    order of `generate._why`: the condition's names, then the rate tables
    its rewards read."""
    trigger = milestone.info.trigger
    if isinstance(trigger, (ast.IncreaseTrigger, ast.EveryTrigger)):
        return [(trigger.metric.text, None)]
    condition: ast.Expr | None = None
    if isinstance(trigger, (ast.WhenTrigger, ast.AfterTrigger)):
        condition = trigger.condition
    elif isinstance(trigger, ast.EventTrigger):
        condition = trigger.where
    rates = []
    for reward in milestone.info.rewards:
        for node in ast.walk(reward.decl.amount):
            binding = compiler.checked.bindings.get(node) if isinstance(node, ast.Ref) else None
            if binding is not None and binding.metric is not None and isinstance(binding.metric.decl.body, ast.Tiers):
                assert isinstance(node, ast.Ref)
                rates.append(node)
    found: dict[str, ast.Ref] = {}
    for node in [*ast.walk(condition), *rates]:
        if isinstance(node, ast.Ref) and node in compiler.checked.bindings:
            found.setdefault(node.dotted, node)
    return list(found.items())


def hit_column(compiler: _Compiler, milestone: CompiledMilestone) -> str:
    """`, TEXT AS why_values` for the hit rows of a milestone (its values at
    the triggering event, or at a timer's instant), with explanations; ""
    without."""
    value = hit_value(compiler, milestone)
    return "" if value is None else f", {value} AS why_values"


def hit_value(compiler: _Compiler, milestone: CompiledMilestone) -> str | None:
    """SQL: the JSON text of a milestone's `why.values` on one of its hit
    rows (the columns of `totals`), with explanations; None without."""
    if not compiler.explain:
        return None
    names = tested(compiler, milestone)
    if tuple(name for name, _ in names) != tuple(milestone.why_names):
        raise _refusal(compiler, "the values of this milestone's explanation", milestone)
    if not names:
        return "'{}'"
    parts = []
    for n, ((name, node), typ) in enumerate(zip(names, milestone.why_types, strict=True)):
        lead = ("{\n    " if n == 0 else ",\n    ") + json.dumps(name, ensure_ascii=False) + ": "
        parts.append(f"{sql.literal(lead)} || {_value(compiler, milestone, name, node, typ)}")
    return f"{' || '.join(parts)} || '\n  }}'"


def _value(compiler: _Compiler, milestone: CompiledMilestone, name: str, node: ast.Ref | None, typ: Type | None) -> str:
    """SQL: one value's JSON text, as `formatting.format_value` writes it;
    what cannot be written yet is refused at the milestone's trigger."""
    metric = compiler.checked.programs[milestone.program].metrics.get(name)
    place: object = node
    if node is None:  # the metric a `whenever`/`every` milestone tests
        assert metric is not None
        place, typ = milestone.info.trigger, metric.type
    else:
        binding = compiler.checked.bindings[node]
        metric = binding.metric if binding.kind == "metric" else None
    if typ is None or typ.kind not in (TEXT, BOOLEAN, NUMBER, QUANTITY, TIME, DURATION):
        kind = typ.kind if typ is not None else "value"
        raise _refusal(compiler, f"an explanation (`why`) giving `{name}` (a {kind})", milestone)
    try:
        return _written(_Read(compiler, node, metric, place), typ)
    except sql.Unsupported as refused:
        construct = f"an explanation (`why`) giving `{name}` ({refused.construct})"
        raise _refusal(compiler, construct, milestone) from None


@dataclass(frozen=True, slots=True)
class _Read:
    """A value an explanation gives: the name (`node`) or metric it is read
    by, for its value, its sign and its decimals."""

    compiler: _Compiler
    node: ast.Ref | None
    metric: MetricInfo | None
    place: object

    def value(self) -> str:
        """Its value; a boolean field as the event has it (NULL stays null)."""
        if self.node is not None:
            return self.compiler.operand(self.node)
        assert self.metric is not None
        return self.compiler.metric(self.metric, self.place)

    def divides(self) -> ast.Expr | None:
        """The formula of a metric whose value involves a division, or None."""
        formula = self.metric.formula if self.metric is not None else None
        return formula if formula is not None and expressions.divides(self.compiler, formula) else None

    def negative(self) -> str:
        """Whether its Decimal's sign is set (`sql.signs`)."""
        if self.metric is not None:
            return signs.metric(self.compiler, self.metric, self.place)
        assert self.node is not None
        return signs.negative(self.compiler, self.node)

    def exponent(self) -> str | None:
        """Its Decimal's exponent (`sql.exponents`); None for a count, whole."""
        agg = self.metric.aggregate if self.metric is not None else None
        if agg is not None and agg.fn == "count":
            return None
        if self.metric is not None:
            return exponents.metric(self.compiler, self.metric, self.place)
        assert self.node is not None
        return exponents.exponent(self.compiler, self.node)


def _written(read: _Read, typ: Type) -> str:
    """SQL: the value's JSON text (`null` where it has none)."""
    quotient = read.divides()
    if typ.kind == QUANTITY and is_currency(typ.unit or "") and quotient is not None:
        fraction = expressions.fraction(read.compiler, quotient)
        den = fraction.den or "1"
        written = _quotient(read, quotient, fraction.num, den, minor_exponent(typ.unit or ""))
        return f"CASE WHEN {fraction.num} IS NULL OR {den} IS NULL THEN 'null' ELSE '\"' || {written} || '\"' END"
    if quotient is not None:  # the engine writes it to 100 significant digits: `score` computes it
        return _inputs(read)
    value = read.value()
    if typ.kind == TEXT:
        return text(value)
    if typ.kind == TIME:  # as `format_timestamp` writes it, from the integer (DuckDB's DECIMAL `//` is a DOUBLE)
        return f"CASE WHEN {value} IS NULL THEN 'null' ELSE {instant(f'CAST({value} AS BIGINT)')} END"
    if typ.kind == DURATION:  # nanoseconds, written by the engine's own `duration_text` (`computed`)
        return f"CASE WHEN {value} IS NULL THEN 'null' ELSE {_sent(read, f'CAST({value} AS VARCHAR)')} END"
    if typ.kind == BOOLEAN:
        return f"CASE WHEN {value} THEN 'true' WHEN NOT {value} THEN 'false' ELSE 'null' END"
    if typ.kind == QUANTITY and is_currency(typ.unit or ""):
        places = minor_exponent(typ.unit or "")
        units = sql.half_even_units(f"ABS({value})", places)
        written = _money(units, f"({value} < 0 OR ({value} = 0 AND {read.negative()}))", places)
    else:
        try:
            written = _number(read, value)
        except sql.Unsupported:  # decimals the query does not compute (`rate of`, a graduated table)
            if read.metric is None or not messages.evaluated(read.compiler.checked, read.metric):
                raise
            return _inputs(read)
    return f"CASE WHEN {value} IS NULL THEN 'null' ELSE '\"' || {written} || '\"' END"


def _inputs(read: _Read) -> str:
    """A number (not money) that divides or reads a rate table, as the
    Python engine computes it to 100 significant digits with the exponent
    its digits give: no DECIMAL holds it, so the query writes the object
    `{"inputs": "VALUE@EXPONENT|..."}` of the values its formula reads
    (`sql.quotients`, as for a message) and `computed` puts the engine's
    number in its place."""
    metric = read.metric
    if metric is None or not messages.evaluated(read.compiler.checked, metric):
        raise read.compiler.refuse("a number that involves a division", read.place)
    sent = quotients.sent(read.compiler, metric, lambda leaf: exponents.metric(read.compiler, leaf, read.place))
    return _sent(read, sent)


def _sent(read: _Read, values: str) -> str:
    """SQL: the object `{"inputs": "..."}` of the text `values` (which holds
    no `"` or backslash), for `computed` to replace with the engine's value."""
    read.compiler.why_inputs = True
    head = sql.literal("{" + json.dumps(INPUTS) + ': "')
    return f"{head} || {values} || '\"}}'"


def _quotient(read: _Read, formula: ast.Expr, num: str, den: str, places: int) -> str:
    """Money that divides: rounded half to even from its exact fraction."""
    let = read.compiler.lets.name  # `_money` reads the units twice
    units = let(expressions.half_even_ratio(f"ABS({num})", den, places, let))
    return _money(units, f"({num} < 0 OR ({num} = 0 AND {signs.negative(read.compiler, formula)}))", places)


def _money(units: str, negative: str, places: int) -> str:
    """Money in minor `units` (its sign apart) as `quantize` writes it, with
    every decimal of its currency and the sign it keeps (`-0.00`)."""
    sign = f"CASE WHEN {negative} THEN '-' ELSE '' END"
    if places == 0:
        return f"{sign} || CAST({units} AS VARCHAR)"
    step = "1" + "0" * places
    return (
        f"{sign} || CAST({units} // {step} AS VARCHAR) || '.' || LPAD(CAST({units} % {step} AS VARCHAR), {places}, '0')"
    )


def _number(read: _Read, value: str) -> str:
    """Another number: a whole one in digits (`plain` of its normal form),
    else with the decimals its Decimal carries (its exponent): its sign,
    its whole part, then its text's decimals cut or padded to those. Each
    part reads `value` at most three times (nine in all, where writing out
    its text's fixes took 28). The whole part is computed, not cut from the
    text, which DuckDB writes without the 0 before its point for a
    DECIMAL(38, 38) (`.5`): rounded toward zero with FLOOR or CEIL, exact
    in every engine, where Spark's ABS and unary minus round a value of
    more than 34 digits; the sign is read from the text."""
    whole = f"CAST(CAST({value} AS DECIMAL({sql.MAX_DIGITS}, 0)) AS VARCHAR)"
    exponent = read.exponent()
    if exponent is None:  # a count: always whole
        return whole
    text = f"CAST({value} AS VARCHAR)"
    places = f"CAST(- ({exponent}) AS INTEGER)"
    negative = f"{text} LIKE '-%'"  # not `value < 0`: Spark compares a DECIMAL(38, 38) at a smaller scale
    sign = f"CASE WHEN {negative} THEN '-' ELSE '' END"
    toward_zero = f"CASE WHEN {negative} THEN CEIL({value}) ELSE FLOOR({value}) END"
    units = f"LTRIM(CAST(CAST({toward_zero} AS DECIMAL({sql.MAX_DIGITS}, 0)) AS VARCHAR), '-')"
    decimals = f"RPAD(SUBSTR({text}, INSTR({text}, '.') + 1), {places}, '0')"  # cut or padded to `places`
    # whole when its text has no decimal but 0: not `value = TRUNC(value)`, which
    # Spark compares at the scale of the whole part (0.123 = 0 there)
    cut = f"RTRIM({text}, '0')"
    return f"CASE WHEN INSTR({cut}, '.') IN (0, LENGTH({cut})) THEN {whole} ELSE {sign} || {units} || '.' || {decimals} END"


def _refusal(compiler: _Compiler, construct: str, milestone: CompiledMilestone) -> sql.Unsupported:
    """A refusal at the milestone's trigger (what its explanation gives)."""
    return compiler.refuse(construct, milestone.info.trigger)


# -- award rows ----------------------------------------------------------------
def row_values(compiler: _Compiler, milestone: CompiledMilestone, index: int, uncut: str | None) -> dict[str, str]:
    """The columns of `COLUMNS` on a reward's award rows (none without
    explanations): plain columns, which `final` writes as text once for
    all rewards (each `text` is about 1 KB of SQL: written on each
    reward's rows, they were over a quarter of the explained statements).
    `uncut`: the SQL of the row's amount (its text) where a cap may cut it,
    else None (then never read: `final` reads it only where the granted
    amount is less than the wanted). Written out, not as `amount`, the
    column of the same `SELECT` list: BigQuery does not read that name as
    the column (its aliases are seen only by `GROUP BY`, `HAVING`,
    `ORDER BY` and `QUALIFY`)."""
    if not compiler.explain:
        return {}
    from .timers import is_timer

    rule, type_ = _voided_by(milestone, index)
    return {
        "why_event": "sev" if is_timer(milestone) else "event",
        "why_occurrence": "occurrence",
        "why_values": "why_values",
        "why_void": type_,
        "why_rule": rule,
        "why_uncut": uncut if uncut is not None else "CAST(NULL AS VARCHAR)",
    }


def _voided_by(milestone: CompiledMilestone, index: int) -> tuple[str, str]:
    """SQL: the rule (as text) of an award's first void event, and the JSON
    text of its type when its status is `void` (at or before it is
    confirmed, `reversals.reward_values`), else NULL: `final` reads the
    rule only where the type is set."""
    reward = milestone.rewards[index].info
    if not _voided(milestone, index):
        return "CAST(NULL AS VARCHAR)", "CAST(NULL AS VARCHAR)"
    voided = f"vat IS NOT NULL AND vat <= {sql.later_by(sql.AT, reward.hold_ns)}"
    types = " ".join(f"WHEN {j} THEN {sql.literal(json.dumps(v.event))}" for j, v in enumerate(milestone.info.voids))
    return "CAST(vrule AS VARCHAR)", f"CASE WHEN {voided} THEN CASE vrule {types} END END"


def _voided(milestone: CompiledMilestone, index: int) -> bool:
    """Whether the query decides a reward's `void` status (not with partial
    voids, decided in Python: `cli.sql.partial_results` adds their
    `voided_by`)."""
    from .reversals import void_set

    return void_set(milestone, index) is not None


def final(compiler: _Compiler) -> str:
    """`, TEXT AS why` over the award rows after caps (their `granted` and
    `wanted` amounts): the whole object; "" without explanations."""
    if not compiler.explain:
        return ""
    head = (
        f"'{{\n  \"event\": ' || {text('why_event')} || ',\n  \"values\": ' || why_values || "
        f"CASE WHEN why_occurrence = '' THEN '' ELSE ',\n  \"occurrence\": ' || {text('why_occurrence')} END"
    )
    capped = '\',\n  "capped": true,\n  "uncapped": "\' || why_uncut || \'"\''
    void = (
        '\',\n  "voided_by": {\n    "event": \' || '
        f"{text('vid')} || ',\n    \"type\": ' || why_void || "
        f"',\n    \"at\": ' || {instant('vat')} || ',\n    \"rule\": ' || why_rule || '\n  }}'"
    )
    voids = any(_voided(m, r) for m in compiler.compiled.milestones for r in range(len(m.rewards)))
    voided = f"CASE WHEN why_void IS NULL THEN '' ELSE {void} END || " if voids else ""
    return f", {head} || CASE WHEN granted < wanted THEN {capped} ELSE '' END || {voided}'\n}}' AS why"


# -- after the query -----------------------------------------------------------
def computed(checked: CheckedRuleset, milestone: CompiledMilestone, why: dict[str, Any]) -> dict[str, Any]:
    """An award's `why` (parsed from the query's text) with each value the
    query gave as its inputs (`_inputs`: an object, where every other value
    is a JSON string, boolean or null) replaced by the number the Python
    engine computes from them, written as the engine writes it."""
    values = why.get("values")
    if not isinstance(values, dict):
        return why
    metrics = checked.programs[milestone.program].metrics
    for name, write in zip(milestone.why_names, milestone.why_format, strict=False):
        sent = values.get(name)
        if isinstance(sent, dict):
            values[name] = write(messages.metric_value(checked, metrics[name], sent[INPUTS]))
    return why
