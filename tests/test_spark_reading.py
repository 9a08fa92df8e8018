"""`score --engine spark` over a ledger Spark reads itself (docs/sql.md,
"Spark"): golden ledgers split into JSON Lines part files (any split, any
order of the parts) and written as Parquet (one file, or partitioned by
type) give the Python engine's result byte for byte; duplicates across
parts count once, an id on lines of different content is refused; a
directory with a line outside the strict form is refused naming its first
such file and line (the Python reader's problem when it refuses the line);
a single file outside it is left to the Python reader. One Spark session
for the module: starting Spark takes seconds."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

import rewardrules
from rewardrules.cli.sql import spark_direct_result
from rewardrules.ledger.events import LedgerError
from rewardrules.score.api import parse_as_of
from rewardrules.sql.compile import compile_query
from rewardrules.sql.read import NotDirect
from rewardrules.sql.run import EngineError
from rewardrules.sql.spark import Spark
from rewardrules.sql.spark_read import NotStrict
from rewardrules.sql.spark_uri import literal_uri, local_uri

from .test_sql_backend import GOLDEN, ROOT, python_json
from .test_sql_reading import BASE, SAAS, _sub
from .test_sql_reading_parquet import _parquet, _written_files
from .test_sql_spark import spark_json as records_json

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")


def spark_json(spark: Spark, prog: rewardrules.Program, path: Path | str, as_of: str | None = None) -> str:
    data = spark_direct_result(prog, compile_query(prog.compiled), spark, str(path), parse_as_of(as_of))
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def split(lines: list[str], folder: Path, seed: int, parts: int = 3) -> Path:
    """The lines shuffled into `parts` part files at random cut points,
    named so that Spark's order of the files is not the ledger's."""
    rng = random.Random(seed)
    lines = lines[:]
    rng.shuffle(lines)
    cuts = sorted(rng.sample(range(1, len(lines)), parts - 1)) if len(lines) > parts else []
    folder.mkdir()
    for n, (start, end) in enumerate(zip([0, *cuts], [*cuts, len(lines)], strict=True)):
        name = f"part-{rng.randrange(16**6):06x}-{n}.jsonl"
        (folder / name).write_text("".join(line + "\n" for line in lines[start:end]), encoding="utf-8")
    return folder


#: (program, golden ledger, seed of the split): five programs (awards,
#: rejected referrals with explanations, reversals, several event types)
SPLITS = [
    ("saas_milestones", "basic", 1),
    ("saas_milestones", "same_instant_ids", 2),
    ("referral_milestones", None, 3),
    ("partner_and_customer", None, 4),
    ("referral_fraud", None, 5),
    ("fasttrack_cpor", None, 6),
]


def _golden(name: str, stem: str | None) -> Path:
    found = sorted((GOLDEN / name).glob("*.jsonl"))
    return next(p for p in found if p.stem == stem) if stem else found[0]


@pytest.mark.parametrize(("name", "stem", "seed"), SPLITS, ids=lambda v: str(v))
def test_a_golden_ledger_in_part_files_gives_the_python_result(
    spark: Spark, tmp_path: Path, name: str, stem: str | None, seed: int
) -> None:
    ledger = _golden(name, stem)
    prog = rewardrules.load(ROOT / "rulesets" / f"{name}.rules")
    lines = [line for line in ledger.read_text(encoding="utf-8").splitlines() if line.strip()]
    parts = split(lines, tmp_path / "parts", seed)
    assert spark_json(spark, prog, parts) == python_json(prog, lines, None)


def test_parquet_one_file_and_partitioned_by_type(spark: Spark, tmp_path: Path) -> None:
    ledger = _golden("saas_milestones", "basic")
    prog = rewardrules.load(SAAS)
    expected = python_json(prog, ledger.read_text(encoding="utf-8").splitlines(), None)
    one = tmp_path / "ledger.parquet"
    _parquet(ledger, one)
    assert spark_json(spark, prog, one) == expected
    folder = tmp_path / "by_type"
    duckdb.connect().execute(
        f"COPY (SELECT * FROM read_parquet('{one}')) TO '{folder}' (FORMAT parquet, PARTITION_BY (type))"
    )
    assert sorted(p.name for p in folder.iterdir()) == ["type=referral", "type=subscription"]
    assert spark_json(spark, prog, folder) == expected


def test_a_parquet_decimal_column_keeps_its_trailing_zeros(spark: Spark, tmp_path: Path) -> None:
    """A `DECIMAL(10, 2)` holding 1.50: Spark writes the row's JSON with
    `1.50`, as DuckDB now does (test_sql_reading_parquet.py) and as the
    JSON Lines ledger gives it."""
    rules, jsonl, parquet = _written_files(tmp_path, "DECIMAL(10, 2)")
    prog = rewardrules.load(rules)
    expected = python_json(prog, jsonl.read_text(encoding="utf-8").splitlines(), None)
    assert "1.50 2.50" in expected
    assert spark_json(spark, prog, parquet) == expected


def test_a_parquet_column_of_binary_floats_is_refused(spark: Spark, tmp_path: Path) -> None:
    jsonl = tmp_path / "ledger.jsonl"
    jsonl.write_text("\n".join(BASE) + "\n")
    folder = tmp_path / "parts"
    folder.mkdir()
    _parquet(jsonl, folder / "part-0.parquet", mrr="DOUBLE")
    with pytest.raises(EngineError, match=r"column `mrr` .* binary floats \(DOUBLE\)"):
        spark_json(spark, rewardrules.load(SAAS), folder)


def test_duplicates_across_parts_count_once(spark: Spark, tmp_path: Path) -> None:
    """The same event on several lines (as written, in another key order,
    with other spacing) in several parts is one event."""
    reordered = '{"referee":"bob","id":"s1","at":"2026-01-10T09:00:00Z","type":"subscription","mrr":300}'
    spaced = BASE[1].replace(",", " , ").replace(":", " : ", 1)
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "a.jsonl").write_text("\n".join(BASE) + "\n")
    (folder / "b.jsonl").write_text("\n".join([BASE[0], reordered, spaced]) + "\n")
    prog = rewardrules.load(SAAS)
    assert spark_json(spark, prog, folder) == python_json(prog, BASE, None)


def test_an_id_with_other_content_in_another_part_is_refused(spark: Spark, tmp_path: Path) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "a.jsonl").write_text("\n".join(BASE) + "\n")
    (folder / "b.jsonl").write_text(_sub("99999", id_="s1") + "\n")
    with pytest.raises(NotStrict, match=r"id 's1' is on lines with different content \(in .*a\.jsonl and .*b\.jsonl\)"):
        spark_json(spark, rewardrules.load(SAAS), folder)


def test_a_bad_line_in_a_part_is_named_by_its_file_and_line(spark: Spark, tmp_path: Path) -> None:
    """The Python reader's problem (line, field) when it refuses the line."""
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "a.jsonl").write_text("\n".join(BASE) + "\n")
    (folder / "b.jsonl").write_text("\n".join([_sub("1", id_="s8"), _sub('"abc"', id_="s9")]) + "\n")
    with pytest.raises(LedgerError) as caught:
        spark_json(spark, rewardrules.load(SAAS), folder)
    assert str(caught.value).startswith(f"{folder / 'b.jsonl'}:2: error: field `mrr`")


