"""The Stripe adapter (docs/stripe.md): every mapping rule, the real payloads
in tests/fixtures/stripe/pay-rails, the CLI, and a month of events scored end to end.

Events are built by the small helpers below (full webhook events unless a
test says otherwise); times are in March 2026 so that they read as dates.
Expected amounts, ids and counts are worked out by hand in each test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import rewardrules
from rewardrules.cli import main
from rewardrules.sources import Payload, read_payloads
from rewardrules.sources.stripe import Ingested, Options, StripeError, ingest, to_ledger

from .conftest import ROOT, RULESETS

# Real payloads from the pay-rails billing library (MIT, its licence beside
# them): three shapes, old and new Stripe API versions.
PAY_RAILS = ROOT / "tests" / "fixtures" / "stripe" / "pay-rails"
OWN = ROOT / "tests" / "fixtures" / "stripe"
MARCH = 1772323200  # 2026-03-01T00:00:00Z
_ABSENT: Any = object()


def ts(day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    """Unix seconds of 2026-03-DAY HH:MM:SS UTC."""
    return MARCH + (day - 1) * 86400 + hour * 3600 + minute * 60 + second


def iso(day: int, hour: int = 0, minute: int = 0, second: int = 0) -> str:
    return f"2026-03-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}Z"


def event(
    event_id: str,
    type: str,
    obj: dict[str, Any],
    created: int,
    previous: dict[str, Any] | None = None,
    livemode: bool = True,
) -> dict[str, Any]:
    data: dict[str, Any] = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "type": type,
        "created": created,
        "livemode": livemode,
        "data": data,
    }


def price(
    id: str, amount: int | None, interval: str = "month", count: int = 1, currency: str = "usd", **extra: Any
) -> dict[str, Any]:
    recurring = {"interval": interval, "interval_count": count, "usage_type": extra.pop("usage_type", "licensed")}
    return {
        "id": id,
        "object": "price",
        "currency": currency,
        "unit_amount": amount,
        "billing_scheme": "per_unit",
        "recurring": recurring,
        "product": extra.pop("product", "prod_main"),
        **extra,
    }


def subscription(
    id: str, customer: str, items: list[tuple[dict[str, Any], int]], status: str = "active", **extra: Any
) -> dict[str, Any]:
    data = [
        {"id": f"si_{id}_{i}", "object": "subscription_item", "price": p, "quantity": q}
        for i, (p, q) in enumerate(items)
    ]
    return {
        "id": id,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "ended_at": None,
        "discount": None,
        "items": {"object": "list", "data": data, "has_more": False},
        **extra,
    }


def invoice(id: str, customer: str, amount_paid: int, currency: str = "usd", **extra: Any) -> dict[str, Any]:
    return {
        "id": id,
        "object": "invoice",
        "customer": customer,
        "status": "paid",
        "amount_paid": amount_paid,
        "amount_due": amount_paid,
        "currency": currency,
        **extra,
    }


def charge(
    id: str, customer: str | None, amount: int, currency: str = "usd", invoice: Any = _ABSENT, **extra: Any
) -> dict[str, Any]:
    obj = {
        "id": id,
        "object": "charge",
        "customer": customer,
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": 0,
        "currency": currency,
        "paid": True,
        "captured": True,
        "status": "succeeded",
        "refunded": False,
        **extra,
    }
    if invoice is not _ABSENT:  # API versions from 2025-03-31 have no `invoice` on charges
        obj["invoice"] = invoice
    return obj


def refund(
    id: str, charge_id: str | None, amount: int, created: int, status: str = "succeeded", **extra: Any
) -> dict[str, Any]:
    return {
        "id": id,
        "object": "refund",
        "charge": charge_id,
        "amount": amount,
        "currency": "usd",
        "created": created,
        "status": status,
        **extra,
    }


def dispute(id: str, charge_id: str, amount: int, status: str) -> dict[str, Any]:
    return {"id": id, "object": "dispute", "charge": charge_id, "amount": amount, "currency": "usd", "status": status}


def session(
    id: str,
    customer: str | None,
    created: int,
    client_reference_id: str | None = None,
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "id": id,
        "object": "checkout.session",
        "customer": customer,
        "created": created,
        "status": "complete",
        "client_reference_id": client_reference_id,
        "metadata": metadata or {},
        "mode": "subscription",
    }


def customer(id: str, metadata: dict[str, str]) -> dict[str, Any]:
    return {"id": id, "object": "customer", "created": MARCH, "metadata": metadata}


def by_type(ledger: list[dict[str, str]], type: str) -> list[dict[str, str]]:
    return [row for row in ledger if row["type"] == type]


def mrr_of(sub: dict[str, Any], at: int = MARCH, *more: dict[str, Any]) -> str:
    ledger = to_ledger([*more, event("evt_sub", "customer.subscription.updated", sub, at)])
    return by_type(ledger, "subscription")[-1]["mrr"]


def one(ledger: list[dict[str, str]], type: str) -> dict[str, str]:
    rows = by_type(ledger, type)
    assert len(rows) == 1, rows
    return rows[0]


# ---------------------------------------------------------------------------
# The real payloads in tests/fixtures/stripe/pay-rails (three shapes, old and new API versions).


@pytest.fixture(scope="module")
def pay_rails() -> Ingested:
    if not PAY_RAILS.is_dir():
        pytest.fail(f"the pay-rails Stripe fixtures are missing: {PAY_RAILS}")
    return ingest(read_payloads([PAY_RAILS]))


def test_pay_rails_fixtures_give_this_exact_ledger(pay_rails: Ingested) -> None:
    ids = [(row["id"], row["at"], row.get("amount") or row.get("mrr")) for row in pay_rails.ledger]
    assert ids[0] == ("stripe:ch_chargeid:payment", "2012-10-29T07:55:05Z", "5.00")
    assert [i for i in ids if not i[0].startswith("stripe:sub_")][1:] == [
        # the refund of the bare `charge.refunded` object: its own amount and time, not the charge's
        ("stripe:re_3LQOJoKXBGcbgpbZ10i9Mg75:refund", "2022-07-28T04:27:45Z", "5.00"),
        # bare invoice object (no envelope): amount_paid, at the invoice's own `created`
        ("stripe:in_1RFFohKXBGcbgpbZk9MxzDMc:payment", "2025-04-18T14:22:55Z", "245.12"),
        # event `data` shape of the 2025 API (`charge.updated.json`): a succeeded charge
        ("stripe:ch_1234:payment", "2025-05-01T12:45:18Z", "249.00"),
    ]
    assert len(pay_rails.ledger) == 9


def test_pay_rails_fixture_refund_names_the_payment_it_reverses(pay_rails: Ingested) -> None:
    refund_row = one(pay_rails.ledger, "refund")
    assert refund_row == {
        "id": "stripe:re_3LQOJoKXBGcbgpbZ10i9Mg75:refund",
        "at": "2022-07-28T04:27:45Z",
        "type": "refund",
        "referee": "cus_0dUMWLtzCTagWs",
        "amount": "5.00",
        "currency": "USD",
        "payment": "stripe:ch_chargeid:payment",
    }


def test_pay_rails_fixture_subscriptions(pay_rails: Ingested) -> None:
    rows = by_type(pay_rails.ledger, "subscription")
    # created (active, 2 x 3.00) is the only state with revenue: the others are
    # canceled or carry `ended_at`
    assert sorted((r["status"], r["mrr"]) for r in rows) == [
        ("active", "0.00"),
        ("active", "0.00"),
        ("active", "6.00"),
        ("canceled", "0.00"),
        ("canceled", "0.00"),
    ]
    assert {r["referee"] for r in rows} == {"cus_00000000000000"}
    assert all(r["id"].startswith("stripe:sub_00000000000000:subscription:") for r in rows)
    assert {r["at"] for r in rows} == {"2016-06-24T15:45:24Z"}  # the subscription's own `created`


def test_pay_rails_fixture_report(pay_rails: Ingested) -> None:
    report = pay_rails.report
    assert report.payloads == 17
    assert dict(report.written) == {"payment": 3, "refund": 1, "subscription": 5}
    assert dict(report.skipped) == {"account.updated": 1, "invoice (status draft)": 1, "invoice (status open)": 2}
    assert dict(report.unused) == {
        "checkout session without a referrer": 1,
        "customer without a referrer": 2,
        "invoice payment (links an invoice to its charge)": 1,
    }
    # the bare `charge.refunded` lists re_3LQO...: its amount_refunded adds nothing
    assert dict(report.duplicates) == {}


def test_pay_rails_fixtures_ledger_is_valid_for_the_engine(pay_rails: Ingested) -> None:
    schema = rewardrules.json_schema("ledger")
    for row in pay_rails.ledger:
        jsonschema.validate(row, schema)
    for name in ("saas_milestones", "partner_and_customer"):
        result = rewardrules.load(RULESETS / f"{name}.rules").score(pay_rails.ledger)
        assert result.data["awards"] == []  # no referral in the fixtures


def test_real_cli_ingests_pay_rails_fixtures_and_scores(tmp_path: Path) -> None:
    exe = [sys.executable, "-m", "rewardrules"]
    done = subprocess.run([*exe, "ingest", "stripe", str(PAY_RAILS)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "rewardrules: skipped 4 payload(s) of types the mapping does not read: account.updated 1," in done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 9
    rows = [json.loads(line) for line in lines]
    assert rows == sorted(rows, key=lambda r: (r["at"], r["id"]))
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(done.stdout)
    scored = subprocess.run(
        [*exe, "score", str(RULESETS / "saas_milestones.rules"), str(ledger)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert scored.returncode == 0, scored.stderr
    assert scored.stdout.startswith("saas_milestones: 0 award(s) as of 2025-05-01T12:45:18Z")


# ---------------------------------------------------------------------------
# Payload shapes, identity and retries.


def test_three_shapes_of_one_charge_map_alike() -> None:
    obj = charge("ch_1", "cus_1", 4900, created=ts(3))
    full = to_ledger([event("evt_1", "charge.succeeded", obj, ts(3))])
    data_only = to_ledger([{"object": obj, "previous_attributes": None}])
    bare = to_ledger([obj])
    assert (
        full
        == data_only
        == bare
        == [
            {
                "id": "stripe:ch_1:payment",
                "at": iso(3),
                "type": "payment",
                "referee": "cus_1",
                "amount": "49.00",
                "currency": "USD",
            }
        ]
    )


def test_bare_object_without_object_field_is_known_by_its_id() -> None:
    obj = charge("ch_9", "cus_1", 100, created=ts(1))
    del obj["object"]
    assert one(to_ledger([obj]), "payment")["id"] == "stripe:ch_9:payment"


def test_bare_object_type_is_inferred_from_status() -> None:
    result = ingest([invoice("in_1", "cus_1", 500, created=ts(1)), {**invoice("in_2", "cus_1", 0), "status": "open"}])
    assert [r["id"] for r in result.ledger] == ["stripe:in_1:payment"]
    assert dict(result.report.skipped) == {"invoice (status open)": 1}


def test_event_time_is_the_events_created_not_the_objects() -> None:
    obj = invoice("in_1", "cus_1", 500, created=ts(1))
    assert one(to_ledger([event("evt_1", "invoice.paid", obj, ts(4, 8, 30))]), "payment")["at"] == iso(4, 8, 30)


def test_webhook_retry_counts_once_and_order_does_not_matter() -> None:
    events = [
        event("evt_1", "charge.succeeded", charge("ch_1", "cus_1", 1000, invoice=None), ts(2)),
        event("evt_2", "customer.subscription.created", subscription("sub_1", "cus_1", [(price("p", 1000), 1)]), ts(1)),
        event("evt_1", "charge.succeeded", charge("ch_1", "cus_1", 1000, invoice=None), ts(2)),
    ]
    forward, backward = ingest(events), ingest(list(reversed(events)))
    assert forward.ledger == backward.ledger
    assert [r["id"] for r in forward.ledger] == ["stripe:evt_2:subscription", "stripe:ch_1:payment"]
    assert dict(forward.report.duplicates) == {"webhook retry": 1}


def test_identical_bare_payloads_count_once() -> None:
    obj = charge("ch_1", "cus_1", 100, created=ts(1))
    result = ingest([obj, dict(obj)])
    assert len(result.ledger) == 1
    assert dict(result.report.duplicates) == {"repeated payload": 1}


def test_unknown_event_types_are_skipped_and_counted() -> None:
    result = ingest(
        [
            event("evt_1", "payment_intent.succeeded", {"id": "pi_1", "object": "payment_intent"}, ts(1)),
            event("evt_2", "payment_intent.succeeded", {"id": "pi_2", "object": "payment_intent"}, ts(1)),
            event("evt_3", "invoice.finalized", invoice("in_1", "cus_1", 0), ts(1)),
        ]
    )
    assert result.ledger == []
    assert dict(result.report.skipped) == {"invoice.finalized": 1, "payment_intent.succeeded": 2}


def test_live_only_drops_test_mode_events() -> None:
    events = [
        event("evt_1", "charge.succeeded", charge("ch_1", "cus_1", 100), ts(1), livemode=False),
        event("evt_2", "charge.succeeded", charge("ch_2", "cus_1", 100), ts(1)),
    ]
    assert len(to_ledger(events)) == 2
    result = ingest(events, Options(live_only=True))
    assert [r["id"] for r in result.ledger] == ["stripe:ch_2:payment"]
    assert dict(result.report.unused) == {"test mode": 1}


# ---------------------------------------------------------------------------
# Referrals.


def test_checkout_referral_is_timed_at_session_creation() -> None:
    # Stripe completes the session after the first invoice is paid; the
    # referral must come first or that payment would earn nothing.
    obj = session("cs_1", "cus_1", ts(2, 9), client_reference_id="alice")
    row = one(to_ledger([event("evt_1", "checkout.session.completed", obj, ts(2, 9, 0, 25))]), "referral")
    assert row == {
        "id": "stripe:cs_1:referral",
        "at": iso(2, 9),
        "type": "referral",
        "referrer": "alice",
        "referee": "cus_1",
    }


def test_metadata_referrer_wins_over_client_reference_id() -> None:
    obj = session("cs_1", "cus_1", ts(2), client_reference_id="user-77", metadata={"referrer": "bob"})
    assert one(to_ledger([obj]), "referral")["referrer"] == "bob"


def test_referrer_key_is_configurable() -> None:
    obj = session("cs_1", "cus_1", ts(2), metadata={"referrer": "bob", "ref_by": "carol"})
    assert one(to_ledger([obj], referrer_key="ref_by"), "referral")["referrer"] == "carol"


def test_client_reference_id_can_be_ignored() -> None:
    obj = session("cs_1", "cus_1", ts(2), client_reference_id="user-77")
    result = ingest([obj], Options(use_client_reference_id=False))
    assert result.ledger == []
    assert dict(result.report.unused) == {"checkout session without a referrer": 1}


def test_referral_attributes_come_from_metadata() -> None:
    obj = session("cs_1", "cus_1", ts(2), metadata={"referrer": "p1", "referral_source": "partner", "cc": "DE"})
    row = one(to_ledger([obj], referral_attributes={"source": "referral_source", "country": "cc"}), "referral")
    assert (row["source"], row["country"]) == ("partner", "DE")


def test_empty_metadata_value_is_no_referrer() -> None:
    result = ingest([event("evt_1", "customer.updated", customer("cus_1", {"referrer": ""}), ts(1))])
    assert result.ledger == []


def test_customer_metadata_referral_and_its_repeats() -> None:
    events = [
        event("evt_1", "customer.created", customer("cus_1", {"referrer": "alice"}), ts(1, 10)),
        event("evt_2", "customer.updated", customer("cus_1", {"referrer": "alice", "plan": "x"}), ts(3)),
        event("evt_3", "checkout.session.completed", session("cs_1", "cus_1", ts(1, 11), "alice"), ts(1, 12)),
        event("evt_4", "checkout.session.completed", session("cs_2", "cus_1", ts(5), "bob"), ts(5)),
    ]
    result = ingest(events)
    assert [(r["id"], r["at"], r["referrer"]) for r in result.ledger] == [
        ("stripe:cus_1:referral", iso(1, 10), "alice"),
        # a different referrer is kept: the engine's first-referral rule decides
        ("stripe:cs_2:referral", iso(5), "bob"),
    ]
    assert dict(result.report.duplicates) == {"same object in several payloads": 1, "repeated referral": 1}


def test_changed_referrer_in_customer_metadata_keeps_the_first_and_warns() -> None:
    result = ingest(
        [
            event("evt_1", "customer.created", customer("cus_1", {"referrer": "alice"}), ts(1)),
            event("evt_2", "customer.updated", customer("cus_1", {"referrer": "bob"}), ts(2)),
        ]
    )
    assert one(result.ledger, "referral")["referrer"] == "alice"
    assert result.report.warnings == [
        "`stripe:cus_1:referral`: the referrer changed from `alice` to `bob`; the first referral stands"
    ]


def test_guest_checkout_with_referrer_warns() -> None:
    result = ingest([session("cs_1", None, ts(1), "alice")])
    assert result.ledger == []
    assert result.report.warnings == [
        "checkout session `cs_1` names referrer `alice` but has no customer (guest checkout): nothing to attribute"
    ]


# ---------------------------------------------------------------------------
# Subscriptions: MRR.


@pytest.mark.parametrize(
    ("amount", "interval", "count", "mrr"),
    [
        (4900, "month", 1, "49.00"),
        (120000, "year", 1, "100.00"),
        (30000, "month", 3, "100.00"),
        (1000, "week", 1, "43.45"),  # 1000 x 365/84 = 4345.24 cents
        (1000, "week", 2, "21.73"),  # 1000 x 365/168 = 2172.62 cents
        (100, "day", 1, "30.42"),  # 100 x 365/12 = 3041.67 cents
        (150, "year", 1, "0.12"),  # 12.5 cents: half to even, down
        (450, "year", 1, "0.38"),  # 37.5 cents: half to even, up
    ],
    ids=["month", "year", "quarter", "week", "two-weeks", "day", "half-even-down", "half-even-up"],
)
def test_mrr_normalises_each_interval_to_a_month(amount: int, interval: str, count: int, mrr: str) -> None:
    assert mrr_of(subscription("sub_1", "cus_1", [(price("p", amount, interval, count), 1)])) == mrr


def test_mrr_sums_price_times_quantity_over_items() -> None:
    items = [(price("seat", 4900), 3), (price("addon", 1000), 2), (price("yearly", 24000, "year"), 1)]
    assert mrr_of(subscription("sub_1", "cus_1", items)) == "187.00"  # 147 + 20 + 20


def test_mrr_zero_decimal_and_three_decimal_currencies() -> None:
    assert mrr_of(subscription("sub_1", "cus_1", [(price("p", 5000, currency="jpy"), 1)])) == "5000"
    assert mrr_of(subscription("sub_1", "cus_1", [(price("p", 12000, "year", currency="kwd"), 1)])) == "1.000"


@pytest.mark.parametrize("status", ["canceled", "incomplete", "incomplete_expired", "trialing", "paused", "unpaid"])
def test_mrr_is_zero_without_revenue(status: str) -> None:
    assert mrr_of(subscription("sub_1", "cus_1", [(price("p", 4900), 1)], status=status)) == "0.00"


def test_mrr_is_zero_when_ended_or_deleted() -> None:
    ended = subscription("sub_1", "cus_1", [(price("p", 4900), 1)], ended_at=ts(1))
    assert mrr_of(ended) == "0.00"
    live = subscription("sub_1", "cus_1", [(price("p", 4900), 1)])
    ledger = to_ledger([event("evt_1", "customer.subscription.deleted", live, ts(1))])
    assert one(ledger, "subscription")["mrr"] == "0.00"


def test_subscription_row_carries_plan_status_and_ids() -> None:
    sub = subscription("sub_1", "cus_1", [(price("price_pro", 4900), 2)])
    assert to_ledger([event("evt_9", "customer.subscription.created", sub, ts(1))]) == [
        {
            "id": "stripe:evt_9:subscription",
            "at": iso(1),
            "type": "subscription",
            "referee": "cus_1",
            "mrr": "98.00",
            "currency": "USD",
            "plan": "price_pro",
            "subscription": "sub_1",
            "status": "active",
            "subscription_mrr": "98.00",
        }
    ]


def test_customer_mrr_sums_its_subscriptions() -> None:
    a = subscription("sub_a", "cus_1", [(price("p", 50000), 1)])
    b = subscription("sub_b", "cus_1", [(price("q", 60000), 1)])
    ledger = to_ledger(
        [
            event("evt_1", "customer.subscription.created", a, ts(1)),
            event("evt_2", "customer.subscription.created", b, ts(2)),
            event("evt_3", "customer.subscription.deleted", {**a, "status": "canceled"}, ts(3)),
        ]
    )
    assert [(r["mrr"], r["subscription_mrr"]) for r in ledger] == [
        ("500.00", "500.00"),
        ("1100.00", "600.00"),
        ("600.00", "0.00"),
    ]


def coupon(percent: Any = None, amount: int | None = None, duration: str = "forever", **extra: Any) -> dict[str, Any]:
    return {
        "id": "co_1",
        "object": "coupon",
        "percent_off": percent,
        "amount_off": amount,
        "currency": "usd",
        "duration": duration,
        **extra,
    }


def discounted(coupon_obj: dict[str, Any], end: int | None = None, **items: Any) -> dict[str, Any]:
    discount = {"id": "di_1", "object": "discount", "coupon": coupon_obj, "end": end}
    return subscription("sub_1", "cus_1", items.get("items", [(price("seat", 4900), 10)]), discount=discount)


def test_percent_discount_applies() -> None:
    assert mrr_of(discounted(coupon(percent=20))) == "392.00"  # 490 - 20%


def test_percent_discount_given_as_float_is_exact() -> None:
    # 33.33% of 49.00: 49 x 0.6667 = 32.6683 -> 32.67 (a binary float would not matter here, the decimal must)
    sub = discounted(coupon(percent=33.33), items=[(price("p", 4900), 1)])
    assert to_ledger([event("evt_1", "customer.subscription.updated", sub, ts(1))])[0]["mrr"] == "32.67"


@pytest.mark.parametrize(
    ("percent", "said"),
    [
        (
            Decimal("1E-31"),
            "out of range: expected a percentage from 0 to 100 with at most 30 digits and 30 decimal places",
        ),
        (1e-300, "out of range: expected a percentage from 0 to 100 with at most 30 digits and 30 decimal places"),
        (
            "1e-99999999",
            "out of range: expected a percentage from 0 to 100 with at most 30 digits and 30 decimal places",
        ),
        (Decimal("NaN"), "expected a number, not the number NaN"),
        ("sNaN", 'expected a number, not the string "sNaN"'),
        ("2" * 41, "expected a number"),
        (True, "expected a number, not true"),
        ([20], "expected a number, not a JSON array"),
        (Decimal("100.5"), "expected a percentage from 0 to 100, not the number 100.5"),
    ],
)
def test_a_percent_off_that_is_no_bounded_percentage_is_refused_at_its_field(percent: Any, said: str) -> None:
    sub = discounted(coupon(percent=percent), items=[(price("p", 4900), 1)])
    with pytest.raises(StripeError) as caught:
        to_ledger([event("evt_1", "customer.subscription.updated", sub, ts(1))])
    [problem] = caught.value.problems
    assert "field `data.object.discount.coupon.percent_off`: " + said in problem.render()


def test_percent_and_decimal_amounts_within_the_limits_stay_exact() -> None:
    # 12 x 0.333333333333 minor (Stripe's 12 decimal places) less 12.5% is 3.4999999999965 minor: 0.03
    seat = {**price("p", None), "unit_amount_decimal": "0.333333333333"}
    sub = discounted(coupon(percent=Decimal("12.5")), items=[(seat, 12)])
    assert to_ledger([event("evt_1", "customer.subscription.updated", sub, ts(1))])[0]["mrr"] == "0.03"
    exact = {**price("p", None), "unit_amount_decimal": "1" * 18 + "." + "5" * 12}  # 30 digits: the most
    assert mrr_of(discounted(coupon(percent=Decimal("1E-30")), items=[(exact, 1)])) == "1111111111111111.12"


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("unit_amount_decimal", "0." + "3" * 31, "out of range: expected at most 30 digits"),
        ("unit_amount_decimal", "0" * 31 + "1", "out of range: expected at most 30 digits"),
        ("unit_amount_decimal", "1" * 1_000_000, "out of range: expected at most 30 digits"),
        ("unit_amount_decimal", "x" * 1_000_000, "out of range: expected at most 30 digits"),
        ("unit_amount_decimal", "1e5", 'expected a decimal string such as "12.5", not the string "1e5"'),
    ],
)
def test_a_decimal_amount_past_the_ledgers_digits_is_refused_at_its_field(field: str, value: str, said: str) -> None:
    """A `*_decimal` string of a megabyte took 29 s to turn into a Fraction
    until 2026-12-08; now its length is looked at first."""
    seat = {**price("p", None), field: value}
    sub = subscription("sub_1", "cus_1", [(seat, 1)])
    with pytest.raises(StripeError) as caught:
        to_ledger([event("evt_1", "customer.subscription.updated", sub, ts(1))])
    [problem] = caught.value.problems
    assert f"field `data.object.items.data[0].price.{field}`: {said}" in problem.render()


@pytest.mark.parametrize("content", ['"percent_off": 1e-99999999', '"unit_amount_decimal": "' + "3" * 1_000_000 + '"'])
def test_the_cli_refuses_a_tiny_payload_that_would_take_minutes_in_bounded_time(tmp_path: Path, content: str) -> None:
    """`percent_off: 1e-99999999` ran for minutes (Fraction(Decimal) of it
    computes 10 ** 99999999), until 2026-12-08: now it is exit 2, the
    field named, in well under the timeout."""
    coupon_obj = coupon(percent=20)
    sub = discounted(coupon_obj, items=[(price("p", 4900), 1)])
    text = json.dumps(event("evt_1", "customer.subscription.updated", sub, ts(1)))
    text = text.replace('"percent_off": 20', content) if "percent_off" in content else text
    text = text.replace('"unit_amount": 4900', content) if "unit_amount" in content else text
    assert content in text
    path = tmp_path / "evt.json"
    path.write_text(text)
    done = subprocess.run(
        [sys.executable, "-m", "rewardrules", "ingest", "stripe", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=20,
    )
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    assert "out of range" in done.stderr and "Traceback" not in done.stderr


def test_amount_discount_is_per_billing_period() -> None:
    yearly = [(price("y", 120000, "year"), 1)]
    assert mrr_of(discounted(coupon(amount=12000), items=yearly)) == "90.00"  # (1200 - 120) / 12


def test_amount_discount_never_goes_below_zero() -> None:
    assert mrr_of(discounted(coupon(amount=99999), items=[(price("p", 4900), 1)])) == "0.00"


def test_once_coupon_and_ended_discount_do_not_apply_but_repeating_does() -> None:
    assert mrr_of(discounted(coupon(percent=50, duration="once"))) == "490.00"
    assert mrr_of(discounted(coupon(percent=50, duration="repeating"), end=ts(20)), ts(10)) == "245.00"
    assert mrr_of(discounted(coupon(percent=50, duration="repeating"), end=ts(20)), ts(21)) == "490.00"


def test_discount_restricted_to_products() -> None:
    items = [(price("seat", 4900, product="prod_seat"), 1), (price("addon", 1000, product="prod_addon"), 1)]
    sub = discounted(coupon(percent=50, applies_to={"products": ["prod_addon"]}), items=items)
    assert mrr_of(sub) == "54.00"  # 49 + 10/2


def test_discount_ids_resolve_from_discount_events() -> None:
    sub = subscription("sub_1", "cus_1", [(price("p", 10000), 1)], discounts=["di_7"])
    known = event(
        "evt_d",
        "customer.discount.created",
        {"id": "di_7", "object": "discount", "source": {"type": "coupon", "coupon": coupon(percent=25)}, "end": None},
        ts(1),
    )
    assert mrr_of(sub, ts(1), known) == "75.00"


def test_discount_id_resolves_from_an_earlier_expanded_copy() -> None:
    expanded = {"id": "di_7", "object": "discount", "coupon": coupon(percent=10), "end": None}
    first = subscription("sub_1", "cus_1", [(price("p", 10000), 1)], discounts=[expanded])
    later = subscription("sub_1", "cus_1", [(price("p", 10000), 2)], discounts=["di_7"])
    ledger = to_ledger(
        [
            event("evt_1", "customer.subscription.created", first, ts(1)),
            event("evt_2", "customer.subscription.updated", later, ts(2)),
        ]
    )
    assert [r["mrr"] for r in ledger] == ["90.00", "180.00"]


def test_unresolvable_discount_id_is_an_error_naming_the_field() -> None:
    sub = subscription("sub_1", "cus_1", [(price("p", 10000), 1)], discounts=["di_7"])
    with pytest.raises(StripeError) as caught:
        to_ledger([event("evt_1", "customer.subscription.updated", sub, ts(1))])
    assert (
        caught.value.problems[0]
        .render()
        .startswith("<events>[0]: event evt_1: field `data.object.discounts[0]`: discount `di_7` is only an id")
    )


def test_metered_items_are_left_out_and_sub_cent_prices_are_exact() -> None:
    items = [
        (price("metered", None, usage_type="metered"), 0),
        (price("micro", None, unit_amount_decimal="0.5"), 3),
    ]  # 1.5 cents -> 2 (half even)
    assert mrr_of(subscription("sub_1", "cus_1", items)) == "0.02"


def tiered(mode: str) -> dict[str, Any]:
    tiers = [
        {"up_to": 10, "unit_amount": 1000, "flat_amount": None},
        {"up_to": None, "unit_amount": 500, "flat_amount": 2000},
    ]
    return price("tiered", None, billing_scheme="tiered", tiers_mode=mode, tiers=tiers)


def test_tiered_prices() -> None:
    # graduated, 15 units: 10 x 10.00 + (5 x 5.00 + 20.00 flat) = 145.00; volume: 15 x 5.00 + 20.00 = 95.00
    assert mrr_of(subscription("sub_1", "cus_1", [(tiered("graduated"), 15)])) == "145.00"
    assert mrr_of(subscription("sub_1", "cus_1", [(tiered("volume"), 15)])) == "95.00"


def test_tiered_price_without_tiers_is_an_error() -> None:
    p = tiered("volume")
    del p["tiers"]
    with pytest.raises(StripeError, match=r"field `data\.object\.items\.data\[0\]\.price\.tiers`: a tiered price"):
        to_ledger([event("evt_1", "customer.subscription.updated", subscription("sub_1", "cus_1", [(p, 1)]), ts(1))])


def test_transform_quantity_bills_per_package() -> None:
    p = price("pack", 1000, transform_quantity={"divide_by": 10, "round": "up"})
    assert mrr_of(subscription("sub_1", "cus_1", [(p, 25)])) == "30.00"  # 3 packages


def test_old_api_subscription_with_plan_and_no_items() -> None:
    sub = {
        "id": "sub_1",
        "object": "subscription",
        "customer": "cus_1",
        "status": "active",
        "quantity": 3,
        "plan": {
            "id": "gold",
            "object": "plan",
            "amount": 2000,
            "currency": "usd",
            "interval": "month",
            "interval_count": 1,
        },
    }
    row = one(to_ledger([event("evt_1", "customer.subscription.updated", sub, ts(1))]), "subscription")
    assert (row["mrr"], row["plan"]) == ("60.00", "gold")


# ---------------------------------------------------------------------------
# Payments.


def test_invoice_payment_is_the_amount_actually_paid() -> None:
    obj = invoice("in_1", "cus_1", 3000, total=5000, amount_due=5000)  # 20.00 came from the customer balance
    assert to_ledger([event("evt_1", "invoice.paid", obj, ts(2))]) == [
        {
            "id": "stripe:in_1:payment",
            "at": iso(2),
            "type": "payment",
            "referee": "cus_1",
            "amount": "30.00",
            "currency": "USD",
        }
    ]


def test_invoice_paid_and_payment_succeeded_are_one_payment_at_the_earliest() -> None:
    obj = invoice("in_1", "cus_1", 4900)
    result = ingest(
        [
            event("evt_2", "invoice.payment_succeeded", obj, ts(2, 0, 0, 3)),
            event("evt_1", "invoice.paid", obj, ts(2, 0, 0, 2)),
        ]
    )
    assert [(r["id"], r["at"]) for r in result.ledger] == [("stripe:in_1:payment", iso(2, 0, 0, 2))]
    assert dict(result.report.duplicates) == {"same object in several payloads": 1}


def test_zero_invoice_is_no_payment() -> None:
    result = ingest([event("evt_1", "invoice.paid", invoice("in_1", "cus_1", 0), ts(1))])
    assert result.ledger == []
    assert dict(result.report.unused) == {"invoice paid with no money": 1}


@pytest.mark.parametrize(
    ("link", "charge_extra"),
    [
        ("charge.invoice", {"invoice": "in_1"}),
        ("invoice.charge", {}),
        ("payment intent", {"payment_intent": "pi_1"}),
    ],
)
def test_charge_of_a_paid_invoice_is_the_same_money(link: str, charge_extra: dict[str, Any]) -> None:
    inv = invoice(
        "in_1",
        "cus_1",
        4900,
        **({"charge": "ch_1"} if link == "invoice.charge" else {}),
        **({"payment_intent": "pi_1"} if link == "payment intent" else {}),
    )
    result = ingest(
        [
            event("evt_1", "charge.succeeded", charge("ch_1", "cus_1", 4900, **charge_extra), ts(2)),
            event("evt_2", "invoice.paid", inv, ts(2, 0, 0, 1)),
        ]
    )
    assert [r["id"] for r in result.ledger] == ["stripe:in_1:payment"]
    assert dict(result.report.duplicates) == {"charge of a paid invoice": 1}


def test_charge_linked_by_an_invoice_payment_object() -> None:
    link = {
        "id": "inpay_1",
        "object": "invoice_payment",
        "invoice": "in_1",
        "status": "paid",
        "payment": {"type": "payment_intent", "payment_intent": "pi_1"},
    }
    ledger = to_ledger(
        [
            event("evt_1", "charge.succeeded", charge("ch_1", "cus_1", 4900, payment_intent="pi_1"), ts(2)),
            event("evt_2", "invoice.paid", invoice("in_1", "cus_1", 4900), ts(2)),
            event("evt_3", "invoice_payment.paid", link, ts(2)),
        ]
    )
    assert [r["id"] for r in ledger] == ["stripe:in_1:payment"]


def test_unlinked_charge_matches_an_invoice_by_customer_amount_and_time() -> None:
    # API 2025-03-31+: no `charge.invoice`, no `invoice.charge`
    paid = invoice("in_1", "cus_1", 4900, status_transitions={"paid_at": ts(2, 10, 0, 1)})
    near = charge("ch_1", "cus_1", 4900, created=ts(2, 10))
    far = charge("ch_2", "cus_1", 4900, created=ts(2, 12))  # 2 hours away: another payment
    result = ingest(
        [
            event("evt_1", "invoice.paid", paid, ts(2, 10, 0, 2)),
            event("evt_2", "charge.succeeded", near, ts(2, 10)),
            event("evt_3", "charge.succeeded", far, ts(2, 12)),
        ]
    )
    assert [r["id"] for r in result.ledger] == ["stripe:in_1:payment", "stripe:ch_2:payment"]
    assert dict(result.report.duplicates) == {"charge of a paid invoice (matched by amount and time)": 1}


def test_charge_that_says_it_has_no_invoice_is_never_matched() -> None:
    ledger = to_ledger(
        [
            event("evt_1", "invoice.paid", invoice("in_1", "cus_1", 4900), ts(2)),
            event("evt_2", "charge.succeeded", charge("ch_1", "cus_1", 4900, invoice=None, created=ts(2)), ts(2)),
        ]
    )
    assert [r["id"] for r in ledger] == ["stripe:ch_1:payment", "stripe:in_1:payment"]


def test_charge_of_an_invoice_not_in_the_input_is_its_own_payment() -> None:
    ledger = to_ledger([event("evt_1", "charge.succeeded", charge("ch_1", "cus_1", 4900, invoice="in_9"), ts(2))])
    assert [r["id"] for r in ledger] == ["stripe:ch_1:payment"]


def test_uncaptured_and_partially_captured_charges() -> None:
    pending = charge("ch_1", "cus_1", 5000, captured=False, amount_captured=0)
    partial = charge("ch_2", "cus_1", 5000, amount_captured=3000)
    result = ingest(
        [event("evt_1", "charge.succeeded", pending, ts(1)), event("evt_2", "charge.captured", partial, ts(1))]
    )
    assert [(r["id"], r["amount"]) for r in result.ledger] == [("stripe:ch_2:payment", "30.00")]
    assert dict(result.report.unused) == {"charge not captured": 1}


@pytest.mark.parametrize(
    ("currency", "minor", "text"),
    [
        ("usd", 4900, "49.00"),
        ("jpy", 5000, "5000"),
        ("krw", 12000, "12000"),
        ("kwd", 1250, "1.250"),
        ("bhd", 10, "0.010"),
        ("isk", 50000, "500.00"),
        ("mga", 500, "500.00"),
    ],
)
def test_amounts_use_the_currency_exponent(currency: str, minor: int, text: str) -> None:
    row = one(to_ledger([charge("ch_1", "cus_1", minor, currency=currency, created=ts(1))]), "payment")
    assert (row["amount"], row["currency"]) == (text, currency.upper())


def test_unknown_currency_is_an_error() -> None:
    with pytest.raises(StripeError, match=r"field `data\.object\.currency`: unknown currency `XYZ`"):
        to_ledger([event("evt_1", "charge.succeeded", charge("ch_1", "cus_1", 1, currency="xyz"), ts(1))])


def test_expected_currency_rejects_other_money() -> None:
    events = [event("evt_1", "charge.succeeded", charge("ch_1", "cus_1", 100, currency="eur"), ts(1))]
    with pytest.raises(StripeError, match=r"the money is in EUR, not in USD"):
        to_ledger(events, currency="USD")


# ---------------------------------------------------------------------------
# Refunds and disputes.


def test_refund_created_names_the_charge_payment() -> None:
    ledger = to_ledger(
        [
            event("evt_1", "charge.succeeded", charge("ch_1", "cus_1", 4900, invoice=None), ts(1)),
            event("evt_2", "refund.created", refund("re_1", "ch_1", 900, ts(3)), ts(3, 0, 0, 1)),
        ]
    )
    assert ledger[1] == {
        "id": "stripe:re_1:refund",
        "at": iso(3, 0, 0, 1),
        "type": "refund",
        "referee": "cus_1",
        "amount": "9.00",
        "currency": "USD",
        "payment": "stripe:ch_1:payment",
    }


def test_refund_of_an_invoice_charge_names_the_invoice_payment() -> None:
    ledger = to_ledger(
        [
            event("evt_1", "invoice.paid", invoice("in_1", "cus_1", 4900, charge="ch_1"), ts(1)),
            event("evt_2", "refund.created", refund("re_1", "ch_1", 4900, ts(3)), ts(3)),
        ]
    )
    assert one(ledger, "refund")["payment"] == "stripe:in_1:payment"
    assert one(ledger, "refund")["referee"] == "cus_1"  # from the invoice: the refund object has no customer


def test_charge_refunded_list_gives_each_refund_not_the_total() -> None:
    refunded = charge(
        "ch_1",
        "cus_1",
        5000,
        invoice=None,
        amount_refunded=800,
        refunds={
            "object": "list",
            "has_more": False,
            "data": [refund("re_1", "ch_1", 500, ts(2)), refund("re_2", "ch_1", 300, ts(4))],
        },
    )
    result = ingest(
        [
            event("evt_1", "charge.succeeded", charge("ch_1", "cus_1", 5000, invoice=None), ts(1)),
            event("evt_2", "charge.refunded", refunded, ts(4)),
        ]
    )
    assert [(r["id"], r["at"], r["amount"]) for r in by_type(result.ledger, "refund")] == [
        ("stripe:re_1:refund", iso(2), "5.00"),
        ("stripe:re_2:refund", iso(4), "3.00"),
    ]
    # the complete list explains the cumulative 800: no refund of 8.00 besides
    assert dict(result.report.duplicates) == {}


def test_rise_of_amount_refunded_explained_by_several_refund_objects() -> None:
    refunded = charge("ch_1", "cus_1", 5000, amount_refunded=800)  # bare: no previous_attributes
    result = ingest(
        [
            refunded | {"created": ts(1)},
            event("evt_1", "refund.created", refund("re_1", "ch_1", 500, ts(2)), ts(2)),
            event("evt_2", "refund.created", refund("re_2", "ch_1", 300, ts(4)), ts(4)),
        ]
    )
    assert [(r["id"], r["amount"]) for r in by_type(result.ledger, "refund")] == [
        ("stripe:re_1:refund", "5.00"),
        ("stripe:re_2:refund", "3.00"),
    ]
    assert dict(result.report.duplicates) == {"refund seen as a refund object and as amount_refunded": 1}


def test_rise_without_its_refund_object_is_a_refund_of_its_own() -> None:
    first = charge("ch_1", "cus_1", 5000, amount_refunded=500)
    second = charge("ch_1", "cus_1", 5000, amount_refunded=800)
    ledger = to_ledger(
        [
            event("evt_1", "charge.refunded", first, ts(2), previous={"amount_refunded": 0}),
            event("evt_2", "charge.refunded", second, ts(4), previous={"amount_refunded": 500}),
            event("evt_3", "refund.created", refund("re_2", "ch_1", 300, ts(4)), ts(4)),
        ]
    )
    assert [(r["id"], r["at"], r["amount"]) for r in ledger] == [
        ("stripe:ch_1:refund:500", iso(2), "5.00"),
        ("stripe:re_2:refund", iso(4), "3.00"),
    ]


def test_charge_refunded_without_list_uses_the_rise_of_amount_refunded() -> None:
    refunded = charge("ch_1", "cus_1", 5000, amount_refunded=800)
    ledger = to_ledger([event("evt_1", "charge.refunded", refunded, ts(4), previous={"amount_refunded": 500})])
    assert ledger == [
        {
            "id": "stripe:ch_1:refund:800",
            "at": iso(4),
            "type": "refund",
            "referee": "cus_1",
            "amount": "3.00",
            "currency": "USD",
            "payment": "stripe:ch_1:payment",
        }
    ]


def test_refund_seen_twice_is_one_refund() -> None:
    refunded = charge("ch_1", "cus_1", 5000, amount_refunded=500)
    result = ingest(
        [
            event("evt_1", "charge.refunded", refunded, ts(4), previous={"amount_refunded": 0}),
            event("evt_2", "refund.created", refund("re_1", "ch_1", 500, ts(4)), ts(4)),
        ]
    )
    assert [r["id"] for r in result.ledger] == ["stripe:re_1:refund"]
    assert dict(result.report.duplicates) == {"refund seen as a refund object and as amount_refunded": 1}


def test_failed_refund_is_no_refund() -> None:
    result = ingest(
        [
            event("evt_1", "charge.succeeded", charge("ch_1", "cus_1", 5000), ts(1)),
            event("evt_2", "refund.created", refund("re_1", "ch_1", 500, ts(2), status="pending"), ts(2)),
            event("evt_3", "refund.failed", refund("re_1", "ch_1", 500, ts(2), status="failed"), ts(3)),
        ]
    )
    assert by_type(result.ledger, "refund") == []
    assert result.report.unused["refund failed or canceled"] == 1


def test_refund_of_an_unknown_charge_is_skipped_with_a_warning() -> None:
    result = ingest([event("evt_1", "refund.created", refund("re_1", "ch_404", 500, ts(2)), ts(2))])
    assert result.ledger == []
    assert result.report.warnings == [
        "`stripe:re_1:refund`: its customer is unknown: charge `ch_404` is not in "
        "the input or has no customer; include the charge's events"
    ]
    assert dict(result.report.unused) == {"refund whose customer is unknown": 1}


def test_dispute_is_a_refund_from_when_it_opened() -> None:
    result = ingest(
        [
            event("evt_1", "charge.succeeded", charge("ch_1", "cus_1", 5000), ts(1)),
            event("evt_2", "charge.dispute.created", dispute("dp_1", "ch_1", 5000, "needs_response"), ts(5)),
            event("evt_3", "charge.dispute.closed", dispute("dp_1", "ch_1", 5000, "lost"), ts(25)),
        ]
    )
    assert by_type(result.ledger, "refund") == [
        {
            "id": "stripe:dp_1:dispute",
            "at": iso(5),
            "type": "refund",
            "referee": "cus_1",
            "amount": "50.00",
            "currency": "USD",
            "payment": "stripe:ch_1:payment",
            "reason": "dispute",
        }
    ]
    assert dict(result.report.duplicates) == {"same object in several payloads": 1}


def test_dispute_lost_alone_is_a_refund() -> None:
    ledger = to_ledger(
        [
            event("evt_1", "charge.succeeded", charge("ch_1", "cus_1", 5000), ts(1)),
            event("evt_3", "charge.dispute.closed", dispute("dp_1", "ch_1", 5000, "lost"), ts(25)),
        ]
    )
    assert one(ledger, "refund")["at"] == iso(25)


def test_won_dispute_and_inquiry_are_no_refund() -> None:
    result = ingest(
        [
            event("evt_1", "charge.succeeded", charge("ch_1", "cus_1", 5000), ts(1)),
            event("evt_2", "charge.dispute.created", dispute("dp_1", "ch_1", 5000, "needs_response"), ts(5)),
            event("evt_3", "charge.dispute.closed", dispute("dp_1", "ch_1", 5000, "won"), ts(25)),
            event("evt_4", "charge.dispute.created", dispute("dp_2", "ch_1", 5000, "warning_needs_response"), ts(6)),
        ]
    )
    assert by_type(result.ledger, "refund") == []
    assert dict(result.report.unused) == {"dispute won by the merchant": 1, "dispute inquiry (no money taken)": 1}


# ---------------------------------------------------------------------------
# Malformed payloads.


def test_malformed_amount_names_file_event_and_field() -> None:
    bad = invoice("in_1", "cus_1", 4900)
    bad["amount_paid"] = "49.00"
    with pytest.raises(StripeError) as caught:
        ingest([Payload("hooks/evt_1.json", event("evt_1", "invoice.paid", bad, ts(1)))])
    assert [p.render() for p in caught.value.problems] == [
        "hooks/evt_1.json: event evt_1: field `data.object.amount_paid`: expected a non-negative integer, "
        'not the string "49.00"'
    ]


def test_every_malformed_payload_is_reported() -> None:
    no_customer = invoice("in_1", None, 100)  # type: ignore[arg-type]
    with pytest.raises(StripeError) as caught:
        ingest(
            [
                event("evt_1", "invoice.paid", no_customer, ts(1)),
                {"id": "evt_2", "object": "event", "type": "charge.succeeded", "created": ts(1)},
                [1, 2],
                {"id": "x_1", "amount": 3},
                event("evt_5", "charge.succeeded", {**charge("ch_1", "cus_1", 100), "object": "invoice"}, ts(1)),
            ]
        )
    assert [p.render() for p in caught.value.problems] == [
        "<events>[0]: event evt_1: field `data.object.customer`: missing; a paid invoice belongs to a customer",
        "<events>[1]: event evt_2: field `data.object`: missing; an event carries its object in `data.object`",
        "<events>[2]: payload: expected a JSON object, not a JSON array",
        "<events>[3]: object x_1: field `object`: not a Stripe event or object: no `object` field and no Stripe id",
        "<events>[4]: event evt_5: field `data.object.object`: expected a `charge`, not a `invoice`",
    ]


# ---------------------------------------------------------------------------
# Reading files and the command line.


def test_read_payloads_one_event_array_json_lines_and_folder(tmp_path: Path) -> None:
    a = event("evt_1", "charge.succeeded", charge("ch_1", "cus_1", 100), ts(1))
    b = event("evt_2", "charge.succeeded", charge("ch_2", "cus_1", 200), ts(2))
    (tmp_path / "one.json").write_text(json.dumps(a, indent=2))
    (tmp_path / "many.json").write_text(json.dumps([a, b]))
    (tmp_path / "lines.jsonl").write_text(json.dumps(a) + "\n\n" + json.dumps(b) + "\n")
    (tmp_path / "README.md").write_text("not a payload")
    sources = [p.source for p in read_payloads([tmp_path])]
    assert sources == [
        f"{tmp_path}/lines.jsonl:1",
        f"{tmp_path}/lines.jsonl:3",
        f"{tmp_path}/many.json[0]",
        f"{tmp_path}/many.json[1]",
        f"{tmp_path}/one.json",
    ]
    result = ingest(read_payloads([tmp_path]))
    assert len(result.ledger) == 2
    assert dict(result.report.duplicates) == {"webhook retry": 3}


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_folder_with_nothing_to_read_names_every_pattern_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The message said "no *.json or *.jsonl files", but `*.ndjson` files
    are read too (`PAYLOAD_SUFFIXES`): it now names every pattern."""
    (tmp_path / "README.md").write_text("not a payload")
    code, out, err = run_cli(capsys, "ingest", "stripe", tmp_path)
    assert (code, out) == (2, "")
    assert err == (
        f"rewardrules: error: {tmp_path}: the folder has no *.json, *.jsonl or *.ndjson files (in it or its subfolders)\n"
    )
    a = event("evt_1", "charge.succeeded", charge("ch_1", "cus_1", 100), ts(1))
    (tmp_path / "deep").mkdir()
    b = event("evt_2", "charge.succeeded", charge("ch_2", "cus_1", 200), ts(2))
    (tmp_path / "deep" / "hooks.ndjson").write_text(json.dumps(a) + "\n" + json.dumps(b) + "\n")
    hooks = tmp_path / "deep" / "hooks.ndjson"
    assert [p.source for p in read_payloads([tmp_path])] == [f"{hooks}:1", f"{hooks}:2"]


