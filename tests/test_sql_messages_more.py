"""Messages reading plain numbers, quotients and instants with the SQL back
end (docs/sql.md, "Messages"): each number written with the decimals the
Python engine's Decimal carries (`sql/exponents.py`), byte for byte, on
ledgers read by the Python reader and by DuckDB itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.cli.sql import direct_result
from rewardrules.score.api import parse_as_of
from rewardrules.sql.compile import Unsupported, compile_query
from rewardrules.sql.diagnose import refusals

from .conftest import examples
from .test_sql_backend import duckdb_json, python_json

#: every kind of number a message can read: fields of the triggering event
#: (a number, a quantity in MB, money), each aggregate, arithmetic of them,
#: `otherwise`, a money quotient, and the event's instant
NUMBERS = """\
ruleset nums

event usage { seats: number, size: optional quantity MB, price: money USD }

metric seats_now = latest usage.seats
metric most = max usage.seats
metric least = min usage.size otherwise 0.5 MB
metric total = sum usage.seats
metric first_size = first usage.size
metric small = sum usage.seats where usage.seats < 3
metric uses = count usage
metric priced = sum usage.price
metric mixed = total * 1.5 - most + -seats_now
metric share = 10% of total
metric product = seats_now * most
metric average = priced / uses
metric rate = tiers of total {
  0 to 2.5: 10%
  2.5 to 8: 12.50%
  8 or more: 7.0%
}

milestone each_use {
  each usage
  reward referrer cash 1 USD
  message "{{ usage.seats }} {{ usage.size }} {{ usage.price }} | {{ seats_now }} {{ most }} {{ least }} {{ total }} {{ first_size }} {{ small }} {{ uses }} | {{ mixed }} {{ share }} {{ product }} {{ average }} {{ rate }} | {{ usage.at }}"
}
"""


def written(root: Path, name: str, text: str) -> rewardrules.Program:
    """The program of a rule file's text, written to a file of its own."""
    path = root / f"{name}.rules"
    path.write_text(text, encoding="utf-8")
    return rewardrules.load(path)


@pytest.fixture(scope="module")
def prog(tmp_path_factory: pytest.TempPathFactory) -> rewardrules.Program:
    return written(tmp_path_factory.mktemp("nums"), "nums", NUMBERS)


def _use(n: int, seats: str, size: str | None, price: str, at: str = "") -> str:
    """A usage line, its numbers written as given (JSON numbers are read
    exactly, with their decimals; `"1.5"` is a decimal string)."""
    at = at or f"2026-01-{n + 1:02d}T00:00:00Z"
    sized = "" if size is None else f',"size":{size}'
    return f'{{"id":"u{n}","at":"{at}","type":"usage","referee":"bob","seats":{seats}{sized},"price":"{price}"}}'


REFERRAL = '{"id":"r0","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"ann","referee":"bob"}'

#: usage ledgers drawn for a warehouse's run of NUMBERS (`drawn_usage`):
#: ties of instants (ordered by id), maxima reached again with other
#: decimals, a `first` size missing or not
USAGE_ROWS = st.lists(
    st.tuples(
        st.sampled_from(["1", "1.5", "1.50", "-0.25", "2.000", "0", "10", "0.1"]),
        st.sampled_from([None, "1", "1.0", "0.50", "3.125", "-1"]),
        st.sampled_from(["1", "0.5", "2.25", "0.01", "-0.05", "0.015"]),
        st.integers(min_value=0, max_value=3),
    ),
    max_size=6,
)


def drawn_usage(rows: list[tuple[str, str | None, str, int]]) -> list[str]:
    """The ledger of drawn `USAGE_ROWS`: the referral, then a usage line
    per row on one of four days."""
    return [REFERRAL] + [
        _use(n, seats, size, price, f"2026-01-0{day + 2}T00:00:00Z") for n, (seats, size, price, day) in enumerate(rows)
    ]


