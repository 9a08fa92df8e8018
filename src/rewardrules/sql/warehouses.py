"""Rewrites of the compiled query (a sqlglot tree in DuckDB's dialect) for
one warehouse, where sqlglot would write a construct that engine lacks, or
one that means something else there (docs/sql.md, "Other dialects").

Every dialect but PostgreSQL: a CTE `AS MATERIALIZED` (a query of many
milestones computes `totals` once: `_Compiler.totals`) is written without
the word, which not all of them have.

PostgreSQL (`postgres`): no `IGNORE NULLS`, no `MAP`, no struct, no
`CONTAINS`, `SHA256` of bytes only, a `MAKE_TIMESTAMP` of date parts
(DuckDB's takes microseconds since the epoch, which sqlglot writes
through a floating-point `TO_TIMESTAMP` in the session's time zone),
`CHR(0)` is an error, and a
`GENERATE_SERIES` is already a set of rows (DuckDB's is a list to
`UNNEST`). Each is written with what Postgres has, exactly: the window's
non-null values in an array (`ARRAY_AGG ... FILTER`), a JSONB object,
`STRPOS`, `SHA256(CONVERT_TO(x, 'UTF8'))`, the epoch plus a number of
microseconds, the series alone; a NUL's escape in a JSON text
(`sql/explain.py`) is left out, as a Postgres text holds no NUL. No
struct and no `MIN` of a row either: the value a `max` or `min` keeps
(`exponents.held`) is the first row's in window order holding the least
value (`_least_in_order`).

BigQuery (`bigquery`): `a // b` as `DIV(a, b)`, exact on INT64 and
BIGNUMERIC (sqlglot's general rewrite divides with `/`, which is FLOAT64 on
INT64 operands: instants in nanoseconds are past 2^53); and a window's
`ORDER BY x` (DuckDB: NULLS LAST, which BigQuery refuses in a window) as
`ORDER BY x IS NULL, x`, the same order; a message's values (`MAP`,
which BigQuery lacks) as a JSON object (`JSON_OBJECT`), as Postgres's JSONB.

ClickHouse (`clickhouse`, run in the tests by chdb, ClickHouse embedded:
tests/test_sql_clickhouse.py): a statement ends with the settings that
make it read as SQL (`_standard_names_and_nulls`), and an `ORDER BY` of an
output column made from another names its expression
(`_order_by_output`); a column `a.x` alone, or from `a.*` beside two
joins, is named "a.x" there, so its stars are written as their columns,
each named (`dialect.expand_stars`); a `Map` cannot be NULL (no values is
an empty map); tuples and maps cannot be NULL either,
so the struct a `max`, `min` or `first` keeps (`exponents.held`,
`expressions.first_value`) is `argMinIf` over the window (`_least_where`);
`range` for `GENERATE_SERIES` (it leaves out its end), `%i` for minutes,
a boolean's `MAX` for `BOOL_OR`; its decimal
literals are 256-bit (`dialect._wide_literal`), and a product of two
values or a sum stops the query where ClickHouse's unchecked 128-bit
arithmetic wrapped around (`_checked`). Refused, with the reason:
a recursive query (ClickHouse cannot correlate one: the fold of several
caps, an `attribution` line that moves) and a `RANGE` frame past 2^31 - 1
(its offsets are 32-bit; instants are nanoseconds).

Redshift (`redshift`): no `MAP` either: a message's values are a `SUPER`
object (`OBJECT('key', value, ...)`). Snowflake (`snowflake`): sqlglot
writes a `MAP` as `OBJECT_CONSTRUCT`, a semi-structured object that leaves
out a key whose value is NULL, beside a structured `MAP` type for the NULL
of a reward without a message: both are an `OBJECT`, built by
`OBJECT_CONSTRUCT_KEEP_NULL` (a missing value kept, as DuckDB's `MAP`
keeps it).

Trino (`trino`, written only): a date plus a number of days (`caps.dated`)
is `date_add('day', n, d)` (Trino adds only an interval to a date).

Award ids elsewhere (written only, no engine run here): Trino hashes
bytes (`SHA256(TO_UTF8(x))`, and a text's bytes are `LENGTH(TO_UTF8(x))`);
BigQuery's `SHA256` and ClickHouse's give bytes, written as lowercase hex
(`TO_HEX(...)`, `LOWER(HEX(...))`); `CONTAINS` of a text is `STRPOS(...) >
0` in Trino, Redshift and BigQuery (Trino's `CONTAINS` is for arrays,
Redshift has none, BigQuery's `CONTAINS_SUBSTR` folds case).

Spark (`spark`): a recursive query (the fold of a reward under several
caps, `caps.folded`) is refused: Spark 4.0 parses `WITH RECURSIVE` and then
fails while planning it, even for three rows (recursive CTEs come with
Spark 4.1). The attribution fold is written without recursion for it
(`Query.without_recursion`), its `LIST_REDUCE` as Spark's `AGGREGATE`.
Spark's `ABS` and unary minus round a DECIMAL past 34 significant digits
(its Scala `BigDecimal` negation, with 34-digit precision), so a value the
ledger allows (30 digits) times a rate could lose its last digits there:
`-x` is written `(x * -1)` and `ABS(x)` `GREATEST(x, (x * -1))`, which
Spark computes exactly (`_exact_signs`); their type is up to two digits
wider than `-x`'s below 38 digits (a DECIMAL(38, s) stays one). Spark's
`SIGN` gives a DOUBLE, by which a quotient's numerator was multiplied:
it is written as a CASE of 1, -1 and 0.
"""

