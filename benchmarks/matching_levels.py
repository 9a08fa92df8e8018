"""What a matching decision costs as partners grow (issue 18, levelling).

Each decision tries every partner (the gates) and, with `round robin ... per
PERIOD`, levels the partners that entered the rotation during the period
against the others (`Matcher._levels`: every such stint against every
rival, so partners squared when all of them entered during the period).
This script times requests whose criteria vary (a location each) under
rules counted per quarter, with every partner joining after the quarter
began (the worst case: every partner has a stint to level), and prints the
time per decision for growing numbers of partners, and the time that gives
for 100,000 requests.

Run: PYTHONPATH=src python benchmarks/matching_levels.py [PARTNERS ...]
"""

from __future__ import annotations

import json
import sys
import time

from rewardrules.match.api import load_text, match

RULES = load_text(
    """\
matching bench
workload teams
workload security
attribute location
require endorsement, location
round robin by workload, location per quarter
tie break longest_idle, partner
split up to 2
fallback ftc
"""
)
#: more locations than `_LEVELS_KEPT` tables, as countries are: a decision seldom finds its table kept
LOCATIONS = [f"L{n}" for n in range(200)]
#: requests timed at each size (enough for a steady figure, few enough to finish)
REQUESTS = 300


def ledger(partners: int, requests: int) -> list[str]:
    """Partners that join on 2026-01-02 (after the quarter began), each
    serving every location, then requests from 01-03 on, a location each."""
    lines = []
    for n in range(partners):
        lines.append(
            {
                "id": f"p{n:05d}",
                "type": "partner",
                "at": f"2026-01-02T{n % 24:02d}:00:00Z",
                "partner": f"partner{n:05d}",
                "endorsements": {"teams": None, "security": None} if n % 3 else {"teams": None},
                "attributes": {"location": LOCATIONS},
            }
        )
    for n in range(requests):
        minute = n % (60 * 24 * 80)
        day, rest = divmod(minute, 60 * 24)
        lines.append(
            {
                "id": f"r{n:06d}",
                "type": "request",
                "at": f"2026-01-{3 + day % 25:02d}T{rest // 60:02d}:{rest % 60:02d}:00Z",
                "request": f"R{n}",
                "customer": f"c{n}",
                "workloads": ["teams", "security"] if n % 2 else ["teams"],
                "attributes": {"location": LOCATIONS[n % len(LOCATIONS)]},
            }
        )
    return [json.dumps(line) for line in lines]


def seconds(partners: int, requests: int) -> float:
    lines = ledger(partners, requests)
    started = time.perf_counter()
    match(RULES, lines)
    return time.perf_counter() - started


def main(sizes: list[int]) -> None:
    print(f"{'partners':>8} {'ms/decision':>12} {'s per 100,000 requests':>24}")
    for partners in sizes:
        base = seconds(partners, 0)
        per = (seconds(partners, REQUESTS) - base) / REQUESTS
        print(f"{partners:>8} {per * 1000:>12.2f} {per * 100_000:>24.0f}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [125, 250, 500, 1000, 2000])
