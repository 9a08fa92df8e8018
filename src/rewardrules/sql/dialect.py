"""The compiled query (DuckDB's dialect) written in another engine's, by sqlglot.

`to_dialect` refuses (`sqlglot.errors.SqlglotError`) when sqlglot says the
dialect cannot express a construct: never a query that means something else.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlglot
from sqlglot import exp, transforms
from sqlglot.errors import ErrorLevel, UnsupportedError
from sqlglot.optimizer.qualify import qualify

from .warehouses import bottom_up, rewrite, wide_constant

#: the dialects whose `SELECT *` takes DuckDB's `EXCLUDE`/`EXCEPT` (and,
#: through `_star_replace`, `REPLACE`): their stars are written as they
#: are. Every other dialect (Postgres, Trino, Redshift, one sqlglot adds)
#: gets explicit column lists (`expand_stars`); so does ClickHouse, which
#: has `EXCEPT` but names a column of `m.*` beside two joins "m.rid".
STAR_MODIFIERS = frozenset({"snowflake", "bigquery", "spark", "databricks"})

#: the ledger's own columns, before the field columns (`compile.Column.name`)
HEAD = ("at", "id", "type", "referee", "referrer")


def to_dialect(sql: str, dialect: str, ledger: Sequence[str] = ()) -> str:
    """`sql`, a statement in DuckDB's dialect, in `dialect`'s. `ledger`:
    the `ledger` table's field columns (`Query.columns`' names), needed to
    expand the stars of a dialect outside `STAR_MODIFIERS`."""
    if dialect == "duckdb":
        return sql
    with _deep():
        tree = sqlglot.parse_one(sql, read="duckdb")
        if dialect not in STAR_MODIFIERS:
            tree = expand_stars(tree, ledger)
        return written(tree, dialect)


#: the Python frames sqlglot may use to read and write a query: an award's
#: explanation escapes its texts with some thirty nested `REPLACE`s
#: (sql/explain.py), about 800 frames of sqlglot's recursive parser, near
#: Python's default limit of 1,000 (pure Python frames: no C stack is used)
_FRAMES = 20_000


@contextmanager
def _deep() -> Iterator[None]:
    """Python's recursion limit raised to `_FRAMES` while sqlglot works."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, _FRAMES))
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


def written(tree: Any, dialect: str) -> str:
    """A parsed statement (its stars expanded where `dialect` needs it) in
    `dialect`: the rewrites, then sqlglot's writer, which refuses what it
    cannot express. `tree` is changed."""
    tree = rewrite(tree, dialect)
    if dialect in TOP_LEVEL_CTES:
        tree = _hoisted(tree)
    steps = [_byte_length, _star_replace, _hugeint, _tight_literal]
    if dialect == "clickhouse":  # its literals are 256-bit (`_wide_literal`)
        steps = [step if step is not _tight_literal else _wide_literal for step in steps]
    for step in steps:
        tree = tree.transform(step, copy=False)  # the tree is this call's: no copy per step
    # bottom up: a `//` in another's dividend (money written from a rounded
    # quotient) is rewritten too, where `transform` skips what it replaced
    tree = bottom_up(tree, lambda node: _exact_integers(node, dialect))
    # the tree is this call's: sqlglot's writer need not copy it first
    text: str = tree.sql(dialect=dialect, copy=False, unsupported_level=ErrorLevel.RAISE)
    return text


#: the dialects whose sqlglot writer moves a CTE defined in another CTE's
#: body up to the statement's own WITH (Spark, Databricks), or which take
#: no WITH there (Redshift: "You can't specify another WITH clause inside
#: a WITH clause subquery")
TOP_LEVEL_CTES = frozenset({"spark", "databricks", "redshift"})


def _hoisted(tree: Any) -> Any:
    """The statement with every CTE in its own WITH, each name once. A
    milestone's CTEs travel with the rows that read them
    (`compile.scoped`), and a statement may hold those rows twice (the
    explained sections read the issued awards and the withheld rewards):
    sqlglot's writer for Spark would move both copies up, and Spark
    refuses a WITH that defines a name twice (DUPLICATED_CTE_NAMES).
    So they are moved here (sqlglot's own `move_ctes_to_top_level`) and the
    second of two identical definitions dropped; two different definitions
    of one name are an error, never one silently read for the other."""
    tree = transforms.move_ctes_to_top_level(tree)
    with_ = tree.args.get("with_")
    if with_ is None:
        return tree
    defined: dict[str, Any] = {}
    kept = []
    for cte in with_.expressions:
        first = defined.setdefault(cte.alias, cte)
        if first is cte:
            kept.append(cte)
        elif first.this.sql("duckdb") != cte.this.sql("duckdb"):  # written only for a name met twice
            raise UnsupportedError(f"two CTEs named `{cte.alias}` that differ")
    with_.set("expressions", kept)
    return tree