from __future__ import annotations

import re
from typing import Any

from sqlglot import exp
from sqlglot.errors import UnsupportedError

#: a message's values (DuckDB's `MAP`, the `msg` column) as an object in
#: an engine without maps, or whose map sqlglot does not write as one: the
#: function that builds it from keys and values in turn, and its type
_OBJECTS = {
    "postgres": ("JSONB_BUILD_OBJECT", "JSONB"),
    "bigquery": ("JSON_OBJECT", "JSON"),
    "redshift": ("OBJECT", "SUPER"),
    "snowflake": ("OBJECT_CONSTRUCT_KEEP_NULL", "OBJECT"),
}


def rewrite(tree: Any, dialect: str) -> Any:
    """`tree` with `dialect`'s rewrites applied."""
    if dialect != "postgres":  # `AS MATERIALIZED` (`_Compiler.totals`): DuckDB's and PostgreSQL's only
        for cte in tree.find_all(exp.CTE):
            cte.set("materialized", None)
    if dialect == "postgres":
        tree = tree.transform(_postgres_first, copy=False)  # before its window is seen alone
        tree = bottom_up(tree, _postgres)
    if dialect == "bigquery":
        tree = bottom_up(tree, _bigquery)
    if dialect == "clickhouse":
        moves = "a reward counted by several caps or an `attribution` line that moves"
        _no_recursion(tree, "ClickHouse", moves, "Other dialects")
        _short_ranges(tree)
        tree = _standard_names_and_nulls(bottom_up(tree, _clickhouse))
    if dialect in _OBJECTS:  # a message's values as an object
        build, kind = _OBJECTS[dialect]
        tree = bottom_up(tree, lambda node: _object(node, build, kind, dialect) if _is_map(node) else node)
    if dialect == "spark":
        _no_recursion(tree, "Spark 4.0", "a reward counted by several caps", "Caps")
        tree = bottom_up(tree, _aggregate)
        tree = bottom_up(tree, _exact_signs)
    if dialect in ("trino", "bigquery", "clickhouse"):
        tree = bottom_up(tree, lambda node: _hex_digest(node, dialect))
    if dialect in ("trino", "redshift", "bigquery"):
        tree = bottom_up(tree, _strpos)
    if dialect == "trino":
        tree = bottom_up(tree, _days_after)
    return tree


def bottom_up(tree: Any, change: Any) -> Any:
    """`change` applied to every node once, a node after all the nodes
    under it: a rewrite inside a node a rewrite replaces is kept (sqlglot's
    `transform` goes top down and does not look inside a replacement)."""
    for node in reversed(list(tree.walk(bfs=False))):
        new = change(node)
        if new is node:
            continue
        if node is tree:
            tree = new
        else:
            node.replace(new)
    return tree


