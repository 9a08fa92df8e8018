"""A milestone's CTEs go with the rows that read them (`compile.scoped`,
docs/sql.md "Files of many rewards"): DuckDB plans a query in time that
grows with the cube of the CTEs of one WITH that it reads, so each
milestone's hits are defined in a WITH of their own, beside its award rows
(and beside what else reads them: the per-event limit's counts, the
withheld rewards, the partial voids' clawbacks). Spark's and Databricks'
writers move every CTE to the statement's WITH, where a statement holding
one milestone's rows twice must define its CTEs once."""

from __future__ import annotations

import re

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import UnsupportedError

import rewardrules
from rewardrules.sql.compile import compile_query
from rewardrules.sql.dialect import TOP_LEVEL_CTES, _deep, to_dialect
from rewardrules.sql.sections import compile_explained

from .conftest import RULESETS
from .test_sql_backend import GOLDEN

#: a milestone's CTEs: its hits, a timer's starts, `every`'s jumps, its voids
_MILESTONE_CTE = re.compile(r"[hsjvfpg][0-9]+(_[0-9]+)?")

#: programs with timers, voids, partial voids, caps and messages
_PROGRAMS = [
    RULESETS / "partner_and_customer.rules",
    RULESETS / "subscription_loyalty.rules",
    RULESETS / "saas_milestones.rules",
    GOLDEN / "clawbacks" / "clawbacks.rules",
]

#: `every N M` (its `j{k}`, read by the per-event limit's statement) beside
#: a plain milestone, per referral and per referrer
_EVERY = """ruleset steps "Steps"

event payment { amount: money USD }

metric paid = sum payment.amount
metric conversions = count referrals where paid >= 1 USD

milestone tens "Each 10 USD paid" {
  every 10 paid
  reward referrer cash 1 USD
}

milestone thirds "Every third paying friend" {
  every 3 conversions
  reward referrer cash 5 USD
}

milestone first "First payment" {
  first payment
  reward referee credit 2 USD
}
"""


def _withs(sql: str, dialect: str = "duckdb") -> list[list[str]]:
    """The names each WITH of a statement defines, the statement's own first."""
    with _deep():  # an explanation's nested REPLACEs
        tree = sqlglot.parse_one(sql, read=dialect)
    own = tree.args.get("with_")
    rest = [w for w in tree.find_all(exp.With) if w is not own]
    return [[cte.alias for cte in w.expressions] for w in ([own] if own else []) + rest]


def _statements(path: object) -> list[tuple[str, str]]:
    prog = rewardrules.compile(_EVERY, "steps.rules") if path == "every" else rewardrules.load(path)  # type: ignore[arg-type]
    query = compile_query(prog.compiled)
    explained, sections = compile_explained(prog.compiled)
    volume = query.volume_sql()
    return [
        *query.statements(),
        *explained.statements(),
        *sections.statements(),
        *([("volume", volume)] if volume else []),
    ]


@pytest.mark.parametrize("path", [*_PROGRAMS, "every"], ids=lambda p: getattr(p, "stem", p))
def test_no_milestone_cte_is_in_a_statement_s_own_with(path: object) -> None:
    """Each milestone's CTEs are in a WITH of their own (no `unless voided`
    in these programs: a followed milestone's hits stay in the prelude)."""
    milestone_ctes = 0
    for name, sql in _statements(path):
        own, *scoped = _withs(sql)
        assert not [c for c in own if _MILESTONE_CTE.fullmatch(c)], name
        milestone_ctes += sum(1 for w in scoped for c in w if _MILESTONE_CTE.fullmatch(c))
    assert milestone_ctes > 0


#: each dialect on programs with the explained sections' doubled rows,
#: timers and partial voids (Redshift's stars expanded by sqlglot take
#: seconds a program: one program there)
_WRITTEN = [
    (_PROGRAMS[0], "spark"),
    (_PROGRAMS[1], "spark"),
    (_PROGRAMS[0], "databricks"),
    (_PROGRAMS[3], "redshift"),
]


def test_every_such_dialect_is_written() -> None:
    assert {dialect for _, dialect in _WRITTEN} == TOP_LEVEL_CTES


@pytest.mark.parametrize(("path", "dialect"), _WRITTEN, ids=[f"{p.stem}-{d}" for p, d in _WRITTEN])
def test_spark_databricks_and_redshift_define_each_cte_once(path: object, dialect: str) -> None:
    """Every CTE in the statement's WITH, each name once: the explained
    sections hold a milestone's rows twice (issued and withheld), which
    Spark refused as DUPLICATED_CTE_NAMES; Redshift takes no WITH in a
    CTE's body (there: `issued`, `withheld`, a fold of several caps)."""
    columns = [column.name for column in compile_query(rewardrules.load(path).compiled).columns]  # type: ignore[arg-type]
    for name, sql in _statements(path):
        names = [n for w in _withs(sql) for n in w]
        written = _withs(to_dialect(sql, dialect, columns), dialect)
        assert len(written) == 1, name  # one WITH: the statement's own
        assert len(written[0]) == len(set(written[0])), name
        assert set(written[0]) == set(names), name


def test_every_s_jumps_go_with_the_per_event_limit_s_counts() -> None:
    """The per-event limit's statement reads `every`'s `j{k}` and a plain
    milestone's `h{k}`, each from a WITH of its own."""
    volume = dict(_statements("every"))["volume"]
    own, *scoped = _withs(volume)
    assert not [c for c in own if _MILESTONE_CTE.fullmatch(c)]
    assert {"j0", "j1", "h2"} <= {c for w in scoped for c in w}


def test_the_explained_sections_hold_a_milestone_s_rows_twice() -> None:
    """The case Spark refused is among those above."""
    withs = [(name, _withs(sql)) for name, sql in _statements(_PROGRAMS[0])]
    twice = [name for name, found in withs if len(found) > len({*map(tuple, found)})]
    assert set(twice) == {"referrals, explained", "withheld rewards"}  # each reads the issued and the withheld


def test_two_different_ctes_of_one_name_are_an_error() -> None:
    """Never one definition silently read for another."""
    sql = (
        "WITH a AS (SELECT 1 AS x), b AS (SELECT * FROM (WITH h0 AS (SELECT x FROM a) SELECT * FROM h0) AS m), "
        "c AS (SELECT * FROM (WITH h0 AS (SELECT x + 1 AS x FROM a) SELECT * FROM h0) AS m) "
        "SELECT * FROM b UNION ALL SELECT * FROM c"
    )
    with pytest.raises(UnsupportedError, match="two CTEs named `h0` that differ"):
        to_dialect(sql, "spark")
    assert "WITH h0" in to_dialect(sql, "postgres")  # the others keep the scopes as written