#: numbers whose decimals differ from value to value: 1.50 and 1.5, a
#: maximum reached twice with other decimals (the first one is kept),
#: whole numbers written with decimals, negatives, a missing size
LEDGER = [
    REFERRAL,
    _use(1, "1.50", "2.0", "10.00"),
    _use(2, "1.5", None, "3"),
    _use(3, "4", "0.125", "0.01"),
    _use(4, "4.00", '"7"', "0.02"),
    _use(5, '"-2.250"', "1", "5.5"),
    _use(6, "3.0", "0.1250", "0.01"),
]


def _direct_json(prog: rewardrules.Program, lines: list[str], folder: Path) -> str:
    """`score --engine duckdb` with DuckDB reading the ledger file itself."""
    path = folder / "ledger.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    data = direct_result(prog, compile_query(prog.compiled), str(path), parse_as_of(None))
    assert data is not None, "the ledger is in the strict form"
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def test_numbers_are_written_as_the_python_engine_writes_them(prog: rewardrules.Program, tmp_path: Path) -> None:
    expected = python_json(prog, LEDGER, None)
    assert duckdb_json(prog, LEDGER, None) == expected
    assert _direct_json(prog, LEDGER, tmp_path) == expected
    messages = [a["message"] for a in json.loads(expected)["awards"]]
    # the decimals of each value as it was read or computed (not vacuous)
    assert (
        messages[0] == "1.50 2 10.00 | 1.50 1.50 2 1.50 2 1.50 1 | -0.750 0.150 2.2500 10.00 10 | 2026-01-02T00:00:00Z"
    )
    # 1.5 after 1.50: the maximum stays the first one read, with its decimals
    assert messages[1].startswith("1.5  3.00 | 1.5 1.50 2 3 2 3 2 | 1.500 0.300 2.250 6.50 12.50 |")
    assert messages[4].startswith("-2.250 1 5.50 | -2.250 4 0.125 8.750 2 0.750 5 | 11.3750 0.8750 -9 3.71 7 |")
    assert messages[5].endswith("| 2026-01-07T00:00:00Z")


@settings(max_examples=examples(12), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["1", "1.5", "1.50", "-0.25", "2.000", "0", "10", "0.1"]),
            st.sampled_from([None, "1", "1.0", "0.50", "3.125", "-1"]),
            st.sampled_from(["1", "0.5", "2.25", "0.01", "-0.05", "0.015", "-0.015", "0.005"]),
            st.integers(min_value=0, max_value=3),
        ),
        max_size=6,
    )
)
def test_generated_ledgers_give_the_same_messages(prog: rewardrules.Program, rows: list[Any]) -> None:
    """Ties of instants (ordered by id), numbers of every decimals, money
    quotients on a half cent either side of zero."""
    events = [REFERRAL] + [
        _use(n, seats, size, price, f"2026-01-0{day + 2}T00:00:00Z") for n, (seats, size, price, day) in enumerate(rows)
    ]
    assert duckdb_json(prog, events, None) == python_json(prog, events, None)


def test_a_quotient_of_plain_numbers_compiles(tmp_path: Path) -> None:
    """Refused before (the engine writes it to 100 significant digits):
    the query now sends the values it reads (tests/test_sql_constructs3_messages.py)."""
    text = NUMBERS.replace("{{ average }}", "{{ ratio }}").replace(
        "metric average", "metric ratio = total / uses\nmetric average"
    )
    prog = written(tmp_path, "ratio", text)
    compile_query(prog.compiled)
    assert refusals(prog.compiled) == []


TIMES = """\
ruleset times

event renewal { due: optional time }

milestone renewed {
  each renewal
  reward referrer credit 1 USD
  message "{{ renewal.at }} until {{ renewal.due }}"
}
"""


def test_instants_are_written_as_the_python_engine_writes_them(tmp_path: Path) -> None:
    prog = written(tmp_path, "times", TIMES)
    lines = [
        REFERRAL,
        '{"id":"n1","at":"2026-01-02T00:00:00.5+02:00","type":"renewal","referee":"bob","due":"2026-03-01T10:00:00Z"}',
        '{"id":"n2","at":"2026-01-03T00:00:00Z","type":"renewal","referee":"bob"}',
    ]
    expected = python_json(prog, lines, None)
    assert duckdb_json(prog, lines, None) == expected
    messages = [a["message"] for a in json.loads(expected)["awards"]]
    assert messages == [
        "2026-01-01T22:00:00.5Z until 2026-03-01T10:00:00Z",
        "2026-01-03T00:00:00Z until ",
    ]  # no `due`: empty text


