"""Follow-ups on trust: Stripe ingest independent of input order (docs/stripe.md),
settled statements in every output (docs/explain.md, docs/report.md), and
the kept record of a paid award showing what was paid (docs/semantics.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rewardrules.cli import main
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
    """The ledger's bytes and the summary, or the problems (as a set: they
    are listed in input order)."""
    try:
        result = ingest([p for group in groups for p in group])
    except StripeError as error:
        return "error:" + json.dumps(sorted(p.render() for p in error.problems))
    rows = "".join(json.dumps(row, separators=(",", ":")) + "\n" for row in result.ledger)
    return rows + "\n".join(result.report.lines())


SETS = {
    "pay-rails": [read_payloads([path]) for path in sorted(PAY_RAILS.glob("*.json"))],
    "month": files(month(), "month"),
    "discount versions": files(discount_versions(), "discounts"),
    "payment links": files(payment_links(), "links"),
    # contradictions: the same problems, named alike, whatever the order
    "conflicts": files(
        [
            event("evt_d1", "customer.discount.created", discount("di_7", 25), ts(1)),
            event("evt_d2", "customer.discount.updated", discount("di_7", 50), ts(1)),
            event("evt_s1", "customer.subscription.created", with_discount_ids("di_7"), ts(4)),
            event("evt_1", "invoice.paid", invoice("in_1", "cus_1", 5000, charge="ch_1"), ts(1)),
            event("evt_2", "invoice.paid", invoice("in_2", "cus_1", 5000, charge="ch_1"), ts(2)),
            event("evt_3", "charge.succeeded", charge("ch_1", "cus_1", 5000, invoice="in_3"), ts(3)),
        ],
        "conflicts",
    ),
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


def test_one_referral_at_one_second_with_two_referrers_is_an_error_in_any_order() -> None:
    # it kept the first referrer by name; now an error naming both (docs/stripe.md, Ids)
    meta = {"id": "cus_1", "object": "customer", "created": ts(1)}
    a = event("evt_1", "customer.created", {**meta, "metadata": {"referrer": "zoe"}}, ts(1))
    b = event("evt_2", "customer.updated", {**meta, "metadata": {"referrer": "alice"}}, ts(1))
    for order in ([a, b], [b, a]):
        with pytest.raises(
            StripeError, match=r"names the referrer `(alice|zoe)`, and .* names `(zoe|alice)`, at the same second"
        ):
            to_ledger(order)


# ---------------------------------------------------------------------------
# Settled statements in every output; the kept record shows what was paid.

PARTNER_RULES = """ruleset commissions "Commissions"

event referral { source: optional text }
event payment { amount: money USD }

