"""Durations as explanations and messages write them
(`core.formatting.duration_text`): exact, in days where their decimals
end, else in days, hours, minutes and seconds (a third of a day was
written to 100 significant digits: `1.2916666...667 days`)."""

from __future__ import annotations

import json
import re
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

import rewardrules
from rewardrules.core.formatting import duration_text
from rewardrules.core.runtime import CONTEXT
from rewardrules.core.timeutil import NS_PER_DAY, NS_PER_HOUR, NS_PER_MINUTE, NS_PER_SECOND

from .test_sql_voids_metrics import same

_SIZES = {"day": NS_PER_DAY, "hour": NS_PER_HOUR, "minute": NS_PER_MINUTE, "second": NS_PER_SECOND}
_PART = re.compile(r"(-?[0-9]+(?:\.[0-9]+)?) (day|hour|minute|second)s?")


def read_back(text: str) -> int:
    """The nanoseconds a written duration says (the sum of its parts)."""
    parts = text.split(" ")
    assert len(parts) % 2 == 0
    total = Decimal(0)
    for number, unit in zip(parts[::2], parts[1::2], strict=True):
        found = _PART.fullmatch(f"{number} {unit}")
        assert found is not None, text
        total += CONTEXT.multiply(Decimal(found[1]), _SIZES[found[2]])
    assert total == total.to_integral_value()
    return int(total)


@given(st.integers(min_value=-(10**20), max_value=10**20))
def test_every_duration_is_written_exactly_and_briefly(ns: int) -> None:
    text = duration_text(ns)
    assert read_back(text) == ns
    assert len(text) <= 80  # never 100 digits
    days = CONTEXT.divide(Decimal(ns), NS_PER_DAY)
    if len(str(days)) < 60:  # days whose decimals end: as before, `3.5 days`
        assert text == f"{days:f} days"
    else:  # each part with the duration's sign, none of them zero
        assert all(not part.startswith(("0 ", "-0 ")) for part in re.findall(r"-?[0-9.]+ [a-z]+", text))
        assert all(part.startswith("-") == (ns < 0) for part in text.split(" ")[::2])


def test_examples() -> None:
    hour, second = NS_PER_HOUR, NS_PER_SECOND
    assert duration_text(0) == "0 days"
    assert duration_text(84 * hour) == "3.5 days"
    assert duration_text(31 * hour) == "1 day 7 hours"
    assert duration_text(-8 * hour - 20 * second) == "-8 hours -20 seconds"
    assert duration_text(61 * second + 5) == "1 minute 1.000000005 seconds"
    assert duration_text(second) == "1 second"


RULES = """ruleset d "D"

event payment { amount: money USD }

metric last = latest payment.at
metric first_at = first payment.at
metric gap = last - first_at

milestone quick {
  when gap >= 2 days
  reward referrer cash 5 USD
  message "paid {{ gap }} after the referral"
}
"""


def test_explanations_and_messages_of_both_engines() -> None:
    """31 hours between the first and last payments: the progress says
    `1 day 7 hours`, and the award's message and `why` 2 days 1 hour
    later; DuckDB the same."""
    prog = rewardrules.compile(RULES)
    events = [
        {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"},
        {"id": "p0", "at": "2026-01-01T00:30:00Z", "type": "payment", "referee": "bob", "amount": "1.00"},
        {"id": "p1", "at": "2026-01-02T07:30:00Z", "type": "payment", "referee": "bob", "amount": "1.00"},
    ]
    got = json.loads(prog.score(events).to_json())
    (progress,) = got["referrals"][0]["programs"][0]["milestones"]
    assert progress["progress"] == "`gap` is 1 day 7 hours of 2 days"
    events.append({"id": "p2", "at": "2026-01-03T01:30:00Z", "type": "payment", "referee": "bob", "amount": "1.00"})
    (award,) = prog.score(events).data["awards"]
    assert award["message"] == "paid 2 days 1 hour after the referral"
    assert award["why"]["values"] == {"gap": "2 days 1 hour"}
    same(prog, events)


def test_the_explain_report_reads_and_writes_durations_so() -> None:
    """`explain`'s next step reads the written duration back: it said "has
    no value yet" of `1 day 7 hours` (found by review); a hold of 100
    minutes was a `1.6666...667-hour hold`."""
    from rewardrules.report.explain import explain_ledger

    events = [
        {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"},
        {"id": "p0", "at": "2026-01-01T00:30:00Z", "type": "payment", "referee": "bob", "amount": "1.00"},
        {"id": "p1", "at": "2026-01-02T07:30:00Z", "type": "payment", "referee": "bob", "amount": "1.00"},
    ]
    text = str(explain_ledger(rewardrules.compile(RULES), events))
    assert "next: `quick`: `gap` is 1 day 7 hours of 2 days, 17 hours to go\n" in text
    held = RULES.replace("reward referrer cash 5 USD", "reward referrer cash 5 USD { hold 100 minutes }")
    events.append({"id": "p2", "at": "2026-01-03T01:30:00Z", "type": "payment", "referee": "bob", "amount": "1.00"})
    text = str(explain_ledger(rewardrules.compile(held), events))
    assert "(gap = 2 days 1 hour)" in text
    assert "held until 2026-01-03T03:10:00Z (1 hour 40 minutes hold)" in text


@given(st.integers(min_value=-(10**20), max_value=10**20))
def test_a_written_duration_reads_back(ns: int) -> None:
    from rewardrules.core.formatting import duration_ns

    assert duration_ns(duration_text(ns)) == ns
    assert duration_ns("1.5 weeks") is None and duration_ns("0.0000000001 seconds") is None
