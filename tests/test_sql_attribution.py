"""`attribution` lines in SQL (docs/sql.md, "Attribution"): the referral
that holds a referee in a program whose attribution moves, computed by a
fold over the referee's referral events, gives the Python engine's result
byte for byte: `affiliate_attribution` on its golden ledgers (its
generated ledgers are `test_sql_backend.py`'s, as for every reference
program that compiles), a file with every form of the line (and a program
that keeps the default) on generated ledgers, ties at one instant, a lapse
at its bound, the limit of accepted referrals per referee; what does not
compile yet is refused at its line. Each also with the fold written
without recursion (`Query.without_recursion`), as Spark SQL 4.0 runs it,
on DuckDB; and that query on Spark once."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.cli.sql import duckdb_result
from rewardrules.core.limits import MAX_REFERRALS_PER_REFEREE
from rewardrules.score.api import parse_as_of
from rewardrules.sql.compile import Unsupported, compile_query
from rewardrules.sql.diagnose import refusals
from rewardrules.sql.spark import Spark

from .conftest import examples
from .test_properties import as_ofs, ledgers, program
from .test_sql_backend import GOLDEN, cli, duckdb_json, python_json
from .test_sql_spark import spark_json

#: every form of the line: `last ... before` (no lapse, a `where`), `first
#: ... lapses ... unless` (no `where`), `last ... lapses ... unless`, and
#: the default written out, `first referral` (with a timer); moving programs with `every`,
#: `whenever`, `each` with a void and a message, a hold, a cap on a number
#: of rewards, `eligible when` reading the referrer's earlier referrals
FORMS = """\
ruleset forms

event referral { source: optional text }
event payment { amount: money USD }

program last_click {
  attribution last referral before first payment where payment.amount >= 50 USD
  eligible when referral.source is set
  metric paid = sum payment.amount
  milestone spend { every 5000 paid  reward referrer cash 5 USD }
  milestone grow { whenever paid increases  reward referrer cash 10% of increase }
  milestone sale {
    each payment where payment.amount > 0 USD
    reward referrer cash 10% of payment.amount
    void if payment where payment.amount < 0 USD within 30 days
    message "{{ referee }} paid {{ paid }} in all"
  }
}

program cookie {
  attribution first referral lapses after 30 days unless first payment
  metric recent = count earlier referrals within 60 days
  eligible when recent < 3 and (referral.source is not set or referral.source not in earlier referrals.source)
  milestone first_sale { first payment  reward referee credit 5 USD  hold 10 days }
}

program lasting {
  attribution last referral lapses after 30 days unless first payment where payment.amount > 0 USD
  eligible when referral.source == "friend" ignoring case
  milestone bonus { first payment where payment.amount > 0 USD  reward referrer cash 25 USD  cap referrer 2 rewards }
  metric tries = count payment
  milestone tried { when tries >= 2  reward referee credit 1 USD }
}

