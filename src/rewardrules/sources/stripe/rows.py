"""Stage 3's output, the ledger row: an id, a time in Unix seconds and
fields in; the row's fields as the ledger's strings out, with money in
minor units written as exact decimal text (:func:`_money_text`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...core.timeutil import NS_PER_SECOND, format_timestamp
from ...core.units import CURRENCY_EXPONENTS
from .public import STRIPE_EXPONENTS


@dataclass(frozen=True, slots=True)
class _Row:
    at: int
    id: str
    fields: dict[str, str]


def _row(id: str, at: int, type: str, referee: str, **fields: str) -> _Row:
    return _Row(
        at, id, {"id": id, "at": format_timestamp(at * NS_PER_SECOND), "type": type, "referee": referee, **fields}
    )


def _money_text(minor: int, currency: str) -> str:
    """Minor units as an exact decimal string: Stripe's exponent, padded to
    ISO 4217's when that has more places (MGA ``"500.00"``). Not
    :func:`~rewardrules.units.format_amount`: it rounds to ISO's places, and
    would round away ISK's two API decimals."""
    exponent = STRIPE_EXPONENTS[currency]
    places = max(exponent, CURRENCY_EXPONENTS.get(currency, exponent))
    scaled = minor * 10 ** (places - exponent)
    if places == 0:
        return str(scaled)
    whole, part = divmod(scaled, 10**places)
    return f"{whole}.{part:0{places}d}"