def _recorded(spark: Spark, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The text of every statement the shared session runs from here to the
    test's end, in order (its `sql` wrapped while the test runs)."""
    statements: list[str] = []
    sql = spark.session.sql
    monkeypatch.setattr(spark.session, "sql", lambda text, *a, **k: (statements.append(text), sql(text, *a, **k))[1])
    return statements


CASES = """\
ruleset cs
event payment { amount: money USD, Amount: money USD }
milestone paid { each payment where payment.Amount > 5 USD reward referrer cash 1 USD }
"""


def test_fields_named_alike_but_for_case_are_read_apart(spark: Spark, tmp_path: Path) -> None:
    """A program reading `Amount` of an event that declares `amount` too:
    Spark, which resolves names regardless of case, found every reference
    to the reader's columns of both ambiguous (exit 2) when it read the
    part files itself. (Reading both fields is refused on every SQL engine,
    RR450; the Python reader's records hold only the columns read.)"""
    from .test_sql_spark import spark_json as records_json

    prog = rewardrules.compile(CASES, "cs.rules")
    lines = [
        '{"id":"r1","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"ann","referee":"bob"}',
        '{"id":"p1","at":"2026-01-02T00:00:00Z","type":"payment","referee":"bob","amount":"1","Amount":"10"}',
        '{"id":"p2","at":"2026-01-03T00:00:00Z","type":"payment","referee":"bob","amount":"10","Amount":"1"}',
    ]
    python = python_json(prog, lines, None)
    assert [a["at"][:10] for a in json.loads(python)["awards"]] == ["2026-01-02"]  # `Amount`'s 10, not `amount`'s
    assert spark_json(spark, prog, split(lines, tmp_path / "parts", 1)) == python
    assert records_json(spark, prog, lines, None) == python


def test_a_part_file_s_name_never_enters_a_statement(
    spark: Spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first part file with a line outside the strict form is looked up
    by its name (chosen by whoever wrote the directory) as a parameter,
    never in a statement's text: the file and line are named all the same."""
    escaped = _sub("1000", id_="s7").replace('"bob"', '"b\\u006fb"')
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "a.jsonl").write_text("\n".join(BASE) + "\n")
    (folder / "it's.jsonl").write_text("\n".join([_sub("1", id_="s8"), escaped]) + "\n")
    statements = _recorded(spark, monkeypatch)
    with pytest.raises(NotStrict, match=rf"^{folder}/it's\.jsonl:2: this line is outside the form Spark reads"):
        spark_json(spark, rewardrules.load(SAAS), folder)
    assert statements and not any("it's" in text or "it\\'s" in text for text in statements)


def test_a_line_outside_the_strict_form_in_a_part_is_named(spark: Spark, tmp_path: Path) -> None:
    """A line the Python reader accepts but Spark does not read (an escape
    in a string): the directory is refused, naming the file and line; the
    same line in a single file is left to the Python reader."""
    escaped = _sub("1000", id_="s7").replace('"bob"', '"b\\u006fb"')
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "a.jsonl").write_text("\n".join(BASE) + "\n")
    (folder / "b.jsonl").write_text("\n".join([_sub("1", id_="s8"), "", escaped]) + "\n")
    prog = rewardrules.load(SAAS)
    with pytest.raises(NotStrict, match=rf"^{folder / 'b.jsonl'}:3: this line is outside the form Spark reads"):
        spark_json(spark, prog, folder)
    single = tmp_path / "single.jsonl"
    single.write_text("\n".join([*BASE, escaped]) + "\n")
    with pytest.raises(NotDirect):
        spark_json(spark, prog, single)