def _hex_digest(node: Any, dialect: str) -> Any:
    """`SHA256` of a text's UTF-8 bytes as lowercase hex, as DuckDB's (see
    the module's docstring), and Trino's byte length of a text."""
    if dialect == "trino" and isinstance(node, exp.Anonymous) and str(node.this).upper() == "STRLEN":
        return exp.Length(this=exp.Anonymous(this="TO_UTF8", expressions=node.expressions))
    if not isinstance(node, exp.SHA2):
        return node
    if dialect == "trino":
        return exp.SHA2(this=exp.Anonymous(this="TO_UTF8", expressions=[node.this]), length=node.args.get("length"))
    if dialect == "bigquery":
        return exp.Anonymous(this="TO_HEX", expressions=[node.copy()])  # a copy: `node` keeps its place until replaced
    return exp.Lower(this=exp.Hex(this=node.copy()))


def _days_after(node: Any) -> Any:
    """`DATE d + n` (a calendar date n days after d: `caps.dated`) as
    Trino's `date_add('day', n, d)`: Trino adds only an interval to a
    date."""
    if not isinstance(node, exp.Add) or isinstance(node.expression, exp.Interval):
        return node
    if isinstance(node.this, exp.Cast) and node.this.to.is_type("date"):
        return exp.Anonymous(this="date_add", expressions=[exp.Literal.string("day"), node.expression, node.this])
    return node


def _strpos(node: Any) -> Any:
    """`CONTAINS(x, y)` (text) as `STRPOS(x, y) > 0`."""
    if not isinstance(node, exp.Contains):
        return node
    found = exp.Anonymous(this="STRPOS", expressions=[node.this, node.expression])
    return exp.Paren(this=exp.GT(this=found, expression=exp.Literal.number(0)))


def _no_recursion(tree: Any, engine: str, needs: str, section: str) -> None:
    """`UnsupportedError` when the statement has a recursive CTE (which
    `needs`, the constructs that make one in that engine's query; docs/sql.md's
    `section` says more)."""
    if any(with_.args.get("recursive") for with_ in tree.find_all(exp.With)):
        raise UnsupportedError(
            f"{engine} cannot run a recursive query, which {needs} needs "
            f"(docs/sql.md, {section}): score this file with --engine duckdb"
        )


#: the largest offset of a ClickHouse `RANGE` frame (a 32-bit integer)
_CLICKHOUSE_RANGE = 2**31 - 1


def _short_ranges(tree: Any) -> None:
    """`UnsupportedError` when a `RANGE` frame reaches further than
    ClickHouse's offsets can: the query orders by instants in nanoseconds,
    so a span of time (`count earlier referrals within 24 hours`,
    sql/history.py) is past 2^31 after 2.1 seconds."""
    for spec in tree.find_all(exp.WindowSpec):
        if str(spec.args.get("kind") or "").upper() != "RANGE":
            continue
        for side in ("start", "end"):
            offset = spec.args.get(side)
            if isinstance(offset, exp.Expression) and not (offset.is_int and offset.to_py() <= _CLICKHOUSE_RANGE):
                raise UnsupportedError(
                    "ClickHouse frames a window by at most 2^31 - 1 of its order, and instants are nanoseconds: "
                    "a count of earlier referrals within a span of time cannot be written (docs/sql.md, "
                    "Other dialects): score this file with --engine duckdb"
                )


def _aggregate(node: Any) -> Any:
    """DuckDB's `LIST_REDUCE(list, lambda, initial)` as Spark's
    `AGGREGATE(list, initial, lambda)` (the attribution fold without
    recursion, `attribution._unrolled`)."""
    if not isinstance(node, exp.Anonymous) or str(node.this).upper() != "LIST_REDUCE":
        return node
    items, merge, zero = node.expressions
    return exp.Anonymous(this="AGGREGATE", expressions=[items, zero, merge])


def _exact_signs(node: Any) -> Any:
    """Spark: `-x` as `(x * -1)`, `ABS(x)` as `GREATEST(x, (x * -1))` and
    `SIGN(x)` as an integer CASE (see the module's docstring); a negative
    constant (`-1`) is read by Spark as one number, exact, and stays."""
    if isinstance(node, exp.Neg) and not isinstance(node.this, exp.Literal):
        return _times_minus_one(node.this)
    if isinstance(node, exp.Abs):
        return exp.Greatest(this=node.this, expressions=[_times_minus_one(node.this.copy())])
    if isinstance(node, exp.Sign):  # Spark's is a DOUBLE
        value = node.this
        return exp.Paren(
            this=exp.Case(
                ifs=[
                    exp.If(this=exp.GT(this=value, expression=exp.Literal.number(0)), true=exp.Literal.number(1)),
                    exp.If(
                        this=exp.LT(this=value.copy(), expression=exp.Literal.number(0)), true=exp.Literal.number(-1)
                    ),
                ],
                default=exp.Literal.number(0),
            )
        )
    return node


