"""Stage 3, subscriptions and MRR: the facts in, a ``subscription`` row
per subscription event out.

A row carries the customer's MRR as of its event (the sum over the
customer's subscriptions) and the subscription's own share, computed
exactly from prices, quantities, tiers and the discounts in effect, and
rounded once, to the minor unit, half to even. A discount or coupon that a
subscription names only by id is its current version, settled across all
payloads beforehand (:func:`_settle_versions`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from math import ceil, floor
from typing import Any, Final

from ...core import limits
from ...core.formatting import quoted, shown
from .envelopes import _digest
from .facts import _Facts, _priced_items, _SubscriptionState, _Version
from .fields import _Malformed, _Obj, _show
from .public import Problem
from .rows import _money_text, _Row, _row

# Subscription states that bring no recurring revenue now (Stripe's own MRR
# leaves them out too): not started, trial, stopped, or no longer collected.
NO_REVENUE_STATUSES: Final = frozenset({"canceled", "incomplete", "incomplete_expired", "trialing", "paused", "unpaid"})


# Months per billing interval, as an exact fraction: a year is 12 months and
# 365 days, so a month is 365/12 days and 365/84 weeks.
_MONTHS_PER_INTERVAL: Final = {
    "day": Fraction(12, 365),
    "week": Fraction(84, 365),
    "month": Fraction(1),
    "year": Fraction(12),
}


_DECIMAL_TEXT: Final = r"[0-9]+(\.[0-9]+)?"


def _subscription_rows(facts: _Facts, problems: list[Problem]) -> list[_Row]:
    """One ``subscription`` row per subscription event. ``mrr`` is the
    customer's MRR (the sum over its subscriptions as of that event), since
    a program reads the latest ``mrr`` of a referee; ``subscription_mrr`` is
    this subscription's share."""
    current: dict[str, dict[str, tuple[int, str]]] = {}
    rows = []
    ordered = sorted(facts.subscriptions, key=lambda s: (s.at, _subscription_id(s)))
    for state in ordered:
        envelope = state.envelope
        try:
            mrr, currency, plan = _subscription_mrr(envelope.obj, state, facts)
            mine = current.setdefault(state.customer, {})
            mine[state.id] = (mrr, currency)
            total = _customer_mrr(envelope.obj, mine)
        except _Malformed as bad:
            problems.append(Problem(envelope.source, envelope.where, bad.field, bad.message))
            continue
        row = _row(
            _subscription_id(state),
            state.at,
            "subscription",
            state.customer,
            origin=envelope.source,
            mrr=_money_text(total, currency),
            currency=currency,
        )
        if plan:
            row.fields["plan"] = plan
        row.fields.update(subscription=state.id, status=state.status, subscription_mrr=_money_text(mrr, currency))
        rows.append(row)
    return rows


def _subscription_id(state: _SubscriptionState) -> str:
    """One ledger id per change: the event's id, or for a bare object a
    digest of its state (the same state twice is the same change)."""
    if state.envelope.event_id is not None:
        return f"stripe:{state.envelope.event_id}:subscription"
    return f"stripe:{state.id}:subscription:{state.envelope.key.split(':')[1][:12]}"


def _customer_mrr(obj: _Obj, subscriptions: dict[str, tuple[int, str]]) -> int:
    currencies = {currency for mrr, currency in subscriptions.values() if mrr}
    if len(currencies) > 1:
        obj.fail(
            "currency",
            f"the customer's subscriptions are in {' and '.join(sorted(currencies))}; their MRR cannot be added up",
        )
    return sum(mrr for mrr, _ in subscriptions.values())


@dataclass(slots=True)
class _Line:
    """One subscription item's monthly amount, in minor units (exact)."""

    product: str | None
    monthly: Fraction
    months: Fraction


def _subscription_mrr(obj: _Obj, state: _SubscriptionState, facts: _Facts) -> tuple[int, str, str]:
    """(MRR in minor units, currency, plan). Zero when the subscription
    brings no revenue now: canceled, ended, incomplete, trialing, paused,
    unpaid, or its collection paused."""
    currency = state.currency
    priced = _priced_items(obj)
    plan = "+".join(dict.fromkeys(price.text("id") for price, _ in priced if price.get("id")))
    idle = (
        state.deleted
        or state.status in NO_REVENUE_STATUSES
        or obj.get("ended_at") is not None
        or obj.get("pause_collection") is not None
    )
    if idle:
        return 0, currency, plan
    lines = []
    for price, item in priced:
        line = _line(price, item, obj)
        if line is not None:
            lines.append(line)
            if item is not None:
                _discount_lines([line], _discounts(item, facts, state.at), currency)
    _discount_lines(lines, _discounts(obj, facts, state.at), currency)
    return round(max(Fraction(0), sum((x.monthly for x in lines), Fraction(0)))), currency, plan


