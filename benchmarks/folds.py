"""Hand-written folds of `saas_milestones`: the bar the engine is held to.

Each does the full work that `program.score(events)` does for that program:
parse and validate timestamps and amounts, order by (instant, id), attribute
referees to their first valid referral, evaluate the milestones and build
award records (with the same stable ids). They are what a good engineer would
write by hand for this one program, and the benchmark checks they give the
same awards as the engine, so the comparison is like for like.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from rewardrules.core.timeutil import format_timestamp, parse_timestamp

THRESHOLDS = (  # (name, field, threshold, reward)
    ("mrr_1k", "mrr", Decimal(1000), "500.00"),
    ("arr_5k", "arr", Decimal(5000), "1000.00"),
    ("arr_10k", "arr", Decimal(10000), "2000.00"),
)


def _award_id(milestone: str, referrer: str, referee: str) -> str:
    # The documented id (docs/semantics.md): SHA-256 of the fields as netstrings.
    fields = ("award", "saas_milestones", "saas_milestones", milestone, referrer, referee, "", "referrer", referrer)
    data = b"".join(b"%d:%s," % (len(f.encode()), f.encode()) for f in fields)
    return "aw_" + hashlib.sha256(data).hexdigest()[:32]


def _order(events: Iterable[dict[str, Any]]) -> list[tuple[int, str, dict[str, Any]]]:
    """What the contract asks of any correct scorer, done the simplest way:
    every line's id and timestamp are checked (a bad one anywhere means
    nothing is scored) and ids are unique; then the events the program
    uses are put in (instant, id) order."""
    ordered = []
    seen: dict[str, dict[str, Any]] = {}
    for event in events:
        event_id = event["id"]
        at = parse_timestamp(event["at"])  # raises on a bad timestamp
        if seen.setdefault(event_id, event) is not event and seen[event_id] != event:
            raise ValueError(f"id {event_id} is used twice with different content")
        kind = event["type"]
        if kind == "referral" or kind == "subscription":
            ordered.append((at, event_id, event))
    ordered.sort()
    return ordered


def fold_decimal(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Exact decimals, like the engine."""
    referrals: dict[str, str] = {}
    reached: dict[str, set[str]] = {}
    awards = []
    for at, _, event in _order(events):
        referee = event["referee"]
        if event["type"] == "referral":
            referrer = event["referrer"]
            if referrer != referee and referee not in referrals:
                referrals[referee] = referrer
                reached[referee] = set()
            continue
        referrer = referrals.get(referee)
        if referrer is None:
            continue
        raw = event["mrr"]
        mrr = raw if isinstance(raw, Decimal) else Decimal(raw)
        values = {"mrr": mrr, "arr": 12 * mrr}
        done = reached[referee]
        for name, field, threshold, amount in THRESHOLDS:
            if name not in done and values[field] >= threshold:
                done.add(name)
                awards.append(_record(at, name, referrer, referee, amount))
    return awards


def fold_cents(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Integer cents: what a hand-written fold does to avoid Decimal."""
    referrals: dict[str, str] = {}
    reached: dict[str, int] = {}
    awards = []
    for at, _, event in _order(events):
        referee = event["referee"]
        if event["type"] == "referral":
            referrer = event["referrer"]
            if referrer != referee and referee not in referrals:
                referrals[referee] = referrer
                reached[referee] = 0
            continue
        referrer = referrals.get(referee)
        if referrer is None:
            continue
        cents = _cents(event["mrr"])
        done = reached[referee]
        if not done & 1 and cents >= 100_000:
            done |= 1
            awards.append(_record(at, "mrr_1k", referrer, referee, "500.00"))
        if not done & 2 and 12 * cents >= 500_000:
            done |= 2
            awards.append(_record(at, "arr_5k", referrer, referee, "1000.00"))
        if not done & 4 and 12 * cents >= 1_000_000:
            done |= 4
            awards.append(_record(at, "arr_10k", referrer, referee, "2000.00"))
        reached[referee] = done
    return awards


def _cents(raw: Any) -> int:
    if isinstance(raw, int):
        return raw * 100
    whole, _, frac = str(raw).partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


def _record(at: int, milestone: str, referrer: str, referee: str, amount: str) -> dict[str, Any]:
    return {
        "id": _award_id(milestone, referrer, referee),
        "at": format_timestamp(at),
        "milestone": milestone,
        "role": "referrer",
        "beneficiary": referrer,
        "referrer": referrer,
        "referee": referee,
        "kind": "cash",
        "amount": amount,
        "unit": "USD",
        "item": None,
        "status": "confirmed",
    }