def _times_minus_one(value: Any) -> Any:
    """`(x * -1)`: in parentheses, as sqlglot adds none by precedence
    (`a % -b` is `a % (b * -1)`, not `a % b * -1`)."""
    factor = value if isinstance(value, (exp.Column, exp.Paren)) else exp.Paren(this=value)
    return exp.Paren(this=exp.Mul(this=factor, expression=exp.Neg(this=exp.Literal.number(1))))


def _bigquery(node: Any) -> Any:
    """One node as BigQuery must have it (see the module's docstring)."""
    if isinstance(node, exp.IntDiv):
        return exp.Anonymous(this="DIV", expressions=[node.this, node.expression])
    if isinstance(node, exp.Window) and node.args.get("order") is not None:
        spec = node.args.get("spec")
        ranged = spec is not None and str(spec.args.get("kind") or "").upper() == "RANGE"
        keys = []
        for key in node.args["order"].expressions:
            if not key.args.get("desc") and not key.args.get("nulls_first"):  # ascending, NULLS LAST
                if not ranged:  # a RANGE frame has one key: the compiler's are instants, never NULL
                    last = exp.Is(this=key.this.copy(), expression=exp.Null())
                    keys.append(exp.Ordered(this=exp.Paren(this=last), nulls_first=True))
                key = key.copy()
                key.set("nulls_first", True)
            keys.append(key)
        node.args["order"].set("expressions", keys)
    return node


def _clickhouse(node: Any) -> Any:
    """One node as ClickHouse must have it (see the module's docstring)."""
    if isinstance(node, exp.Select):
        _order_by_output(node)
    if isinstance(node, exp.StructExtract) and _least_struct(node.this) is not None:
        return _least_of_struct(node)
    if isinstance(node, exp.StructExtract) and _first_struct(node.this) is not None:
        return _first_for_clickhouse(node)
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.DATE:
        # ClickHouse's `Date` holds 1970 to 2149 and wraps outside: `Date32` 1900 to 2299
        return exp.DataType.build("Date32", dialect="clickhouse")
    if isinstance(node, exp.LogicalOr):  # `BOOL_OR` (sql/sections.py): ClickHouse has a boolean's MAX
        return exp.Max(this=node.this)
    if isinstance(node, exp.TimeToStr) and isinstance(node.args.get("format"), exp.Literal):
        # ClickHouse's `formatDateTime` writes the month's name for `%M`: minutes are `%i`
        text = re.sub("%(.)", lambda m: "%i" if m.group(1) == "M" else m.group(0), node.args["format"].this)
        node.set("format", exp.Literal.string(text))
        return node
    if isinstance(node, exp.GenerateSeries) and not node.args.get("step") and not node.args.get("is_end_exclusive"):
        # `every N M`'s series (sql/every.py): ClickHouse's `range` leaves out its end
        end = exp.Add(this=exp.Paren(this=node.args["end"]), expression=exp.Literal.number(1))
        return exp.Anonymous(this="range", expressions=[node.args["start"], end])
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Null) and _is_map(node.to):
        # a ClickHouse `Map` cannot be NULL: no values is an empty map
        return exp.Cast(this=exp.Anonymous(this="map"), to=node.to)
    return _checked(node)


#: what a product or a sum stops with where ClickHouse's 128-bit
#: arithmetic wraps around (`_checked`)
OVERFLOW = "rewardrules: a number past 128 bits (an overflow)"