def _line(price: _Obj, item: _Obj | None, subscription: _Obj) -> _Line | None:
    """An item's amount per month; None for metered usage, which is not
    known before it is invoiced (Stripe's MRR leaves it out too)."""
    recurring = price.child("recurring") or price
    if (recurring.opt_text("usage_type") or "licensed") == "metered":
        return None
    interval = recurring.text("interval")
    if interval not in _MONTHS_PER_INTERVAL:
        recurring.fail("interval", f"unknown interval {quoted(interval)} (expected day, week, month or year)")
    count = recurring.opt_integer("interval_count") or 1
    months = _MONTHS_PER_INTERVAL[interval] * count
    holder = item if item is not None else subscription
    quantity = holder.opt_integer("quantity")
    quantity = _transform(price, 1 if quantity is None else quantity)
    product = price.ref("product") if isinstance(price.get("product"), (str, Mapping)) else None
    return _Line(product, _period_amount(price, quantity) / months, months)


def _transform(price: _Obj, quantity: int) -> int:
    """``transform_quantity`` (prices) / ``transform_usage`` (plans): bill per package of N."""
    rule = price.child("transform_quantity") or price.child("transform_usage")
    if rule is None:
        return quantity
    divide_by = rule.integer("divide_by")
    if divide_by == 0:
        rule.fail("divide_by", "must be positive")
    return ceil(Fraction(quantity, divide_by)) if rule.get("round") == "up" else floor(Fraction(quantity, divide_by))


def _period_amount(price: _Obj, quantity: int) -> Fraction:
    """What the price bills per period for ``quantity``, in minor units."""
    if price.get("billing_scheme") == "tiered":
        return _tiered(price, quantity)
    return _minor(price, ("unit_amount_decimal", "unit_amount", "amount_decimal", "amount"), required=True) * quantity


def _tiered(price: _Obj, quantity: int) -> Fraction:
    tiers = price.children("tiers")
    if not tiers:
        price.fail(
            "tiers", "a tiered price needs its tiers; fetch the subscription with `items.data.price.tiers` expanded"
        )
    mode = price.text("tiers_mode")
    total, lower = Fraction(0), 0
    for tier in tiers:
        upper = tier.get("up_to")
        upper = None if upper in (None, "inf") else tier.integer("up_to")
        unit = _minor(tier, ("unit_amount_decimal", "unit_amount"))
        flat = _minor(tier, ("flat_amount_decimal", "flat_amount"))
        if mode == "volume":
            if upper is None or quantity <= upper:
                return quantity * unit + flat if quantity else Fraction(0)
            continue
        units = (quantity if upper is None else min(quantity, upper)) - lower
        if units <= 0:
            break
        total += units * unit + flat
        lower = upper if upper is not None else quantity
    if mode == "volume":
        price.fail("tiers", "no tier covers the quantity (the last tier needs `up_to: inf`)")
    return total


def _minor(obj: _Obj, names: tuple[str, ...], required: bool = False) -> Fraction:
    """The first of ``names`` present, as exact minor units: integers, or
    ``*_decimal`` strings that may hold fractions of a minor unit."""
    for name in names:
        value = obj.get(name)
        if value is None:
            continue
        if isinstance(value, str):
            return _decimal_text(obj, name, value)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return Fraction(value)
        obj.fail(name, f"expected an amount in minor units, not {_show(value)}")
    if required:
        obj.fail(names[1], "missing; the price has no amount")
    return Fraction(0)


def _decimal_text(obj: _Obj, name: str, value: str) -> Fraction:
    """A ``*_decimal`` string (no sign, no exponent) as exact minor units,
    within the ledger's digits: the length is looked at before the text
    (a megabyte of digits took half a minute to turn into a Fraction)."""
    if len(value) > limits.MAX_NUMBER_CHARS or (
        re.fullmatch(_DECIMAL_TEXT, value) and limits.written_digits(value) > limits.MAX_LEDGER_DIGITS
    ):
        obj.fail(name, f"out of range: expected at most {limits.MAX_LEDGER_DIGITS} digits, not {_show(value)}")
    if not re.fullmatch(_DECIMAL_TEXT, value):
        obj.fail(name, f'expected a decimal string such as "12.5", not {_show(value)}')
    return Fraction(Decimal(value))


