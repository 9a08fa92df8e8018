"""Follow-ups on trust: Stripe ingest independent of input order (docs/stripe.md),
settled statements in every output (docs/explain.md, docs/report.md), and
the kept record of a paid award showing what was paid (docs/semantics.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rewardrules.sources import Payload, read_payloads
from rewardrules.sources.stripe import StripeError, ingest, to_ledger

from .conftest import examples
from .test_stripe import PAY_RAILS, charge, coupon, event, invoice, month, price, refund, subscription, ts

# ---------------------------------------------------------------------------
# Stripe: the ledger is a function of the set of payloads.

PERMUTATIONS = settings(
    max_examples=examples(20), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def discount(id: str, percent: int, **extra: Any) -> dict[str, Any]:
    return {"id": id, "object": "discount", "coupon": coupon(percent=percent), "end": None, **extra}


def with_discount_ids(*ids: str) -> dict[str, Any]:
    return subscription("sub_1", "cus_1", [(price("p", 10000), 1)], discounts=list(ids))


def discount_versions() -> list[dict[str, Any]]:
    """One discount in two versions (25% on the 1st, 50% on the 3rd), a coupon
    in two versions, and subscription events naming both by id only."""
    return [
        event("evt_d1", "customer.discount.created", discount("di_7", 25), ts(1)),
        event("evt_d2", "customer.discount.updated", discount("di_7", 50), ts(3)),
        event("evt_c1", "coupon.created", {**coupon(percent=10), "id": "co_9"}, ts(1)),
        event("evt_c2", "coupon.updated", {**coupon(percent=20), "id": "co_9"}, ts(2)),
        event("evt_d3", "customer.discount.created", {"id": "di_8", "object": "discount", "coupon": "co_9"}, ts(2)),
        event("evt_s1", "customer.subscription.created", with_discount_ids("di_7"), ts(4)),
        event(
            "evt_s2",
            "customer.subscription.updated",
            subscription("sub_2", "cus_2", [(price("p", 10000), 1)], discounts=["di_8"]),
            ts(4),
        ),
    ]


def payment_links() -> list[dict[str, Any]]:
    """A payment intent retried: a failed charge, then the one that succeeded,
    and a refund that names only the payment intent."""
    return [
        event(
            "evt_1",
            "charge.refunded",
            charge("ch_bad", "cus_1", 5000, payment_intent="pi_1", status="failed", paid=False, amount_refunded=0),
            ts(1),
        ),
        event("evt_2", "charge.succeeded", charge("ch_ok", "cus_1", 5000, payment_intent="pi_1"), ts(1, 0, 1)),
        event("evt_3", "refund.created", refund("re_1", None, 1000, ts(2), payment_intent="pi_1"), ts(2)),
        event("evt_4", "invoice.paid", invoice("in_1", "cus_1", 7000, charge="ch_x"), ts(3)),
        event("evt_5", "charge.succeeded", charge("ch_x", "cus_1", 7000, invoice="in_1"), ts(3)),
    ]


def files(payloads: list[dict[str, Any]], name: str) -> list[list[Payload]]:
    """Each payload as a file of its own, named for its place in the set."""
    return [[Payload(f"{name}/{i:02d}.json", p)] for i, p in enumerate(payloads)]


def outcome(groups: list[list[Payload]]) -> str:
    """The ledger's bytes, or the problems (as a set: they are listed in input order)."""
    try:
        ledger = to_ledger([p for group in groups for p in group])
    except StripeError as error:
        return "error:" + json.dumps(sorted(p.render() for p in error.problems))
    return "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in ledger)


SETS = {
    "pay-rails": [read_payloads([path]) for path in sorted(PAY_RAILS.glob("*.json"))],
    "month": files(month(), "month"),
    "discount versions": files(discount_versions(), "discounts"),
    "payment links": files(payment_links(), "links"),
}


@pytest.mark.parametrize("name", sorted(SETS))
@PERMUTATIONS
@given(data=st.data())
def test_any_order_of_payload_files_gives_the_same_ledger_bytes(name: str, data: st.DataObject) -> None:
    groups = SETS[name]
    shuffled = data.draw(st.permutations(groups))
    assert outcome(shuffled) == outcome(groups)


def test_a_discount_named_by_id_is_its_latest_version_in_any_order() -> None:
    payloads = discount_versions()
    for order in (payloads, payloads[::-1]):
        mrr = {row["referee"]: row["mrr"] for row in to_ledger(order) if row["type"] == "subscription"}
        assert mrr == {"cus_1": "50.00", "cus_2": "80.00"}  # 50% (3rd, not 25% of the 1st); co_9 at 20%


def test_an_embedded_discount_is_a_version_timed_by_its_event() -> None:
    """A subscription event's expanded discount is a copy as of that event:
    a later discount event's version is current for ids named after it."""
    first = subscription("sub_1", "cus_1", [(price("p", 10000), 1)], discounts=[discount("di_7", 10)])
    payloads = [
        event("evt_1", "customer.subscription.created", first, ts(1)),
        event("evt_2", "customer.discount.updated", discount("di_7", 30), ts(2)),
        event("evt_3", "customer.subscription.updated", with_discount_ids("di_7"), ts(3)),
    ]
    for order in (payloads, payloads[::-1]):
        assert [row["mrr"] for row in to_ledger(order)] == ["90.00", "70.00"]


