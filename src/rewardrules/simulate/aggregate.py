"""Percentiles over runs: the simulation's report record.

A percentile is the nearest rank: of the n runs' values sorted ascending,
P is the value at rank ceil(P/100 x n) (1-based), so P50/P90/P99 are each
a value some run gave, exact, never an interpolation. A ratio (cost per
customer, ROI, a conversion rate) is computed per run and rounded half to
even (money to its minor unit, ratios to 4 places) before ranking; a run
where it is undefined (no customer, nothing paid) is left out, and the
record says how many runs it ranks.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

from ..core.runtime import CONTEXT, in_context
from .measure import Figures

PERCENTILES = (50, 90, 99)
#: how many referrers `top_earners` lists
TOP = 10
#: the bins of a milestone's cost distribution
BINS = 10
_RATIO = Decimal("0.0001")


def percentile(ordered: list[Any], p: int) -> Any:
    """The nearest-rank `p`th percentile of `ordered` (sorted, not empty)."""
    rank = max(1, -(-p * len(ordered) // 100))
    return ordered[rank - 1]


def spread(values: Iterable[Any]) -> dict[str, Any]:
    """P50/P90/P99, min and max of per-run values (numbers as text, exact)."""
    ordered = sorted(values)
    if not ordered:
        return {"runs": 0}
    entry: dict[str, Any] = {"runs": len(ordered), "min": str(ordered[0])}
    for p in PERCENTILES:
        entry[f"p{p}"] = str(percentile(ordered, p))
    entry["max"] = str(ordered[-1])
    return entry


def ratio(numerator: Decimal, denominator: Decimal | int, quantum: Decimal) -> Decimal | None:
    """`numerator / denominator` rounded half to even to `quantum`; None over zero."""
    if not denominator:
        return None
    with localcontext(CONTEXT):
        return (numerator / denominator).quantize(quantum, rounding=ROUND_HALF_EVEN)


@in_context
def summarize(runs: list[Figures], months: list[str], currency: str, places: int) -> dict[str, Any]:
    """The report record of one rule file's runs (in run order). The
    currency's payouts are always given, 0 when nothing was paid."""
    cent = Decimal(1).scaleb(-places)
    units = sorted({currency, *(unit for figures in runs for unit in figures.payouts)})
    cost = [figures.payouts.get(currency, Decimal(0)) for figures in runs]
    return {
        "payouts": {unit: spread(f.payouts.get(unit, Decimal(0)) for f in runs) for unit in units},
        "pending": {unit: spread(f.pending.get(unit, Decimal(0)) for f in runs) for unit in units},
        "revenue": spread(f.revenue for f in runs),
        "customers": spread(f.customers for f in runs),
        "cost_per_customer": spread(_defined(ratio(c, f.customers, cent) for c, f in zip(cost, runs, strict=True))),
        "roi": spread(_defined(ratio(f.revenue - c, c, _RATIO) for c, f in zip(cost, runs, strict=True))),
        "months": _months(runs, months, units),
        "conversion": _conversion(runs),
        "milestones": _milestones(runs, cent),
        "capped": _hits([f.capped for f in runs], ("program", "milestone"), "awards"),
        "withheld": _withheld(runs),
        "tiers": _hits([f.tiers for f in runs], ("program", "table", "row", "tier", "counts"), "reached"),
        "top_earners": _top(runs, cent),
    }


def _defined(values: Iterable[Decimal | None]) -> list[Decimal]:
    return [value for value in values if value is not None]


def _months(runs: list[Figures], months: list[str], units: list[str]) -> list[dict[str, Any]]:
    """Per month: what was paid in it, paid so far, and revenue, each over runs."""
    rows = []
    totals = [dict.fromkeys(units, Decimal(0)) for _ in runs]
    for month in months:
        paid = {unit: [f.monthly.get((month, unit), Decimal(0)) for f in runs] for unit in units}
        for index, so_far in enumerate(totals):
            for unit in units:
                so_far[unit] += paid[unit][index]
        rows.append(
            {
                "month": month,
                "payouts": {unit: spread(paid[unit]) for unit in units},
                "cumulative_payouts": {unit: spread(so_far[unit] for so_far in totals) for unit in units},
                "revenue": spread(f.monthly_revenue.get(month, Decimal(0)) for f in runs),
            }
        )
    return rows


def _conversion(runs: list[Figures]) -> list[dict[str, Any]]:
    """Leads and customers per source and sales involvement, summed over
    runs, and the rate they give (customers / leads, to 4 places)."""
    sums: dict[tuple[str, bool], list[int]] = {}
    for figures in runs:
        for key, (leads, customers) in figures.funnel.items():
            entry = sums.setdefault(key, [0, 0])
            entry[0] += leads
            entry[1] += customers
    return [
        {
            "source": source,
            "sales_involved": sales,
            "leads": leads,
            "customers": customers,
            "rate": str(ratio(Decimal(customers), leads, _RATIO)),
        }
        for (source, sales), (leads, customers) in sorted(sums.items())
    ]