def test_score_engine_spark_over_part_files_prints_the_python_result(tmp_path: Path) -> None:
    """The command line end to end once (Spark starts in a process of its
    own, as a user's run does): a directory of parts gives `score`'s bytes
    and nothing is left in the working directory. The text output: its
    rows read back from the award records' JSON text that Spark writes
    (the JSON itself is compared in process, tests/test_spark_explained.py).
    Without explanations: planning the explained sections costs a cold JVM
    a minute; the same ledger's explained result on Spark is
    tests/test_spark_explained.py's."""
    ledger = _golden("referral_milestones", "duplicate_and_self")
    rules = str(ROOT / "rulesets" / "referral_milestones.rules")
    lines = ledger.read_text(encoding="utf-8").splitlines()
    parts = split(lines, tmp_path / "parts", 7)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    run = [sys.executable, "-m", "rewardrules", "score", "--no-explain"]
    spark = subprocess.run(
        [*run, "--engine", "spark", "--spark-master", "local[1]", rules, str(parts)],
        capture_output=True,
        text=True,
        cwd=workdir,
        check=False,
    )
    python = subprocess.run([*run, rules, str(ledger)], capture_output=True, text=True, check=False)
    assert spark.returncode == 0, spark.stderr
    assert spark.stdout == python.stdout
    assert list(workdir.iterdir()) == []  # no spark-warehouse, metastore or logs left in the working directory
    assert "Traceback" not in spark.stderr


