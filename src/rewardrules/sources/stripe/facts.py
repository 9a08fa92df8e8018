"""Stage 2, facts: an envelope in, what it says added to :class:`_Facts`.

One handler per event type (``_HANDLERS``) reads what the mapping needs
and nothing else: referrals (checkout sessions, customers), subscriptions
(and the discounts and coupons their MRR may name by id), payments
(invoices, charges and the links between them), refunds and disputes. A
field no handler reads is never validated, so old and new API versions
both pass. A handler raises :class:`~.fields._Malformed` at the first bad
field it needs; what depends on other payloads is left to stage 3
(:mod:`.resolve`, :mod:`.mrr`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from ...core.formatting import quoted
from .envelopes import _Envelope, _event_time, _seconds
from .fields import _Obj
from .public import STRIPE_EXPONENTS, Options


@dataclass(frozen=True, slots=True)
class _Referral:
    id: str
    at: int
    referrer: str
    referee: str
    attributes: tuple[tuple[str, str], ...]
    #: the object it was read from (`customer cus_1`) and the payload
    what: str = ""
    source: str = ""
    where: str = ""


@dataclass(frozen=True, slots=True)
class _Money:
    """A payment, a refund or a dispute as read from one payload."""

    id: str
    at: int
    amount: int
    currency: str
    customer: str | None = None
    charge: str | None = None
    payment_intent: str | None = None
    status: str | None = None
    match_at: int = 0
    #: the payload it was read from
    source: str = ""


@dataclass(frozen=True, slots=True)
class _RefundedState:
    """A charge's cumulative ``amount_refunded`` as one ``charge.refunded`` showed it."""

    charge: str
    at: int
    after: int
    before: int | None
    currency: str
    listed: bool
    #: the payload it was read from
    source: str = ""


@dataclass(frozen=True, slots=True)
class _Charge:
    customer: str | None
    invoice: str | None
    payment_intent: str | None
    has_invoice_field: bool
    #: the payload that named the customer
    customer_source: str | None = None
    #: some payload showed it succeeded (a payment intent has one such charge)
    paid: bool = False


@dataclass(frozen=True, slots=True)
class _Version:
    """One payload's copy of a discount or coupon, and when it was current:
    the event's time (None for a bare object, which has no event time)."""

    obj: _Obj
    at: int | None
    source: str


class _Links(dict[str, str]):
    """Links that hold one value per key (the invoice a charge or a payment
    intent paid), with the payload that told each, so that two payloads
    telling different values are an error naming both rather than settled
    by which one was read last."""

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what
        self.sources: dict[str, str] = {}

    def note(self, key: str, value: str, source: str, obj: _Obj, field: str) -> None:
        known = self.get(key)
        if known is not None and known != value:
            (one, where_one), (other, where_other) = sorted(((value, source), (known, self.sources[key])))
            obj.fail(
                field,
                f"{self.what} {quoted(key)} paid invoice {quoted(one)} in {where_one} and invoice {quoted(other)} in {where_other}; "
                "a payment pays one invoice: remove the payload that is wrong",
            )
        if known is None or source < self.sources[key]:
            self[key] = value
            self.sources[key] = source


@dataclass(frozen=True, slots=True)
class _SubscriptionState:
    envelope: _Envelope
    at: int
    id: str
    customer: str
    deleted: bool
    status: str
    currency: str


@dataclass
class _Facts:
    referrals: list[_Referral] = field(default_factory=list)
    subscriptions: list[_SubscriptionState] = field(default_factory=list)
    invoice_payments: list[_Money] = field(default_factory=list)
    charge_payments: list[_Money] = field(default_factory=list)
    refunds: list[_Money] = field(default_factory=list)
    refunded_states: list[_RefundedState] = field(default_factory=list)
    disputes: list[tuple[_Money, bool]] = field(default_factory=list)
    charges: dict[str, _Charge] = field(default_factory=dict)
    invoice_of_charge: _Links = field(default_factory=lambda: _Links("charge"))
    invoice_of_intent: _Links = field(default_factory=lambda: _Links("payment intent"))
    #: every charge seen with each payment intent (retries make several)
    charges_of_intent: dict[str, set[str]] = field(default_factory=dict)
    #: every version of each discount and coupon, then (_settle_versions) the current one
    discount_versions: dict[str, list[_Version]] = field(default_factory=dict)
    coupon_versions: dict[str, list[_Version]] = field(default_factory=dict)
    discounts: dict[str, _Obj] = field(default_factory=dict)
    coupons: dict[str, _Obj] = field(default_factory=dict)
    unused: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)


