"""Spark reads a ledger itself: the path of `score --engine spark` over a
JSON Lines file, a directory of JSON Lines part files, or a (partitioned)
Parquet file or directory (docs/sql.md, "Spark").

Each line is read as raw text (Spark's text source, lines split on `\\n`
only) and taken only in the **strict form** of `sql.read` (the one DuckDB
reads: a flat JSON object of printable ASCII without escapes, numbers
without exponent, no key twice, `at` a valid instant, the fields the
program uses as their kind wants them, the `currency` the declared one),
checked here in Spark SQL: the same tests written with Spark's functions
(Java regular expressions, `try_cast`), so that the same lines are taken
with the same values. A Parquet row is written as a JSON object by Spark
(`to_json`) and goes through the same test.

An id on several lines is counted once when the lines hold the same keys
and values (in any order and spacing); with other content the ledger is
not read here. Then:

- a single file is read by the Python reader instead (`NotDirect`), which
  refuses a bad line with its own line, field and message and scores
  anything else it accepts;
- a directory is refused (`NotStrict`, exit 2) naming its first file with
  such a line (by name) and the line: the Python reader's problem when it
  refuses the line, or the line outside the strict form.

Numbers stay text until they are cast to DECIMAL exactly; no value goes
through DOUBLE. Spark may read only the paths given (`runSQLOnFiles` off).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlparse

from ..check.program import CheckedRuleset
from ..core import limits
from ..core.datatypes import BOOLEAN, NUMBER, QUANTITY, TEXT
from . import exponents, signs
from .compile import MAX_DIGITS, Column
from .expressions import FOLDED_HEAD
from .read import _INSTANT, _LINE, _NUMBER, NotDirect, is_parquet, plan
from .run import EngineError, TooWide
from .spark_uri import is_uri, literal_uri, local_uri, uri_files

#: the distinct bad lines of one file whose digests are looked up to name
#: the first of them by its number (past this, the first found is named)
_MOST_LOOKED_UP = 100_000

#: reads a ledger's lines with the Python reader, refusing (`LedgerError`,
#: named by the second argument) what it refuses
PythonRead = Callable[[str], Any]

#: a key and its value's JSON text in a strict line (a string holds no `"`)
_PAIR = '("[^"]*") *: *("[^"]*"|[^,} ]+)'


class NotStrict(EngineError):
    """A ledger directory with a line outside the strict form, or an id on
    lines of different content: refused (exit 2), naming the file and line."""


def _lit(text: str) -> str:
    """A Spark SQL string literal (backslash is its escape character)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _column(prefix: str, key: str) -> str:
    """The quoted name of a key's token column (`t:`) or a field's value
    column (`v:`). Spark resolves names regardless of case, so beside a
    field `amount`, a field `Amount` made both columns' every reference
    ambiguous: an uppercase letter is written `^` and its lowercase
    (`t:^amount`), which no key of the strict form holds (a field's name
    is letters, digits and `_`)."""
    return _quoted(prefix + re.sub("[A-Z]", lambda m: "^" + m.group().lower(), key))


def _full(pattern: str) -> str:
    """A Java pattern that must match the whole text (`\\z`: a final `\\r`
    is not skipped as `$` would skip it)."""
    return f"^(?:{pattern})\\z"


def _token(name: str) -> str:
    """A key's value as its JSON text in a strict line, '' when absent."""
    pattern = '"' + name + '" *: *("[^"]*"|[^,} ]+)'
    return f"regexp_extract(line, {_lit(pattern)}, 1)"


def _string(tok: str) -> str:
    """The text of a string token; NULL for another token."""
    return f"CASE WHEN {tok} LIKE '\"%\"' THEN substring({tok}, 2, length({tok}) - 2) END"


def _is_name(tok: str) -> str:
    return f"({tok} LIKE '\"_%\"')"


def _absent(tok: str) -> str:
    return f"({tok} IN ('', 'null'))"


