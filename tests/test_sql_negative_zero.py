"""Negative zeros with the SQL back end (docs/sql.md, "Messages"): money
the Python engine holds as a negative zero (`-0.00` read from the ledger,
`-0.00 * 2`, `-0.00 - 0`, a quotient of one) is written `-0.00` in its
messages; a DECIMAL has no negative zero, so the query carries each
value's sign (`sql/signs.py`). Byte for byte, on ledgers read by the
Python reader and by DuckDB itself, and once on Spark."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.cli.sql import spark_direct_result
from rewardrules.sql.compile import compile_query

from .conftest import examples
from .test_sql_backend import duckdb_json, python_json
from .test_sql_messages_more import _direct_json

#: every way money reaches a message: the triggering event's field, each
#: aggregate (`otherwise` too), arithmetic, `N% of`, `rate of`, a quotient
ZEROS = """\
ruleset zeros

event usage { price: money USD, fee: optional money USD }

metric last = latest usage.price
metric first_fee = first usage.fee
metric top = max usage.price
metric low = min usage.fee otherwise 0 USD
metric total = sum usage.price
metric uses = count usage
metric negated = -last
metric doubled = last * 2
metric minus = last - first_fee
metric plus = last + low
metric tenth = 10% of top
metric rate = tiers of uses {
  0 to 2: 10%
  3 or more: 0%
}
metric scaled = rate of low
metric half = last / 2
metric shared = total / uses

milestone each_use {
  each usage
  reward referrer cash 1 USD
  message "{{ usage.price }} {{ usage.fee }} | {{ last }} {{ first_fee }} {{ top }} {{ low }} {{ total }} | {{ negated }} {{ doubled }} {{ minus }} {{ plus }} {{ tenth }} {{ scaled }} | {{ half }} {{ shared }}"
}
"""

REFERRAL = '{"id":"r0","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"ann","referee":"bob"}'


def _use(n: int, price: str, fee: str | None, day: int | None = None) -> str:
    """A usage line, its amounts as decimal strings written as given."""
    fee_text = "" if fee is None else f',"fee":"{fee}"'
    at = f"2026-01-{(n if day is None else day) + 2:02d}T00:00:00Z"
    return f'{{"id":"u{n}","at":"{at}","type":"usage","referee":"bob","price":"{price}"{fee_text}}}'


#: negative zeros first (kept by `max` and `min` against a later 0.00),
#: then positive ones, a small negative, and zeros again
LEDGER = [
    REFERRAL,
    _use(0, "-0.00", "-0.00"),
    _use(1, "0.00", "0.00"),
    _use(2, "-0.001", None),
    _use(3, "-0", "0"),
]


@pytest.fixture(scope="module")
def prog(tmp_path_factory: pytest.TempPathFactory) -> rewardrules.Program:
    path = tmp_path_factory.mktemp("zeros") / "zeros.rules"
    path.write_text(ZEROS, encoding="utf-8")
    return rewardrules.load(path)


def test_negative_zeros_are_written_as_the_python_engine_writes_them(prog: rewardrules.Program, tmp_path: Path) -> None:
    expected = python_json(prog, LEDGER, None)
    assert duckdb_json(prog, LEDGER, None) == expected
    assert _direct_json(prog, LEDGER, tmp_path) == expected
    messages = [a["message"] for a in json.loads(expected)["awards"]]
    # not vacuous: the engine's own signs, each kind of value
    # (a sum and `-` give 0.00; `-0.00 - -0.00` is 0.00)
    assert messages[0] == "-0.00 -0.00 | -0.00 -0.00 -0.00 -0.00 0.00 | 0.00 -0.00 0.00 -0.00 -0.00 -0.00 | -0.00 0.00"
    # 0.00 after -0.00: `latest` is 0.00, `max` and `min` keep the first
    assert messages[1] == "0.00 0.00 | 0.00 -0.00 -0.00 -0.00 0.00 | 0.00 0.00 0.00 0.00 -0.00 -0.00 | 0.00 0.00"


@settings(max_examples=examples(12), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["-0.00", "0.00", "-0", "0", "-0.004", "0.005", "-0.005", "1.00", "-1.00"]),
            st.sampled_from([None, "-0.00", "0", "-0.001", "2.50"]),
            st.integers(min_value=0, max_value=2),
        ),
        max_size=5,
    )
)
def test_generated_ledgers_give_the_same_messages(prog: rewardrules.Program, rows: list[Any]) -> None:
    """Zeros of either sign, small amounts that round to them, ties of
    instants (ordered by id)."""
    events = [REFERRAL] + [_use(n, price, fee, day) for n, (price, fee, day) in enumerate(rows)]
    assert duckdb_json(prog, events, None) == python_json(prog, events, None)


@pytest.mark.usefixtures("spark_generated")  # with Spark's generated code (tests/conftest.py)
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")  # py4j's (as test_sql_spark.py)
def test_negative_zeros_on_spark(prog: rewardrules.Program, spark: Any, tmp_path: Path) -> None:
    """The sign column filled by Spark reading the ledger file itself, and
    the query run by Spark (one run)."""
    path = tmp_path / "ledger.jsonl"
    path.write_text("".join(line + "\n" for line in LEDGER), encoding="utf-8")
    data = spark_direct_result(prog, compile_query(prog.compiled), spark, str(path), None)
    assert json.dumps(data, ensure_ascii=False, indent=2) + "\n" == python_json(prog, LEDGER, None)


#: zeros written as JSON numbers, not strings: the integer `-0` is decoded
#: as an `int`, which has no sign (0.00), `-0.0` as a negative zero
NUMBERS = [
    REFERRAL,
    '{"id":"u0","at":"2026-01-02T00:00:00Z","type":"usage","referee":"bob","price":-0,"fee":-0}',
    '{"id":"u1","at":"2026-01-03T00:00:00Z","type":"usage","referee":"bob","price":-0.0,"fee":0}',
    '{"id":"u2","at":"2026-01-04T00:00:00Z","type":"usage","referee":"bob","price":0,"fee":-0.00}',
]


def test_zeros_written_as_json_numbers(prog: rewardrules.Program, tmp_path: Path) -> None:
    """The ledger read by DuckDB itself gives the Python reader's signs
    (its `-0` was `-0.00`, found by review)."""
    expected = python_json(prog, NUMBERS, None)
    assert _direct_json(prog, NUMBERS, tmp_path) == expected
    assert duckdb_json(prog, NUMBERS, None) == expected
    messages = [a["message"] for a in json.loads(expected)["awards"]]
    assert messages[0].startswith("0.00 0.00 | ")  # not vacuous: the integer has no sign
    assert messages[1].startswith("-0.00 0.00 | ")


@pytest.mark.usefixtures("spark_generated")  # with Spark's generated code (tests/conftest.py)
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")  # py4j's (as test_sql_spark.py)
def test_zeros_written_as_json_numbers_on_spark(prog: rewardrules.Program, spark: Any, tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    path.write_text("".join(line + "\n" for line in NUMBERS), encoding="utf-8")
    data = spark_direct_result(prog, compile_query(prog.compiled), spark, str(path), None)
    assert json.dumps(data, ensure_ascii=False, indent=2) + "\n" == python_json(prog, NUMBERS, None)