program partners "Partner referrals" {
  cap referrer 5000 USD per quarter

  milestone partner_commission "Commission" {
    each payment within 365 days
    reward referrer cash 15% of payment.amount
    message "{{ beneficiary }} earns {{ amount }} {{ unit }} on {{ referee }}'s payment."
  }
}
"""


def _line(**event: str) -> str:
    return json.dumps(event) + "\n"


def _paid_then_late(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], first: list[dict[str, str]], as_of: str, late: dict[str, str]
) -> dict[str, Path]:
    """Score `first` as of `as_of` (the result is what the app paid), then add `late` to the ledger."""
    rules = tmp_path / "commissions.rules"
    rules.write_text(PARTNER_RULES)
    ledger = tmp_path / "ledger.jsonl"
    text = "".join(_line(**e) for e in first)
    ledger.write_text(text)
    assert main(["score", str(rules), str(ledger), "--as-of", as_of, "--format", "json"]) == 0
    previous = tmp_path / "previous.json"
    previous.write_text(capsys.readouterr().out)
    ledger.write_text(text + _line(**late))
    return {"rules": rules, "ledger": ledger, "previous": previous, "dir": tmp_path}


@pytest.fixture
def late_payment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Path]:
    """A run pays 1350.00 on a 9000.00 payment; then an earlier 30000.00
    payment arrives and uses up the quarter's cap: 4500.00 on it, 500.00 left
    for the one that was paid 1350.00."""
    first = [
        {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "acme", "referee": "c1"},
        {"id": "p2", "at": "2026-02-01T00:00:00Z", "type": "payment", "referee": "c1", "amount": "9000.00"},
    ]
    late = {"id": "p1", "at": "2026-01-15T00:00:00Z", "type": "payment", "referee": "c1", "amount": "30000.00"}
    return _paid_then_late(tmp_path, capsys, first, "2026-02-02T00:00:00Z", late)


def _run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


AS_OF = ("--as-of", "2026-02-03T00:00:00Z")


def _settled_result(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    argv = ("score", files["rules"], files["ledger"], *AS_OF, "--format", "json", "--settled", files["previous"])
    code, out, err = _run(capsys, *argv)
    assert code == 0, err
    return json.loads(out)


def test_the_kept_record_of_a_changed_award_has_the_message_it_was_paid_with(
    late_payment: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    result = _settled_result(late_payment, capsys)
    messages = {(a["amount"], a["message"]) for a in result["awards"]}
    assert messages == {
        ("4500.00", "acme earns 4500.00 USD on c1's payment."),
        ("1350.00", "acme earns 1350.00 USD on c1's payment."),  # kept as paid, not "earns 500.00"
        ("500.00", "acme earns 500.00 USD on c1's payment."),  # the reissued award
    }


def test_a_statement_without_messages_gives_the_kept_record_none_rather_than_new_text(
    late_payment: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    previous = json.loads(late_payment["previous"].read_text())
    bare = [{k: v for k, v in award.items() if k not in ("message", "why")} for award in previous["awards"]]
    late_payment["previous"].write_text(json.dumps(bare))
    result = _settled_result(late_payment, capsys)
    kept = next(a for a in result["awards"] if a["amount"] == "1350.00")
    assert kept["message"] is None


def test_a_dropped_award_is_listed_with_its_message_as_told() -> None:
    import rewardrules

    program = rewardrules.compile(PARTNER_RULES, "commissions.rules")
    paid = program.score(
        [
            {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "acme", "referee": "c1"},
            {"id": "p1", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "c1", "amount": "100.00"},
        ]
    ).data
    # the payment's referral changes hands: an earlier referral by someone else arrives
    later = program.score(
        [
            {"id": "r0", "at": "2025-12-01T00:00:00Z", "type": "referral", "referrer": "zed", "referee": "c1"},
            {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "acme", "referee": "c1"},
            {"id": "p1", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "c1", "amount": "100.00"},
        ],
        settled=paid,
    ).data
    told = next(a for a in later["awards"] if a["beneficiary"] == "acme")
    assert told["message"] == "acme earns 15.00 USD on c1's payment."


def test_a_settled_text_with_a_lone_surrogate_is_refused_by_its_field(late_payment: dict[str, Path]) -> None:
    import rewardrules

    program = rewardrules.load(late_payment["rules"])
    previous = json.loads(late_payment["previous"].read_text())
    previous["awards"][0]["message"] = "paid \ud800"
    with pytest.raises(rewardrules.LedgerError, match="unpaired surrogate") as caught:
        program.score([], settled=previous)
    assert caught.value.problems[0].field == "message"


def test_explain_accepts_settled_and_tells_what_score_says(
    late_payment: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    result = _settled_result(late_payment, capsys)
    base = ("explain", late_payment["rules"], late_payment["ledger"], *AS_OF, "--settled", late_payment["previous"])
    code, out, err = _run(capsys, *base)
    assert code == 0, err
    assert (
        "taken back at 2026-02-03T00:00:00Z (its amount changed after it was paid): cash 1350.00 USD comes back" in out
    )
    assert "None" not in out
    assert "earned: cash 500.00 USD" in out and "earned: cash 1350.00 USD" in out
    code, out, err = _run(capsys, *base, "--format", "json")
    assert code == 0, err
    told = json.dumps(json.loads(out))
    for award in result["awards"]:
        assert award["id"] in told
    for reversal in result["reversals"]:
        assert reversal["reverses"] in told


def test_report_accepts_settled_and_shows_the_reason_of_a_reversal_without_an_event(
    late_payment: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    result = _settled_result(late_payment, capsys)
    page = late_payment["dir"] / "report.html"
    argv = ("report", late_payment["rules"], late_payment["ledger"], *AS_OF, "--settled", late_payment["previous"])
    code, out, err = _run(capsys, *argv, "-o", page)
    assert code == 0, err
    assert f"wrote {page}: {len(result['awards'])} awards" in out
    html = page.read_text()
    (reversal,) = result["reversals"]
    row = html[html.index(f'<tr data-reverses="{reversal["reverses"]}">') :]
    row = row[: row.index("</tr>")]
    assert "<td>its amount changed after it was paid</td>" in row
    assert "None" not in row and "event <code>" not in row
    for award in result["awards"]:
        assert award["id"] in html


@pytest.mark.parametrize("command", ["explain", "report"])
@pytest.mark.parametrize(
    "content, message",
    [
        ('[{"id": "aw_1"}]', "field `id`"),
        ("{not json", "is not JSON"),
        (None, "--settled: cannot read"),
    ],
)
def test_explain_and_report_refuse_a_bad_settled_file_with_exit_2(
    late_payment: dict[str, Path], capsys: pytest.CaptureFixture[str], command: str, content: str | None, message: str
) -> None:
    statement = late_payment["dir"] / "statement.json"
    if content is not None:
        statement.write_text(content)
    page = late_payment["dir"] / "out.html"
    extra = ("-o", page) if command == "report" else ()
    code, out, err = _run(
        capsys, command, late_payment["rules"], late_payment["ledger"], "--settled", statement, *extra
    )
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err
    assert not page.exists()


def test_settled_results_with_reversals_of_no_single_event_match_the_schemas(
    late_payment: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    import jsonschema

    result = _settled_result(late_payment, capsys)
    assert result["reversals"] and all(r["why"]["event"] is None for r in result["reversals"])
    schemas = {}
    for name in ("result", "reversal"):
        code, out, _ = _run(capsys, "schema", name)
        assert code == 0
        schemas[name] = json.loads(out)
        jsonschema.Draft202012Validator.check_schema(schemas[name])
    jsonschema.Draft202012Validator(schemas["result"]).validate(result)
    for reversal in result["reversals"]:
        jsonschema.Draft202012Validator(schemas["reversal"]).validate(reversal)
    why = schemas["reversal"]["properties"]["why"]
    text = json.dumps(why) + json.dumps(schemas["reversal"].get("$defs", {}))
    assert "null" in text and "reason" in text
    # and a reversal's why must still say which event, or that there is none
    bad = {**result["reversals"][0], "why": {"reason": "x"}}
    assert not jsonschema.Draft202012Validator(schemas["reversal"]).is_valid(bad)


def test_the_kept_record_of_a_changed_award_explains_it_as_paid(
    late_payment: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The 1350.00 was paid uncapped; this run's cut to 500.00 belongs to the
    reissued award, not to the record kept as paid."""
    previous = json.loads(late_payment["previous"].read_text())
    result = _settled_result(late_payment, capsys)
    kept = next(a for a in result["awards"] if a["amount"] == "1350.00")
    reissued = next(a for a in result["awards"] if a["amount"] == "500.00")
    assert kept["why"] == previous["awards"][0]["why"] and "capped" not in kept["why"]
    assert reissued["why"]["capped"] is True and reissued["why"]["reissues"] == kept["id"]
    bare = [{k: v for k, v in award.items() if k != "why"} for award in previous["awards"]]
    late_payment["previous"].write_text(json.dumps(bare))
    kept = next(a for a in _settled_result(late_payment, capsys)["awards"] if a["amount"] == "1350.00")
    assert kept["why"] == {"event": "p2", "values": {}, "occurrence": "p2"}  # this run's, less its cut