def _days(y: str, m: str, d: str) -> str:
    """Days since 1970-01-01 (years > 0), as `read._days`: `div` truncates,
    and every operand is positive here."""
    yy = f"({y} - CASE WHEN {m} <= 2 THEN 1 ELSE 0 END)"
    era = f"({yy} div 400)"
    yoe = f"({yy} - {era} * 400)"
    doy = f"((153 * ({m} + CASE WHEN {m} > 2 THEN -3 ELSE 9 END) + 2) div 5 + {d} - 1)"
    doe = f"({yoe} * 365 + {yoe} div 4 - {yoe} div 100 + {doy})"
    return f"({era} * 146097 + {doe} - 719468)"


def _instant_sql() -> tuple[str, str]:
    """(the test that `a_text` is a valid instant in the strict form, its
    nanoseconds since the epoch), as `read._instant_sql`."""
    text = "a_text"
    y, m, d, hh, mi, ss = (
        f"try_cast(substring({text}, {a}, {n}) AS BIGINT)"
        for a, n in ((1, 4), (6, 2), (9, 2), (12, 2), (15, 2), (18, 2))
    )
    rest = f"substring({text}, 20)"
    frac = f"regexp_extract({rest}, {_lit('^[.]([0-9]+)')}, 1)"
    zone = f"regexp_extract({rest}, {_lit('(Z|[+-][0-9]{2}:[0-9]{2})$')}, 1)"
    oh, om = f"try_cast(substring({zone}, 2, 2) AS BIGINT)", f"try_cast(substring({zone}, 5, 2) AS BIGINT)"
    leap = f"({y} % 4 = 0 AND ({y} % 100 <> 0 OR {y} % 400 = 0))"
    month_days = (
        f"(CASE WHEN {m} = 2 THEN CASE WHEN {leap} THEN 29 ELSE 28 END WHEN {m} IN (4, 6, 9, 11) THEN 30 ELSE 31 END)"
    )
    valid = (
        f"({text} RLIKE {_lit(_full(_INSTANT))} AND {y} BETWEEN 1678 AND 2261 "
        f"AND {m} BETWEEN 1 AND 12 AND {d} BETWEEN 1 AND {month_days} AND {hh} <= 23 AND {mi} <= 59 AND {ss} <= 59 "
        f"AND ({zone} = 'Z' OR ({oh} <= 23 AND {om} <= 59)))"
    )
    offset = (
        f"CASE WHEN {zone} = 'Z' THEN 0 ELSE (CASE WHEN substring({zone}, 1, 1) = '-' THEN -1 ELSE 1 END) "
        f"* ({oh} * 3600 + {om} * 60) END"
    )
    seconds = f"({_days(y, m, d)} * 86400 + {hh} * 3600 + {mi} * 60 + {ss} - {offset})"
    nanos = f"try_cast(rpad({frac}, 9, '0') AS BIGINT)"
    return valid, f"({seconds} * 1000000000 + {nanos})"


def _field_test(name: str, kind: str, optional: bool) -> str:
    """That a declared field's token is one the strict form takes."""
    tok = _column("t:", name)
    present = {BOOLEAN: f"{tok} IN ('true', 'false')", TEXT: f"{tok} LIKE '\"%\"'"}.get(kind)
    if present is None:  # a number: JSON number or decimal string, at most 30 digits
        bare = f"trim(BOTH '\"' FROM {tok})"
        present = (
            f"({tok} RLIKE {_lit(_full(_NUMBER))} OR {tok} RLIKE {_lit(_full(chr(34) + _NUMBER + chr(34)))}) "
            f"AND length(replace(replace({bare}, '-', ''), '.', '')) <= {limits.MAX_LEDGER_DIGITS}"
        )
    return f"({_absent(tok)} OR ({present}))" if optional else f"(NOT {_absent(tok)} AND {present})"


def _value(name: str, kind: str) -> str:
    """A declared field's value as text (NULL when absent or null); the
    JSON integer `-0` is `0`, as in `read._value`."""
    tok = _column("t:", name)
    if kind in (NUMBER, QUANTITY):
        return f"CASE WHEN {_absent(tok)} THEN NULL WHEN {tok} = '-0' THEN '0' ELSE trim(BOTH '\"' FROM {tok}) END"
    if kind == BOOLEAN:
        return f"CASE WHEN {_absent(tok)} THEN NULL ELSE {tok} END"
    return _string(tok)


