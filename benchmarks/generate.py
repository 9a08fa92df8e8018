"""Seeded ledger generator for the benchmarks.

Writes a realistic saas-style ledger: referrers refer customers, customers
change subscriptions (MRR) and pay invoices, some refund. The same seed and
size always give the same bytes.

    python benchmarks/generate.py --events 1000000 --seed 7 > /tmp/ledger.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterator

DAY = 86400


def _stamp(seconds: int) -> str:
    # 2026-01-01T00:00:00Z is 1767225600
    import time

    t = time.gmtime(1767225600 + seconds)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}Z"


def events(count: int, seed: int = 7, customers_per_referrer: int = 5) -> Iterator[dict[str, object]]:
    """About `count` events: one referral and ~10 other events per customer."""
    rng = random.Random(seed)
    emitted = 0
    customer = 0
    while emitted < count:
        customer += 1
        referrer = f"ref{rng.randrange(max(1, count // (11 * customers_per_referrer)) + 1)}"
        name = f"cus{customer}"
        start = rng.randrange(0, 300 * DAY)
        yield {
            "id": f"r{customer}",
            "at": _stamp(start),
            "type": "referral",
            "referrer": referrer,
            "referee": name,
            "source": rng.choice(("customer", "partner")),
            "country": rng.choice(("US", "DE", "BR")),
        }
        emitted += 1
        mrr = rng.choice((99, 199, 450, 900))
        t = start
        for k in range(10):
            if emitted >= count:
                return
            t += rng.randrange(DAY, 40 * DAY)
            if k % 2 == 0:
                mrr = max(0, mrr + rng.choice((-100, 0, 150, 300, 600)))
                yield {
                    "id": f"s{customer}-{k}",
                    "at": _stamp(t),
                    "type": "subscription",
                    "referee": name,
                    "mrr": f"{mrr}.00",
                }
            else:
                yield {
                    "id": f"p{customer}-{k}",
                    "at": _stamp(t),
                    "type": "payment",
                    "referee": name,
                    "amount": f"{mrr}.{rng.randrange(100):02d}",
                }
            emitted += 1


def population_events(count: int, customers: int, seed: int = 7) -> Iterator[dict[str, object]]:
    """`count` events over a fixed population of `customers` referred
    customers: the ledger grows, the number of referrals does not. This is
    what shows that streaming memory follows referrals, not events."""
    rng = random.Random(seed)
    referrers = max(1, customers // 5)
    for customer in range(1, customers + 1):
        yield {
            "id": f"r{customer}",
            "at": _stamp(rng.randrange(0, DAY)),
            "type": "referral",
            "referrer": f"ref{rng.randrange(referrers)}",
            "referee": f"cus{customer}",
            "source": "partner",
            "country": "US",
        }
    for i in range(max(0, count - customers)):
        customer = rng.randrange(1, customers + 1)
        at = _stamp(DAY + rng.randrange(0, 300 * DAY))
        if i % 2:
            yield {
                "id": f"s{i}",
                "at": at,
                "type": "subscription",
                "referee": f"cus{customer}",
                "mrr": f"{rng.choice((99, 199, 450, 900, 1200))}.00",
            }
        else:
            yield {
                "id": f"p{i}",
                "at": at,
                "type": "payment",
                "referee": f"cus{customer}",
                "amount": f"{rng.randrange(50, 2000)}.{rng.randrange(100):02d}",
            }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    out = sys.stdout
    for event in events(args.events, args.seed):
        out.write(json.dumps(event, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
