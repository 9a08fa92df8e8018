"""Stage 3's output, the ledger row: an id, a time in Unix seconds and
fields in; the row's fields as the ledger's strings out, with money in
minor units written as exact decimal text (:func:`_money_text`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ...core import limits
from ...core.formatting import quoted
from ...core.timeutil import NS_PER_SECOND, format_timestamp
from ...core.units import CURRENCY_EXPONENTS
from .public import STRIPE_EXPONENTS, Problem

#: the ledger fields of money the adapter writes, as decimal text
MONEY_FIELDS = ("amount", "mrr", "subscription_mrr")


@dataclass(frozen=True, slots=True)
class _Row:
    at: int
    id: str
    fields: dict[str, str]
    #: the payload it comes from (`hooks/a.jsonl:3`), for a problem with it
    origin: str = ""


def _row(id: str, at: int, type: str, referee: str, *, origin: str = "", **fields: str) -> _Row:
    return _Row(
        at,
        id,
        {"id": id, "at": format_timestamp(at * NS_PER_SECOND), "type": type, "referee": referee, **fields},
        origin,
    )


def _unreadable(row: _Row) -> Problem | None:
    """Why `score` would refuse the ledger line of `row`, or None: an
    amount of more digits than a ledger number may have, or a line longer
    than a ledger line may be (a referrer id of a megabyte). Such a ledger
    would break the pipe into `score`: the payload is refused instead, as
    a malformed one is. The line has no nesting and no JSON number: those
    limits cannot be passed."""
    where = f"ledger event {quoted(row.id)}"
    for name in MONEY_FIELDS:
        value = row.fields.get(name)
        if value is not None and limits.written_digits(value) > limits.MAX_LEDGER_DIGITS:
            return Problem(
                row.origin,
                where,
                name,
                f"the amount {quoted(value)} has more than the {limits.MAX_LEDGER_DIGITS} digits a ledger number "
                "may have, and `score` would refuse it: check the payload's amounts",
            )
    size = len(json.dumps(row.fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")) + 1
    if size > limits.MAX_LEDGER_LINE_BYTES:
        name, value = max(row.fields.items(), key=lambda item: len(item[1]))
        return Problem(
            row.origin,
            where,
            name,
            f"its ledger line would be {size:,} bytes, more than the {limits.MAX_LEDGER_LINE_BYTES:,} a ledger line "
            f"may have, and `score` would refuse it: `{name}` alone is {len(value):,} characters; "
            "an id or a metadata value this long is not a real one: check the payload",
        )
    return None


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