def test_json_lines_end_at_a_newline_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # U+2028, U+2029 and U+0085 may stand raw in a JSON string; the file's lines, as the
    # ledger reader and an editor count them, end at `\n` only (`\r\n` too)
    text = (OWN / "checkout.jsonl").read_text().replace("user-42", "us\u0085er\u2028-4\u20292")
    path = tmp_path / "checkout.jsonl"
    path.write_bytes(text.replace("\n", "\r\n").encode())
    assert [p.source for p in read_payloads([path])] == [f"{path}:1", f"{path}:2"]
    code, out, _ = run_cli(capsys, "ingest", "stripe", path)
    assert code == 0
    assert [json.loads(line)["referrer"] for line in out.split("\n")[:-1]] == ["alice", "us\u0085er\u2028-4\u20292"]
    first, second, *rest = text.split("\n")
    path.write_text("\n".join([second, first, *rest]))  # the first line decides whether a file is JSON Lines
    assert [p.source for p in read_payloads([path])] == [f"{path}:1", f"{path}:2"]
    path.write_text("\n".join([first, second.replace('"livemode": true', '"livemode": oops'), *rest]))
    code, out, err = run_cli(capsys, "ingest", "stripe", path)
    assert (code, out) == (2, "")
    assert err.startswith(f"rewardrules: error: {path}:2: invalid JSON: expecting value (line 1, column ")
    assert not any(f"{path}:{n}" in err for n in (1, 3, 4, 5))