Handler = Callable[[_Envelope, _Facts, Options], None]


def _expect(obj: _Obj, kind: str) -> None:
    actual = obj.get("object")
    if isinstance(actual, str) and actual != kind:
        obj.fail("object", f"expected a {quoted(kind)}, not a {quoted(actual)}")


def _currency(obj: _Obj, expected: str | None, key: str = "currency") -> str:
    code = obj.text(key).upper()
    if code not in STRIPE_EXPONENTS:
        obj.fail(key, f"unknown currency {quoted(code)}")
    if expected is not None and code != expected.upper():
        obj.fail(
            key,
            f"the money is in {code}, not in {expected} (--currency); "
            "convert it or leave the option out to keep each event's currency",
        )
    return code


# -- referrals


def _on_checkout_session(envelope: _Envelope, facts: _Facts, options: Options) -> None:
    """A completed checkout names the referrer in metadata or client_reference_id.
    The referral happened when the customer arrived, so it is timed at the
    session's ``created``: the session completes after its first invoice is
    paid, and a referral timed at completion would miss that payment."""
    obj = envelope.obj
    _expect(obj, "checkout.session")
    referrer = obj.metadata(options.referrer_key)
    if referrer is None and options.use_client_reference_id:
        referrer = (obj.opt_text("client_reference_id") or "").strip() or None
    if referrer is None:
        facts.unused["checkout session without a referrer"] += 1
        return
    session = obj.text("id")
    customer = obj.ref("customer")
    if customer is None:
        facts.unused["checkout session without a customer"] += 1
        facts.warnings.append(
            f"checkout session {quoted(session)} names referrer {quoted(referrer)} but has no customer "
            "(guest checkout): nothing to attribute"
        )
        return
    created = obj.get("created")
    at = _seconds(obj, "created") if created is not None else _event_time(envelope)
    _add_referral(envelope, facts, options, session, at, referrer, customer, f"checkout session {quoted(session)}")


def _on_customer(envelope: _Envelope, facts: _Facts, options: Options) -> None:
    """A customer whose metadata names a referrer was referred by them, from
    the moment the metadata says so (this event)."""
    obj = envelope.obj
    _expect(obj, "customer")
    referrer = obj.metadata(options.referrer_key)
    if referrer is None:
        facts.unused["customer without a referrer"] += 1
        return
    customer = obj.text("id")
    at = _event_time(envelope)
    _add_referral(envelope, facts, options, customer, at, referrer, customer, f"customer {quoted(customer)}")


def _add_referral(
    envelope: _Envelope, facts: _Facts, options: Options, key: str, at: int, referrer: str, customer: str, what: str
) -> None:
    """The referral of `customer` by `referrer` that the object `what` (id
    `key`) names: one record, whichever kind of object named the referrer."""
    facts.referrals.append(
        _Referral(
            f"stripe:{key}:referral",
            at,
            referrer,
            customer,
            _attributes(envelope.obj, options),
            what,
            envelope.source,
            envelope.where,
        )
    )


def _attributes(obj: _Obj, options: Options) -> tuple[tuple[str, str], ...]:
    found = ((name, obj.metadata(key)) for name, key in sorted(options.referral_attributes.items()))
    return tuple((name, value) for name, value in found if value is not None)


# -- subscriptions


def _on_subscription(envelope: _Envelope, facts: _Facts, options: Options) -> None:
    """Every subscription event carries the subscription's whole state; its
    MRR is computed at resolve time, once every discount object is known."""
    obj = envelope.obj
    _expect(obj, "subscription")
    customer = obj.ref("customer")
    if customer is None:
        obj.fail("customer", "missing; a subscription belongs to a customer")
    for discount in _embedded_discounts(obj):
        _add_version(facts.discount_versions, discount, envelope)
    facts.subscriptions.append(
        _SubscriptionState(
            envelope,
            _event_time(envelope),
            obj.text("id"),
            customer,
            deleted=envelope.type == "customer.subscription.deleted",
            status=obj.text("status"),
            currency=_subscription_currency(obj, options.currency),
        )
    )