def _checked(node: Any) -> Any:
    """A product of two values that are not constants, or a sum, that
    stops the query where ClickHouse's answer wrapped around: ClickHouse
    checks neither a `Decimal128` product nor a sum for overflow (its
    issues 30341 and 69304), and gives a wrong number. A product of a
    128-bit value by a constant cannot wrap: constants are `Decimal(76, s)`
    (`wide_constant`), so it is computed in 256 bits and cast back with a
    range check (that product times a second constant of many digits is
    not checked: docs/sql.md, "Known, not fixed").

    A sum is checked against the same sum in 256 bits (`x` times a
    `Decimal(76, 0)` one), exact for the 128-bit values the query sums; a
    product against the product of the two values as floating-point
    numbers, which it is within a part in 10^15 when it did not wrap, and
    differs from by at least half of it when it did (a wrap takes away a
    multiple of 2^128 from a product at least 2^127 units). The product is
    a lambda's, over its two values (`arrayMap`), which are written once:
    a product of products would otherwise grow four times a level."""
    if isinstance(node, exp.Window) and isinstance(node.this, exp.Sum):
        wide = node.copy()
        wide.this.set("this", _wide(node.this.this))
        return _stop_if(node, exp.NEQ(this=node.copy(), expression=wide))
    if isinstance(node, exp.Sum) and not isinstance(node.parent, exp.Window):
        return _stop_if(node, exp.NEQ(this=node.copy(), expression=exp.Sum(this=_wide(node.this))))
    if isinstance(node, exp.Mul) and not (_constant(node.this) or _constant(node.expression)):
        x, y = exp.to_identifier("rr_x"), exp.to_identifier("rr_y")
        a, b = (exp.Anonymous(this="toFloat64", expressions=[side.copy()]) for side in (x, y))
        estimate = exp.Paren(this=exp.Mul(this=a, expression=b))
        product = exp.Mul(this=x.copy(), expression=y.copy())
        error = exp.Abs(
            this=exp.Sub(this=exp.Anonymous(this="toFloat64", expressions=[product.copy()]), expression=estimate)
        )
        bound = exp.Mul(this=exp.Literal.number("1e-9"), expression=exp.Abs(this=estimate.copy()))
        lam = exp.Lambda(this=_stop_if(product, exp.GT(this=error, expression=bound)), expressions=[x, y])
        sides = [exp.Array(expressions=[side.copy()]) for side in (node.this, node.expression)]
        each = exp.Anonymous(this="arrayMap", expressions=[lam, *sides])
        return exp.Anonymous(this="arrayElement", expressions=[each, exp.Literal.number(1)])
    return node


def wide_constant(node: Any) -> bool:
    """Whether a value is a constant the ClickHouse query holds in 256 bits:
    a cast to a DECIMAL of a literal, or of such a cast (a rate table's
    `CAST(CAST('10' AS DECIMAL(38, 0)) AS DECIMAL(38, 1))`), which
    `dialect._wide_literal` writes as a `Decimal(76, s)`."""
    while isinstance(node, exp.Paren):
        node = node.this
    if not (isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.DECIMAL):
        return False
    return len(node.to.expressions) == 2 and (isinstance(node.this, exp.Literal) or wide_constant(node.this))