def _bounded(number: Decimal) -> bool:
    """Whether a Decimal is finite and within the ledger's digits and
    exponent (`ledger.validate`), so that turning it into a Fraction takes
    no time: `Fraction(Decimal("1e-99999999"))` computes 10 ** 99999999,
    which does not end in minutes. Looked at from its tuple only."""
    if not number.is_finite():
        return False
    _sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    return (
        len(digits) <= limits.MAX_LEDGER_DIGITS
        and abs(exponent) <= limits.MAX_LEDGER_EXPONENT
        and len(digits) + exponent <= limits.MAX_LEDGER_DIGITS
    )


# -- discounts


@dataclass(frozen=True, slots=True)
class _Coupon:
    percent: Fraction | None
    amount: int | None
    products: frozenset[str] | None


def _discounts(holder: _Obj, facts: _Facts, at: int) -> list[tuple[_Obj, _Coupon]]:
    """The discounts in effect at ``at`` on a subscription or an item, in the
    order Stripe lists them. ``once`` coupons are left out (they cut one
    invoice, not the recurring revenue), and so are discounts that ended."""
    found: dict[str, _Obj] = {}
    single = holder.child("discount")
    if single is not None:
        found[single.text("id")] = single
    for path, item in holder.entries("discounts"):
        discount = _resolve_discount(path, item, facts)
        found.setdefault(discount.text("id"), discount)
    out = []
    for discount in found.values():
        coupon_obj = _coupon_of(discount, facts)
        duration = coupon_obj.opt_text("duration") or "forever"
        end = discount.opt_integer("end")
        if duration == "once" or (end is not None and end <= at):
            continue
        out.append((coupon_obj, _coupon(coupon_obj)))
    return out


# What a discount or coupon says that the MRR reads: two copies that agree on
# these are one version, whatever else (name, metadata, expansion) differs.
_COUPON_TERMS: Final = ("percent_off", "amount_off", "currency", "currency_options", "applies_to", "duration")


def _terms(data: Any) -> Any:
    """The MRR-relevant part of a discount or coupon (a coupon nested in a
    discount, or in its ``source``, reduced to its terms too)."""
    if not isinstance(data, Mapping):
        return data
    if data.get("object") == "coupon" or "percent_off" in data or "amount_off" in data:
        return {key: data.get(key) for key in _COUPON_TERMS}
    source = data.get("source")
    return {
        "coupon": _terms(data.get("coupon")),
        "source": _terms(source.get("coupon")) if isinstance(source, Mapping) else source,
        "end": data.get("end"),
    }


def _settle_versions(facts: _Facts, problems: list[Problem]) -> None:
    """The current version of each discount and coupon that a subscription
    may name by id. Copies that agree on the terms are one version. Of
    versions that differ, the one from the latest event is current; when no
    time tells them apart (the same second, or a bare object, which has no
    event time) that is an error naming both payloads: Stripe's event ids
    carry no order, and taking either would make the MRR depend on the input."""
    for kind, versions, current in (
        ("discount", facts.discount_versions, facts.discounts),
        ("coupon", facts.coupon_versions, facts.coupons),
    ):
        for id, copies in sorted(versions.items()):
            chosen = _current_version(kind, id, copies, problems)
            if chosen is not None:
                current[id] = chosen.obj


def _current_version(kind: str, id: str, copies: list[_Version], problems: list[Problem]) -> _Version | None:
    """The copy standing for the current version, or None (and a problem)."""
    groups: dict[str, list[_Version]] = {}
    for copy in sorted(copies, key=_copy_order):
        groups.setdefault(_digest(_terms(copy.obj.data)), []).append(copy)
    if len(groups) == 1:
        return min(copies, key=_copy_order)
    latest = max((v.at for v in copies if v.at is not None), default=None)
    untimed = [next(v for v in g if v.at is None) for g in groups.values() if any(v.at is None for v in g)]
    current = [next(v for v in g if v.at == latest) for g in groups.values() if any(v.at == latest for v in g)]
    if not untimed and len(current) == 1:
        return current[0]
    if untimed:
        one = min(untimed, key=lambda v: v.source)
        other = min((g[0] for g in groups.values() if one not in g), key=lambda v: v.source)
        why = "one of them is a bare object, with no event time"
    else:
        one, other = sorted(current, key=lambda v: v.source)[:2]
        why = "both are from the same second"
    a, b = sorted((one, other), key=lambda v: v.source)
    problems.append(
        Problem(
            b.source,
            f"{kind} {shown(id)}",
            None,
            f"{kind} {quoted(id)} says something else in {a.source}, and {why}: which one is current cannot be told; "
            "remove the payload that is out of date",
        )
    )
    return None


