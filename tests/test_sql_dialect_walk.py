"""`dialect.written` applies its node rewrites in two walks of the tree
(`_in_one_walk`), not one `transform` per rewrite: the same statement as
the rewrites applied one after the other, which on a statement of a few
hundred kilobytes took seconds a walk."""

from __future__ import annotations

from typing import Any

import pytest
import sqlglot

import rewardrules
from rewardrules.sql import dialect
from rewardrules.sql.compile import compile_query
from rewardrules.sql.sections import compile_explained

from .test_sql_backend import ROOT

#: rewrites of each kind: a `STRLEN` (award ids), a `REPLACE` star, a
#: HUGEINT (rounded minor units), literals' casts
PROGRAMS = ("partner_and_customer", "subscription_loyalty", "referral_milestones")


def _one_after_the_other(tree: Any, steps: list[Any]) -> Any:
    for step in steps:
        tree = tree.transform(step, copy=False)
    return tree


def _statements(name: str) -> list[str]:
    prog = rewardrules.load(ROOT / "rulesets" / f"{name}.rules")
    explained, sections = compile_explained(prog.compiled)
    found = [sql for _, sql in compile_query(prog.compiled).statements()]
    return found + [sql for _, sql in explained.statements()] + [sections.referrals, sections.withheld]


@pytest.mark.parametrize(
    ("name", "literal"), [*((name, "_tight_literal") for name in PROGRAMS), (PROGRAMS[0], "_wide_literal")]
)
def test_the_walks_give_what_each_rewrite_in_turn_gives(name: str, literal: str) -> None:
    steps = [dialect._byte_length, dialect._star_replace, dialect._hugeint, getattr(dialect, literal)]
    with dialect._deep():
        for sql in _statements(name):
            walked = dialect._in_one_walk(sqlglot.parse_one(sql, read="duckdb"), steps[:3])
            walked = dialect._in_one_walk(walked, steps[3:])
            expected = _one_after_the_other(sqlglot.parse_one(sql, read="duckdb"), steps)
            assert walked.sql("duckdb") == expected.sql("duckdb")


def test_a_literal_cast_to_hugeint_is_tightened_once_it_is_a_decimal() -> None:
    """`_hugeint` changes the cast's type below the cast: `_tight_literal`
    must see the DECIMAL it made (in one walk with it, it saw HUGEINT)."""
    assert "CAST('2' AS DECIMAL(1, 0))" in dialect.to_dialect("SELECT CAST('2' AS HUGEINT) AS y", "spark")


def test_what_a_replaced_node_holds_is_still_rewritten() -> None:
    """`_byte_length` replaces a `STRLEN`: the cast inside it is still
    tightened and the HUGEINT inside it still written as a DECIMAL."""
    written = dialect.to_dialect("SELECT STRLEN(CAST(CAST('7' AS DECIMAL(38, 0)) AS HUGEINT)) AS y", "spark")
    assert "OCTET_LENGTH" in written and "STRLEN" not in written
    assert "CAST('7' AS DECIMAL(1, 0))" in written and "AS DECIMAL(38, 0))" in written


def test_a_step_does_not_look_inside_what_it_replaced() -> None:
    """As `transform` prunes a replaced node: a `STRLEN` inside a `STRLEN`
    stays one (each walk of `transform` would leave it too)."""
    tree = sqlglot.parse_one("SELECT STRLEN(STRLEN(x)) AS y", read="duckdb")
    expected = _one_after_the_other(tree.copy(), [dialect._byte_length]).sql("duckdb")
    assert dialect._in_one_walk(tree, [dialect._byte_length]).sql("duckdb") == expected
