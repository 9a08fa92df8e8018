"""A message reading a value that has none (a `latest` of an event that
never came, an optional field not set) writes it as empty text wherever
it is written: `{{ }}`, through a filter, in `~`; it is false and `== none`.
It was written `None` (Python's name for it, which jinja2 writes), by
both engines: the SQL engine's messages are rendered by the same code
from the query's values."""

from __future__ import annotations

from typing import Any

import pytest

import rewardrules

from .test_sql_voids_metrics import same

RULES = """ruleset m "M"

event payment { amount: money USD, note: optional text }
event usage { seats: number }

metric paid = sum payment.amount
metric seats = latest usage.seats

milestone first_pay {
  first payment
  reward referrer cash 5 USD
  message "{template}"
}
"""

#: (template, what it writes without `seats` or the note, and with them)
CASES = [
    ("[{{ seats }}]", "[]", "[3]"),
    ("[{{ seats | upper }}{{ seats | trim }}{{ seats | title }}]", "[]", "[333]"),
    ("[{{ 'n=' ~ seats ~ '.' }}]", "[n=.]", "[n=3.]"),
    ("{% if seats == none %}eq{% else %}ne{% endif %}", "eq", "ne"),
    ("{% if seats %}yes{% else %}no{% endif %}", "no", "yes"),
    ('{{ seats | default("?", true) }}', "?", "3"),
    ('[{{ seats | default("?") }}]', "[?]", "[3]"),
    ("[{{ payment.note }}|{{ payment.note | lower }}]", "[|]", "[Hi|hi]"),
    ("{% if payment.note == none %}no note{% endif %}", "no note", ""),
    ("[{{ none }}|{{ payment.note or none }}|{{ payment.note | default(none) }}]", "[||]", "[|Hi|Hi]"),
]


def _events(with_values: bool) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [
        {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"}
    ]
    if with_values:
        events.append({"id": "u1", "at": "2026-01-01T12:00:00Z", "type": "usage", "referee": "bob", "seats": "3"})
    payment = {"id": "p1", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "bob", "amount": "10.00"}
    events.append({**payment, "note": "Hi"} if with_values else payment)
    return events


@pytest.mark.parametrize(("template", "without", "with_values"), CASES)
def test_no_value_is_empty_text(template: str, without: str, with_values: str) -> None:
    prog = rewardrules.compile(RULES.replace("{template}", template.replace('"', '\\"')))
    for events, expected in ((_events(False), without), (_events(True), with_values)):
        (award,) = prog.score(events).data["awards"]
        assert award["message"] == expected
        same(prog, events)  # `score --engine duckdb`: the same result, byte for byte
