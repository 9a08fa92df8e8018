"""The acceptance-rate report: who accepts fewer referrals than the rules ask.

The FastTrack FAQ measures the rate "at the Country (MPNID) level receiving
the referrals on a quarterly basis": here, per partner, per value of the
rules' `by` attribute (the request's `location`) and per calendar period
(in the rules' time zone, else UTC). A referral counts in the period it was assigned; the rate is
accepted / received, where received is every assignment to the partner
(accepted, declined, or not answered yet); a period is `closed` once it has
ended by the as-of instant. Arithmetic is on whole numbers: `below` is
exact, and `rate` is a percent rounded half-even to one decimal, for people.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..core.formatting import percent_tenths
from ..core.runtime import in_context
from ..core.timeutil import period_bounds, period_key
from .check import Acceptance
from .evaluate import Assignment


@in_context  # `below` multiplies the rules' percent: in the engine's context, not the caller's
def acceptance_rows(
    rule: Acceptance, assignments: Iterable[Assignment], as_of: int | None, timezone: str | None = None
) -> list[dict[str, Any]]:
    """One row per (period, partner, value): the counts, the rate and whether it is below."""
    groups: dict[tuple[str, str, str], dict[str, int]] = {}
    ends: dict[str, int] = {}
    for assignment in assignments:
        if assignment.kind != "partner" or assignment.partner is None or assignment.basis == "kept":
            continue  # a kept part is the rest of a referral already received (and declined in part)
        key = period_key(assignment.at, rule.period, timezone)
        ends[key] = period_bounds(assignment.at, rule.period, timezone)[1]
        value = assignment.values.get(rule.by, "") if rule.by else ""
        counts = groups.setdefault((key, assignment.partner, value), {"accepted": 0, "declined": 0, "pending": 0})
        counts[assignment.status] += 1
    rows = []
    for (period, partner, value), counts in sorted(groups.items()):
        received = sum(counts.values())
        rows.append(
            {
                "period": period,
                "partner": partner,
                "value": value if rule.by else None,
                "received": received,
                **counts,
                "rate": _percent(counts["accepted"], received),
                "below": counts["accepted"] * 100 < rule.percent * received,
                "closed": as_of is not None and ends[period] <= as_of,
            }
        )
    return rows


def _percent(part: int, whole: int) -> str:
    return str(percent_tenths(part, whole))
