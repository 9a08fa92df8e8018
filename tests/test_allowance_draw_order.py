"""The order rewards draw from what several programs share, when more than
one referral of a referee counts at one event (docs/language.md,
"Allowances"): by event, then program, milestone and reward in file order,
never the order of the referee's referrals. `bo` holds `q` in one program,
`di` takes it in another (`attribution last referral`); `q`'s payment
reaches a milestone of each, and both draw from an allowance of one reward
per referee. The Python engine drew in its chain's order (`bo`'s first)
and paid the other milestone than `score --engine duckdb`: here both write
the same bytes, and the milestone first in the file is the one paid.
The limit of awards per event counts those referrals' hits together, as
the SQL engine does."""

from __future__ import annotations

import dataclasses
import itertools
import json
from functools import partial
from typing import Any

import pytest

import rewardrules
from rewardrules.cli.sql import duckdb_result
from rewardrules.core.limits import AwardLimitError
from rewardrules.sql.compile import compile_query
from rewardrules.sql.run import run as run_query
from rewardrules.sql.sections import compile_explained
from rewardrules.sql.write import write_result

from .test_sql_sections_lifted import pay, ref

HEAD = """ruleset order "Order"

event referral { source: optional text }
event payment { amount: money USD }

allowance once "Once" referee 1 rewards
"""

#: a program crediting the referrals of source NAME, drawing from `once`
PROGRAM = """
program NAME "NAME" {
  attribution last referral before first payment where payment.amount > 0
  eligible when referral.source == "NAME"
  draw from once
  milestone mNAME { each payment  reward referee cash 10% of payment.amount }
}
"""


def rules(names: list[str]) -> str:
    """The rule file with one program per name, in that (file) order."""
    return HEAD + "".join(PROGRAM.replace("NAME", name) for name in names)


def referred_in_turn(sources: list[str], amount: str = "10.00") -> list[dict[str, Any]]:
    """`q` referred once per source, a day apart (each referral takes `q`
    in its source's program), then one payment of `q` after them all."""
    events = [ref(f"r{k}", f"2026-01-0{k}T00:00:00Z", f"u{k}{s}", "q", source=s) for k, s in enumerate(sources, 1)]
    return [*events, pay("p1", f"2026-01-0{len(sources) + 1}T00:00:00Z", "q", amount)]


def unshared(text: str) -> str:
    """The rule file without its allowance: nothing shared."""
    return text.replace('allowance once "Once" referee 1 rewards\n', "").replace("  draw from once\n", "")


def both_engines(text: str, events: list[dict[str, Any]]) -> tuple[bytes, bytes]:
    """What `score --format json` writes, explained, with the Python engine
    and with `--engine duckdb` (the same writer the command line uses)."""
    prog = rewardrules.compile(text)
    query, sections = compile_explained(prog.compiled)
    runner = partial(run_query, sections=sections)
    data = duckdb_result(prog, query, events, None, "<ledger>", runner, explain=True)
    out: list[bytes] = []
    write_result(data, out.append)
    return prog.score(events).to_json().encode(), b"".join(out)


def paid(result: bytes) -> list[tuple[str, str, str]]:
    """(milestone, referrer, amount) of each award."""
    return [(a["milestone"], a["referrer"], a["amount"]) for a in json.loads(result)["awards"]]


def withheld(result: bytes) -> list[tuple[str, str]]:
    """(milestone, reason) of each withheld reward, in the result's order."""
    return [(w["milestone"], w["reason"]) for w in json.loads(result)["withheld"]]


def test_the_program_first_in_the_file_draws_first_not_the_first_referral() -> None:
    """The case as reported: `bo` (source b) refers `q` first, `di`
    (source a) takes it in `a`; program `a` comes first in the file, so
    `ma` is paid and `mb` withheld, by both engines, byte for byte (the
    engine paid `bo`'s `mb`, its first referral's)."""
    text = rules(["a", "b"])
    events = [
        ref("r1", "2026-01-01T00:00:00Z", "bo", "q", source="b"),
        ref("r2", "2026-01-02T00:00:00Z", "di", "q", source="a"),
        pay("p1", "2026-01-03T00:00:00Z", "q", "10.00"),
    ]
    python, duckdb = both_engines(text, events)
    assert python == duckdb
    assert paid(python) == [("ma", "di", "1.00")]
    assert withheld(python) == [("mb", "allowance `once` of 1 rewards reached")]