def _constant(node: Any) -> bool:
    """Whether a product by a value cannot wrap: a 256-bit constant
    (`wide_constant`), 0 or 1 (a count's `CASE ... THEN 1 ELSE 0`), NULL,
    or a `CASE` choosing among them (a rate table's rate)."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Case):
        values = [branch.args["true"] for branch in node.args.get("ifs", [])] + [node.args.get("default")]
        return all(value is None or _constant(value) for value in values)
    if isinstance(node, exp.Literal) and not node.is_string:
        return node.this in ("0", "1")
    return isinstance(node, exp.Null) or wide_constant(node)


def _wide(value: Any) -> Any:
    """`value` in 256 bits, its scale kept: times a `Decimal(76, 0)` one."""
    one = exp.Cast(this=exp.Literal.number(1), to=exp.DataType.build("DECIMAL(76, 0)"))
    return exp.Mul(this=exp.Paren(this=value.copy()), expression=one)


def _stop_if(node: Any, wrapped: Any) -> Any:
    """`node` plus `throwIf(wrapped)` (0 when it holds; NULL is not a wrap)."""
    test = exp.Coalesce(this=wrapped, expressions=[exp.false()])
    stop = exp.Anonymous(this="throwIf", expressions=[test, exp.Literal.string(OVERFLOW)])
    return exp.Paren(this=exp.Add(this=exp.Paren(this=node.copy()), expression=stop))


def _order_by_output(select: Any) -> None:
    """A SELECT's `ORDER BY x`, where `x` is an output column made from
    another (`vat AS "at"`), as that column's expression: SQL orders by the
    output column, and `prefer_column_name_to_alias` (below) would have
    ClickHouse order by the input column of that name."""
    order = select.args.get("order")
    if order is None:
        return
    made = {item.alias: item.this for item in select.expressions if isinstance(item, exp.Alias)}
    for key in order.expressions:
        column = key.this
        if isinstance(column, exp.Column) and not column.table and column.name in made:
            source = made[column.name]
            if not (isinstance(source, exp.Column) and source.name == column.name):
                column.replace(source.copy())


def _standard_names_and_nulls(tree: Any) -> Any:
    """The statement with the settings that make ClickHouse read it as SQL
    does: an outer join's missing row is NULL (`join_use_nulls`; by
    default a ClickHouse join gives the type's default, 0 or ''), and a
    name that is a column of the FROM is that column, not an alias made in
    the same SELECT (`prefer_column_name_to_alias`: `... AS id, id AS
    reverses` reads the event's id), and a date's `dateTrunc` is a `Date32`
    as the date is (`enable_extended_results_for_datetime_functions`; a
    `Date` wraps outside 1970 to 2149); and a sum of `x * c` is not made
    `sum(x) * c` (`optimize_arithmetic_operations_in_aggregate_functions`:
    the 256-bit sum `_checked` compares with would be the 128-bit one).
    Settings at the end of the outermost SELECT hold for the whole
    statement, its CTEs included."""
    assert isinstance(tree, exp.Select), "each statement of the query is a SELECT (its settings follow it)"
    names = ("join_use_nulls", "prefer_column_name_to_alias", "enable_extended_results_for_datetime_functions")
    settings = [(name, 1) for name in names] + [("optimize_arithmetic_operations_in_aggregate_functions", 0)]
    tree.set("settings", [exp.EQ(this=exp.column(name), expression=exp.Literal.number(v)) for name, v in settings])
    return tree


def _is_map(node: Any) -> bool:
    """Whether a node is a `MAP` (a message's values) or the `MAP` type."""
    return isinstance(node, exp.Map) or (isinstance(node, exp.DataType) and node.this == exp.DataType.Type.MAP)


def _object(node: Any, build: str, kind: str, dialect: str) -> Any:
    """A `MAP` (`_is_map`) as an object built by `build` from its keys and
    values in turn, and the `MAP` type as `kind` (`_OBJECTS`)."""
    if isinstance(node, exp.Map):
        pairs = zip(node.args["keys"].expressions, node.args["values"].expressions, strict=True)
        return exp.Anonymous(this=build, expressions=[part for pair in pairs for part in pair])
    return exp.DataType.build(kind, dialect=dialect)


def _postgres_first(node: Any) -> Any:
    """A `first` metric's struct as Postgres must have it (`_first_of_struct`)."""
    if isinstance(node, exp.StructExtract) and _first_struct(node.this) is not None:
        return _first_of_struct(node)
    if isinstance(node, exp.StructExtract) and _least_struct(node.this) is not None:
        return _least_in_order(node)
    return node


def _least_in_order(node: Any) -> Any:
    """`STRUCT_EXTRACT(<the MIN of _least_struct>, 'k')` without a struct
    (Postgres has no `MIN` of a row): where the struct is `(v, "at", id,
    ...)` and the window is ordered by `"at", id` (`exponents.held`), the
    least struct is the first row in the window's order whose `v` is the
    least `v`, so field `k` is the `k` of the frame's rows that meet `t`
    at `ARRAY_POSITION` (the first equal, by value: `1.0` is `1.00`, as
    DuckDB compares a struct's decimals) of that least `v` among their
    `v`s; NULL where no row met `t`."""
    window = node.this
    found = _least_struct(window)
    assert found is not None
    test, struct = found
    fields = {field.this.name: field.expression for field in struct.expressions}
    order = window.args["order"].expressions
    keys = [key.this for key in order if not key.args.get("desc")]
    names = [field.this.name for field in struct.expressions]
    if names[:3] != ["v", "a", "i"] or len(order) != 2 or keys != [fields["a"], fields["i"]]:
        raise UnsupportedError("PostgreSQL has no MIN of a row, and this one is not the least value in window order")
    value = fields["v"]
    least = window.copy()
    least.set("this", exp.Min(this=exp.Case(ifs=[exp.If(this=test.copy(), true=value.copy())])))
    values = _gathered(window, value.copy(), test.copy())
    position = exp.Anonymous(this="ARRAY_POSITION", expressions=[values, least])
    wanted = _gathered(window, fields[node.expression.name].copy(), test.copy())
    return exp.Bracket(this=wanted, expressions=[position], offset=1)


def _postgres(node: Any) -> Any:
    """One node as Postgres must have it (see the module's docstring)."""
    if isinstance(node, exp.Window) and isinstance(node.this, exp.IgnoreNulls):
        return _ignoring_nulls(node)
    if isinstance(node, exp.Contains):
        return _strpos(node)
    if isinstance(node, exp.Explode) and isinstance(node.this, exp.GenerateSeries):
        # DuckDB's GENERATE_SERIES is a list to unnest; Postgres's is already
        # the set of rows (`UNNEST(bigint)` does not exist there)
        return node.this
    if _null_text(node):
        # a recursive CTE's column must have one collation in both terms:
        # the ledger's texts are "C" (docs/sql.md), so a NULL text is too
        return exp.Collate(this=node.copy(), expression=exp.Identifier(this="C", quoted=True))
    if isinstance(node, exp.SHA2):
        utf8 = exp.Anonymous(this="CONVERT_TO", expressions=[node.this, exp.Literal.string("UTF8")])
        return exp.SHA2(this=utf8, length=node.args.get("length"))
    if isinstance(node, exp.Replace) and isinstance(node.expression, exp.Chr) and _is_zero(node.expression):
        return node.this  # a NUL escaped (sql/explain.py): a Postgres text holds none, and `CHR(0)` is an error
    if isinstance(node, exp.UnixToTime) and str(node.args.get("scale")) == "6":  # MAKE_TIMESTAMP(micros), exact
        epoch = exp.Cast(this=exp.Literal.string("1970-01-01 00:00:00"), to=exp.DataType.build("TIMESTAMP"))
        step = exp.Interval(this=exp.Literal.string("1"), unit=exp.var("MICROSECOND"))
        return exp.Paren(this=exp.Add(this=epoch, expression=exp.Mul(this=node.this, expression=step)))
    return node


def _is_zero(node: Any) -> bool:
    """Whether a `CHR(...)` is `CHR(0)`."""
    codes = node.expressions
    return len(codes) == 1 and codes[0].is_int and int(codes[0].name) == 0


def _null_text(node: Any) -> bool:
    """Whether the node is `CAST(NULL AS TEXT)`."""
    return (
        isinstance(node, exp.Cast)
        and isinstance(node.this, exp.Null)
        and node.to.this in (exp.DataType.Type.TEXT, exp.DataType.Type.VARCHAR)
        and not isinstance(node.parent, exp.Collate)
    )


def _gathered(window: Any, value: Any, where: Any) -> Any:
    """`(ARRAY_AGG(value) FILTER (WHERE where) OVER <window's>)`: the values
    of the frame's rows that meet `where`, in the window's order."""
    aggregate = exp.Filter(this=exp.ArrayAgg(this=value), expression=exp.Where(this=where))
    over = window.copy()
    over.set("this", aggregate)
    return exp.Paren(this=over)


def _ignoring_nulls(window: Any) -> Any:
    """`LAST_VALUE(x IGNORE NULLS) OVER w` and `FIRST_VALUE(...)`, whatever
    the frame: the non-null values of the frame gathered in order, then the
    last (at `COUNT(x) OVER w`, the same frame) or the first.
    An array per row: the cost grows with the square of a partition's rows
    (one referral's events), where DuckDB's is linear."""
    inner = window.this.this
    if not isinstance(inner, exp.FirstValue | exp.LastValue):
        raise UnsupportedError("PostgreSQL has no IGNORE NULLS, and this window is not one rewritten without it")
    value = inner.this
    gathered = _gathered(window, value.copy(), exp.Not(this=exp.Is(this=value.copy(), expression=exp.Null())))
    if isinstance(inner, exp.FirstValue):
        return exp.Bracket(this=gathered, expressions=[exp.Literal.number(1)], offset=1)
    count = window.copy()
    count.set("this", exp.Count(this=value.copy()))
    return exp.Bracket(this=gathered, expressions=[count], offset=1)


def _first_struct(window: Any) -> tuple[Any, Any] | None:
    """For `FIRST_VALUE(CASE WHEN t THEN STRUCT_PACK(v := x) END IGNORE
    NULLS) OVER w` (`expressions.first_value`), `(t, x)`; else None."""
    if not (isinstance(window, exp.Window) and isinstance(window.this, exp.IgnoreNulls)):
        return None
    first = window.this.this
    found = _case_struct(first.this) if isinstance(first, exp.FirstValue) else None
    if found is None or len(found[1].expressions) != 1:
        return None
    return found[0], found[1].expressions[0].expression


def _case_struct(case: Any) -> tuple[Any, Any] | None:
    """For `CASE WHEN t THEN STRUCT_PACK(k := x, ...) END` (one branch, no
    `ELSE`), `(t, the struct)`; else None."""
    if not isinstance(case, exp.Case) or len(case.args.get("ifs") or []) != 1 or case.args.get("default"):
        return None
    branch = case.args["ifs"][0]
    struct = branch.args.get("true")
    if not isinstance(struct, exp.Struct) or not all(isinstance(f, exp.PropertyEQ) for f in struct.expressions):
        return None
    return branch.this, struct


def _first_of_struct(node: Any) -> Any:
    """`STRUCT_EXTRACT(<the first_value above>, 'v')`: the value at the
    first row where `t` holds, NULL or not (`(ARRAY_AGG(x) FILTER (WHERE
    t) OVER w)[1]`; an array keeps NULLs)."""
    window = node.this
    found = _first_struct(window)
    assert found is not None
    test, value = found
    return exp.Bracket(this=_gathered(window, value.copy(), test.copy()), expressions=[exp.Literal.number(1)], offset=1)


def _least_struct(window: Any) -> tuple[Any, Any] | None:
    """For `MIN(CASE WHEN t THEN STRUCT_PACK(v := x, a := ...) END) OVER w`
    (the row a `max` or `min` keeps, `exponents.held`), `(t, struct)`;
    else None."""
    if not (isinstance(window, exp.Window) and isinstance(window.this, exp.Min)):
        return None
    return _case_struct(window.this.this)


def _least_of_struct(node: Any) -> Any:
    """`STRUCT_EXTRACT(<the MIN above>, 'k')` without a struct, which
    ClickHouse cannot make NULL: field `k` of the least struct where `t`
    holds, the struct's fields compared in turn as DuckDB compares them."""
    test, struct = _least_struct(node.this) or (None, None)
    assert struct is not None
    fields = {field.this.name: field.expression for field in struct.expressions}
    key = exp.Anonymous(this="tuple", expressions=[value.copy() for value in fields.values()])
    return _least_where(node.this, fields[node.expression.name], key, test)


def _first_for_clickhouse(node: Any) -> Any:
    """`STRUCT_EXTRACT(<the FIRST_VALUE of _first_struct>, 'v')`: the value
    at the first row of the window where `t` holds, NULL or not."""
    window = node.this
    test, value = _first_struct(window) or (None, None)
    order = window.args["order"].expressions
    assert value is not None and not any(key.args.get("desc") for key in order)
    return _least_where(window, value, exp.Anonymous(this="tuple", expressions=[k.this.copy() for k in order]), test)


def _least_where(window: Any, value: Any, key: Any, test: Any) -> Any:
    """`value` at the row of `window` with the least `key` where `test`
    holds, NULL where it never held: `argMinIf` over a one-value tuple
    (`argMinIf` skips a NULL value; a tuple is never NULL), and `countIf`
    first (with no row `argMinIf` gives the type's default)."""
    least = window.copy()
    one = exp.Anonymous(this="tuple", expressions=[value.copy()])
    least.set("this", exp.Anonymous(this="argMinIf", expressions=[one, key, test.copy()]))
    held = window.copy()
    held.set("this", exp.Anonymous(this="countIf", expressions=[test.copy()]))
    found = exp.Anonymous(this="tupleElement", expressions=[least, exp.Literal.number(1)])
    return exp.If(this=exp.GT(this=held, expression=exp.Literal.number(0)), true=found, false=exp.Null())