def _edge_lines() -> list[str]:
    """The bad line of each ledger the Python reader refuses, and the lines
    of those it accepts, that DuckDB can read as lines (no carriage return,
    valid UTF-8, no byte-order mark)."""
    from .test_sql_reading import ACCEPTED, REFUSED

    found = [case.decode("utf-8").split("\n")[-1] for case in REFUSED.values() if _as_lines(case)]
    found += [line for case in ACCEPTED.values() if _as_lines(case) for line in case.decode("utf-8").split("\n")]
    return found


def _as_lines(data: bytes) -> bool:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return "\r" not in text and "\ufeff" not in text


@pytest.mark.parametrize("name", ["saas_milestones", "fasttrack_cpor"])
def test_spark_takes_the_lines_duckdb_takes_with_the_same_values(spark: Spark, tmp_path: Path, name: str) -> None:
    """The strict form in Spark SQL against `read.parse_sql` in DuckDB, line
    by line, over every golden ledger's lines and the reading tests' edge
    cases: the same lines taken, with the same values."""
    from rewardrules.ledger.validate import _one_currency
    from rewardrules.sql import read, spark_read

    prog = rewardrules.load(ROOT / "rulesets" / f"{name}.rules")
    kinds = read.plan(prog.compiled.checked, sorted(prog.compiled.used_types))
    currencies = _one_currency(prog._reader().money)
    lines = sorted({line for p in GOLDEN.rglob("*.jsonl") for line in p.read_text(encoding="utf-8").split("\n")})
    lines += _edge_lines()
    lines = [line for line in dict.fromkeys(lines) if line.strip(" ")]
    path = tmp_path / "lines.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    fields = sorted({f for spec in kinds.values() for f, _, _ in spec})
    wanted = ["line", "ok", "id", "type", "at", "referee", "referrer", *(f"v:{f}" for f in fields)]
    db = duckdb.connect()
    db.execute(read.parse_sql(str(path), kinds, currencies))
    columns = ", ".join(f'"{c}"' for c in wanted)
    duck = {row[0]: row[1:] for row in db.execute(f"SELECT {columns} FROM parsed").fetchall()}
    spark.session.createDataFrame([(line, "f") for line in lines], "line string, file string").createOrReplaceTempView(
        "rewardrules_lines"
    )
    columns = ", ".join(f"`{c}`" for c in wanted)
    ours = {
        row[0]: tuple(row[1:])
        for row in spark.session.sql(f"SELECT {columns} FROM ({spark_read.parse_sql(kinds, currencies)})").collect()
    }
    assert {line: row[0] for line, row in ours.items()} == {line: row[0] for line, row in duck.items()}
    taken = [line for line, row in duck.items() if row[0]]
    assert len(taken) > len(lines) // 2
    assert {line: ours[line] for line in taken} == {line: duck[line] for line in taken}


def test_a_cluster_keeps_its_own_shuffle_partitions(tmp_path: Path) -> None:
    """Four shuffle partitions suit two local threads; on a cluster the
    window functions' shuffle by referee spreads over its own (200 by
    default): four would put a 100M-event ledger in four tasks."""
    from rewardrules.sql.spark import _settings

    assert _settings(str(tmp_path), "local[2]")["spark.sql.shuffle.partitions"] == "4"
    assert "spark.sql.shuffle.partitions" not in _settings(str(tmp_path), "yarn")
    assert _settings(str(tmp_path), "yarn")["spark.sql.runSQLOnFiles"] == "false"
    # constants are written with backslash escapes, whatever a cluster's default
    assert _settings(str(tmp_path), "yarn")["spark.sql.parser.escapedStringLiterals"] == "false"


def test_a_dollar_brace_in_a_constant_stays_text(spark: Spark, tmp_path: Path) -> None:
    """Spark substitutes `${env:NAME}` and `${setting}` anywhere in SQL
    text, quoted constants included, by default: a rule file's text or a
    ledger's id could read an environment variable into the result. Off."""
    ids = ["${spark.app.name}", "${env:HOME}"]
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "a.jsonl").write_text(
        "".join(
            f'{{"id":"{i}","at":"2026-01-0{n + 1}T00:00:00Z","type":"referral","referrer":"ann","referee":"b{n}"}}\n'
            for n, i in enumerate(ids)
        )
    )
    from rewardrules.sql.spark_read import lines_of

    spark_json(spark, rewardrules.load(SAAS), folder)  # makes the views
    assert [json.loads(line)["id"] for line in lines_of(spark.session, ids)] == sorted(ids)
    assert spark.session.sql("SELECT '${spark.app.name}'").collect()[0][0] == "${spark.app.name}"