def expand_stars(tree: Any, ledger: Sequence[str]) -> Any:
    """The statement with every `SELECT *` (with `EXCLUDE`/`REPLACE`, on a
    table, a CTE or a subquery) written as the columns it stands for, by
    sqlglot's optimizer (`qualify`), which follows each CTE and subquery to
    the `ledger` and `as_of` tables. Every column is qualified on the way
    (`t.c AS c`): the same query. sqlglot reads a column name with a dot
    (`"payment.amount"`) as a path, so such names are renamed for the
    expansion and back; and a name keeps the quoting the compiler gave it
    (a quoted `"at"` and an unquoted `at` are different columns in an engine
    that folds names to upper case, such as Snowflake); a name only a star
    stood for is quoted when it must be. A star it cannot
    expand is an error (`UnsupportedError`), never left in the query."""
    identifiers = list(tree.find_all(exp.Identifier))
    quoted = {i.name for i in identifiers if i.quoted}
    taken = {i.name for i in identifiers} | set(ledger) | set(HEAD)
    aliases: dict[str, str] = {}
    for name in sorted(taken):
        if not _PLAIN.fullmatch(name):
            aliases[name] = _free(f"rr_column_{len(aliases)}", taken)
    for identifier in identifiers:
        identifier.set("this", aliases.get(identifier.name, identifier.name))
    columns = {aliases.get(name, name): "VARCHAR" for name in (*HEAD, *ledger)}
    schema: dict[str, object] = {"ledger": columns, "as_of": {"at": "BIGINT"}}
    tree = qualify(tree, schema=schema, dialect="duckdb", validate_qualify_columns=False, quote_identifiers=False)
    names = {alias: name for name, alias in aliases.items()}
    for identifier in tree.find_all(exp.Identifier):
        name = names.get(identifier.name, identifier.name)
        identifier.set("this", name)
        identifier.set("quoted", name in quoted or not _PLAIN.fullmatch(name))
    for select in tree.find_all(exp.Select):
        if any(isinstance(e, exp.Star) or (isinstance(e, exp.Column) and e.is_star) for e in select.expressions):
            raise UnsupportedError(
                f"a `SELECT *` that could not be written as its columns: {select.sql('duckdb')[:80]}"
            )
    return tree


#: a name sqlglot reads as one column, unchanged by normalization
_PLAIN = re.compile(r"[a-z_][a-z0-9_]*")


def _free(name: str, taken: set[str]) -> str:
    """`name`, or `name` with a suffix, not in `taken` (then taken)."""
    found, n = name, 0
    while found in taken:
        n += 1
        found = f"{name}_{n}"
    taken.add(found)
    return found


def _byte_length(node: Any) -> Any:
    """DuckDB's `STRLEN` (a text's UTF-8 length, as award ids need) is
    `OCTET_LENGTH` elsewhere: sqlglot does not know it and would keep the name."""
    if isinstance(node, exp.Anonymous) and str(node.this).upper() == "STRLEN":
        return exp.Anonymous(this="OCTET_LENGTH", expressions=node.expressions)
    return node


def _star_replace(node: Any) -> Any:
    """DuckDB's `SELECT * REPLACE (e AS c)` as `SELECT * EXCEPT (c), e AS c`,
    which Spark and the other engines with `* EXCEPT` read (Spark has no
    `REPLACE`, and sqlglot writes it through unchanged). The column moves
    to the end of the row: the rows are read by column name."""
    if not isinstance(node, exp.Select):
        return node
    stars = [e for e in node.expressions if isinstance(e, exp.Star) and e.args.get("replace")]
    for star in stars:
        replaced = star.args["replace"]
        names = [exp.column(alias.alias) for alias in replaced]
        key = "except_" if "except_" in exp.Star.arg_types else "except"  # sqlglot renamed it
        kept = exp.Star(**{key: [*(star.args.get(key) or []), *names]})
        position = node.expressions.index(star)
        node.set("expressions", [*node.expressions[:position], kept, *replaced, *node.expressions[position + 1 :]])
    return node


def _hugeint(node: Any) -> Any:
    """DuckDB's 128-bit integer (the minor units of a rounded amount) as
    DECIMAL(38, 0) where the engine has no such integer (Spark: sqlglot
    writes `INT128`, which Spark does not know)."""
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.INT128:
        return exp.DataType.build("DECIMAL(38, 0)")
    return node