@pytest.fixture
def moved_referral(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Path]:
    """alice is paid 15.00 on bob's payment; then an earlier referral of bob
    by carol arrives: the run no longer gives alice's award."""
    first = [
        {"id": "r2", "at": "2026-01-05T00:00:00Z", "type": "referral", "referrer": "alice", "referee": "bob"},
        {"id": "p1", "at": "2026-01-10T00:00:00Z", "type": "payment", "referee": "bob", "amount": "100.00"},
    ]
    late = {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "carol", "referee": "bob"}
    return _paid_then_late(tmp_path, capsys, first, "2026-01-11T00:00:00Z", late)


@pytest.mark.parametrize("with_why", [True, False])
def test_explain_and_report_tell_a_paid_award_the_run_no_longer_gives(
    moved_referral: dict[str, Path], capsys: pytest.CaptureFixture[str], with_why: bool
) -> None:
    if not with_why:
        previous = json.loads(moved_referral["previous"].read_text())
        bare = [{k: v for k, v in award.items() if k != "why"} for award in previous["awards"]]
        moved_referral["previous"].write_text(json.dumps(bare))
    settled = ("--as-of", "2026-01-12T00:00:00Z", "--settled", moved_referral["previous"])
    files = (moved_referral["rules"], moved_referral["ledger"])
    code, out, err = _run(capsys, "score", *files, *settled, "--format", "json")
    assert code == 0, err
    result = json.loads(out)
    told = next(a for a in result["awards"] if a["beneficiary"] == "alice")
    assert ("why" in told) == with_why
    code, out, err = _run(capsys, "explain", *files, *settled, "--referrer", "alice")
    assert code == 0, err
    assert "earned: cash 15.00 USD to alice (referrer)" in out
    assert (
        "taken back at 2026-01-12T00:00:00Z (paid, but this run no longer gives it): cash 15.00 USD comes back" in out
    )
    assert ("at event p1" in out) == with_why
    page = moved_referral["dir"] / "report.html"
    code, out, err = _run(capsys, "report", *files, *settled, "-o", page)
    assert code == 0, err
    html = page.read_text()
    assert told["id"] in html and "<td>paid, but this run no longer gives it</td>" in html
    assert ("as paid: the settled statement does not say why" in html) != with_why