def parse_sql(kinds: dict[str, list[tuple[str, str, bool]]], currencies: Mapping[str, str | None]) -> str:
    """The query over the view `rewardrules_lines` (line, file) that gives
    per non-blank line its values as text and `ok` (the strict form holds):
    `read.parse_sql` in Spark SQL."""
    fields = sorted({(name, kind) for spec in kinds.values() for name, kind, _ in spec})
    if len({name for name, _ in fields}) < len(fields):
        raise NotDirect("a field name declared with two kinds")
    keys = list(dict.fromkeys(["id", "type", "at", "referee", "referrer", "currency", *(n for n, _ in fields)]))
    tokens = ", ".join(f"CASE WHEN strict THEN {_token(k)} ELSE '' END AS {_column('t:', k)}" for k in keys)
    valid_at, nanos = _instant_sql()
    per_type = []
    for name, spec in kinds.items():
        tests = [_is_name("`t:referee`")]
        if name == "referral":
            tests.append(_is_name("`t:referrer`"))
        tests += [_field_test(f, kind, optional) for f, kind, optional in spec]
        if name in currencies:
            code = currencies[name]
            allowed = "('', 'null')" if code is None else f"('', 'null', {_lit(chr(34) + code + chr(34))})"
            tests.append(f"`t:currency` IN {allowed}")
        per_type.append(f"WHEN {_lit(name)} THEN {' AND '.join(tests)}")
    by_type = f"CASE type {' '.join(per_type)} ELSE TRUE END" if per_type else "TRUE"
    shape = "CASE WHEN strict THEN size(json_object_keys(line)) = size(array_distinct(json_object_keys(line))) END"
    head = (
        f"{_is_name('`t:id`')} AND {_is_name('`t:type`')} AND {valid_at} "
        f"AND ({_absent('`t:referee`')} OR {_is_name('`t:referee`')}) "
        f"AND ({_absent('`t:referrer`')} OR {_is_name('`t:referrer`')})"
    )
    values = "".join(f", {_value(name, kind)} AS {_column('v:', name)}" for name, kind in fields)
    strict = (
        f"CASE WHEN octet_length(line) < {limits.MAX_LEDGER_LINE_BYTES} "  # its break counted (`read.parse_sql`)
        f"THEN line RLIKE {_lit(_full(_LINE))} ELSE FALSE END"
    )
    return (
        f"SELECT line, file, ok, {_string('`t:id`')} AS id, type, CASE WHEN ok THEN {nanos} END AS `at`, "
        f"{_string('`t:referee`')} AS referee, {_string('`t:referrer`')} AS referrer{values} FROM ("
        f"SELECT *, COALESCE({shape} AND {head} AND {by_type}, FALSE) AS ok FROM ("
        f"SELECT *, {_string('`t:type`')} AS type, {_string('`t:at`')} AS a_text FROM ("
        f"SELECT line, file, strict, {tokens} FROM ("
        f"SELECT line, file, {strict} AS strict FROM rewardrules_lines "
        f"WHERE NOT line RLIKE {_lit(_full(' *'))}))))"
    )


def _canonical() -> str:
    """A strict line's content independent of key order and spacing: its
    `"key":value` pairs as written, sorted (two lines with one id and the
    same pairs hold the same event)."""
    pairs = f"regexp_extract_all(line, {_lit(_PAIR)}, 0)"
    strip = f"transform({pairs}, p -> regexp_replace(p, {_lit('^(' + chr(34) + '[^' + chr(34) + ']*' + chr(34) + ') *: *')}, '$1:'))"
    return f"concat_ws(',', array_sort({strip}))"


