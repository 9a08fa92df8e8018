"""One run's figures: what a scored ledger paid, holds and brought in.

Read from the ledger's events (revenue, leads, customers) and the result
record the real engine gave for them (awards, withheld rewards), the same
way for a synthetic ledger and for a real one (a backtest). Amounts stay
`Decimal`: sums of exact amounts are exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..core.runtime import in_context
from ..core.timeutil import format_timestamp, parse_timestamp
from ..core.units import is_additive
from ..ledger.events import LedgerProblem
from ..ledger.validate import read_amount
from .scenario import Events
from .tiers import Table, tier_counts


@dataclass
class Figures:
    """What one run gave. Keys are plain text so a run pickles small."""

    #: per unit: awards issued and not void (confirmed or pending)
    payouts: dict[str, Decimal] = field(default_factory=dict)
    #: per unit: awards still pending at the horizon (held), the liability
    pending: dict[str, Decimal] = field(default_factory=dict)
    #: per (month, unit): awards issued that month and not void
    monthly: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    #: payments less refunds of referred customers, in the ledger's currency
    revenue: Decimal = Decimal(0)
    monthly_revenue: dict[str, Decimal] = field(default_factory=dict)
    #: referees with at least one payment
    customers: int = 0
    #: per (source, sales involved): [leads, customers]
    funnel: dict[tuple[str, bool], list[int]] = field(default_factory=dict)
    #: per (program, milestone): awards not void
    milestones: dict[tuple[str, str], int] = field(default_factory=dict)
    #: per (program, milestone): its awards not void in `currency`, summed
    milestone_cost: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    #: per (program, milestone): awards a cap cut to what it left
    capped: dict[tuple[str, str], int] = field(default_factory=dict)
    #: per (milestone, reason): rewards reached but withheld (a cap full)
    withheld: dict[tuple[str, str], int] = field(default_factory=dict)
    #: per referrer: what they earned in `currency` (awards not void)
    earners: dict[str, Decimal] = field(default_factory=dict)
    #: per rate table row (program, table, row, label, what it counts): the
    #: referrers or referrals in it at the horizon (`tiers.tier_counts`)
    tiers: dict[tuple[str, str, int, str, str], int] = field(default_factory=dict)


def month_of(at: str) -> str:
    """`YYYY-MM` of an instant, in UTC."""
    return format_timestamp(parse_timestamp(at))[:7]


@in_context
def measure(
    events: list[dict[str, Any]], result: dict[str, Any], names: Events, currency: str, tables: Sequence[Table] = ()
) -> Figures:
    """The figures of one scored ledger (`result`: its result record;
    `tables`: the rule file's rate tables, `tiers.rate_tables`)."""
    figures = Figures(tiers=tier_counts(result, list(tables)))
    _awards(figures, result, currency)
    _ledger(figures, events, names)
    for item in result.get("withheld", []):
        key = (item["milestone"], item["reason"])
        figures.withheld[key] = figures.withheld.get(key, 0) + 1
    return figures


def _add(table: dict[Any, Decimal], key: Any, value: Decimal) -> None:
    table[key] = table.get(key, Decimal(0)) + value


def _awards(figures: Figures, result: dict[str, Any], currency: str) -> None:
    for award in result["awards"]:
        if award["status"] == "void":
            continue
        key = (award["program"], award["milestone"])
        figures.milestones[key] = figures.milestones.get(key, 0) + 1
        if award.get("why", {}).get("capped"):
            figures.capped[key] = figures.capped.get(key, 0) + 1
        unit = award["unit"]
        if not is_additive(unit):
            continue
        amount = Decimal(1) if unit == "item" else Decimal(award["amount"])
        _add(figures.payouts, unit, amount)
        _add(figures.monthly, (month_of(award["at"]), unit), amount)
        if award["status"] == "pending":
            _add(figures.pending, unit, amount)
        if unit == currency:
            _add(figures.milestone_cost, key, amount)
        if unit == currency and award["role"] == "referrer":
            _add(figures.earners, award["beneficiary"], amount)


def _leads(events: Sequence[dict[str, Any]], names: Events) -> dict[str, tuple[str, bool]]:
    """Per referee some referral names: its (source, sales involved)."""
    leads: dict[str, tuple[str, bool]] = {}
    for event in events:
        if event.get("type") == names.referral and isinstance(event.get("referee"), str):
            source = event.get("source")
            leads.setdefault(
                event["referee"], (source if isinstance(source, str) else "", event.get("sales_involved") is True)
            )
    return leads


#: the hint of an `amount` a backtest cannot read as revenue
_AMOUNT_HINT = (
    'an amount such as 99.90 or "99.90": a backtest counts the `amount` of each payment and refund of a '
    "referred customer as revenue, whether or not the rule file declares it (docs/simulate.md)"
)


def _stated(event: dict[str, Any], names: Events) -> Any:
    """The `amount` revenue reads of a payment or a refund (None: none
    stated; a payment's then counts 0, a refund's takes back the payment it
    names)."""
    return event.get("amount") if event.get("type") in (names.payment, names.refund) else None


def revenue_problems(events: Sequence[tuple[int, dict[str, Any]]], names: Events) -> list[LedgerProblem]:
    """The problems, at their line and field, of the amounts `measure`
    would count as revenue in a real ledger's events (line, object): a
    payment's or refund's `amount` the rule file need not declare, so the
    scorer may never have read it. Read as a declared amount is
    (`validate.read_amount`): a value that is not one (`"300,00"`, `"NaN"`,
    `1e999999999`, `true`, `{}`) is refused, never counted as something
    else or left out."""
    leads = _leads([event for _, event in events], names)
    problems = []
    for line, event in events:
        stated = _stated(event, names)
        if stated is not None and event.get("referee") in leads:
            amount = read_amount(stated, "amount", line, _AMOUNT_HINT)
            if isinstance(amount, LedgerProblem):
                problems.append(amount)
    return problems


def _amount(value: Any) -> Decimal:
    """An amount of a payment or refund, exact (`revenue_problems` has
    refused what is none: a generated ledger's are decimal strings)."""
    amount = read_amount(value, "amount", 0)
    if isinstance(amount, LedgerProblem):
        raise ValueError(amount.message)
    return amount


def _ledger(figures: Figures, events: list[dict[str, Any]], names: Events) -> None:
    """Leads by source, customers and revenue: payments less refunds of
    referees some referral names (a refund without an `amount` takes back
    the payment it names; a payment without one counts 0)."""
    leads = _leads(events, names)
    paid: dict[str, Decimal] = {}
    buyers: set[str] = set()
    for event in events:
        referee = event.get("referee")
        if event.get("type") == names.payment and referee in leads:
            stated = _stated(event, names)
            amount = Decimal(0) if stated is None else _amount(stated)
            paid[str(event["id"])] = amount
            buyers.add(referee)
            _revenue(figures, event, amount)
    for event in events:
        if event.get("type") == names.refund and event.get("referee") in leads:
            stated = _stated(event, names)
            taken = _amount(stated) if stated is not None else paid.get(str(event.get("payment")), Decimal(0))
            _revenue(figures, event, -taken)
    for referee, key in leads.items():
        counts = figures.funnel.setdefault(key, [0, 0])
        counts[0] += 1
        counts[1] += referee in buyers
    figures.customers = len(buyers)


def _revenue(figures: Figures, event: dict[str, Any], amount: Decimal) -> None:
    figures.revenue += amount
    _add(figures.monthly_revenue, month_of(event["at"]), amount)