def _on_discount(envelope: _Envelope, facts: _Facts, options: Options) -> None:
    """Discount and coupon objects only serve to resolve ids that newer API
    versions put in ``subscription.discounts`` instead of the objects."""
    obj = envelope.obj
    facts.unused["discount or coupon (used for MRR)"] += 1
    versions = facts.coupon_versions if envelope.type.startswith("coupon.") else facts.discount_versions
    _add_version(versions, obj, envelope)


def _add_version(versions: dict[str, list[_Version]], obj: _Obj, envelope: _Envelope) -> None:
    versions.setdefault(obj.text("id"), []).append(_Version(obj, envelope.created, envelope.source))


def _embedded_discounts(obj: _Obj) -> list[_Obj]:
    """Discount objects a subscription shows in full: remembered so that a
    later event listing only their ids can still be resolved."""
    single = obj.child("discount")
    found = [single] if single is not None else []
    for path, item in obj.entries("discounts"):
        if isinstance(item, Mapping):
            found.append(_Obj(item, path))
    return found


def _subscription_currency(obj: _Obj, expected: str | None) -> str:
    if obj.get("currency") is not None:
        return _currency(obj, expected)
    found = {_currency(price, expected) for price, _ in _priced_items(obj)}
    if len(found) != 1:
        obj.fail("currency", "missing, and the prices do not agree on one")
    return found.pop()


def _priced_items(obj: _Obj) -> list[tuple[_Obj, _Obj | None]]:
    """(price, item) per subscription item; API versions before items
    (2017) put one ``plan`` and ``quantity`` on the subscription itself."""
    items_list = obj.child("items")
    if items_list is not None and items_list.get("has_more") is True:
        items_list.fail("has_more", "the items list is incomplete; fetch the subscription with all its items")
    items = obj.children("items")
    if not items:
        price = obj.child("price") or obj.child("plan")
        if price is None:
            obj.fail("items", "a subscription needs items (or, in old API versions, a `plan`)")
        return [(price, None)]
    out: list[tuple[_Obj, _Obj | None]] = []
    for item in items:
        price = item.child("price") or item.child("plan")
        if price is None:
            item.fail("price", "missing; a subscription item has a price (or a plan)")
        out.append((price, item))
    return out


# -- payments


def _on_invoice_paid(envelope: _Envelope, facts: _Facts, options: Options) -> None:
    """The money an invoice took is ``amount_paid``: after discounts, credit
    notes and customer balance, with tax. A $0 invoice (trial) moved none."""
    obj = envelope.obj
    _expect(obj, "invoice")
    invoice = obj.text("id")
    customer = obj.ref("customer")
    if customer is None:
        obj.fail("customer", "missing; a paid invoice belongs to a customer")
    amount = obj.integer("amount_paid")
    currency = _currency(obj, options.currency)
    _note_invoice_links(obj, invoice, facts, envelope.source)
    if amount == 0:
        facts.unused["invoice paid with no money"] += 1
        return
    at = _event_time(envelope)
    transitions = obj.child("status_transitions")
    paid_at = transitions.opt_integer("paid_at") if transitions is not None else None
    facts.invoice_payments.append(
        _Money(
            f"stripe:{invoice}:payment",
            at,
            amount,
            currency,
            customer=customer,
            match_at=paid_at if paid_at is not None else at,
            source=envelope.source,
        )
    )


def _note_invoice_links(obj: _Obj, invoice: str, facts: _Facts, source: str) -> None:
    """Every way an API version tells which charge paid an invoice."""
    _note_paid_by(obj, invoice, facts, source)
    for item in obj.children("payments"):
        _note_invoice_payment(item, invoice, facts, source)


def _note_invoice_payment(item: _Obj, invoice: str, facts: _Facts, source: str) -> None:
    payment = item.child("payment")
    if payment is not None:
        _note_paid_by(payment, invoice, facts, source)


def _note_paid_by(obj: _Obj, invoice: str, facts: _Facts, source: str) -> None:
    """The charge and payment intent that ``obj`` says paid ``invoice``."""
    charge = obj.ref("charge")
    if charge is not None:
        facts.invoice_of_charge.note(charge, invoice, source, obj, "charge")
    intent = obj.ref("payment_intent")
    if intent is not None:
        facts.invoice_of_intent.note(intent, invoice, source, obj, "payment_intent")