def test_cli_malformed_payload_exits_2_with_no_ledger(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = charge("ch_1", "cus_1", 100)
    bad["amount_captured"] = -5
    path = tmp_path / "evt.json"
    path.write_text(json.dumps(event("evt_7", "charge.succeeded", bad, ts(1))))
    code, out, err = run_cli(capsys, "ingest", "stripe", path)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"{path}: event evt_7: field `data.object.amount_captured`: expected a non-negative integer, not the number -5",
        "rewardrules: error: 1 malformed payload(s); no ledger was written",
    ]


def test_cli_refuses_a_payload_whose_ledger_line_score_would_refuse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A referrer id of a megabyte made a ledger line past the ledger's
    line limit: ingest exited 0 and `score` refused the ledger, breaking
    `ingest stripe hooks/ | score ...`. The payload is refused instead, as
    a malformed one is, naming its line and field; no ledger is written."""
    from rewardrules.core.limits import MAX_LEDGER_LINE_BYTES

    def referral_line(referrer: str) -> str:
        obj = session("cs_1", "cus_1", ts(2, 9), metadata={"referrer": referrer})
        return json.dumps(event("evt_1", "checkout.session.completed", obj, ts(2, 9, 0, 25)))

    # the longest referrer whose line fits: the line and its newline are the limit
    row = one(to_ledger([json.loads(referral_line("x"))]), "referral")
    fits = MAX_LEDGER_LINE_BYTES - len(json.dumps(row, separators=(",", ":")))  # less the newline, plus "x"
    path = tmp_path / "hooks.jsonl"
    first = json.dumps(event("evt_0", "customer.created", customer("cus_9", {}), ts(1)))
    path.write_text(first + "\n" + referral_line("r" * fits) + "\n")  # its line 2
    code, out, _ = run_cli(capsys, "ingest", "stripe", path, "--quiet")
    assert code == 0 and len(out.encode()) == MAX_LEDGER_LINE_BYTES
    assert rewardrules.load(RULESETS / "saas_milestones.rules").score(out.splitlines(keepends=True)).data["referrals"]

    path.write_text(path.read_text().replace("r" * fits, "r" * (fits + 1)))
    code, out, err = run_cli(capsys, "ingest", "stripe", path)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"{path}:2: ledger event `stripe:cs_1:referral`: field `referrer`: its ledger line would be "
        f"{MAX_LEDGER_LINE_BYTES + 1:,} bytes, more than the {MAX_LEDGER_LINE_BYTES:,} a ledger line may have, "
        f"and `score` would refuse it: `referrer` alone is {fits + 1:,} characters; an id or a metadata value "
        "this long is not a real one: check the payload",
        "rewardrules: error: 1 malformed payload(s); no ledger was written",
    ]


def test_cli_refuses_an_amount_of_more_digits_than_a_ledger_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "evt.json"
    path.write_text(json.dumps(event("evt_7", "charge.succeeded", charge("ch_1", "cus_1", 10**31), ts(1))))
    code, out, err = run_cli(capsys, "ingest", "stripe", path)
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"{path}: ledger event `stripe:ch_1:payment`: field `amount`: the amount `{10**29}.00` has more than the 30 "
        "digits a ledger number may have, and `score` would refuse it: check the payload's amounts",
        "rewardrules: error: 1 malformed payload(s); no ledger was written",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": "evt_1",\n  "type": }', "invalid JSON: expecting value (line 2, column 11)"),
        ('{"id": "evt_1"}\n{"id": oops}\n', "invalid JSON: expecting value (line 1, column 8)"),
        ("", "the file is empty"),
        ("[" * 100_000, "invalid JSON: nested too deeply"),
    ],
    ids=["json", "json-lines", "empty", "deep"],
)
def test_cli_unreadable_json_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "events.json"
    path.write_text(content)
    code, out, err = run_cli(capsys, "ingest", "stripe", path)
    where = f"{path}:2" if "oops" in content else str(path)
    assert (code, out, err) == (2, "", f"rewardrules: error: {where}: {message}\n")


def test_cli_missing_path_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "ingest", "stripe", tmp_path / "nope.json")
    assert (code, out) == (2, "")
    assert "no such file or directory" in err


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--referral-attribute", "source"], "--referral-attribute: expected NAME=KEY, not `source`"),
        (["--referral-attribute", "referee=x"], "--referral-attribute: `referee` is a ledger field of its own"),
        (["--currency", "XYZ"], "--currency: `XYZ` is not an iso 4217 currency code"),
    ],
)
def test_cli_bad_options_exit_2(capsys: pytest.CaptureFixture[str], option: list[str], message: str) -> None:
    code, out, err = run_cli(capsys, "ingest", "stripe", OWN / "checkout.jsonl", *option)
    assert (code, out, err) == (2, "", f"rewardrules: error: {message}\n")


def test_cli_options_reach_the_mapping(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(
        capsys,
        "ingest",
        "stripe",
        OWN / "checkout.jsonl",
        "--referrer-key",
        "ref",
        "--referral-attribute",
        "country=cc",
        "--quiet",
    )
    assert (code, err) == (0, "")
    assert [json.loads(line) for line in out.splitlines()] == [
        {
            "id": "stripe:cs_1:referral",
            "at": "2026-03-02T09:00:00Z",
            "type": "referral",
            "referrer": "carol",
            "referee": "cus_1",
            "country": "DE",
            "source": "partner",
        },
        {
            "id": "stripe:cs_2:referral",
            "at": "2026-03-03T09:00:00Z",
            "type": "referral",
            "referrer": "user-42",
            "referee": "cus_2",
        },
    ]
    code, out, err = run_cli(capsys, "ingest", "stripe", OWN / "checkout.jsonl", "--no-client-reference-id")
    assert code == 0
    assert [json.loads(line)["referrer"] for line in out.splitlines()] == ["alice"]
    assert "checkout session without a referrer 1" in err


# ---------------------------------------------------------------------------
# End to end: a month of Stripe events, scored by two reference programs.


def month() -> list[dict[str, Any]]:
    """March 2026 for five customers. A and D come through partner_p, B
    through alice (customer metadata), C through bob (checkout metadata; its
    client_reference_id is the app's own user id), E through nobody."""
    annual = price("price_annual", 600000, "year")
    seats = price("price_seat", 4900)
    weekly = price("price_weekly", 10000, "week")
    sub_a = subscription("sub_A", "cus_A", [(annual, 1)])
    twenty = {
        "id": "di_B",
        "object": "discount",
        "end": None,
        "coupon": {"id": "TWENTY", "percent_off": 20, "amount_off": None, "duration": "forever"},
    }
    sub_b = subscription("sub_B", "cus_B", [(seats, 10)], status="trialing", discount=twenty)
    ch_b1 = charge("ch_B1", "cus_B", 39200, payment_intent="pi_B1", amount_refunded=5000)
    ch_c1 = charge("ch_C1", "cus_C", 25000, invoice=None, created=ts(10, 14, 0, 5))
    return [
        # A: annual plan (MRR 500), doubled on the 15th; its first charge names the invoice (old API)
        event(
            "evt_a1",
            "checkout.session.completed",
            session("cs_A", "cus_A", ts(2, 9), "partner_p", {"referral_source": "partner"}),
            ts(2, 9, 0, 25),
        ),
        event("evt_a5", "charge.succeeded", charge("ch_A1", "cus_A", 600000, invoice="in_A1"), ts(2, 9, 0, 19)),
        event("evt_a2", "customer.subscription.created", sub_a, ts(2, 9, 0, 20)),
        event("evt_a3", "invoice.paid", invoice("in_A1", "cus_A", 600000, charge="ch_A1"), ts(2, 9, 0, 21)),
        event(
            "evt_a4", "invoice.payment_succeeded", invoice("in_A1", "cus_A", 600000, charge="ch_A1"), ts(2, 9, 0, 22)
        ),
        event(
            "evt_a6",
            "customer.subscription.updated",
            subscription("sub_A", "cus_A", [(annual, 2)]),
            ts(15, 12),
            previous={"items": {}},
        ),
        event("evt_a7", "invoice.paid", invoice("in_A2", "cus_A", 570000), ts(15, 12, 0, 5)),
        # B: trial, then 10 seats at 49.00 less 20% forever (MRR 392); a partial refund on the 20th
        event(
            "evt_b1",
            "customer.created",
            customer("cus_B", {"referrer": "alice", "referral_source": "customer"}),
            ts(5, 10),
        ),
        event("evt_b2", "customer.subscription.created", sub_b, ts(5, 10, 0, 5)),
        event("evt_b3", "invoice.paid", invoice("in_B0", "cus_B", 0), ts(5, 10, 0, 6)),
        event("evt_b4", "customer.subscription.updated", {**sub_b, "status": "active"}, ts(12, 10)),
        event("evt_b5", "invoice.paid", invoice("in_B1", "cus_B", 39200, payment_intent="pi_B1"), ts(12, 10, 0, 3)),
        event("evt_b6", "charge.refunded", ch_b1, ts(20, 8), previous={"amount_refunded": 0, "refunded": False}),
        event("evt_b7", "refund.created", refund("re_B1", "ch_B1", 5000, ts(20, 8)), ts(20, 8)),
        # C: a one-off purchase, delivered twice (webhook retry)
        event(
            "evt_c1",
            "checkout.session.completed",
            session("cs_C", "cus_C", ts(10, 14), "user-77", {"referrer": "bob", "referral_source": "customer"}),
            ts(10, 14, 0, 10),
        ),
        event("evt_c2", "charge.succeeded", ch_c1, ts(10, 14, 0, 5)),
        event("evt_c2", "charge.succeeded", ch_c1, ts(10, 14, 0, 5)),
        # D: weekly plan (MRR 434.52); 2025 API: its charge has no invoice link; disputed and lost
        event(
            "evt_d1",
            "checkout.session.completed",
            session("cs_D", "cus_D", ts(8, 9), "partner_p", {"referral_source": "partner"}),
            ts(8, 9, 0, 30),
        ),
        event(
            "evt_d2", "customer.subscription.created", subscription("sub_D", "cus_D", [(weekly, 1)]), ts(8, 9, 0, 10)
        ),
        event("evt_d4", "charge.succeeded", charge("ch_D1", "cus_D", 10000, created=ts(8, 9, 0, 11)), ts(8, 9, 0, 11)),
        event(
            "evt_d3",
            "invoice.paid",
            invoice("in_D1", "cus_D", 10000, status_transitions={"paid_at": ts(8, 9, 0, 11)}),
            ts(8, 9, 0, 12),
        ),
        event("evt_d5", "charge.dispute.created", dispute("du_D1", "ch_D1", 10000, "needs_response"), ts(22, 16)),
        event("evt_d6", "charge.dispute.closed", dispute("du_D1", "ch_D1", 10000, "lost"), ts(29, 16)),
        # E: nobody referred E; a yen purchase
        event("evt_e1", "charge.succeeded", charge("ch_E1", "cus_E", 5000, currency="jpy", invoice=None), ts(25)),
        event("evt_x1", "payment_intent.succeeded", {"id": "pi_B1", "object": "payment_intent"}, ts(12, 10)),
    ]


def test_month_ledger() -> None:
    result = ingest(month())
    ledger = result.ledger
    assert [(r["type"], r["id"]) for r in ledger if r["type"] != "subscription"] == [
        ("referral", "stripe:cs_A:referral"),
        ("payment", "stripe:in_A1:payment"),
        ("referral", "stripe:cus_B:referral"),
        ("referral", "stripe:cs_D:referral"),
        ("payment", "stripe:in_D1:payment"),
        ("referral", "stripe:cs_C:referral"),
        ("payment", "stripe:ch_C1:payment"),
        ("payment", "stripe:in_B1:payment"),
        ("payment", "stripe:in_A2:payment"),
        ("refund", "stripe:re_B1:refund"),
        ("refund", "stripe:du_D1:dispute"),
        ("payment", "stripe:ch_E1:payment"),
    ]
    assert [(r["referee"], r["at"], r["mrr"]) for r in by_type(ledger, "subscription")] == [
        ("cus_A", iso(2, 9, 0, 20), "500.00"),
        ("cus_B", iso(5, 10, 0, 5), "0.00"),
        ("cus_D", iso(8, 9, 0, 10), "434.52"),
        ("cus_B", iso(12, 10), "392.00"),
        ("cus_A", iso(15, 12), "1000.00"),
    ]
    refunds = {r["id"]: (r["referee"], r["amount"], r["payment"]) for r in by_type(ledger, "refund")}
    assert refunds == {
        "stripe:re_B1:refund": ("cus_B", "50.00", "stripe:in_B1:payment"),
        "stripe:du_D1:dispute": ("cus_D", "100.00", "stripe:in_D1:payment"),
    }
    assert (by_type(ledger, "payment")[-1]["amount"], by_type(ledger, "payment")[-1]["currency"]) == ("5000", "JPY")
    assert dict(result.report.duplicates) == {
        "webhook retry": 1,
        "same object in several payloads": 2,  # in_A1 paid + payment_succeeded; du_D1 created + closed
        "charge of a paid invoice": 1,  # ch_A1
        "charge of a paid invoice (matched by amount and time)": 1,  # ch_D1
        "refund seen as a refund object and as amount_refunded": 1,  # re_B1
    }
    assert dict(result.report.skipped) == {"payment_intent.succeeded": 1}
    assert dict(result.report.written) == {"referral": 4, "subscription": 5, "payment": 6, "refund": 2}


def awards(ruleset: str, ledger_path: Path, capsys: pytest.CaptureFixture[str], *options: str) -> list[tuple[str, ...]]:
    code, out, err = run_cli(capsys, "score", RULESETS / f"{ruleset}.rules", ledger_path, "--format", "json", *options)
    assert code == 0, err
    return [
        (a["at"], a["milestone"], a["beneficiary"], a["referee"], a["amount"], a["status"])
        for a in json.loads(out)["awards"]
    ]


def test_month_end_to_end_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in month()))
    code, out, err = run_cli(capsys, "ingest", "stripe", events)
    assert code == 0, err
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(out)
    # E paid in JPY: the rulesets declare money USD, so scoring refuses the
    # ledger rather than reading 5000 JPY as 5000 USD; score the rest
    code, _, err = run_cli(capsys, "score", RULESETS / "partner_and_customer.rules", ledger)
    assert code == 2 and 'field `amount`: `amount` is in "JPY"' in err
    ledger.write_text("".join(line for line in out.splitlines(keepends=True) if '"currency":"JPY"' not in line))
    as_of = ("--as-of", iso(25))

    # MRR: A 500 (ARR 6000) then 1000; D 10000 x 365/84 cents = 434.52 (ARR 5214.24);
    # B 392 (ARR 4704: without its 20% discount it would be 5880 and earn arr_5k)
    assert sorted(awards("saas_milestones", ledger, capsys, *as_of)) == [
        (iso(2, 9, 0, 20), "arr_5k", "partner_p", "cus_A", "1000.00", "confirmed"),
        (iso(8, 9, 0, 10), "arr_5k", "partner_p", "cus_D", "1000.00", "confirmed"),
        (iso(15, 12), "arr_10k", "partner_p", "cus_A", "2000.00", "confirmed"),
        (iso(15, 12), "mrr_1k", "partner_p", "cus_A", "500.00", "confirmed"),
    ]
    # As of the last ledger event (E's purchase on the 25th): partners earn 15% of
    # each payment (6000 -> 900, 100 -> 15, 5700 -> 855; ch_A1 and ch_D1 are the
    # same money as in_A1 and in_D1); alice's award is void (refund on the 20th
    # of the payment of the 12th); bob's is pending until April 9.
    assert sorted(awards("partner_and_customer", ledger, capsys, *as_of)) == [
        (iso(2, 9, 0, 21), "partner_commission", "partner_p", "cus_A", "900.00", "confirmed"),
        (iso(8, 9, 0, 12), "partner_commission", "partner_p", "cus_D", "15.00", "confirmed"),
        (iso(10, 14, 0, 5), "customer_conversion", "bob", "cus_C", "100.00", "pending"),
        (iso(12, 10, 0, 3), "customer_conversion", "alice", "cus_B", "100.00", "void"),
        (iso(15, 12, 0, 5), "partner_commission", "partner_p", "cus_A", "855.00", "confirmed"),
    ]


def test_month_reingested_in_any_order_is_the_same_ledger() -> None:
    events = month()
    assert to_ledger(events) == to_ledger(list(reversed(events))) == to_ledger(events[1::2] + events[::2])
