"""A hit row's repeated subexpressions computed once, as columns of layers
under its SELECT (sql/lets.py): an exact money quotient that a message
and an explanation both write is rounded from one pair of integers, and
the awards, messages and explanations stay the Python engine's bytes."""

from __future__ import annotations

import duckdb
import pytest

import rewardrules
from rewardrules.sql.compile import compile_query
from rewardrules.sql.lets import Lets

from .test_review_rev1_drawn import same_explained
from .test_sql_voids_metrics import same
from .test_sql_whenever_quotient import payment, referral

#: one milestone whose message and explanation write the same money
#: quotient, and one whose reward divides (its amount is already a column)
RULES = """ruleset shared "Shared"

event payment { amount: money USD }

metric paid = sum payment.amount
metric orders = count payment
metric average = paid / orders

milestone steady "Steady" {
  when orders >= 2
  reward referrer cash 1 USD
  message "average {{ average }}"
}

milestone each {
  each payment where payment.amount > 0
  reward referee cash payment.amount / 3
  message "a third of {{ payment.amount }}, average {{ average }}"
}
"""


def test_outside_a_scope_a_text_is_written_where_it_is_read() -> None:
    assert Lets().name("(a + b)") == "(a + b)"


def test_the_same_text_is_one_column_and_a_text_reading_one_is_a_layer_above() -> None:
    lets = Lets()
    with lets.scope() as scope:
        top = lets.name("(a * 10)")
        assert lets.name("(a * 10)") == top
        whole = lets.name(f"({top} // b)")
        bottom = lets.name("(b * 10)")
    assert (top, whole, bottom) == ("let0", "let1", "let2")
    assert Lets.under(scope, "t WHERE ok") == (
        "(SELECT *, (let0 // b) AS let1 FROM "
        "(SELECT *, (a * 10) AS let0, (b * 10) AS let2 FROM t WHERE ok) AS let_1) AS let_2"
    )
    assert lets.name("(a * 10)") == "(a * 10)"  # the scope is closed


def test_a_relation_without_lets_is_unchanged() -> None:
    lets = Lets()
    with lets.scope() as scope:
        pass
    assert Lets.under(scope, "totals WHERE e0") == "totals WHERE e0"


def test_the_layers_read_the_rows_the_select_reads() -> None:
    lets = Lets()
    with lets.scope() as scope:
        doubled = lets.name("(x * 2)")
        rank = lets.name(f"ROW_NUMBER() OVER (ORDER BY {doubled} DESC)")
    relation = Lets.under(scope, "(SELECT * FROM range(5) AS r(x)) AS t WHERE x > 1")
    rows = duckdb.connect().execute(f"SELECT x, {rank} FROM {relation} ORDER BY x").fetchall()
    assert rows == [(2, 3), (3, 2), (4, 1)]


def test_a_rounded_quotient_s_integers_are_written_once_where_they_are_read() -> None:
    """10^k, of the numerator's and of the denominator's integers
    (`expressions._integers`), is written twice a rounding: once for each
    milestone's average in its hits, once for the reward rounded from its
    fraction in its award rows (its amount, the amount it asked and the
    test that withholds it all read one column). Written where each was
    read, it was 54 times."""
    query = compile_query(rewardrules.compile(RULES, "s.rules").compiled, explain=True)
    assert query.awards.count("RPAD('1'") <= 6


@pytest.mark.parametrize("as_of", [None, "2026-01-05T00:00:00Z"])
def test_the_awards_messages_and_explanations_are_the_python_engine_s(as_of: str | None) -> None:
    prog = rewardrules.compile(RULES, "s.rules")
    amounts = ["10", "5", "0.05", "0.15", "-3", "0", "2.50", "3.33", "0.01", "0.25"]
    events = [referral("c1"), referral("c2", 1, "ben")]
    events += [payment(n, 1 + n % 8, f"c{1 + n % 2}", amount) for n, amount in enumerate(amounts)]
    same(prog, events, as_of)
    same_explained(prog, events)
