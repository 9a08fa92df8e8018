"""`whenever M increases` and `every N M` of a quotient in SQL (docs/sql.md,
"`whenever` and `otherwise`", "`every N M`"): the query compares the exact
fractions multiplied across and truncates them exactly, the Python engine
works on the quotients rounded to 100 digits; the awards, messages and
explained sections are the same bytes. `increase` of a quotient, and a
quotient the engine rounds twice, are refused at their line."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

import rewardrules
from rewardrules.sql.compile import Unsupported, compile_query

from .conftest import engine_cases
from .test_review_rev1_drawn import same_explained
from .test_sql_rate_table_decimals import clickhouse_alike
from .test_sql_sections_lifted import same_sections
from .test_sql_voids_metrics import same

#: per referral: a quotient, its negation, one without a value at the
#: first payment (a zero divisor: not tested there); per referrer: a share
#: of converted referrals
RULES = """ruleset average "Average"

event payment { amount: money USD }

metric paid = sum payment.amount
metric orders = count payment
metric average = paid / orders
metric falling = -(paid / orders)
metric later = paid / (orders - 1)
metric paying = count payment where payment.amount > 0
metric converted = count referrals where paying >= 1
metric referred = count referrals
metric share = converted / referred

milestone better "A better average" {
  whenever average increases
  reward referrer cash 1 USD
  message "average {{ average }} of {{ paid }}"
}

milestone lower {
  whenever falling increases
  reward referee cash 2 USD { hold 2 days }
}

milestone later {
  whenever later increases
  reward referrer cash 3 USD
}

milestone converting {
  whenever share increases
  reward referrer cash 4 USD
}

milestone steps "Each 2.5 USD of average" {
  every 2.5 average
  reward referee cash 1 USD
  message "{{ average }} past {{ title }}"
}

milestone halves {
  every 0.5 share
  reward referrer cash 6 USD
}
"""

#: the same in a program whose attribution moves, beside one that keeps
#: the default
MOVING = """ruleset moving "Moving"

event payment { amount: money USD }

metric paid = sum payment.amount
metric orders = count payment
metric average = paid / orders
metric paying = count payment where payment.amount > 0
metric converted = count referrals where paying >= 1
metric referred = count referrals
metric share = converted / referred

program last {
  attribution last referral lapses after 3 days unless first payment where payment.amount > 0

  milestone better {
    whenever average increases
    reward referrer cash 1 USD
  }

  milestone converting {
    whenever share increases
    reward referrer cash 4 USD
  }
}