def _milestones(runs: list[Figures], cent: Decimal) -> list[dict[str, Any]]:
    """Per milestone: in how many runs it was reached, its awards per run,
    and its cost per run (in the currency) with that cost's distribution."""
    entries = _hits([f.milestones for f in runs], ("program", "milestone"), "awards")
    for entry in entries:
        key = (entry["program"], entry["milestone"])
        cost = [f.milestone_cost.get(key, Decimal(0)) for f in runs]
        entry["cost"] = spread(cost)
        entry["distribution"] = histogram(cost, cent)
    return entries


def histogram(values: list[Decimal], cent: Decimal) -> list[dict[str, Any]]:
    """The runs per bin of `BINS` equal bins from the least value to the
    greatest (one bin when all are equal). A value on a bound is in the
    upper bin, the greatest in the last; bounds are exact when binning and
    written to `cent`, half to even."""
    ordered = sorted(values)
    if not ordered:
        return []
    low, high = ordered[0], ordered[-1]
    if low == high:
        return [{"from": str(low), "to": str(high), "runs": len(ordered)}]
    width = (high - low) / BINS
    counts = [0] * BINS
    for value in ordered:
        counts[min(BINS - 1, int((value - low) / width))] += 1
    return [
        {
            "from": str((low + width * index).quantize(cent, rounding=ROUND_HALF_EVEN)),
            "to": str((low + width * (index + 1)).quantize(cent, rounding=ROUND_HALF_EVEN)),
            "runs": count,
        }
        for index, count in enumerate(counts)
    ]


def _withheld(runs: list[Figures]) -> list[dict[str, Any]]:
    """Per milestone and reason (a cap reached): in how many runs rewards
    were withheld, and how many per run."""
    return _hits([f.withheld for f in runs], ("milestone", "reason"), "rewards")


def _hits(tables: list[dict[Any, int]], names: tuple[str, ...], counted: str) -> list[dict[str, Any]]:
    """Per key of the runs' `tables` (named `names`): the runs where it
    counts more than 0, and its count per run (`counted`)."""
    keys = sorted({key for table in tables for key in table})
    return [
        {
            **dict(zip(names, key, strict=True)),
            "runs_hit": sum(1 for table in tables if table.get(key)),
            counted: spread(table.get(key, 0) for table in tables),
        }
        for key in keys
    ]


def _top(runs: list[Figures], cent: Decimal) -> list[dict[str, Any]]:
    """The referrers who earn most over all runs (ties by name), with
    their mean per run (to the minor unit) and their per-run spread."""
    totals: dict[str, Decimal] = {}
    for figures in runs:
        for referrer, amount in figures.earners.items():
            totals[referrer] = totals.get(referrer, Decimal(0)) + amount
    best = sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:TOP]
    return [
        {
            "referrer": referrer,
            "mean": str(ratio(total, len(runs), cent)),
            "per_run": spread(f.earners.get(referrer, Decimal(0)) for f in runs),
        }
        for referrer, total in best
    ]


@in_context
def paired(base: list[Figures], other: list[Figures], currency: str) -> dict[str, Any]:
    """OTHER less RULES, run by run on the same ledgers (paired, so a
    difference is the rules', not the draws'): payouts per unit, pending
    and cost per run, and how many runs differ at all."""
    units = sorted({unit for f in [*base, *other] for unit in f.payouts})
    pairs = list(zip(base, other, strict=True))
    return {
        "payouts": {
            unit: spread(o.payouts.get(unit, Decimal(0)) - b.payouts.get(unit, Decimal(0)) for b, o in pairs)
            for unit in units
        },
        "pending": {
            unit: spread(o.pending.get(unit, Decimal(0)) - b.pending.get(unit, Decimal(0)) for b, o in pairs)
            for unit in units
        },
        "runs_differ": sum(1 for b, o in pairs if b != o),
    }


def record(
    header: dict[str, Any],
    runs: list[list[Figures]],
    paths: list[str],
    months: list[str],
    currency: str,
    places: int,
) -> dict[str, Any]:
    """The whole report: `header` (what was simulated), the first rule
    file's figures and, with a second (`--compare`), its figures and the
    paired difference."""
    base = [figures[0] for figures in runs]
    result = {**header, "ruleset": paths[0], **summarize(base, months, currency, places)}
    if len(paths) > 1:
        other = [figures[1] for figures in runs]
        result["compare"] = {
            "ruleset": paths[1],
            **summarize(other, months, currency, places),
            "difference": paired(base, other, currency),
        }
    return result