@pytest.mark.parametrize(
    "why, field, message",
    [
        ("because", "why", "an object"),
        ({"values": {}}, "why.event", "text"),
        ({"event": "p1", "values": []}, "why.values", "an object"),
        ({"event": "p1", "values": {"mrr": {"deep": 1}}}, "why.values.mrr", "text"),
        ({"event": "p1", "values": {}, "capped": "yes"}, "why.capped", "true or false"),
    ],
)
def test_a_settled_why_is_checked_by_field(late_payment: dict[str, Path], why: Any, field: str, message: str) -> None:
    import rewardrules

    previous = json.loads(late_payment["previous"].read_text())
    previous["awards"][0]["why"] = why
    with pytest.raises(rewardrules.LedgerError, match=message) as caught:
        rewardrules.load(late_payment["rules"]).score([], settled=previous)
    assert caught.value.problems[0].field == field


def test_explain_ledger_takes_settled_like_score(late_payment: dict[str, Path]) -> None:
    import rewardrules
    from rewardrules.explain import explain, explain_ledger

    program = rewardrules.load(late_payment["rules"])
    previous = json.loads(late_payment["previous"].read_text())
    events = [json.loads(line) for line in late_payment["ledger"].read_text().splitlines()]
    text = explain_ledger(program, events, "2026-02-03T00:00:00Z", settled=previous)
    data = program.score(events, as_of="2026-02-03T00:00:00Z", settled=previous).data
    assert text == explain(data, program=program)
    assert "(its amount changed after it was paid): cash 1350.00 USD comes back" in text