def _on_invoice_payment(envelope: _Envelope, facts: _Facts, options: Options) -> None:
    """``invoice_payment`` (API 2025-03-31 and later) only links an invoice
    to the payment intent or charge that paid it; the money is in ``invoice.paid``."""
    obj = envelope.obj
    _expect(obj, "invoice_payment")
    invoice = obj.ref("invoice")
    if invoice is None:
        obj.fail("invoice", "missing; an invoice payment names its invoice")
    _note_invoice_payment(obj, invoice, facts, envelope.source)
    facts.unused["invoice payment (links an invoice to its charge)"] += 1


def _on_charge_paid(envelope: _Envelope, facts: _Facts, options: Options) -> None:
    """A captured, successful charge is a payment of ``amount_captured``
    (``amount`` in API versions before it existed). If it paid an invoice
    whose payment is in the ledger, resolve drops it as the same money."""
    obj = envelope.obj
    _expect(obj, "charge")
    charge = obj.text("id")
    info = _note_charge(obj, facts, envelope.source)
    if obj.get("status") not in ("succeeded", "paid") or obj.get("paid") is False:
        facts.unused["charge not paid"] += 1
        return
    if obj.get("captured") is False:
        facts.unused["charge not captured"] += 1
        return
    captured = obj.opt_integer("amount_captured")
    amount = captured if captured is not None else obj.integer("amount")
    currency = _currency(obj, options.currency)
    if info.customer is None:
        facts.unused["charge without a customer"] += 1
        return
    if amount == 0:
        facts.unused["charge of no money"] += 1
        return
    at = _event_time(envelope)
    created = obj.get("created")
    facts.charge_payments.append(
        _Money(
            f"stripe:{charge}:payment",
            at,
            amount,
            currency,
            customer=info.customer,
            charge=charge,
            payment_intent=info.payment_intent,
            match_at=_seconds(obj, "created") if created is not None else at,
            source=envelope.source,
        )
    )


def _note_charge(obj: _Obj, facts: _Facts, source: str) -> _Charge:
    """Remember a charge's customer and links, whichever event showed it.
    Two payloads naming different customers for one charge are an error:
    keeping either would pay (or void) by input order."""
    charge = obj.text("id")
    invoice = obj.ref("invoice")
    intent = obj.ref("payment_intent")
    customer = obj.ref("customer")
    known = facts.charges.get(charge)
    if customer is not None and known is not None and known.customer not in (None, customer):
        (one, where_one), (other, where_other) = sorted(
            ((customer, source), (known.customer, known.customer_source or "?"))
        )
        obj.fail(
            "customer",
            f"charge {quoted(charge)} has two customers: {quoted(one)} in {where_one} and {quoted(other)} in {where_other}; "
            "a charge has one customer: remove the payload that is wrong",
        )
    if intent is not None and known is not None and known.payment_intent not in (None, intent):
        obj.fail(
            "payment_intent",
            f"charge {quoted(charge)} names payment intents {quoted(min(known.payment_intent, intent))} and "
            f"{quoted(max(known.payment_intent, intent))}; "
            "a charge belongs to one payment intent: remove the payload that is wrong",
        )
    known_source = known.customer_source if known else None
    info = _Charge(
        customer=customer or (known.customer if known else None),
        invoice=invoice or (known.invoice if known else None),
        payment_intent=intent or (known.payment_intent if known else None),
        has_invoice_field="invoice" in obj.data or (known is not None and known.has_invoice_field),
        customer_source=min(filter(None, (source if customer else None, known_source)), default=None),
        paid=_succeeded(obj) or (known is not None and known.paid),
    )
    facts.charges[charge] = info
    if invoice is not None:
        facts.invoice_of_charge.note(charge, invoice, source, obj, "invoice")
    if intent is not None:
        facts.charges_of_intent.setdefault(intent, set()).add(charge)
    return info


def _succeeded(charge: _Obj) -> bool:
    return charge.get("status") in ("succeeded", "paid") and charge.get("paid") is not False


# -- refunds and disputes