#: computed amounts in units that are not currencies: exact, written
#: plainly; a count cap on one; nothing or less withheld
POINTS = """\
ruleset pts

event usage { seats: quantity points, size: optional quantity MB }

metric total = sum usage.seats

milestone each_use {
  each usage
  reward referrer credit 1.5 * usage.seats
  reward referee storage usage.size - 0.25 MB
  reward referrer credit 10% of total
  cap referrer 4 rewards
}
"""


def test_amounts_in_other_units_are_exact_as_in_the_python_engine(tmp_path: Path) -> None:
    prog = written(tmp_path, "pts", POINTS)
    lines = [REFERRAL] + [
        _use(n, seats, size, "1", f"2026-01-0{n + 2}T00:00:00Z")
        for n, (seats, size) in enumerate([("2.25", "1.0"), ("1.50", None), ("-1", "0.25"), ("4.000", "3.125")])
    ]
    expected = python_json(prog, lines, None)
    assert duckdb_json(prog, lines, None) == expected
    amounts = [(a["unit"], a["amount"]) for a in json.loads(expected)["awards"]]
    assert amounts[:3] == [("points", "3.375"), ("MB", "0.75"), ("points", "0.225")]
    assert ("MB", "2.875") in amounts and len([u for u, _ in amounts if u == "points"]) == 4  # the cap's count


def test_amounts_in_other_units_that_divide_or_are_cut_by_a_cap_are_refused(tmp_path: Path) -> None:
    divides = written(tmp_path, "div", POINTS.replace("1.5 * usage.seats", "usage.seats / 3"))
    with pytest.raises(Unsupported, match="a computed amount that divides"):
        compile_query(divides.compiled)
    capped = written(tmp_path, "cap", POINTS.replace("cap referrer 4 rewards", "cap referrer 4 points"))
    with pytest.raises(Unsupported, match="under a cap on an amount"):
        compile_query(capped.compiled)


def test_money_quotients_round_half_to_even_on_both_sides_of_zero(prog: rewardrules.Program) -> None:
    """`average` (money over a count) on half-cent ties: -0.05 / 2 is
    -0.02, 0.045 / 3 is 0.02, -0.06 / 4 is -0.02 (half to even, as the
    engine quantizes its quotient; not toward or away from zero), and
    -0.0025 / 5 is -0.00."""
    lines = [REFERRAL] + [
        _use(n, "1", None, price) for n, price in enumerate(["-0.05", "0", "0.095", "-0.105", "0.0575"])
    ]
    expected = python_json(prog, lines, None)
    assert duckdb_json(prog, lines, None) == expected
    averages = [a["message"].split(" | ")[2].split()[3] for a in json.loads(expected)["awards"]]
    assert averages == ["-0.05", "-0.02", "0.02", "-0.02", "-0.00"]  # -0.0005 keeps its sign


@pytest.fixture(scope="module")
def points(tmp_path_factory: pytest.TempPathFactory) -> rewardrules.Program:
    return written(tmp_path_factory.mktemp("pts"), "pts", POINTS)


@settings(max_examples=examples(10), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["1", "2.25", "0.001", "-3", "0", "7.50"]),
            st.sampled_from([None, "0.25", "1.0", "0.2500001", "-1"]),
            st.integers(min_value=0, max_value=3),
        ),
        max_size=7,
    )
)
def test_generated_ledgers_give_the_same_amounts_in_other_units(points: rewardrules.Program, rows: list[Any]) -> None:
    """Exact amounts, some of nothing or less (withheld), a count cap."""
    events = [REFERRAL] + [
        _use(n, seats, size, "1", f"2026-01-0{day + 2}T00:00:00Z") for n, (seats, size, day) in enumerate(rows)
    ]
    assert duckdb_json(points, events, None) == python_json(points, events, None)