def test_copies_that_differ_only_in_what_mrr_does_not_read_are_one_version() -> None:
    payloads = [
        event("evt_1", "customer.discount.created", discount("di_7", 25, promotion_code="promo_1"), ts(1)),
        {"object": discount("di_7", 25, promotion_code=None)},  # a bare copy: no event time, same terms
        event("evt_3", "customer.subscription.updated", with_discount_ids("di_7"), ts(3)),
    ]
    assert to_ledger(payloads)[0]["mrr"] == "75.00"


@pytest.mark.parametrize(
    "second, why",
    [
        (event("evt_2", "customer.discount.updated", discount("di_7", 50), ts(1)), "both are from the same second"),
        (discount("di_7", 50), "one of them is a bare object, with no event time"),
    ],
)
def test_versions_that_no_time_orders_are_an_error_naming_both(second: dict[str, Any], why: str) -> None:
    payloads = [
        Payload("a.json", event("evt_1", "customer.discount.created", discount("di_7", 25), ts(1))),
        Payload("b.json", second),
        Payload("c.json", event("evt_3", "customer.subscription.updated", with_discount_ids("di_7"), ts(3))),
    ]
    for order in (payloads, payloads[::-1]):
        with pytest.raises(StripeError) as caught:
            ingest(order)
        assert [p.render() for p in caught.value.problems] == [
            f"b.json: discount di_7: discount `di_7` says something else in a.json, and {why}: "
            "which one is current cannot be told; remove the payload that is out of date"
        ]


def test_a_refund_naming_only_its_payment_intent_reverses_the_charge_that_succeeded() -> None:
    for order in (payment_links(), payment_links()[::-1]):
        refunds = [row for row in to_ledger(order) if row["type"] == "refund"]
        assert [(r["id"], r["payment"], r["amount"]) for r in refunds] == [
            ("stripe:re_1:refund", "stripe:ch_ok:payment", "10.00")
        ]


@pytest.mark.parametrize(
    "a, b, field, message",
    [
        (
            event("evt_1", "invoice.paid", invoice("in_1", "cus_1", 5000, charge="ch_1"), ts(1)),
            event("evt_2", "invoice.paid", invoice("in_2", "cus_1", 5000, charge="ch_1"), ts(2)),
            "data.object.charge",
            "charge `ch_1` paid invoice `in_1` in a.json and invoice `in_2` in b.json",
        ),
        (
            event("evt_1", "charge.succeeded", charge("ch_1", "cus_1", 5000, invoice="in_1"), ts(1)),
            event("evt_2", "invoice.paid", invoice("in_2", "cus_1", 5000, charge="ch_1"), ts(2)),
            "data.object.charge",
            "charge `ch_1` paid invoice `in_1` in a.json and invoice `in_2` in b.json",
        ),
        (
            event("evt_1", "invoice.paid", invoice("in_1", "cus_1", 5000, payment_intent="pi_1"), ts(1)),
            event("evt_2", "invoice.paid", invoice("in_2", "cus_1", 5000, payment_intent="pi_1"), ts(2)),
            "data.object.payment_intent",
            "payment intent `pi_1` paid invoice `in_1` in a.json and invoice `in_2` in b.json",
        ),
    ],
)
def test_one_payment_linked_to_two_invoices_is_an_error_naming_both(
    a: dict[str, Any], b: dict[str, Any], field: str, message: str
) -> None:
    """Formerly the link read last won, so which invoice a charge's money
    counted for (and which payment a refund reversed) followed input order."""
    for order in ([Payload("a.json", a), Payload("b.json", b)], [Payload("b.json", b), Payload("a.json", a)]):
        with pytest.raises(StripeError) as caught:
            ingest(order)
        [problem] = caught.value.problems
        assert (problem.source, problem.field) == ("b.json", field)
        assert problem.message.startswith(message + "; a payment pays one invoice")


def test_a_charge_with_two_payment_intents_is_an_error() -> None:
    a = event("evt_1", "charge.succeeded", charge("ch_1", "cus_1", 5000, payment_intent="pi_1"), ts(1))
    b = event(
        "evt_2", "charge.refunded", charge("ch_1", "cus_1", 5000, payment_intent="pi_2", amount_refunded=5000), ts(2)
    )
    for order in ([a, b], [b, a]):
        with pytest.raises(StripeError, match=r"charge `ch_1` names payment intents `pi_1` and `pi_2`; a charge"):
            to_ledger(order)


def test_one_object_at_one_second_with_two_amounts_keeps_the_smaller_in_any_order() -> None:
    a = event("evt_1", "invoice.paid", invoice("in_1", "cus_1", 700), ts(1))
    b = event("evt_2", "invoice.payment_succeeded", invoice("in_1", "cus_1", 5000), ts(1))
    for order in ([a, b], [b, a]):
        result = ingest(order)
        assert [row["amount"] for row in result.ledger] == ["7.00"]
        assert any("kept the earliest (the smaller, at the same second)" in w for w in result.report.warnings)


def test_one_referral_at_one_second_with_two_referrers_keeps_the_first_by_name_in_any_order() -> None:
    meta = {"id": "cus_1", "object": "customer", "created": ts(1)}
    a = event("evt_1", "customer.created", {**meta, "metadata": {"referrer": "zoe"}}, ts(1))
    b = event("evt_2", "customer.updated", {**meta, "metadata": {"referrer": "alice"}}, ts(1))
    for order in ([a, b], [b, a]):
        assert [row["referrer"] for row in to_ledger(order)] == ["alice"]