def _wide_literal(node: Any) -> Any:
    """`CAST('100' AS DECIMAL(38, 0))`, the compiler's exact literal, as a
    `DECIMAL(76, 0)` for ClickHouse: ClickHouse keeps a product's or a
    comparison's digits in the wider operand's width (`7 = 2.50 *
    0.0000001` overflows nine digits there), and does not check a 128-bit
    product for overflow (it wraps around). With a 256-bit constant, a
    product by it is computed in 256 bits, exactly, and the query's casts
    back to DECIMAL(38, s) check the range (`warehouses._checked` checks a
    product of two values). A cast of such a cast (a rate table's row) is
    one too (`warehouses.wide_constant`). A bare decimal number (the `0.5`
    of half-even rounding, `compile.half_even_units`) is a DECIMAL in
    DuckDB and a `Float64` in ClickHouse, which compared `0.50000000000000000001`
    as equal to it: it is written as an exact constant as well."""
    if isinstance(node, exp.Literal) and not node.is_string and _DECIMAL_NUMBER.fullmatch(node.this):
        scale = len(node.this.partition(".")[2])
        return exp.Cast(this=exp.Literal.string(node.this), to=exp.DataType.build(f"DECIMAL(76, {scale})"))
    if not wide_constant(node):
        return node
    return exp.Cast(this=node.this, to=exp.DataType.build(f"DECIMAL(76, {node.to.expressions[1].name})"))


#: a number written with a decimal point and no exponent (`0.5`)
_DECIMAL_NUMBER = re.compile(r"[0-9]+\.[0-9]+")


def _tight_literal(node: Any) -> Any:
    """`CAST('0' AS DECIMAL(38, 0))`, the compiler's exact literal, with the
    precision it needs (`DECIMAL(1, 0)`). Spark types a comparison, a `CASE`
    or a `LEAST` of DECIMAL(38, 2) and DECIMAL(38, 0) as DECIMAL(38, 0) and
    rounds (`0.10 > 0` is false there); with the literal's own precision the
    common type keeps every decimal. Exact in any engine."""
    if not (isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.this.is_string):
        return node
    kind = node.to
    if kind.this != exp.DataType.Type.DECIMAL or len(kind.expressions) != 2:
        return node
    try:
        value = Decimal(node.this.this)
        scale = int(kind.expressions[1].name)
    except (InvalidOperation, ValueError):
        return node
    if not value.is_finite():
        return node
    whole = max(value.adjusted() + 1, 1)
    precision = min(38, whole + scale)
    return exp.Cast(this=node.this, to=exp.DataType.build(f"DECIMAL({precision}, {scale})"))


#: the dividend of `(a - a % b) / b` in the dialects where `/` of two
#: integers is a floating-point number (`_exact_integers`): plus a DECIMAL
#: 0, which makes an integer a DECIMAL of its digits and leaves a DECIMAL's
#: value and scale as they are. ClickHouse's is 256-bit, as its literals
#: are (`_wide_literal`): the division is then computed in 256 bits.
_DECIMAL_ZERO = {"spark": "DECIMAL(1, 0)", "databricks": "DECIMAL(1, 0)", "clickhouse": "DECIMAL(76, 0)"}


def _exact_integers(node: Any, dialect: str) -> Any:
    """`TRUNC(x)` and `a // b` on exact decimals, without a 64-bit integer:
    sqlglot writes them for Spark as a cast to BIGINT and `DIV` (a BIGINT),
    which overflow past 9.2 x 10^18 minor units. Here they are `x - x % 1`
    and `(a - a % b) / b`, cast to DECIMAL(38, 0): exact (the remainder of
    a decimal is exact, its sign the dividend's, so this truncates toward
    zero as `TRUNC` does), or an overflow error, never a wrong number. On
    Spark and ClickHouse `/` of two integers is a DOUBLE (an instant's
    microseconds past 2^53, after 2255, were rounded to even): there the
    dividend is made a DECIMAL first (`_DECIMAL_ZERO`)."""
    if not isinstance(node, exp.Trunc | exp.IntDiv):
        return node
    whole = exp.DataType.build("DECIMAL(38, 0)")  # parsed: built only where it goes
    if isinstance(node, exp.Trunc) and not node.args.get("decimals"):
        x = node.this
        return exp.Cast(
            this=exp.Paren(
                this=exp.Sub(this=x.copy(), expression=exp.Mod(this=x.copy(), expression=exp.Literal.number(1)))
            ),
            to=whole,
        )
    if isinstance(node, exp.IntDiv):
        a, b = node.this, node.expression
        rest = exp.Paren(this=exp.Sub(this=a.copy(), expression=exp.Mod(this=a.copy(), expression=b.copy())))
        zero = _DECIMAL_ZERO.get(dialect)
        if zero is not None:
            decimal = exp.Cast(this=exp.Literal.number(0), to=exp.DataType.build(zero))
            rest = exp.Paren(this=exp.Add(this=rest, expression=decimal))
        # `typed`: the quotient of the operands' own types (exact, as
        # `rest` is a multiple of b), where an untyped division is DuckDB's
        # `/` and sqlglot goes through a float for it (Postgres: `CAST(..
        # AS DOUBLE PRECISION) / b`, wrong past 2^53)
        return exp.Cast(this=exp.Div(this=rest, expression=b.copy(), typed=True), to=whole)
    return node