def test_the_ids_whose_lines_are_found_never_enter_a_statement(
    spark: Spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`lines_of` hands Spark the ids as one parameter, not as a literal
    each (90,910 of them at 1M events made one statement Spark parsed and
    planned whole: docs/performance.md, "Spark finds the ineligible
    referrals' lines by a parameter"): the lines of those referrals and of
    every referral of their referrers, no id in any statement's text, as
    itself or as a literal, and no Python worker started (a DataFrame of
    the ids needed one, of the driver's Python version on every executor:
    here its program does not exist)."""
    from rewardrules.sql import spark_read

    rows = [("it's", "ann", "b0"), ("${env:HOME}", "ann", "b1"), ("r9", "ann", "b2"), ("z1", "zed", "b3")]
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "a.jsonl").write_text(
        "".join(
            f'{{"id":"{i}","at":"2026-01-0{n + 1}T00:00:00Z","type":"referral","referrer":"{who}","referee":"{to}"}}\n'
            for n, (i, who, to) in enumerate(rows)
        )
    )
    spark_json(spark, rewardrules.load(SAAS), folder)  # makes the views
    statements = _recorded(spark, monkeypatch)
    monkeypatch.setattr(spark.session.sparkContext, "pythonExec", str(tmp_path / "no-python"))
    asked = ["it's", "it's", "${env:HOME}"]
    found = spark_read.lines_of(spark.session, asked)
    assert sorted(json.loads(line)["id"] for line in found) == ["${env:HOME}", "it's", "r9"]  # ann's, not zed's
    assert statements
    assert not any(i in text or spark_read._lit(i) in text for i in asked for text in statements)


def test_the_parsed_lines_are_cached_on_disk_not_in_the_heap(
    spark: Spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parsed lines are read by several queries, so they are cached;
    in the JVM's heap they ran a 1 GB heap out of memory at 10M events
    (docs/performance.md, "The curve, 1M to 20M events"). Seen while the
    ledger is loaded: after the run the cache is cleared."""
    from rewardrules.sql import spark_read

    levels = []
    scales = spark_read._scales

    def seen(session, columns):  # type: ignore[no-untyped-def]
        level = session.table("rewardrules_parsed").storageLevel
        levels.append((level.useDisk, level.useMemory, level.useOffHeap))
        return scales(session, columns)

    monkeypatch.setattr(spark_read, "_scales", seen)
    ledger = _golden("saas_milestones", "basic")
    prog = rewardrules.load(SAAS)
    lines = ledger.read_text(encoding="utf-8").splitlines()
    assert spark_json(spark, prog, split(lines, tmp_path / "p", 7)) == python_json(prog, lines, None)
    assert levels == [(True, False, False)]


def test_a_parquet_column_s_name_never_enters_a_statement(
    spark: Spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each row is written as JSON by `to_json(struct(*))`, its keys from
    the file's schema: a column's name (here with a quote, a backtick and
    `${...}`) was written in the statement as a constant and a quoted
    name of its own. The extra key is ignored, as in JSON Lines."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rules, jsonl, parquet = _written_files(tmp_path, "DECIMAL(10, 2)")
    prog = rewardrules.load(rules)
    odd = "it's `odd` ${env:HOME}"
    table = pq.read_table(parquet)
    pq.write_table(table.append_column(odd, pa.array(["x"] * table.num_rows)), parquet)
    statements = _recorded(spark, monkeypatch)
    expected = python_json(prog, jsonl.read_text(encoding="utf-8").splitlines(), None)
    assert spark_json(spark, prog, parquet) == expected
    assert statements
    assert not any(piece in text for text in statements for piece in ("it's", "it\\'s", "`odd`", "${env:HOME}"))


@contextmanager
def _default_file_system(spark: Spark, root: Path) -> Iterator[None]:
    """Spark's Hadoop configuration with a default file system of its own
    (as `core-site.xml` gives an edge node HDFS, or a notebook DBFS): a
    view file system where `/a/b` is `root/a/b`, then none again."""
    hadoop = spark.session.sparkContext._jsc.hadoopConfiguration()
    name = f"rewardrules{random.randrange(16**8):08x}"  # its own: Hadoop keeps a file system per name
    given = {f"fs.viewfs.mounttable.{name}.linkFallback": root.as_uri(), "fs.defaultFS": f"viewfs://{name}/"}
    before = {key: hadoop.getRaw(key) for key in given}
    for key, value in given.items():
        hadoop.set(key, value)
    try:
        yield
    finally:  # as it was
        for key, value in before.items():
            if value is None:
                hadoop.unset(key)
            else:
                hadoop.set(key, value)


def test_a_local_path_is_read_on_this_machine_as_named(spark: Spark, tmp_path: Path) -> None:
    """A ledger named by a path is the file of that name on this machine,
    the one the Python side lists and reads: not a file of the same path
    on Spark's default file system, nor one its glob characters match
    (`spark_uri.local_uri`). Until 2026-12-07 Spark was given the path as
    it is: with a default file system the run read another ledger there,
    the scratch file of a ledger the Python reader read was looked for
    there and not found, and `ledger[1].jsonl` read `ledger1.jsonl`."""
    prog = rewardrules.load(ROOT / "rulesets" / "saas_milestones.rules")
    real, other = _golden("saas_milestones", "basic"), _golden("saas_milestones", "same_instant_ids")
    assert python_json(prog, str(real), None) != python_json(prog, str(other), None)
    here = tmp_path / "here"
    here.mkdir()
    (here / "ledger1.jsonl").write_bytes(other.read_bytes())  # what the glob `ledger[1].jsonl` matches
    named = here / "ledger[1].jsonl"
    named.write_bytes(real.read_bytes())
    parts = split(real.read_text(encoding="utf-8").splitlines(), here / "parts{a,b}", 8)
    # the Python reader's (not in the strict form: an escape), through the run's scratch file
    loose = here / "loose.jsonl"
    loose.write_text(real.read_text(encoding="utf-8").replace('"bob"', '"\\u0062ob"', 1), encoding="utf-8")
    assert loose.read_text(encoding="utf-8") != real.read_text(encoding="utf-8")
    decoy = tmp_path / "decoy"  # the same paths on the default file system, holding the other ledger
    for path in (named, parts / "p.jsonl", loose):
        (decoy / path.relative_to("/")).parent.mkdir(parents=True, exist_ok=True)
        (decoy / path.relative_to("/")).write_bytes(other.read_bytes())
    expected = python_json(prog, str(real), None)
    assert spark_json(spark, prog, named) == expected  # the glob alone
    assert spark_json(spark, prog, f"file://{named}") == expected  # named by a URI: listed, and read, by that name
    with _default_file_system(spark, decoy):
        for path in (named, parts):
            assert spark_json(spark, prog, path) == expected, path
        with pytest.raises(NotDirect):
            spark_json(spark, prog, loose)
        # the lines the Python reader read, written to the run's scratch file for Spark
        assert records_json(spark, prog, loose.read_text(encoding="utf-8").splitlines(), None) == expected


def test_a_path_or_uri_is_given_to_spark_by_its_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each glob character escaped (the backslash first of all: `a\\b`
    matched `ab`), a path made whole and `file://`, a URI's authority kept
    as written (an IPv6 host's brackets)."""
    for char in "\\{}[]*?":
        assert local_uri(f"/d/a{char}b.jsonl") == f"file:///d/a\\{char}b.jsonl"
        assert literal_uri(f"hdfs://[::1]:8020/d/a{char}b") == f"hdfs://[::1]:8020/d/a\\{char}b"
    assert (
        local_uri("/d/a b%20#c.jsonl") == "file:///d/a b%20#c.jsonl"
    )  # not percent-encoded: Hadoop reads it as written
    monkeypatch.chdir(tmp_path)  # a folder without glob characters, whatever the checkout's
    assert local_uri("ledger.jsonl") == f"file://{tmp_path / 'ledger.jsonl'}"
    assert local_uri("a/../ledger.jsonl") == f"file://{tmp_path / 'ledger.jsonl'}"
    assert literal_uri("gs://bucket") == "gs://bucket"
