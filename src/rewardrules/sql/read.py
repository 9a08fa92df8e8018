"""DuckDB reads a JSON Lines ledger itself: the fast path of `score
--engine duckdb`, where the Python reader is the slow part (docs/sql.md).

Each line is read as raw text (DuckDB's CSV reader with no delimiter,
quote or escape: one VARCHAR per line, invalid UTF-8 an error) and taken
only when it has a **strict form** that the Python reader (`ledger/`)
accepts with the same values:

- a flat JSON object on one line of printable ASCII, whose strings have no
  escapes, whose numbers have no exponent, with no key twice;
- `id`, `type` non-empty strings; `at` as `YYYY-MM-DDTHH:MM:SS[.f]` with
  `Z` or `+HH:MM` (a valid date and time, years 1678 to 2261, which
  nanoseconds since the epoch hold in a BIGINT); `referrer` and `referee`
  absent, null or non-empty strings;
- for the event types the program uses: the `referee` (and a referral's
  `referrer`), and each declared field as its kind wants it: a number as a
  JSON number or a decimal string of at most 30 digits without leading
  zeros, a text as a string, a boolean as `true` or `false`; and the
  `currency` absent or the one its money fields are declared in, as written;
- an id on several lines only with the same line each time.

This is a subset of what the Python reader accepts, so whenever a line is
outside it (or DuckDB cannot read the file: a carriage return, a line past
its limit), `NotDirect` is raised and the caller reads the ledger with the
Python reader instead, which refuses a bad line with its own line, field
and message, and scores anything else it accepts: the fast path changes
speed, never an outcome. Numbers stay text until they are cast to
DECIMAL(38, s) exactly; no value goes through DOUBLE.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..check.program import CheckedRuleset
from ..core import limits
from ..core.datatypes import BOOLEAN, NUMBER, QUANTITY, TEXT
from . import exponents, signs
from .compile import MAX_DIGITS, Column, ident, literal
from .expressions import FOLDED_HEAD


class NotDirect(Exception):
    """The ledger is not one DuckDB reads in the strict form: the Python
    reader decides it (and reports its problems)."""


#: a JSON string of printable ASCII without escapes, a number without
#: exponent, a literal: the only values of a strict line
_STRING = r'"[ !#-\[\]-~]*"'
_VALUE = rf"(?:{_STRING}|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?|true|false|null)"
_PAIR = rf"{_STRING} *: *{_VALUE} *"
_LINE = rf" *\{{ *(?:{_PAIR}(?:, *{_PAIR})*)?\}} *"

#: a field name the token pattern can name as it is
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_]+")

#: `at` in the strict form (between its quotes)
_INSTANT = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:[0-9]{2})"

#: a number's text in the strict form (no leading zeros, no exponent)
_NUMBER = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?"

#: a line that is not blank (NULL, empty or spaces only: the Python reader
#: skips those), tested without a regular expression on most lines
_NOT_BLANK = "line <> '' AND (NOT starts_with(line, ' ') OR ltrim(line, ' ') <> '')"

#: the kinds of declared fields the strict form reads
_KINDS = (NUMBER, QUANTITY, TEXT, BOOLEAN)


def _token(name: str, index: int, numeric: bool) -> str:
    """A key's value in a strict line as its JSON text (`"450.00"`,
    `450.00`, `true`, `null`), or '' when the key is absent: from `j`,
    the line's values parsed once, where a string is written back as it was
    (printable ASCII without escapes) but a JSON number may not be (DuckDB
    parses it as a DOUBLE): a number is taken from the line's text. In a
    strict line a string holds no `"`, so `"NAME" :` is always the key.
    Reads the column `"r:NAME"` (`_raw`) of the layer below: each value is
    turned into text once."""
    found = ident("r:" + name)
    if not numeric:
        return found
    pattern = rf'"{name}" *: *([^,}} ]+)'
    return (
        f"CASE WHEN {found} LIKE '\"%' OR {found} IN ('', 'null', 'true', 'false') THEN {found} "
        f"ELSE regexp_extract(line, {literal(pattern)}, 1) END"
    )


def _distinct(counted: int) -> str:
    """No key twice in a line (`keys`, from `json_keys`): when the line has
    as many keys as it has of the `counted` names looked up in `j` (each
    found at most once there), every key is one of them, once; only a line
    with other keys has its keys counted one by one (`list_unique`, which
    hashes each key: the costly test, left to the few lines that need it)."""
    found = " + ".join(f"CASE WHEN j[{n}] IS NULL THEN 0 ELSE 1 END" for n in range(1, counted + 1)) or "0"
    return f"CASE WHEN len(keys) = {found} THEN TRUE ELSE list_unique(keys) = len(keys) END"


def _raw(index: int) -> str:
    """The `index`-th value of `j` as JSON text, '' when absent."""
    return f"COALESCE(CAST(j[{index}] AS VARCHAR), '')"


def _string(tok: str) -> str:
    """The text of a string token; NULL for another token (`substring`:
    DuckDB's slice `[2:-2]` costs several times as much; `strlen` counts
    bytes, which in a strict line, printable ASCII, are its characters)."""
    return f"CASE WHEN {tok} LIKE '\"%\"' THEN substring({tok}, 2, strlen({tok}) - 2) END"


def _is_name(tok: str) -> str:
    """A non-empty string."""
    return f"({tok} LIKE '\"_%\"')"


def _absent(tok: str) -> str:
    return f"({tok} IN ('', 'null'))"


#: `at`'s date and time in the strict form, for `try_strptime`, which
#: takes a valid date and time only (no 24:00:00, no leap second)
_CLOCK = "%Y-%m-%dT%H:%M:%S"


def _instant_parts() -> str:
    """`at`'s date and time read by `try_strptime` (`"i:ts"`, a TIMESTAMP;
    NULL when not a valid one, or when its token, `"t:at"` in its quotes,
    is not in the strict form: one match of `_INSTANT` without groups,
    RE2's cheapest test), and its zone (`"i:z"`: '' for `Z`, else its six
    characters `+HH:MM`). Reading each part as a number and counting the
    days in SQL cost about twice as much."""
    tok = '"t:at"'
    ok = f"regexp_full_match({tok}, {literal(chr(34) + _INSTANT + chr(34))})"
    clock = f"CASE WHEN {ok} THEN try_strptime(substring({tok}, 2, 19), {literal(_CLOCK)}) END"
    zone = f"CASE WHEN suffix({tok}, 'Z\"') THEN '' ELSE substring({tok}, strlen({tok}) - 6, 6) END"
    return f'{clock} AS "i:ts", {zone} AS "i:z"'


def _instant_sql() -> tuple[str, str]:
    """(the test that `at` is valid in the strict form, its nanoseconds),
    over the columns of `_instant_parts`. In the strict form the year, the
    zone's hours and minutes are digits at their places, so they are
    compared as text; the fraction is the digits between the point (the
    token's 21st character) and the zone."""
    tok, zone = '"t:at"', '"i:z"'
    valid = (
        f"(\"i:ts\" IS NOT NULL AND substring({tok}, 2, 4) BETWEEN '1678' AND '2261' "
        f"AND ({zone} = '' OR (substring({zone}, 2, 2) <= '23' AND substring({zone}, 5, 2) <= '59')))"
    )
    hours, minutes = f"CAST(substring({zone}, 2, 2) AS BIGINT)", f"CAST(substring({zone}, 5, 2) AS BIGINT)"
    offset = (
        f"CASE WHEN {zone} = '' THEN 0 ELSE (CASE WHEN {zone} LIKE '-%' THEN -1 ELSE 1 END) "
        f"* ({hours} * 3600 + {minutes} * 60) END"
    )
    digits = f"substring({tok}, 22, strlen({tok}) - 22 - CASE WHEN {zone} = '' THEN 1 ELSE 6 END)"
    fraction = f"CASE WHEN substring({tok}, 21, 1) = '.' THEN CAST(rpad({digits}, 9, '0') AS BIGINT) ELSE 0 END"
    return valid, f'(epoch_ns("i:ts") - {offset} * 1000000000 + {fraction})'


def _field_test(name: str, kind: str, optional: bool) -> str:
    """That a declared field's token is one the strict form takes."""
    tok = f'"t:{name}"'
    present = {
        BOOLEAN: f"{tok} IN ('true', 'false')",
        TEXT: f"{tok} LIKE '\"%\"'",
    }.get(kind)
    if present is None:  # a number: JSON number or decimal string, at most 30 digits
        digits = f"strlen(replace(replace(replace({tok}, '\"', ''), '-', ''), '.', ''))"
        present = (
            f"regexp_full_match({tok}, {literal(_NUMBER + '|' + chr(34) + _NUMBER + chr(34))}) "
            f"AND CASE WHEN strlen({tok}) <= {limits.MAX_LEDGER_DIGITS} THEN TRUE "
            f"ELSE {digits} <= {limits.MAX_LEDGER_DIGITS} END"
        )
    return f"({_absent(tok)} OR ({present}))" if optional else f"(NOT {_absent(tok)} AND {present})"


def _value(name: str, kind: str) -> str:
    """A declared field's value as text (NULL when absent or null). The
    JSON integer `-0` is `0`: the Python reader decodes an integer to an
    `int`, which has no negative zero (a `-0` string or `-0.0` keeps it)."""
    tok = f'"t:{name}"'
    if kind in (NUMBER, QUANTITY):
        return (
            f"CASE WHEN {_absent(tok)} THEN NULL WHEN {tok} LIKE '\"%' "
            f"THEN substring({tok}, 2, strlen({tok}) - 2) WHEN {tok} = '-0' THEN '0' ELSE {tok} END"
        )
    if kind == BOOLEAN:
        return f"CASE WHEN {_absent(tok)} THEN NULL ELSE {tok} END"
    return _string(tok)


def plan(checked: CheckedRuleset, used: Sequence[str]) -> dict[str, list[tuple[str, str, bool]]]:
    """Per used event type, its declared fields (name, kind, optional);
    `NotDirect` when one is of a kind the strict form does not read
    (a timestamp field) or has a name the token pattern cannot name."""
    kinds: dict[str, list[tuple[str, str, bool]]] = {}
    for name in sorted(used):
        info = checked.events[name]
        fields = [(f.name, f.type.kind, f.optional) for f in info.fields.values() if not f.builtin]
        for field, kind, _ in fields:
            if kind not in _KINDS or not _PLAIN_NAME.fullmatch(field):
                raise NotDirect(f"field `{field}` of `{name}`")
        kinds[name] = fields
    return kinds


def is_parquet(path: str) -> bool:
    """A Parquet ledger is named so (`.parquet`); any other file is JSON Lines."""
    return path.lower().endswith(".parquet")


def lines_sql(path: str) -> str:
    """The ledger's lines as a table of one VARCHAR column, `line`: a JSON
    Lines file read as raw text (no delimiter, quote or escape; invalid
    UTF-8 and a carriage return inside a line are DuckDB errors); a Parquet
    file's rows each written as a JSON object by DuckDB (`to_json`: DECIMAL
    exactly, text as strings; from the view `read_parquet_rows` made, which
    must come first), so that both go through one validation.
    The file is read 4 MiB at a time (DuckDB's default, 32 MiB a thread,
    would not fit a small `--memory-limit`; a line past DuckDB's 2 MB limit
    is an error, and the Python reader decides the ledger)."""
    if is_parquet(path):  # the view of this file's rows as lines (`read_parquet_rows`)
        return f"(SELECT line FROM {PARQUET_ROWS})"
    return (
        f"read_csv({literal(path)}, columns = {{'line': 'VARCHAR'}}, delim = '\\x01', quote = '', escape = '', "
        "header = false, auto_detect = false, new_line = '\\n', strict_mode = true, null_padding = false, "
        "hive_partitioning = false, "
        "buffer_size = 4194304)"
    )


#: the temporary view of a Parquet ledger's rows as JSON lines (`read_parquet_rows`)
PARQUET_ROWS = "parquet_rows"

#: a DECIMAL column's type as DuckDB describes it
_DECIMAL = re.compile(r"DECIMAL\((\d+),\s*(\d+)\)")


def read_parquet_rows(connection: Any, path: str) -> None:
    """Make the view `parquet_rows` of the Parquet ledger at `path`, which
    `lines_sql` reads: each row as a JSON object (`line`), a DECIMAL column
    of 15 digits or fewer widened to 18 digits with its scale first; the
    row's alias is a name no column has (a column named as the alias
    would be written in the row's place); no folder of the path is read as
    a column (`seats=7/`: DuckDB's Hive partitions by default would put
    `seats: 7` in every row). Why the width: DuckDB's `to_json` writes
    such a DECIMAL through a binary double, its value exact but not its
    trailing zeros (1.50 as `1.5`, 100 as `100.0`), where the JSON Lines
    ledger (`"1.50"`) and Spark's `to_json` keep them: a message writing
    the field differed. A column of binary floats (FLOAT, DOUBLE) is
    refused, read or not: its values are not exact amounts (`EngineError`,
    exit 2), and so are two columns named the same but for case
    (`_case_apart`)."""
    from .run import EngineError

    source = f"read_parquet({literal(path)}, hive_partitioning = false)"
    _case_apart(connection, path)
    widened, names = [], set()
    for name, kind, *_ in connection.execute(f"DESCRIBE SELECT * FROM {source}").fetchall():
        names.add(str(name).lower())
        if str(kind).upper() in ("FLOAT", "DOUBLE", "REAL"):
            raise EngineError(
                f"column `{name}` of the Parquet ledger holds binary floats ({kind}), which are not exact amounts: "
                "write it as DECIMAL or as text"
            )
        decimal = _DECIMAL.fullmatch(str(kind).upper())
        if decimal is not None and int(decimal[1]) <= 15:
            widened.append(f"CAST({ident(name)} AS DECIMAL(18, {int(decimal[2])})) AS {ident(name)}")
    replace = f" REPLACE ({', '.join(widened)})" if widened else ""
    row = next(f"row{n}" for n in range(len(names) + 1) if f"row{n}" not in names)
    rows = f"SELECT *{replace} FROM {source}"
    connection.execute(
        f"CREATE OR REPLACE TEMPORARY VIEW {PARQUET_ROWS} AS "
        f"SELECT CAST(to_json({row}) AS VARCHAR) AS line FROM ({rows}) AS {row}"
    )


def _case_apart(connection: Any, path: str) -> None:
    """Refuse a Parquet ledger with two columns, or two fields of one
    struct column, named the same but for case (`amount`, `Amount`;
    Unicode case, as Spark compares names) or the same: DuckDB's names are
    not case-sensitive for ASCII letters, so it read the second as
    `Amount_1` (the row's `Amount` was lost, and a field of that name read
    as missing), and Spark refuses such a file at any depth. A pair DuckDB
    does read apart (`é`, `É`) is refused too: the same file gives the same
    answer on every engine. The names are the file's own
    (`parquet_schema`)."""
    from .run import EngineError

    rows = connection.execute(f"SELECT file_name, name, num_children FROM parquet_schema({literal(path)})").fetchall()
    for names in _siblings(rows):
        seen: dict[str, str] = {}
        for name in names:
            if name.lower() in seen:
                raise EngineError(
                    f"columns `{seen[name.lower()]}` and `{name}` of the Parquet ledger have the same name, or the "
                    "same but for case, which the SQL engines do not read apart: rename one"
                )
            seen[name.lower()] = name


def _siblings(rows: list[tuple[str, str, int | None]]) -> list[list[str]]:
    """The names of each group of siblings in the files' schemas (a file's
    columns, a struct's fields), from `parquet_schema`'s rows: per file, in
    its schema order, its root (with its number of columns), then each
    element followed by the elements nested in it (the rows of several
    files may interleave, never those of one)."""
    groups: list[list[str]] = []
    open_groups: dict[str, list[tuple[list[int], list[str]]]] = {}  # per file: (children still due, names)
    for file, name, children in rows:
        stack = open_groups.get(file)
        if stack is None:  # the file's root
            open_groups[file] = [([children or 0], [])]
            groups.append(open_groups[file][0][1])
            continue
        if not stack:
            continue  # past the root's last element (not a row DuckDB gives)
        due, names = stack[-1]
        names.append(name)
        due[0] -= 1
        if children:
            stack.append(([children], []))
            groups.append(stack[-1][1])
        while stack and stack[-1][0][0] <= 0:
            stack.pop()
    return groups


def parquet_lines(connection: Any, path: str) -> Iterator[str]:
    """A Parquet ledger's rows as JSON lines, in file order, for the Python
    reader (which then names a bad row by its number, as a line). A column
    of binary floats (FLOAT, DOUBLE) is refused: not an exact amount."""
    read_parquet_rows(connection, path)
    cursor = connection.execute(f"SELECT line FROM {lines_sql(path)}")
    while rows := cursor.fetchmany(10_000):
        for (line,) in rows:
            yield line


def parse_sql(
    path: str,
    kinds: dict[str, list[tuple[str, str, bool]]],
    currencies: Mapping[str, str | None],
    probes: Sequence[str] = (),
    keep_lines: bool = True,
) -> str:
    """The statement that reads the file into `parsed`: per non-blank line
    its tokens, the values as text, `ok` (the strict form holds).
    `currencies`: per used event type with money fields, the one currency
    they are declared in, or None for several (the ledger stage's
    `validate._one_currency`: a `currency` must be absent or that code).
    `probes`: other keys looked up too, only so that a line made of them
    is known to have no key twice without counting its keys one by one
    (`_distinct`; `common_keys`): they change the speed, never `ok`.
    `keep_lines`: `parsed` keeps each line too (to compare them line by
    line; `load` leaves them out, and reads the file again when it needs a
    line: `_lines_by_id`)."""
    fields = sorted({(name, kind) for spec in kinds.values() for name, kind, _ in spec})
    if len({name for name, _ in fields}) < len(fields):  # one name, two kinds: one value column each
        raise NotDirect("a field name declared with two kinds")
    keys = ["id", "type", "at", "referee", "referrer", "currency", *(name for name, _ in fields)]
    keys = list(dict.fromkeys(keys))
    numeric = {name for name, kind in fields if kind in (NUMBER, QUANTITY)}
    tokens = ", ".join(f"{_token(k, n, k in numeric)} AS {ident('t:' + k)}" for n, k in enumerate(keys, start=1))
    looked_up = list(dict.fromkeys([*keys, *(p for p in probes if _PLAIN_NAME.fullmatch(p))]))
    paths = ", ".join(literal(f'$."{k}"') for k in looked_up)
    valid_at, nanos = _instant_sql()
    per_type = []
    for name, spec in kinds.items():
        tests = [_is_name('"t:referee"')]
        if name == "referral":
            tests.append(_is_name('"t:referrer"'))
        tests += [_field_test(f, kind, optional) for f, kind, optional in spec]
        if name in currencies:
            code = currencies[name]
            allowed = "('', 'null')" if code is None else f"('', 'null', {literal(chr(34) + code + chr(34))})"
            tests.append(f'"t:currency" IN {allowed}')
        per_type.append(f"WHEN {literal(name)} THEN {' AND '.join(tests)}")
    by_type = f"CASE type {' '.join(per_type)} ELSE TRUE END" if per_type else "TRUE"
    head = (
        f"{_is_name(chr(34) + 't:id' + chr(34))} AND {_is_name(chr(34) + 't:type' + chr(34))} "
        f"AND {valid_at} "
        f"AND ({_absent(chr(34) + 't:referee' + chr(34))} OR {_is_name(chr(34) + 't:referee' + chr(34))}) "
        f"AND ({_absent(chr(34) + 't:referrer' + chr(34))} OR {_is_name(chr(34) + 't:referrer' + chr(34))})"
    )
    values = "".join(f", {_value(name, kind)} AS {ident('v:' + name)}" for name, kind in fields)
    raw = ", ".join(f"{_raw(n)} AS {ident('r:' + k)}" for n, k in enumerate(keys, start=1))
    # one layer per step, so that each value is computed once: the lines
    # (`strict`), their values (`j`) and keys, the values as text, the
    # tokens, `at`'s parts, then `ok` and the values. A strict line is
    # shorter than the line limit: the Python reader counts a line's break
    # against it, so a line of the limit and its break is refused there,
    # and a last one without a break is not (it decides both: not strict)
    layers = [
        f"SELECT line, strlen(line) < {limits.MAX_LEDGER_LINE_BYTES} AND regexp_full_match(line, {literal(_LINE)}) AS strict "
        f"FROM {lines_sql(path)} WHERE {_NOT_BLANK}",
        f"SELECT line, strict, CASE WHEN strict THEN json_extract(line, [{paths}]) END AS j, "
        "CASE WHEN strict THEN json_keys(line) END AS keys",
        f"SELECT line, strict, {_distinct(len(looked_up))} AS distinct_keys, {raw}",
        f"SELECT line, strict, distinct_keys, {tokens}",
        f"SELECT *, {_string(chr(34) + 't:type' + chr(34))} AS type, {_instant_parts()}",
        f"SELECT *, COALESCE(strict AND distinct_keys AND {head} AND {by_type}, FALSE) AS ok",
    ]
    inner = layers[0]
    for layer in layers[1:]:
        inner = f"{layer} FROM ({inner})"
    return (
        "CREATE TABLE parsed AS "
        f"SELECT {'line, ' if keep_lines else ''}ok, {_string(chr(34) + 't:id' + chr(34))} AS id, type, "
        f'CASE WHEN ok THEN {nanos} END AS "at", {_string(chr(34) + "t:referee" + chr(34))} AS referee, '
        f"{_string(chr(34) + 't:referrer' + chr(34))} AS referrer{values} FROM ({inner})"
    )


#: the lines whose keys are taken as `probes` (`common_keys`), and the most
#: probes (each one a lookup in every line)
_SAMPLE, _MOST_PROBES = 1000, 24


def common_keys(connection: Any, path: str) -> list[str]:
    """The keys of the first lines of the ledger in the strict form (at
    most `_MOST_PROBES`, most frequent first, then by name): the
    `probes` of `parse_sql`. A sample: a key missed only costs speed."""
    sample = f"SELECT line FROM {lines_sql(path)} WHERE line IS NOT NULL LIMIT {_SAMPLE}"
    rows = connection.execute(
        f"SELECT key FROM (SELECT unnest(json_keys(line)) AS key FROM ({sample}) "
        f"WHERE strlen(line) < {limits.MAX_LEDGER_LINE_BYTES} AND regexp_full_match(line, {literal(_LINE)})) "
        f"GROUP BY key ORDER BY count(*) DESC, key LIMIT {_MOST_PROBES}"
    ).fetchall()
    return [key for (key,) in rows if _PLAIN_NAME.fullmatch(key)]


def _digits_sql(column: Column) -> str:
    """The aggregates that give a number column's decimals and whole digits
    at most (the decimals `run._scale` finds from the values), for the one
    statement that counts `parsed` (`load`)."""
    value = f'"v:{column.field}"'
    number = f"ltrim({value}, '-')"
    point = f"strpos({number}, '.')"
    whole_text = f"CASE WHEN {point} = 0 THEN {number} ELSE {number}[:{point} - 1] END"
    decimals = f"CASE WHEN {point} = 0 THEN 0 ELSE length({number}) - {point} END"
    whole = (
        f"CASE WHEN ltrim({whole_text}, '0') <> '' THEN length(ltrim({whole_text}, '0')) "
        f"WHEN {point} = 0 THEN 1 ELSE 0 END"
    )
    where = f"type = {literal(column.event)} AND {value} IS NOT NULL"
    return f"COALESCE(MAX({decimals}) FILTER (WHERE {where}), 0), COALESCE(MAX({whole}) FILTER (WHERE {where}), 0)"


def _scales(columns: Sequence[Column], found: Sequence[int]) -> dict[str, int]:
    """Each number column's decimals from its pair in `found` (`_digits_sql`,
    in the order of `columns`); `TooWide` past 38 digits together."""
    from .run import TooWide

    numbers = [column for column in columns if column.kind == "number"]
    scales: dict[str, int] = {}
    for column, scale, digits in zip(numbers, found[::2], found[1::2], strict=True):
        if scale + digits > MAX_DIGITS:
            raise TooWide(
                f"the numbers of `{column.name}` need more than {MAX_DIGITS} digits, the most the SQL engine holds"
            )
        scales[column.name] = int(scale)
    return scales


def load(
    connection: Any,
    path: str,
    checked: CheckedRuleset,
    used: Sequence[str],
    columns: Sequence[Column],
    currencies: Mapping[str, str | None],
) -> int | None:
    """Read the ledger at `path` into the `ledger` table (as `run.load_sql`
    makes it); the latest instant of the ledger (None when it has no
    event). `NotDirect` when a line is outside the strict form, an id has
    different lines, or DuckDB cannot read the file as lines."""
    import duckdb

    kinds = plan(checked, used)
    if is_parquet(path):
        read_parquet_rows(connection, path)
    try:
        connection.execute(parse_sql(path, kinds, currencies, common_keys(connection, path), keep_lines=False))
    except duckdb.OutOfMemoryException:  # not the ledger's doing: said as an error (`run._session`)
        raise
    except duckdb.Error as error:  # a carriage return, invalid UTF-8, a line past DuckDB's limit
        raise NotDirect(str(error).splitlines()[0]) from None
    # one pass over `parsed`: its counts and each number column's digits
    digits = "".join(f", {_digits_sql(c)}" for c in columns if c.kind == "number")
    bad, latest, rows, ids, *found = connection.execute(
        f'SELECT count(*) FILTER (WHERE NOT ok), max("at"), count(*), count(DISTINCT id){digits} FROM parsed'
    ).fetchone()
    if bad:
        raise NotDirect(f"{bad} line(s) outside the strict form")
    repeated = rows != ids  # an id on several lines: the same line each time, counted once
    if (
        repeated
        and connection.execute(
            f"SELECT count(*) FROM (SELECT id FROM ({_lines_by_id(path)}) WHERE id IN "
            "(SELECT id FROM parsed GROUP BY id HAVING count(*) > 1) GROUP BY id HAVING min(line) <> max(line))"
        ).fetchone()[0]
    ):
        raise NotDirect("an id on different lines")

    scales = _scales(columns, found)
    wanted = ", ".join(literal(name) for name in kinds) or "NULL"
    # a column holds its field on its own event type only (NULL on others)
    connection.execute(
        f'CREATE TABLE ledger AS SELECT {"DISTINCT " if repeated else ""}"at", id, type, referee, '
        "CASE WHEN type = 'referral' THEN referrer END AS referrer"
        + "".join(
            f", CASE WHEN type = {literal(c.event)} THEN {_column_value(c, scales)} END AS {ident(c.name)}"
            for c in columns
        )
        + f" FROM parsed WHERE type IN ({wanted})"
    )
    if repeated and connection.execute("SELECT count(*) <> count(DISTINCT id) FROM ledger").fetchone()[0]:
        # lines that `_lines_by_id` found identical but this reading did not
        # (the file changed between them): never two events of one id
        raise NotDirect("an id on different lines")
    # the queries read `ledger` only: `parsed`, a row of every line, would
    # hold DuckDB's memory while they run (and make it spill sooner)
    connection.execute("DROP TABLE parsed")
    return None if latest is None else int(latest)


def _column_value(column: Column, scales: dict[str, int]) -> str:
    """A field's value in its column's type. A folded text column (`ignoring
    case`) is the text's `LOWER`: the strict form admits printable ASCII
    only, where `str.casefold()` is `LOWER` exactly (the Python reader fills
    it with `str.casefold()` for every other ledger)."""
    from .run import _sql_type

    if column.kind == "exponent":
        return exponents.of_text(ident("v:" + column.field))
    if column.kind == "sign":
        return signs.of_text(ident("v:" + column.field))
    source = ident(column.field if column.field in FOLDED_HEAD else "v:" + column.field)  # `referee`: its own
    value = f"CAST({source} AS {_sql_type(column, scales)})"
    return f"LOWER({value})" if column.folded else value


def lines_of(connection: Any, path: str, ids: Sequence[str]) -> list[str]:
    """The lines of these referral events and of every referral event of
    their referrers (to explain an ineligible referral with the Python
    engine's report, from the records the Python reader makes: `earlier
    referrals` replays the referrer's referral events before it)."""
    if not ids:
        return []
    # the ids as one list parameter, not a literal each: 90,910 of them (every
    # referral of a 1M ledger) took five times as long as a statement's text
    # (docs/performance.md, "Ineligible referrals' lines found by a list parameter")
    wanted = "SELECT UNNEST(CAST($1 AS VARCHAR[]))"
    theirs = f"SELECT referrer FROM ledger WHERE id IN ({wanted}) AND type = 'referral'"  # every referral is there
    sql = (
        f"SELECT DISTINCT line FROM ({_lines_by_id(path)}) "
        f"WHERE id IN ({wanted}) OR (type = 'referral' AND referrer IN ({theirs}))"
    )
    return [row[0] for row in connection.execute(sql, [list(ids)]).fetchall()]


def _lines_by_id(path: str) -> str:
    """The ledger's non-blank lines, each with its id, type and referrer:
    the file read again, for the few questions about whole lines (`parsed`
    keeps no line, which would double its size). Only after `load`, when
    every line is in the strict form (no escape, no key twice), where
    `json_extract_string` gives the values `parse_sql` gives."""
    values = "json_extract_string(line, ['$.\"id\"', '$.\"type\"', '$.\"referrer\"'])"
    return (
        f"SELECT line, v[1] AS id, v[2] AS type, v[3] AS referrer FROM (SELECT line, {values} AS v "
        f"FROM {lines_sql(path)} WHERE {_NOT_BLANK})"
    )