def ledger_files(path: str, session: Any = None) -> tuple[bool, list[str]]:
    """(whether the ledger at `path` is Parquet, the paths Spark reads):
    a file (Parquet when named `.parquet`), or a directory: Parquet when
    a file in it (at any depth, hidden ones and `_SUCCESS` left out as Spark
    leaves them) is named `.parquet`, else JSON Lines. A URI is listed by
    Spark's own file systems (`spark_uri`, `session` needed) and read by
    that name (`spark_uri.literal_uri`); a path is this machine's, read as
    `spark_uri.local_uri`."""
    uri = is_uri(path)
    read = literal_uri(path) if uri else local_uri(path)
    if uri:
        directory, found = uri_files(session, path)
        if not directory:
            return is_parquet(path), [read]
    elif not os.path.isdir(path):
        return is_parquet(path), [read]
    else:
        found = []
        for folder, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
            found += [os.path.join(folder, f) for f in sorted(files) if not f.startswith((".", "_"))]
    parquet = [f for f in found if is_parquet(f)]
    if parquet and len(parquet) < len(found):
        raise EngineError(f"{path}: the directory holds Parquet and other files: give one kind of ledger")
    return bool(parquet), [read]


def _lines_view(session: Any, path: str, parquet: bool) -> None:
    """The view `rewardrules_lines` (line, file): each line of the JSON
    Lines files, or each Parquet row written as a JSON object."""
    if parquet:
        frame = session.read.parquet(path)
        _refuse_floats(frame, path)
        frame.createOrReplaceTempView("rewardrules_rows")
        # `struct(*)`: each column a key under its own name, from the file's
        # schema, so that no name the file gives is written in a statement
        sql = "SELECT to_json(struct(*)) AS line, input_file_name() AS file FROM rewardrules_rows"
        if not frame.schema.fields:
            sql = "SELECT CAST(NULL AS STRING) AS line, CAST(NULL AS STRING) AS file WHERE FALSE"
        session.sql(f"CREATE OR REPLACE TEMPORARY VIEW rewardrules_lines AS {sql}")
        return
    frame = session.read.option("lineSep", "\n").option("wholetext", "false").text(path)
    frame.createOrReplaceTempView("rewardrules_text")
    session.sql(
        "CREATE OR REPLACE TEMPORARY VIEW rewardrules_lines AS "
        "SELECT value AS line, input_file_name() AS file FROM rewardrules_text"
    )


def _refuse_floats(frame: Any, path: str) -> None:
    """A column of binary floats is refused, read or not (`read.read_parquet_rows`)."""
    for field in frame.schema.fields:
        kind = field.dataType.simpleString()
        if kind in ("float", "double"):
            raise EngineError(
                f"column `{field.name}` of the Parquet ledger holds binary floats ({kind.upper()}), "
                "which are not exact amounts: write it as DECIMAL or as text"
            )


def _local(uri: str) -> str:
    """A file Spark names by URI (`file:///...`) as a path."""
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme in ("file", "") else uri


def load(
    session: Any,
    path: str,
    checked: CheckedRuleset,
    used: Sequence[str],
    columns: Sequence[Column],
    currencies: Mapping[str, str | None],
    python_read: PythonRead | None = None,
) -> tuple[int | None, dict[str, str], int]:
    """Read the ledger at `path` into the views `rewardrules_parsed` and
    `ledger` (as `read.load` makes the tables): the latest instant (None
    when there is no event), each column's Spark type and the number of
    non-blank lines. `NotDirect` for a
    single file outside the strict form; `NotStrict` for such a directory."""
    from .spark import _types

    kinds = plan(checked, used)
    parquet, paths = ledger_files(path, session)
    _lines_view(session, paths[0], parquet)
    session.sql(f"CREATE OR REPLACE TEMPORARY VIEW rewardrules_parsed AS {parse_sql(kinds, currencies)}")
    # on disk, not in the heap: cached in memory, the parsed lines of 10M
    # events ran a 1 GB heap out of memory in this first stage, and 20M a
    # 4 GB one (docs/performance.md, "The curve, 1M to 20M events")
    session.sql("CACHE TABLE rewardrules_parsed OPTIONS ('storageLevel' 'DISK_ONLY')")
    bad, latest, rows, ids = session.sql(
        "SELECT count_if(NOT ok), max(`at`), count(*), count(DISTINCT id) FROM rewardrules_parsed"
    ).collect()[0]
    if bad:
        _not_strict(session, path, parquet, python_read)
    repeated = rows != ids
    if repeated:
        _refuse_conflicts(session, path)
    scales, wholes = _scales(session, columns)
    types = _types(columns, scales, wholes)
    wanted = ", ".join(_lit(name) for name in kinds) or "NULL"
    session.sql(
        f"CREATE OR REPLACE TEMPORARY VIEW ledger AS SELECT {'DISTINCT ' if repeated else ''}`at`, id, type, referee, "
        "CASE WHEN type = 'referral' THEN referrer END AS referrer"
        + "".join(
            f", CASE WHEN type = {_lit(c.event)} THEN {_column_value(c, types)} END AS {_quoted(c.name)}"
            for c in columns
        )
        + f" FROM rewardrules_parsed WHERE type IN ({wanted})"
    )
    return (None if latest is None else int(latest)), types, int(rows)


