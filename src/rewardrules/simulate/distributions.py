"""Seeded, exact draws from a scenario's distributions.

Every draw reads whole numbers from the run's own `random.Random` (never
the module's global generator, never a float compared with a rate), so a
run is the same on every machine and Python: a chance is
`randrange(denominator) < numerator` of the rate as an exact fraction, an
amount is a whole number of minor units, a weighted choice walks the
weights' running sum.
"""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

from .scenario import Amounts, ChangeChoice, Changes, CountChoice, Counts, CountUniform, MoneyChoice, MoneyUniform


def chance(rng: random.Random, rate: Decimal) -> bool:
    """True with probability `rate` (0 to 1), exactly."""
    fraction = _fraction(rate)
    return rng.randrange(fraction.denominator) < fraction.numerator


@lru_cache(maxsize=256)
def _fraction(rate: Decimal) -> Fraction:
    return Fraction(rate)


def pick(rng: random.Random, weights: list[int] | None, size: int) -> int:
    """An index from 0 to `size - 1`, each with its weight's odds (all
    equal without weights)."""
    if weights is None:
        return rng.randrange(size)
    target = rng.randrange(sum(weights))
    for index, weight in enumerate(weights):
        if target < weight:
            return index
        target -= weight
    raise AssertionError("the weights' sum covers every target")


def count(rng: random.Random, counts: Counts) -> int:
    """A whole number drawn from `counts`."""
    if isinstance(counts, int):
        return counts
    if isinstance(counts, CountUniform):
        return rng.randint(*counts.uniform)
    assert isinstance(counts, CountChoice)
    return counts.choice[pick(rng, counts.weights, len(counts.choice))]


def amount(rng: random.Random, amounts: Amounts, places: int) -> Decimal:
    """An amount drawn from `amounts`, to `places` decimal places (a uniform
    draw is a whole number of minor units between the bounds)."""
    quantum = Decimal(1).scaleb(-places)
    if isinstance(amounts, MoneyUniform):
        low, high = (bound.quantize(quantum) for bound in amounts.uniform)
        steps = int((high - low).scaleb(places))
        return low + Decimal(rng.randint(0, steps)).scaleb(-places)
    if isinstance(amounts, MoneyChoice):
        return amounts.choice[pick(rng, amounts.weights, len(amounts.choice))].quantize(quantum)
    assert isinstance(amounts, Decimal)
    return amounts.quantize(quantum)


def change(rng: random.Random, changes: Changes) -> Decimal:
    """A relative change drawn from `changes`."""
    if isinstance(changes, ChangeChoice):
        return changes.choice[pick(rng, changes.weights, len(changes.choice))]
    return changes