def test_rewards_withheld_for_two_referrals_at_one_event_are_listed_in_file_order() -> None:
    """Nothing to pay (a payment of 0.00: both rewards are zero), no
    allowance: the withheld list is in the order the rewards were reached,
    `ma` then `mb`, not the chain's (`bo`'s `mb` first)."""
    text = unshared(rules(["a", "b"]))
    events = [
        ref("r1", "2026-01-01T00:00:00Z", "bo", "q", source="b"),
        ref("r2", "2026-01-02T00:00:00Z", "di", "q", source="a"),
        pay("p1", "2026-01-03T00:00:00Z", "q", "0.00"),
    ]
    python, duckdb = both_engines(text, events)
    assert python == duckdb
    assert [m for m, _ in withheld(python)] == ["ma", "mb"]


@pytest.mark.parametrize(
    ("order", "referred"),
    [
        (order, referred)
        for order in (["a", "b", "c"], ["c", "a", "b"], ["b", "c", "a"])
        for referred in itertools.permutations("abc")
        if list(referred) != order  # the chain's order is the file's: the old engine agreed
    ][::3],
    ids=lambda v: "".join(v),
)
def test_three_programs_in_any_file_order_pay_the_first_in_the_file(order: list[str], referred: tuple[str]) -> None:
    """Three programs in a file order, `q` referred for each in another
    order: whatever the order of referrals, the first program of the file
    is paid, the two others withheld in file order, by both engines."""
    python, duckdb = both_engines(rules(order), referred_in_turn(list(referred)))
    assert python == duckdb
    assert [m for m, _, _ in paid(python)] == [f"m{order[0]}"]
    assert [m for m, _ in withheld(python)] == [f"m{name}" for name in order[1:]]


#: program `b`'s attribution line, with what follows it: left out, `b` keeps
#: the default, and `u1b`'s referral (the first) holds `q` there for good
#: while `u2a`'s takes it in `a`
DEFAULT_B = (
    'attribution last referral before first payment where payment.amount > 0\n  eligible when referral.source == "b"'
)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        (
            rules(["a", "b"]).replace("referee 1 rewards", "referee 1.50 USD"),
            [("ma", "u2a", "1.00"), ("mb", "u1b", "0.50")],
        ),
        (rules(["a", "b"]).replace(DEFAULT_B, 'eligible when referral.source == "b"'), [("ma", "u2a", "1.00")]),
    ],
    ids=["cut_by_an_amount", "default_attribution_beside"],
)
def test_the_first_program_in_the_file_is_paid_whole(text: str, want: list[tuple[str, str, str]]) -> None:
    """An allowance of 1.50 USD: `ma` is paid its 1.00 whole and `mb` cut to
    0.50 (the engine did the reverse); a program of the default attribution
    beside one whose attribution moves draws after it when it comes after
    it in the file, though its referral is the referee's first."""
    python, duckdb = both_engines(text, referred_in_turn(["b", "a"]))
    assert python == duckdb
    assert paid(python) == want


@pytest.mark.parametrize("most", [1, 2])
def test_the_limit_per_event_counts_milestones_reached_across_referrals(most: int) -> None:
    """No allowance; `ma` and `mb` give two rewards each, and `q`'s payment reaches both
    (one per referral): two hits, as the SQL engine counts them (`volume`,
    sql/every.py). The engine counted the awards issued to the first
    referral (2) plus the second's hits (1): 3 passed a limit of 2, and a
    limit of 1 was said to be passed by 3, not 2."""
    text = unshared(rules(["a", "b"])).replace(
        "reward referee cash 10% of payment.amount",
        "reward referee cash 10% of payment.amount  reward referrer cash 1 USD",
    )
    prog = rewardrules.compile(text)
    events = referred_in_turn(["b", "a"])
    query = dataclasses.replace(compile_query(prog.compiled), most=most)
    if most == 1:
        with pytest.raises(AwardLimitError) as python:
            prog.score(events, explain=False, max_awards_per_event=most)
        with pytest.raises(AwardLimitError) as duckdb:
            duckdb_result(prog, query, events, None, "<ledger>")
        assert str(python.value) == str(duckdb.value)
        assert "event `p1` would give 2 awards, more than the limit of 1" in str(python.value)
        return
    python_result = json.loads(prog.score(events, explain=False, max_awards_per_event=most).to_json())
    assert python_result == duckdb_result(prog, query, events, None, "<ledger>")
    assert [a["milestone"] for a in python_result["awards"]] == ["ma", "ma", "mb", "mb"]
