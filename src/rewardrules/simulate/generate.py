"""A scenario's synthetic ledger: one run's events, from the run's seed.

The ledger is what the rule file reads from a real one: a referral per
lead (with its `source` and whether sales worked it, `sales_involved`);
for a lead that converts, after its delay, either a subscription (a
`subscription` event with its `mrr` whenever MRR changes, a payment every
30 days, `mrr` 0 when it churns) or orders (a payment each); a refund of a
payment by chance, naming it (`payment`) and its `amount`. Nothing past the
horizon is written. Ids are per run (`ref-1`, `lead-1`, `pay-1`, ...), and
referrers are the group's name and number (`partners-0001`), the same in
every run, so a referrer's earnings compare across runs.
"""

from __future__ import annotations

import calendar
import hashlib
import random
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from ..core.runtime import in_context
from ..core.timeutil import format_timestamp
from ..core.units import minor_exponent
from . import distributions as draw
from .scenario import Referrers, Scenario

DAY = 86_400
#: A subscription bills every 30 days from its first payment.
BILLING_DAYS = 30
_NS = 1_000_000_000
#: Each event kind's id prefix.
_PREFIXES = {"referral": "ref", "payment": "pay", "refund": "rfd", "subscription": "sub"}


def run_seed(seed: int, run: int) -> int:
    """The seed of run `run` of a simulation seeded `seed`: a hash, so runs
    are independent of each other and of how they are spread over workers."""
    digest = hashlib.sha256(f"rewardrules-simulate/1:{seed}:{run}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def month_start(start: date, months: int) -> int:
    """The instant (seconds, UTC) `months` calendar months after `start`."""
    index = start.month - 1 + months
    return calendar.timegm((start.year + index // 12, index % 12 + 1, 1, 0, 0, 0))


def month_names(start: date, months: int) -> list[str]:
    """`YYYY-MM` of each month of the horizon."""
    names = []
    for offset in range(months):
        index = start.month - 1 + offset
        names.append(f"{start.year + index // 12:04d}-{index % 12 + 1:02d}")
    return names


def places(currency: str) -> int:
    """The decimal places of an amount in `currency` (2 when not an ISO currency)."""
    try:
        return minor_exponent(currency)
    except KeyError:
        return 2


@dataclass
class _Writer:
    """The events of one run, with its counters and its horizon."""

    scenario: Scenario
    rng: random.Random
    end: int
    places: int
    events: list[dict[str, Any]] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)

    def next_id(self, prefix: str) -> str:
        number = self.counters.get(prefix, 0) + 1
        self.counters[prefix] = number
        return f"{prefix}-{number}"

    def write(self, at: int, kind: str, referee: str, **fields: Any) -> str | None:
        """Append one event at `at` (seconds) unless past the horizon; its id."""
        if at >= self.end:
            return None
        name = getattr(self.scenario.events, kind)
        event = {
            "id": self.next_id(_PREFIXES[kind]),
            "at": format_timestamp(at * _NS),
            "type": name,
            "referee": referee,
        }
        event.update(fields)
        self.events.append(event)
        return str(event["id"])

    def later(self, at: int, days: int) -> int:
        """`days` days after `at`, at a random second of that day."""
        return at + days * DAY + self.rng.randrange(DAY)


@in_context
def generate(scenario: Scenario, seed: int) -> list[dict[str, Any]]:
    """The synthetic ledger of the run seeded `seed` (see `run_seed`)."""
    writer = _Writer(
        scenario, random.Random(seed), month_start(scenario.start, scenario.months), places(scenario.currency)
    )
    for group in scenario.referrers:
        width = len(str(group.count))
        for number in range(1, group.count + 1):
            _referrer(writer, group, f"{group.name}-{number:0{max(width, 4)}d}")
    return writer.events


def _referrer(writer: _Writer, group: Referrers, referrer: str) -> None:
    """One referrer's leads over the horizon, month by month."""
    rng = writer.rng
    start = writer.scenario.start
    for month in range(writer.scenario.months):
        first, after = month_start(start, month), month_start(start, month + 1)
        for _ in range(draw.count(rng, group.referrals_per_month)):
            _lead(writer, group, referrer, first + rng.randrange(after - first))


def _lead(writer: _Writer, group: Referrers, referrer: str, at: int) -> None:
    """A referral and, if it converts, the customer's purchases."""
    rng = writer.rng
    referee = writer.next_id("lead")
    sales = draw.chance(rng, group.sales_involvement)
    writer.write(at, "referral", referee, referrer=referrer, source=group.source, sales_involved=sales)
    plain, with_sales = group.rates()
    if not draw.chance(rng, with_sales if sales else plain):
        return
    first = writer.later(at, draw.count(rng, group.delay_days))
    if group.customer == "subscription":
        _subscription(writer, group, referee, first)
    else:
        _orders(writer, group, referee, first)


def _subscription(writer: _Writer, group: Referrers, referee: str, at: int) -> None:
    """A subscription from `at`: billed every 30 days, its MRR changing, until it churns."""
    assert group.mrr is not None
    rng = writer.rng
    quantum = Decimal(1).scaleb(-writer.places)
    mrr = draw.amount(rng, group.mrr, writer.places)
    writer.write(at, "subscription", referee, mrr=str(mrr))
    while at < writer.end and mrr > 0:
        _payment(writer, group, referee, at, mrr)
        at += BILLING_DAYS * DAY
        previous = mrr
        if draw.chance(rng, group.churn_rate):
            mrr = Decimal(0).quantize(quantum)
        else:
            mrr = max((mrr * (1 + draw.change(rng, group.mrr_change))).quantize(quantum), Decimal(0).quantize(quantum))
        if mrr != previous:
            writer.write(at, "subscription", referee, mrr=str(mrr))


def _orders(writer: _Writer, group: Referrers, referee: str, at: int) -> None:
    """One customer's orders from `at` (at least one: converting is buying)."""
    assert group.order_value is not None
    rng = writer.rng
    for number in range(max(1, draw.count(rng, group.orders))):
        if number:
            at = writer.later(at, draw.count(rng, group.order_interval_days))
        if at >= writer.end:
            return
        _payment(writer, group, referee, at, draw.amount(rng, group.order_value, writer.places))


def _payment(writer: _Writer, group: Referrers, referee: str, at: int, value: Decimal) -> None:
    """A payment of `value` and, by chance, its refund."""
    payment = writer.write(at, "payment", referee, amount=str(value))
    if payment is not None and draw.chance(writer.rng, group.refund_rate):
        refunded = writer.later(at, draw.count(writer.rng, group.refund_delay_days))
        writer.write(refunded, "refund", referee, payment=payment, amount=str(value))