def _copy_order(version: _Version) -> tuple[str, str, str]:
    """Copies of one version in an order that does not depend on the input's."""
    return _digest(version.obj.data), version.obj.path, version.source


def _resolve_discount(path: str, item: Any, facts: _Facts) -> _Obj:
    if isinstance(item, Mapping):
        return _Obj(item, path)
    if isinstance(item, str) and item in facts.discounts:
        return facts.discounts[item]
    raise _Malformed(
        path,
        f"discount {quoted(item)} is only an id and no `customer.discount.*` event in the input has it; "
        "include those events or fetch the subscription with `discounts` expanded",
    )


def _coupon_of(discount: _Obj, facts: _Facts) -> _Obj:
    """``discount.coupon``, or ``discount.source.coupon`` in newer API versions."""
    holder = discount
    if discount.get("coupon") is None and discount.child("source") is not None:
        holder = discount.child("source") or discount
    value = holder.get("coupon")
    if isinstance(value, Mapping):
        return _Obj(value, holder.field("coupon"))
    if isinstance(value, str) and value in facts.coupons:
        return facts.coupons[value]
    holder.fail(
        "coupon", "the discount's coupon is missing, or only an id that no `coupon.*` event in the input describes"
    )


def _coupon(coupon: _Obj) -> _Coupon:
    percent = coupon.get("percent_off")
    products = None
    applies = coupon.child("applies_to")
    if applies is not None and isinstance(applies.get("products"), list):
        products = frozenset(str(p) for p in applies.get("products"))
    if percent is not None:
        return _Coupon(_percent(coupon, percent), None, products)
    return _Coupon(None, coupon.integer("amount_off"), products)


def _percent(coupon: _Obj, value: Any) -> Fraction:
    """``percent_off`` exactly, from 0 to 100: a JSON number (an integer,
    or a decimal read exactly), or a float given by an API caller.
    Anything past the ledger's digits or exponent (`1e-99999999`) is
    refused before it is turned into a Fraction, which would not end."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        coupon.fail("percent_off", f"expected a number, not {_show(value)}")
    if isinstance(value, int):
        exact = Fraction(value)
    else:
        if isinstance(value, str) and len(value) > limits.MAX_NUMBER_CHARS:
            coupon.fail("percent_off", f"expected a number, not {_show(value)}")
        try:
            # A float is Stripe's JSON number parsed by someone else: repr gives
            # the shortest decimal that reads back to it, i.e. what Stripe sent.
            number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        except (InvalidOperation, ValueError):
            coupon.fail("percent_off", f"expected a number, not {_show(value)}")
        if not number.is_finite():
            coupon.fail("percent_off", f"expected a number, not {_show(value)}")
        if not _bounded(number):
            coupon.fail(
                "percent_off",
                f"out of range: expected a percentage from 0 to 100 with at most {limits.MAX_LEDGER_DIGITS} digits "
                f"and {limits.MAX_LEDGER_EXPONENT} decimal places, not {_show(value)}",
            )
        exact = Fraction(number)
    if not 0 <= exact <= 100:
        coupon.fail("percent_off", f"expected a percentage from 0 to 100, not {_show(value)}")
    return exact


def _discount_lines(lines: list[_Line], discounts: list[tuple[_Obj, _Coupon]], currency: str) -> None:
    """Apply discounts in order: a percentage cuts each line it applies to;
    an amount (per billing period, so normalised like the lines) is taken
    from those lines in order, never below zero."""
    for coupon_obj, coupon in discounts:
        eligible = [x for x in lines if coupon.products is None or x.product in coupon.products]
        if coupon.percent is not None:
            for line in eligible:
                line.monthly -= line.monthly * coupon.percent / 100
            continue
        if not eligible:
            continue
        left = Fraction(_amount_off(coupon_obj, currency)) / eligible[0].months
        for line in eligible:
            cut = min(left, line.monthly)
            line.monthly -= cut
            left -= cut


def _amount_off(coupon: _Obj, currency: str) -> int:
    options = coupon.child("currency_options")
    if options is not None and options.child(currency.lower()) is not None:
        per_currency = options.child(currency.lower())
        assert per_currency is not None
        return per_currency.integer("amount_off")
    if (coupon.opt_text("currency") or "").upper() != currency:
        coupon.fail("currency", f"an amount-off coupon in {coupon.opt_text('currency')} cannot discount {currency}")
    return coupon.integer("amount_off")