program kept {
  milestone kept_better {
    whenever average increases
    reward referee cash 1 USD
  }
}
"""


def referral(referee: str, hour: int = 0, referrer: str = "ann") -> dict[str, Any]:
    return {
        "id": f"r-{referee}-{hour}",
        "at": f"2026-01-01T{hour:02}:00:00Z",
        "type": "referral",
        "referrer": referrer,
        "referee": referee,
    }


def payment(n: int, day: int, referee: str, amount: str) -> dict[str, Any]:
    return {
        "id": f"p{n:02}",
        "at": f"2026-01-{day:02}T00:00:00Z",
        "type": "payment",
        "referee": referee,
        "amount": amount,
    }


def test_a_rise_is_from_the_last_tested_quotient() -> None:
    """Averages 10, 7.5, 15, 18.75, -5, -4.1666...: a rise from 0 at the
    first payment, then from each last average (a fall is no rise, and the
    recovery from -5 is one), and every 2.5 of it the multiples passed;
    `falling` rises where the average falls;
    `later` has no value at the first payment (15, 22.5, 25, -6.25, -5
    after it: its first test is at the second); the share of converted
    referrals rises once (to 1: two multiples of 0.5)."""
    events = [
        referral("bob"),
        *(payment(n, n + 2, "bob", a) for n, a in enumerate(["10", "5", "30", "30", "-100", "0"])),
    ]
    result = same(rewardrules.compile(RULES, "q.rules"), events)
    better = [(a["at"][:10], a["message"]) for a in result["awards"] if a["milestone"] == "better"]
    assert better == [
        ("2026-01-02", "average 10.00 of 10.00"),
        ("2026-01-04", "average 15.00 of 45.00"),
        ("2026-01-05", "average 18.75 of 75.00"),
        ("2026-01-07", "average -4.17 of -25.00"),
    ]
    lower = [a["at"][:10] for a in result["awards"] if a["milestone"] == "lower"]
    assert lower == ["2026-01-03", "2026-01-06"]
    later = [a["at"][:10] for a in result["awards"] if a["milestone"] == "later"]
    assert later == ["2026-01-03", "2026-01-04", "2026-01-05", "2026-01-07"]
    assert [a["at"][:10] for a in result["awards"] if a["milestone"] == "converting"] == ["2026-01-02"]
    # every 2.5 of the average: past 10 (4 multiples), 15 (2 more), 18.75 (1 more)
    steps = [a["at"][:10] for a in result["awards"] if a["milestone"] == "steps"]
    assert steps == ["2026-01-02"] * 4 + ["2026-01-04"] * 2 + ["2026-01-05"]
    assert [a["at"][:10] for a in result["awards"] if a["milestone"] == "halves"] == ["2026-01-02"] * 2


def test_an_equal_quotient_is_no_rise() -> None:
    """10 / 1, then 20 / 2 and 30 / 3: equal fractions, no rise; then
    40.01 / 4 rises."""
    events = [referral("bob"), *(payment(n, n + 2, "bob", a) for n, a in enumerate(["10", "10", "10", "10.01"]))]
    result = same(rewardrules.compile(RULES, "q.rules"), events)
    assert [a["at"][:10] for a in result["awards"] if a["milestone"] == "better"] == ["2026-01-02", "2026-01-05"]


def test_every_counts_the_multiples_an_average_passed_not_nears() -> None:
    """Averages 4.99, 4.995 and 5: one multiple of 2.5 until the average is
    5 exactly; 7.40 / 3 (2.466...) is past none."""
    prog = rewardrules.compile(RULES, "q.rules")
    events = [referral("bob"), *(payment(n, n + 2, "bob", a) for n, a in enumerate(["4.99", "5.00", "5.01"]))]
    result = same(prog, events)
    assert [a["at"][:10] for a in result["awards"] if a["milestone"] == "steps"] == ["2026-01-02", "2026-01-04"]
    events = [referral("bob"), *(payment(n, 2, "bob", a) for n, a in enumerate(["0", "0", "7.40"]))]
    thirds = same(prog, events, "2026-01-02T00:00:00Z")
    assert [a for a in thirds["awards"] if a["milestone"] == "steps"] == []
    assert [a["milestone"] for a in thirds["awards"]].count("better") == 1  # 2.466... is a rise from 0


def _ledger(rng: random.Random) -> list[dict[str, Any]]:
    events = [
        referral(f"c{k}", rng.randrange(6), rng.choice(["ann", "ben"])) | {"id": f"r{k}"}
        for k in range(rng.randint(1, 5))
    ]
    amounts = ["10", "5", "7.5", "-3", "0", "2.50", "10.00", "3.33", "0.01"]
    for n in range(rng.randint(0, 14)):
        events.append(payment(n, rng.randint(1, 9), f"c{rng.randrange(5)}", rng.choice(amounts)))
    return events


@pytest.mark.parametrize("rules", [RULES, MOVING], ids=["default", "moving"])
@pytest.mark.parametrize("seed", range(1))
def test_random_ledgers_give_the_python_engine_s_bytes(rules: str, seed: int) -> None:
    """Awards (with and without explanations) and the explained sections,
    at the end and at an earlier as-of, on random ledgers of ties, falls,
    zeros and referees referred twice."""
    prog = rewardrules.compile(rules, "q.rules")
    rng = random.Random(seed)
    for _ in range(4):
        events = _ledger(rng)
        for as_of in (None, "2026-01-04T00:00:00Z"):
            same(prog, events, as_of)
            same_sections(prog, events, as_of)
        same_explained(prog, events)


def _refusal(text: str) -> Unsupported:
    with pytest.raises(Unsupported) as caught:
        compile_query(rewardrules.compile(text, "r.rules").compiled, explain=True)
    return caught.value


def test_increase_of_a_quotient_is_refused_at_its_line() -> None:
    """The rise is the difference of two quotients, each rounded to 100
    digits by the engine: a half-cent tie may fall on either side."""
    text = RULES.replace(
        "whenever later increases\n  reward referrer cash 3 USD",
        "whenever later increases\n  reward referrer cash increase",
    )
    refused = _refusal(text)
    assert refused.construct == "`increase` of a value that involves a division"
    assert refused.span is not None and refused.span.line == 28


def test_a_quotient_rounded_twice_is_refused() -> None:
    """`paid / orders / 2` is rounded twice by the engine: two equal
    fractions may differ there."""
    refused = _refusal(RULES.replace("metric average = paid / orders", "metric average = paid / orders / 2"))
    assert (
        refused.construct
        == "`whenever` of `average` (arithmetic on a quotient, which the engine rounds to 100 digits first)"
    )


def test_clickhouse_gives_the_python_engine_s_bytes() -> None:
    """ClickHouse's `lag` of a column that is not Nullable is 0 at the
    first row, never NULL: the query found the first rise of a quotient
    by `LAG(cn) IS NULL` and lost it there (found by review)."""
    rng = random.Random(0)
    ledgers = [[json.dumps(event) for event in _ledger(rng)] for _ in range(3)]
    clickhouse_alike(rewardrules.compile(RULES, "q.rules"), engine_cases(ledgers))