def _column_value(column: Column, types: dict[str, str]) -> str:
    """A field's value in its column's type (`read._column_value`)."""
    if column.kind == "exponent":
        return exponents.of_text(_column("v:", column.field))
    if column.kind == "sign":
        return signs.of_text(_column("v:", column.field))
    source = _quoted(column.field) if column.field in FOLDED_HEAD else _column("v:", column.field)  # `referee`: its own
    value = f"CAST({source} AS {types[column.name]})"
    return f"lower({value})" if column.folded else value


def _scales(session: Any, columns: Sequence[Column]) -> tuple[dict[str, int], dict[str, int]]:
    """Each number column's decimals and most integer digits (at least 1),
    from the values' text (`read._scales`; `TooWide` past 38 digits)."""
    scales: dict[str, int] = {}
    wholes: dict[str, int] = {}
    for column in columns:
        if column.kind != "number":
            continue
        number = f"ltrim('-', {_column('v:', column.field)})"
        point = f"instr({number}, '.')"
        whole_text = f"CASE WHEN {point} = 0 THEN {number} ELSE substring({number}, 1, {point} - 1) END"
        decimals = f"CASE WHEN {point} = 0 THEN 0 ELSE length({number}) - {point} END"
        whole = f"length(ltrim('0', {whole_text}))"
        scale, digits = session.sql(
            f"SELECT COALESCE(MAX({decimals}), 0), COALESCE(MAX({whole}), 0) FROM rewardrules_parsed "
            f"WHERE type = {_lit(column.event)} AND {_column('v:', column.field)} IS NOT NULL"
        ).collect()[0]
        if scale + digits > MAX_DIGITS:
            raise TooWide(
                f"the numbers of `{column.name}` need more than {MAX_DIGITS} digits, the most the SQL engine holds"
            )
        scales[column.name] = int(scale)
        wholes[column.name] = max(1, int(digits))
    return scales, wholes


def _refuse_conflicts(session: Any, path: str) -> None:
    """An id on lines of different content: the Python reader decides a
    single file (`NotDirect`); a directory is refused, naming the id."""
    found = session.sql(
        f"SELECT id, min(file), max(file) FROM (SELECT id, file, {_canonical()} AS content FROM rewardrules_parsed "
        "WHERE id IN (SELECT id FROM rewardrules_parsed GROUP BY id HAVING count(*) > 1)) "
        "GROUP BY id HAVING count(DISTINCT content) > 1 ORDER BY id LIMIT 1"
    ).collect()
    if not found:
        return
    event_id, first, last = found[0]
    if _read_by_python(path):
        raise NotDirect("an id on lines of different content")
    where = _local(first) if first == last else f"{_local(first)} and {_local(last)}"
    raise NotStrict(f"{path}: id {event_id!r} is on lines with different content (in {where}); ids are unique")