program plain {
  attribution first referral
  metric spent = sum payment.amount
  milestone joined { first payment where payment.amount > 100 USD  reward referrer cash 7 USD }
  milestone later { after 20 days if spent > 0 USD  reward referrer cash 2 USD }
}
"""

#: each example runs a query of some forty CTEs on DuckDB: few examples
PROPERTY = settings(max_examples=examples(10), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def forms() -> rewardrules.Program:
    return rewardrules.compile(FORMS)


def same(prog: rewardrules.Program, events: list[Any], as_of: str | None = None) -> dict[str, Any]:
    """The SQL result, asserted equal to the Python engine's, as a dict;
    and the query with the fold written without recursion gives it too."""
    sql = duckdb_json(prog, events, as_of)
    assert sql == python_json(prog, events, as_of)
    unrolled = compile_query(prog.compiled).without_recursion()
    assert "RECURSIVE" not in unrolled.awards + unrolled.rejected
    data = duckdb_result(prog, unrolled, events, parse_as_of(as_of), "<ledger>")
    assert json.dumps(data, ensure_ascii=False, indent=2) + "\n" == sql
    return dict(json.loads(sql))


@pytest.mark.parametrize("ledger", sorted((GOLDEN / "affiliate_attribution").glob("*.jsonl")), ids=lambda p: p.stem)
def test_golden_ledgers_of_affiliate_attribution(ledger: Path) -> None:
    expected = json.loads(ledger.with_suffix("").with_suffix(".expected.json").read_text())
    lines = ledger.read_text(encoding="utf-8").splitlines()
    got = same(program("affiliate_attribution"), lines, expected["as_of"])
    keys = ("at", "milestone", "role", "beneficiary", "referrer", "referee", "amount", "status")
    awards = sorted(({k: a[k] for k in keys} for a in got["awards"]), key=json.dumps)
    assert awards == sorted(({k: a[k] for k in keys} for a in expected["awards"]), key=json.dumps)
    assert any(r["reason"] == "duplicate_referral" and "; program" in r["detail"] for r in got["rejected"])


@PROPERTY
@given(data=st.data())
def test_every_form_of_the_line_on_generated_ledgers(data: st.DataObject) -> None:
    events = data.draw(ledgers("affiliate_attribution"), label="ledger")
    as_of = data.draw(as_ofs(events), label="as_of")
    same(forms(), events, as_of)


def event(eid: str, at: str, kind: str, referee: str, **fields: Any) -> dict[str, Any]:
    return {"id": eid, "at": f"2026-03-{at}Z", "type": kind, "referee": referee, **fields}


def test_ties_at_one_instant_are_broken_by_id() -> None:
    """Two referrals and a payment at one instant: processed by id, so `t3`
    (after `t2`) comes too late to take `bob` in `last_click` (`t2`
    converted him, and pays the referrer of `t1`, which took him from
    `r0` just before); in `cookie`, `ann` holds `kim` 25 days on."""
    events = [
        event("r0", "01T00:00:00", "referral", "bob", referrer="ann", source="a"),
        event("t3", "02T00:00:00", "referral", "bob", referrer="dan", source="friend"),
        event("t2", "02T00:00:00", "payment", "bob", amount="60.00"),
        event("t1", "02T00:00:00", "referral", "bob", referrer="cat", source="b"),
        event("r3", "10T00:00:00", "referral", "eve", referrer="ann"),
        event("p2", "31T00:00:00", "payment", "eve", amount="0.00"),  # 21 days: holds, converts `cookie`
        event("r4", "05T00:00:00", "referral", "kim", referrer="ann"),
        event("r5", "30T00:00:00", "referral", "kim", referrer="cat"),  # 25 days: `ann` still holds
    ]
    got = same(forms(), events)
    sale = [(a["milestone"], a["referrer"], a["referee"]) for a in got["awards"]]
    assert ("sale", "cat", "bob") in sale and ("first_sale", "ann", "eve") in sale
    details = {r["event"]: r["detail"] for r in got["rejected"]}
    assert "the referee converted (`first payment`)" in details["t3"]
    assert "the referral of `ann` holds it until it lapses" in details["r5"]


def test_a_lapse_is_inclusive_and_a_later_referral_takes_the_referee() -> None:
    """`cookie` (first, 30 days): a referral exactly 30 days after the
    holder does not take the referee, one a second later does; a payment
    after the lapse earns the new referral, not the old."""
    events = [
        event("r1", "01T00:00:00", "referral", "bob", referrer="ann"),
        event("r2", "31T00:00:00", "referral", "bob", referrer="cat"),
        event("r3", "31T00:00:01", "referral", "bob", referrer="dan"),
        {"id": "p1", "at": "2026-04-02T00:00:00Z", "type": "payment", "referee": "bob", "amount": "10.00"},
    ]
    got = same(forms(), events)
    assert [(a["milestone"], a["referrer"]) for a in got["awards"]] == [("first_sale", "dan")]
    assert [r["event"] for r in got["rejected"]] == ["r2"]


def test_an_event_exactly_at_the_lapse_still_counts() -> None:
    """`lasting` (last, 30 days, a payment over 0 converts): a payment of
    0 (no conversion) exactly 30 days after the referral still counts for
    it, one a millisecond later does not; a conversion exactly then keeps
    the referee for good, so a payment 10 days later counts too."""
    cases = [
        ("0.00", "2026-03-31T00:00:00Z", ["tried"]),
        ("0.00", "2026-03-31T00:00:00.001Z", []),
        ("5.00", "2026-03-31T00:00:00Z", ["bonus", "tried"]),
        ("5.00", "2026-03-31T00:00:00.001Z", []),
    ]
    for amount, at, paid in cases:
        events = [
            event("r1", "01T00:00:00", "referral", "bob", referrer="ann", source="Friend"),
            # a payment of 0 before, or none: `tried` (2 payments) then at p1, else at p2
            *([event("p0", "02T00:00:00", "payment", "bob", amount="0.00")] if amount == "0.00" else []),
            {"id": "p1", "at": at, "type": "payment", "referee": "bob", "amount": amount},
            {"id": "p2", "at": "2026-04-10T00:00:00Z", "type": "payment", "referee": "bob", "amount": "0.00"},
        ]
        got = same(forms(), events)
        assert [a["milestone"] for a in got["awards"] if a["program"] == "lasting"] == paid, (amount, at)


def test_a_referee_takes_at_most_the_limit_of_referrals() -> None:
    """Each referral by a new referrer takes the referee under `last`,
    until the referee has the most accepted referrals one may have: the
    next one is a duplicate whose detail says so, as the engine says it."""
    count = MAX_REFERRALS_PER_REFEREE + 2
    events = [
        {
            "id": f"r{k:03d}",
            "at": f"2026-03-01T00:{k // 60:02d}:{k % 60:02d}Z",
            "type": "referral",
            "referrer": f"a{k}",
            "referee": "bob",
            "source": "x",
        }
        for k in range(count)
    ]
    events.append(event("p1", "02T00:00:00", "payment", "bob", amount="60.00"))
    got = same(forms(), events)
    rejected = [r for r in got["rejected"] if r["reason"] == "duplicate_referral"]
    assert len(rejected) == 2
    assert f"it has {MAX_REFERRALS_PER_REFEREE} referrals" in rejected[0]["detail"]
    assert ("sale", f"a{MAX_REFERRALS_PER_REFEREE - 1}") in [(a["milestone"], a["referrer"]) for a in got["awards"]]


@pytest.mark.parametrize(
    ("extra", "construct", "line"),
    [  # a timer and `count referrals` compile now: tests/test_sql_constructs3_attribution.py
        (
            "  metric half = spent / 2\n  metric best = sum referrals.half\n"
            "  milestone many { when best >= 2 USD  reward referrer cash 1 USD }\n",
            "a division outside a condition or a reward amount",
            9,
        ),
    ],
    ids=["sum-of-a-quotient"],
)
def test_what_does_not_compile_is_refused_at_its_line(extra: str, construct: str, line: int) -> None:
    """Refused whole, naming the construct at its line; `check --engine
    sql` (RR450) names the same."""
    rules = (
        "event referral { source: optional text }\nevent payment { amount: money USD }\n\nprogram p {\n"
        "  attribution last referral before first payment\n"
        "  milestone sale { first payment  reward referrer cash 5 USD }\n"
        "  metric spent = sum payment.amount\n\n" + extra + "}\n"
    )
    prog = rewardrules.compile(rules)
    with pytest.raises(Unsupported) as refused:
        compile_query(prog.compiled)
    assert refused.value.construct == construct
    assert refused.value.span is not None and refused.value.span.line == line
    assert [(r.construct, r.span.line if r.span else 0) for r in refusals(prog.compiled)] == [(construct, line)]


def test_the_command_line_scores_affiliate_attribution() -> None:
    """`score --engine duckdb` (DuckDB reading the file itself) prints the
    Python engine's `--no-explain` result, and `sql` prints the statements
    (the fold among them)."""
    rules = "rulesets/affiliate_attribution.rules"
    ledger = "tests/golden/affiliate_attribution/last_click.jsonl"
    duck = cli("score", "--engine", "duckdb", "--no-explain", "--format", "json", rules, ledger)
    assert duck.returncode == 0, duck.stderr
    lines = (GOLDEN / "affiliate_attribution" / "last_click.jsonl").read_text(encoding="utf-8").splitlines()
    assert duck.stdout == python_json(program("affiliate_attribution"), lines, None)
    printed = cli("sql", rules)
    assert printed.returncode == 0, printed.stderr
    assert "WITH RECURSIVE" in printed.stdout


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")
def test_spark_runs_the_fold_without_recursion(spark: Spark) -> None:
    """Spark SQL 4.0 has no recursive CTE: the fold is written with
    `aggregate` there, and gives the Python engine's bytes (one ledger:
    Spark takes half a minute to plan the query)."""
    lines = (GOLDEN / "affiliate_attribution" / "last_click.jsonl").read_text(encoding="utf-8").splitlines()
    assert spark_json(spark, program("affiliate_attribution"), lines, None) == python_json(
        program("affiliate_attribution"), lines, None
    )
    printed = cli("sql", "--dialect", "spark", "rulesets/affiliate_attribution.rules")
    assert printed.returncode == 0, printed.stderr
    assert "RECURSIVE" not in printed.stdout and "AGGREGATE(evs" in printed.stdout