def _on_charge_refunded(envelope: _Envelope, facts: _Facts, options: Options) -> None:
    """``charge.refunded`` shows the charge after the refund. Its embedded
    ``refunds`` list (older API versions) gives each refund with its id; the
    cumulative ``amount_refunded`` (minus ``previous_attributes``) covers
    versions without the list. Resolve keeps one refund per real refund."""
    obj = envelope.obj
    _expect(obj, "charge")
    charge = obj.text("id")
    _note_charge(obj, facts, envelope.source)
    at = _event_time(envelope)
    before = envelope.previous.get("amount_refunded")
    facts.refunded_states.append(
        _RefundedState(
            charge,
            at,
            obj.integer("amount_refunded"),
            before if isinstance(before, int) and not isinstance(before, bool) else None,
            _currency(obj, options.currency),
            _complete_list(obj, "refunds"),
            envelope.source,
        )
    )
    for refund in obj.children("refunds"):
        created = refund.get("created")
        facts.refunds.append(
            _refund(
                refund,
                charge,
                _seconds(refund, "created") if created is not None else at,
                facts,
                options,
                envelope.source,
            )
        )


def _complete_list(obj: _Obj, key: str) -> bool:
    """True when ``key`` holds a list that Stripe did not cut short."""
    value = obj.get(key)
    return isinstance(value, list) or (isinstance(value, Mapping) and value.get("has_more") is not True)


def _on_refund(envelope: _Envelope, facts: _Facts, options: Options) -> None:
    obj = envelope.obj
    _expect(obj, "refund")
    facts.refunds.append(_refund(obj, None, _event_time(envelope), facts, options, envelope.source))


def _refund(obj: _Obj, charge: str | None, at: int, facts: _Facts, options: Options, source: str) -> _Money:
    """A refund object. Inside a charge's list it reverses that charge."""
    expanded = obj.child("charge") if isinstance(obj.get("charge"), Mapping) else None
    if expanded is not None:
        _note_charge(expanded, facts, source)
    return _Money(
        f"stripe:{obj.text('id')}:refund",
        at,
        obj.integer("amount"),
        _currency(obj, options.currency),
        charge=charge or obj.ref("charge"),
        payment_intent=obj.ref("payment_intent"),
        status=obj.opt_text("status"),
    )


def _on_dispute(envelope: _Envelope, facts: _Facts, options: Options) -> None:
    """A dispute takes the money back when it opens, and gives it back if the
    merchant wins; resolve turns it into a refund unless it was won."""
    obj = envelope.obj
    _expect(obj, "dispute")
    if isinstance(obj.get("charge"), Mapping):
        _note_charge(_Obj(obj.data["charge"], obj.field("charge")), facts, envelope.source)
    money = _Money(
        f"stripe:{obj.text('id')}:dispute",
        _event_time(envelope),
        obj.integer("amount"),
        _currency(obj, options.currency),
        charge=obj.ref("charge"),
        payment_intent=obj.ref("payment_intent"),
        status=obj.text("status"),
    )
    facts.disputes.append((money, envelope.type == "charge.dispute.funds_reinstated"))


_HANDLERS: Final[dict[str, Handler]] = {
    "checkout.session.completed": _on_checkout_session,
    "customer.created": _on_customer,
    "customer.updated": _on_customer,
    **{
        f"customer.subscription.{name}": _on_subscription
        for name in (
            "created",
            "updated",
            "deleted",
            "paused",
            "resumed",
            "trial_will_end",
            "pending_update_applied",
            "pending_update_expired",
        )
    },
    "invoice.paid": _on_invoice_paid,
    "invoice.payment_succeeded": _on_invoice_paid,
    "invoice_payment.paid": _on_invoice_payment,
    "charge.succeeded": _on_charge_paid,
    "charge.captured": _on_charge_paid,
    "charge.refunded": _on_charge_refunded,
    "refund.created": _on_refund,
    "refund.updated": _on_refund,
    "refund.failed": _on_refund,
    "charge.refund.updated": _on_refund,
    **{
        f"charge.dispute.{name}": _on_dispute
        for name in (
            "created",
            "updated",
            "closed",
            "funds_withdrawn",
            "funds_reinstated",
        )
    },
    **{f"customer.discount.{name}": _on_discount for name in ("created", "updated", "deleted")},
    **{f"coupon.{name}": _on_discount for name in ("created", "updated")},
}