def _not_strict(session: Any, path: str, parquet: bool, python_read: PythonRead | None) -> None:
    """A line outside the strict form: `NotDirect` for a file; for a
    directory `NotStrict` naming the first file (by name) with such a line
    and its first such line; or, when the Python reader refuses that file
    (`python_read`), its `LedgerError`: its line, field and message."""
    if _read_by_python(path):
        raise NotDirect("a line outside the strict form")
    # the file's name (chosen by whoever wrote the directory) is a parameter, never in a statement's text
    (first,) = session.sql("SELECT min(file) FROM rewardrules_parsed WHERE NOT ok").collect()[0]
    file = _local(first)
    if parquet or is_uri(path):  # a Parquet row has no line number; a URI's file is not opened here
        (line,) = session.sql(
            "SELECT min(line) FROM rewardrules_parsed WHERE NOT ok AND file = :file", args={"file": first}
        ).collect()[0]
        form = (
            "a row is outside the form Spark reads (a flat JSON object of printable ASCII text, "
            "exact numbers, `at` an instant as text)"
            if parquet
            else "a line is outside the form Spark reads a ledger URI in (a flat JSON object on one line of "
            "printable ASCII, strings without escapes, numbers without exponent, each key once, the fields as "
            "the rules declare them)"
        )
        raise NotStrict(f"{file}: {form}: {line[:200]}")
    if python_read is not None:
        python_read(file)  # the Python reader on that file: raises its LedgerError, if any
    digests = {
        row[0]
        for row in session.sql(
            "SELECT DISTINCT md5(CAST(line AS BINARY)) FROM rewardrules_parsed WHERE NOT ok AND file = :file "
            f"LIMIT {_MOST_LOOKED_UP}",
            args={"file": first},
        ).collect()
    }
    number = _first_line(file, digests)
    raise NotStrict(
        f"{file}:{number}: this line is outside the form Spark reads a ledger directory in "
        "(a flat JSON object on one line of printable ASCII, strings without escapes, numbers without "
        "exponent, each key once, the fields as the rules declare them); write the part files so, "
        "or score the ledger as one file"
    )


def _read_by_python(path: str) -> bool:
    """Whether the Python reader takes the ledger instead when Spark will
    not (`NotDirect`): a single local file; not a directory nor a URI."""
    return not is_uri(path) and not os.path.isdir(path)


def _first_line(file: str, digests: set[str]) -> int | str:
    """The number of the first line of `file` whose MD5 is in `digests`."""
    with open(file, "rb") as handle:
        for number, raw in enumerate(_raw_lines(handle), start=1):
            if hashlib.md5(raw, usedforsecurity=False).hexdigest() in digests:
                return number
    return "?"


def _raw_lines(handle: Any) -> Iterator[bytes]:
    """A file's lines split on `\\n` only, as Spark's text source splits them."""
    rest = b""
    while chunk := handle.read(1 << 20):
        *lines, rest = (rest + chunk).split(b"\n")
        yield from lines
    if rest:
        yield rest


def lines_of(session: Any, ids: Sequence[str]) -> list[str]:
    """The lines of these referral events and of every referral event of
    their referrers (`read.lines_of`), for the explanations. The ids are one
    parameter of the statement, a JSON array that Spark splits itself
    (`from_json`), never in its text: as a literal each, every referral's id
    of a ledger whose referrals are ineligible in some program (90,910 at 1M
    events) made one statement that Spark parsed and planned whole
    (docs/performance.md, "Spark finds the ineligible referrals' lines by a
    parameter"). Not a DataFrame of the ids: pyspark makes one from Python
    rows through Python worker processes, which a run needs nowhere else
    (and which must then be the driver's Python version on every executor)."""
    if not ids:
        return []
    wanted = "SELECT explode(from_json(:ids, 'array<string>'))"
    theirs = f"SELECT referrer FROM rewardrules_parsed WHERE id IN ({wanted}) AND type = 'referral'"
    sql = (
        f"SELECT DISTINCT line FROM rewardrules_parsed WHERE id IN ({wanted}) "
        f"OR (type = 'referral' AND referrer IN ({theirs}))"
    )
    given = json.dumps(list(dict.fromkeys(ids)))
    return sorted(row[0] for row in session.sql(sql, args={"ids": given}).collect())
