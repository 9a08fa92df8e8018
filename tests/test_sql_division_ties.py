"""Arithmetic on a quotient, which the Python engine rounds to 100
significant digits before it goes on (docs/sql.md, "Division"): the exact
fraction of the SQL engines gave another answer on an exact tie (`1 / 3 *
3 >= 1` true, the engine's 0.999...9 false; `300% of` a third of 0.03 USD
a half-cent tie, the engine's 0.01499...9). The compiler keeps the
fraction only for shapes where the answers cannot differ, and refuses the
rest at its place; on ledgers made of ties, every shape that compiles gives
the engine's bytes (review)."""

from __future__ import annotations

import itertools

import pytest

import rewardrules
from rewardrules.sql.compile import Unsupported, compile_query

from .test_sql_voids_metrics import same

REFUSED = "arithmetic on a quotient that the engine rounds to 100 digits first"


def _program(metric: str, use: str) -> rewardrules.Program:
    text = f"""\
ruleset ties

event payment {{ amount: money USD }}

metric spent = sum payment.amount
metric paid = count payment
metric recent = count earlier referrals
metric q = {metric}

{use}
"""
    return rewardrules.compile(text, "ties.rules")


def test_a_quotient_times_three_in_eligibility_is_refused_at_its_place() -> None:
    """The review's case: with no earlier referral, `1 / 3 * 3 >= 1`."""
    prog = _program(
        "1 / (recent + 3)", "eligible when q * 3 >= 1\nmilestone m { first payment  reward referrer cash 1 USD }"
    )
    with pytest.raises(Unsupported, match=REFUSED) as refused:
        compile_query(prog.compiled)
    assert refused.value.span is not None and refused.value.span.line == 10


#: formulas of a quotient, with what the compiler does with each
SHAPES = {
    "spent / paid": True,
    "spent / 3": True,
    "spent / paid + 1 USD": True,
    "spent / paid - spent": True,
    "spent / paid * 2": True,
    "50% of (spent / paid)": True,
    "spent / paid / 4": True,
    "-(spent / 3)": True,
    "spent / 3 * 3": False,
    "300% of (spent / 3)": False,
    "spent / paid * paid": False,
    "spent / 3 + spent / 6": False,
    "spent / (paid / 3)": False,
    "spent / paid / paid": False,
}

#: ways to read the formula: a condition on a bound, and a reward amount
USES = [
    "milestone m { when q >= 0.01 USD  reward referrer cash 1 USD }",
    "milestone m { each payment  reward referrer cash q }",
]


@pytest.mark.parametrize(("shape", "compiles"), list(SHAPES.items()))
def test_each_shape_compiles_or_is_refused(shape: str, compiles: bool) -> None:
    prog = _program(shape, USES[1])
    try:
        compile_query(prog.compiled)
    except Unsupported as refused:
        assert not compiles, refused.construct
        assert refused.construct.startswith(REFUSED)
    else:
        assert compiles


def _ties() -> list[list[dict[str, str]]]:
    """Ledgers of one referral and one to three payments of amounts whose
    sums over 1, 2, 3 and 6 land on cents and half-cents."""
    amounts = ["0.01", "0.03", "0.02", "0.09", "0.015"]
    ledgers = []
    for count in (1, 2, 3):
        for chosen in itertools.islice(itertools.product(amounts, repeat=count), 3):
            events = [{"id": "r", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "a"}]
            for n, amount in enumerate(chosen):
                events.append(
                    {
                        "id": f"p{n}",
                        "at": f"2026-01-0{n + 2}T00:00:00Z",
                        "type": "payment",
                        "referee": "a",
                        "amount": amount,
                    }
                )
            ledgers.append(events)
    return ledgers


@pytest.mark.parametrize("use", USES)
@pytest.mark.parametrize("shape", [s for s, ok in SHAPES.items() if ok])
def test_what_compiles_gives_the_engines_bytes_on_ties(shape: str, use: str) -> None:
    prog = _program(shape, use)
    for events in _ties():
        same(prog, events)


def test_without_the_refusal_the_engines_would_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Why it is refused: compiled anyway, `spent / 3 * 3 >= 0.01 USD`
    pays on 0.01 USD spent (exactly 0.01) where the engine does not
    (0.00999...9)."""
    from rewardrules.sql import expressions

    from .test_sql_backend import duckdb_json, python_json

    monkeypatch.setattr(expressions, "_refuse_rounded", lambda compiler, node: None)
    prog = _program("spent / 3 * 3", USES[0])
    events = _ties()[0]
    assert events[1]["amount"] == "0.01"
    assert '"awards": []' in python_json(prog, events, None)
    assert duckdb_json(prog, events, None) != python_json(prog, events, None)


#: two sides that both divide: equal fractions, but the engine rounds one
#: side more often (review), unless each is one quotient as it is
TWO_SIDED = {
    "spent / 3 / 4 >= spent / 12": False,
    "spent / 3 * 2 >= spent * 2 / 3": False,
    "50% of (spent / 3) >= spent / 6": False,
    "spent / 3 in [(spent + 3 USD) / 3 - 1 USD]": False,
    "spent / paid >= spent / 3": True,
    "-(spent / 3) <= (- spent) / 3": True,
    "spent / 3 * 2 >= 0.01 USD": True,
}


@pytest.mark.parametrize(("condition", "compiles"), list(TWO_SIDED.items()))
def test_two_sides_that_divide_compile_only_as_single_quotients(condition: str, compiles: bool) -> None:
    prog = _program("spent", f"milestone m {{ when paid >= 1 and {condition}  reward referrer cash 1 USD }}")
    try:
        compile_query(prog.compiled)
    except Unsupported as refused:
        assert not compiles and refused.construct.startswith(REFUSED)
        return
    assert compiles
    for events in _ties():
        same(prog, events)


def test_without_the_two_sided_refusal_the_engines_would_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    """`spent / 3 / 4 >= spent / 12` on 0.01 USD: true as fractions, false
    in the engine (its left side has one more rounding)."""
    from rewardrules.sql import expressions

    from .test_sql_backend import duckdb_json, python_json

    monkeypatch.setattr(expressions, "_refuse_two_rounded", lambda compiler, left, right: None)
    prog = _program(
        "spent", "milestone m { when paid >= 1 and spent / 3 / 4 >= spent / 12  reward referrer cash 1 USD }"
    )
    events = _ties()[0]
    assert '"awards": []' in python_json(prog, events, None)
    assert duckdb_json(prog, events, None) != python_json(prog, events, None)
