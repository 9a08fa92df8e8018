"""Untrusted inputs at the trust boundary (docs/reliability.md): test files
may only read inside their folder and never make a diagnostic quote another
file; ledger money carries its currency; number literals are bounded as
written; Stripe payloads that conflict, or cannot be read, are clear errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import rewardrules
from rewardrules import limits
from rewardrules.cli import main
from rewardrules.htmlreport import awards_chart
from rewardrules.ledger import LedgerError
from rewardrules.sources import Payload
from rewardrules.sources.stripe import StripeError, ingest

from .conftest import RULESETS

SAAS = (RULESETS / "saas_milestones.rules").read_text()
SECRET = "SECRET_TOKEN=hunter2"
CASE = (
    '[[case]]\nname = "one referral"\nevents = [\n'
    '  { id = "r1", at = 2026-01-05T09:00:00Z, type = "referral", referrer = "alice", referee = "acme" },\n'
    "]\nexact = true\n"
)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out + err


# ---------------------------------------------------------------------------
# test files read only inside their folder


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """A test folder `tests/` and, beside it, an `outside/` folder with a
    secret, a rule file whose text is a secret, and a ledger."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "env").write_text(SECRET + "\n")
    (outside / "secret.rules").write_text(SECRET + "\n")
    (outside / "ledger.jsonl").write_text('{"id": "hunter2", "at": 5, "type": "x"}\n')
    (tmp_path / "tests").mkdir()
    return tmp_path / "tests"


@pytest.mark.parametrize(
    ("header", "wanted"),
    [
        ('rules = "{outside}/env"', "not the absolute path"),
        ('rules = "{outside}/secret.rules"', "not the absolute path"),
        ('rules = "../outside/secret.rules"', "goes up with `..`"),
        ('rules = "sub/../../outside/secret.rules"', "goes up with `..`"),
        ('rules = "notes.txt"', "must name a rule file (`*.rules`)"),
    ],
)
def test_rules_path_is_confined_and_never_quoted(
    layout: Path, capsys: pytest.CaptureFixture[str], header: str, wanted: str
) -> None:
    (layout / "notes.txt").write_text(SECRET + "\n")
    text = header.format(outside=(layout.parent / "outside").as_posix()) + "\n" + CASE
    (layout / "t.test.toml").write_text(text)
    code, output = run_cli(capsys, "test", layout / "t.test.toml")
    assert code == 2
    assert "hunter2" not in output
    assert "t.test.toml:1: error: `rules`" in output and wanted in output


def test_symbolic_link_leading_outside_is_refused(layout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (layout / "inner").symlink_to(layout.parent / "outside", target_is_directory=True)
    (layout / "t.test.toml").write_text('rules = "inner/secret.rules"\n' + CASE)
    code, output = run_cli(capsys, "test", layout / "t.test.toml")
    assert code == 2 and "hunter2" not in output
    assert "leads outside the test file's folder" in output


def test_default_rule_file_that_links_outside_is_refused(layout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (layout / "t.rules").symlink_to(layout.parent / "outside" / "env")
    (layout / "t.test.toml").write_text(CASE)
    code, output = run_cli(capsys, "test", layout / "t.rules")
    assert code == 2 and "hunter2" not in output
    assert "`t.rules` leads outside" in output


def test_folder_scan_does_not_follow_links_outside(layout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (layout / "saas.rules").write_text(SAAS)
    (layout / "saas.test.toml").write_text(CASE.replace("exact = true", 'expect_none = [ { milestone = "mrr_1k" } ]'))
    (layout / "evil.rules").symlink_to(layout.parent / "outside" / "env")
    (layout / "loop.rules").symlink_to(layout / "loop.rules")
    code, output = run_cli(capsys, "test", layout, "--coverage")
    assert code == 2 and "hunter2" not in output and "Traceback" not in output
    assert "evil.rules` is a symbolic link leading outside" in output
    assert "loop.rules` cannot be resolved (a symbolic link loop?): not read" in output


@pytest.mark.parametrize(
    ("ledger", "wanted"),
    [
        ("{outside}/ledger.jsonl", "not the absolute path"),
        ("../outside/ledger.jsonl", "goes up with `..`"),
        ("link/ledger.jsonl", "leads outside"),
        ("here", "is not a regular file"),
    ],
)
def test_ledger_path_is_confined(layout: Path, capsys: pytest.CaptureFixture[str], ledger: str, wanted: str) -> None:
    (layout / "link").symlink_to(layout.parent / "outside", target_is_directory=True)
    (layout / "here").mkdir()
    (layout / "saas.rules").write_text(SAAS)
    named = ledger.format(outside=(layout.parent / "outside").as_posix())
    (layout / "saas.test.toml").write_text(f'[[case]]\nname = "c"\nledger = "{named}"\nexact = true\n')
    code, output = run_cli(capsys, "test", layout / "saas.test.toml")
    assert code == 2 and "hunter2" not in output
    assert "case `c`: `ledger`" in output and wanted in output


@pytest.mark.parametrize(
    ("named", "wanted"),
    [
        ("loop/x.rules", "`loop/x.rules` cannot be resolved: "),
        ("a\\u0000b.rules", "'a\\x00b.rules' holds a NUL character"),
    ],
)
def test_unresolvable_path_is_an_error(
    layout: Path, capsys: pytest.CaptureFixture[str], named: str, wanted: str
) -> None:
    (layout / "loop").symlink_to(layout / "loop")
    (layout / "t.test.toml").write_text(f'rules = "{named}"\n' + CASE)
    code, output = run_cli(capsys, "test", layout / "t.test.toml")
    assert code == 2 and "Traceback" not in output
    assert "t.test.toml:1: error: `rules`: " + wanted in output


def test_paths_inside_the_folder_still_work(layout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (layout / "rules").mkdir()
    (layout / "rules" / "saas.rules").write_text(SAAS)
    (layout / "ledgers").mkdir()
    (layout / "ledgers" / "one.jsonl").write_text(
        '{"id": "r1", "at": "2026-01-05T09:00:00Z", "type": "referral", "referrer": "alice", "referee": "acme"}\n'
    )
    (layout / "t.test.toml").write_text(
        'rules = "rules/saas.rules"\n'
        + CASE
        + '\n[[case]]\nname = "file"\nledger = "ledgers/one.jsonl"\nexact = true\n'
    )
    code, output = run_cli(capsys, "test", layout / "t.test.toml")
    assert code == 0, output


# ---------------------------------------------------------------------------
# ledger money carries its currency

PARTNER = rewardrules.load(RULESETS / "partner_and_customer.rules")
REFERRAL = {"id": "r1", "at": "2026-03-01T09:00:00Z", "type": "referral", "referrer": "p", "referee": "c"}
REFERRAL["source"] = "partner"


def payment(**fields: object) -> dict[str, object]:
    return {"id": "p1", "at": "2026-03-02T09:00:00Z", "type": "payment", "referee": "c", **fields}


def scorers() -> list[Callable[[list[dict[str, object]]], object]]:
    """Every way a ledger is read: batch (dicts and JSON lines), stream, session."""

    def session(events: list[dict[str, object]]) -> object:
        live = PARTNER.session()
        return [live.add(e) for e in events]

    return [
        PARTNER.score,
        lambda events: PARTNER.score([json.dumps(e) for e in events]),
        lambda events: PARTNER.score_stream([json.dumps(e) for e in events]),
        session,
    ]


@pytest.mark.parametrize("score", scorers(), ids=["dicts", "lines", "stream", "session"])
def test_amount_in_another_currency_is_refused(score: Callable[[list[dict[str, object]]], object]) -> None:
    # 1,000,000 JPY is about 6,500 USD: read as USD it paid the 5,000 USD cap
    with pytest.raises(LedgerError) as caught:
        score([REFERRAL, payment(amount="1000000", currency="JPY")])
    (problem,) = caught.value.problems
    assert (problem.line, problem.field) == (2, "amount")
    assert '`amount` is in "JPY" (field `currency`), but the rule file declares it as money USD' in problem.message


@pytest.mark.parametrize("score", scorers(), ids=["dicts", "lines", "stream", "session"])
def test_currency_that_is_not_a_code_is_refused(score: Callable[[list[dict[str, object]]], object]) -> None:
    with pytest.raises(LedgerError) as caught:
        score([REFERRAL, payment(amount="10", currency=5)])
    assert [(p.line, p.field) for p in caught.value.problems] == [(2, "currency")]


@pytest.mark.parametrize("currency", ["USD", "usd", None])
def test_amount_in_the_declared_currency_scores(currency: str | None) -> None:
    fields = {"amount": "100.00"} if currency is None else {"amount": "100.00", "currency": currency}
    awards = PARTNER.score([REFERRAL, payment(**fields)]).awards
    assert [(a.milestone, a.amount) for a in awards] == [("partner_commission", "15.00")]


def test_currency_on_events_without_money_is_not_read() -> None:
    refund = {"id": "x1", "at": "2026-03-03T09:00:00Z", "type": "refund", "referee": "c", "payment": "p1"}
    refund["currency"] = "JPY"
    PARTNER.score([REFERRAL, payment(amount="100.00", currency="USD"), refund])


def test_fields_in_two_currencies_each_checked() -> None:
    program = rewardrules.compile(
        'ruleset two "Two currencies"\n'
        "event payment { amount: money USD, fee: optional money EUR }\n"
        'milestone paid "Paid" {\n  first payment where payment.amount > 0\n  reward referrer cash 50 USD\n}\n',
        "two.rules",
    )
    events = [REFERRAL, payment(amount="10", fee="1", currency="EUR")]
    for score in (program.score, lambda e: program.score_stream([json.dumps(x) for x in e])):
        with pytest.raises(LedgerError) as caught:
            score(events)
        assert [(p.line, p.field) for p in caught.value.problems] == [(2, "amount")]
    assert len(program.score([REFERRAL, payment(amount="10", currency="USD")]).awards) == 1


def test_cli_names_line_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(json.dumps(REFERRAL) + "\n" + json.dumps(payment(amount="1000000", currency="JPY")) + "\n")
    code, output = run_cli(capsys, "score", RULESETS / "partner_and_customer.rules", ledger)
    assert code == 2
    assert f'{ledger}:2: error: field `amount`: `amount` is in "JPY"' in output


# ---------------------------------------------------------------------------
# Stripe payloads: conflicts and unreadable input are clear errors

MARCH_2 = 1772409600  # 2026-03-02T00:00:00Z


def stripe_event(event_id: str, type: str, obj: dict[str, Any], created: int = MARCH_2) -> dict[str, Any]:
    return {"id": event_id, "object": "event", "type": type, "created": created, "data": {"object": obj}}


def stripe_charge(customer: str, amount: int = 4900) -> dict[str, Any]:
    return {
        "id": "ch_1",
        "object": "charge",
        "customer": customer,
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": 0,
        "currency": "usd",
        "paid": True,
        "captured": True,
        "status": "succeeded",
        "invoice": None,
    }


def problems_of(payloads: list[Payload]) -> list[str]:
    with pytest.raises(StripeError) as caught:
        ingest(payloads)
    return [p.render() for p in caught.value.problems]


def test_same_event_id_with_different_content_is_a_conflict() -> None:
    a = Payload("hooks/a.json", stripe_event("evt_1", "charge.succeeded", stripe_charge("cus_A")))
    b = Payload("hooks/b.json", stripe_event("evt_1", "charge.succeeded", stripe_charge("cus_A", amount=9900)))
    found = problems_of([a, b])
    assert found == problems_of([b, a])  # never decided by input order
    assert found == [
        "hooks/b.json: event evt_1: field `data`: event id `evt_1` is also in hooks/a.json, with different content; "
        "a webhook retry repeats an event exactly: keep the payload that is right and remove the other"
    ]


def test_webhook_retry_is_still_one_event() -> None:
    first = stripe_event("evt_1", "charge.succeeded", stripe_charge("cus_A"))
    retry = {**first, "pending_webhooks": 3}  # a delivery detail, not content
    result = ingest([first, retry])
    assert len(result.ledger) == 1 and result.report.duplicates == {"webhook retry": 1}


def test_one_charge_with_two_customers_is_a_conflict() -> None:
    paid = Payload("a.json", stripe_event("evt_1", "charge.succeeded", stripe_charge("cus_A")))
    refunded = stripe_charge("cus_B")
    refunded.update(amount_refunded=4900, refunded=True)
    later = Payload("b.json", stripe_event("evt_2", "charge.refunded", refunded, MARCH_2 + 60))
    for order in ([paid, later], [later, paid]):
        (found,) = problems_of(order)
        assert (
            "field `data.object.customer`: charge `ch_1` has two customers: `cus_A` in a.json and `cus_B` in b.json"
            in found
        )


def test_one_invoice_with_two_customers_is_a_conflict() -> None:
    def paid(customer: str) -> dict[str, Any]:
        return {
            "id": "in_1",
            "object": "invoice",
            "customer": customer,
            "status": "paid",
            "amount_paid": 4900,
            "currency": "usd",
        }

    a = Payload("a.json", stripe_event("evt_1", "invoice.paid", paid("cus_A")))
    b = Payload("b.json", stripe_event("evt_2", "invoice.payment_succeeded", paid("cus_B"), MARCH_2 + 1))
    found = problems_of([a, b])
    assert found == problems_of([b, a])
    assert found == [
        "b.json: `stripe:in_1:payment`: field `customer`: names customer `cus_B`, and a.json names `cus_A` "
        "for the same object; an object has one customer: remove the payload that is wrong"
    ]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (
            '{"id": "cus_1", "object": "customer", "created": 1772409600, "metadata": {"referrer": "\\ud800"}}',
            "metadata.referrer",
        ),
        (
            '{"id": "cus_1", "object": "customer", "created": 1772409600, "metadata": {"\\udfff": "x"}}',
            "metadata.\\udfff",
        ),
        (
            '{"id": "evt_1", "object": "event", "type": "customer.updated", "created": 1772409600, '
            '"data": {"object": {"id": "cus_\\ud800", "object": "customer"}}}',
            "data.object.id",
        ),
    ],
)
def test_lone_surrogate_is_an_ingest_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, field: str
) -> None:
    output = refused_ingest(tmp_path, capsys, text + "\n")
    assert f"big.json: payload: field `{field}`: not valid Unicode text" in output


def refused_ingest(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> str:
    """What `ingest stripe` says about a payload file it refuses (exit 2)."""
    hooks = tmp_path / "big.json"
    hooks.write_text(text)
    code, output = run_cli(capsys, "ingest", "stripe", hooks)
    assert code == 2 and "Traceback" not in output
    return output


def test_payload_file_is_read_in_bounded_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "MAX_PAYLOAD_FILE_BYTES", 1000)
    hooks = tmp_path / "big.json"
    hooks.write_text(
        json.dumps([stripe_event(f"evt_{i}", "charge.succeeded", stripe_charge("cus_A")) for i in range(9)])
    )
    code, output = run_cli(capsys, "ingest", "stripe", hooks)
    assert code == 2
    assert f"rewardrules: error: {hooks}: larger than 1,000 bytes; split it into several files" in output


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("[" * 70 + "]" * 70, "big.json[0]: JSON nests deeper than 64 levels"),
        ('{"a": 1}\n' + '{"a": ' * 80 + "1" + "}" * 80 + "\n", "big.json:2: JSON nests deeper than 64 levels"),
        ('{"id": "x", "amount": 1' + "0" * 5000 + "}", "big.json: invalid JSON: a number has too many digits"),
        (
            '{"id": "x", "amount": 1e99999999999999999999}',
            "big.json: invalid JSON: the number 1e999999999999999999... is out of range",
        ),
    ],
)
def test_malformed_payloads_are_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, wanted: str
) -> None:
    assert wanted in refused_ingest(tmp_path, capsys, text)


# ---------------------------------------------------------------------------
# numbers: the digit limit counts digits as written, and the length is bounded

ZEROS = "0" * 40


@pytest.mark.parametrize(
    ("amount", "ok"),
    [
        (ZEROS + "1", False),  # one significant digit, 41 written
        ("0" * 29 + "1", True),  # 30 written
        ("0" * 30 + "1", False),
        ("0." + "0" * 30 + "1", False),  # 31 digits after the point
        ("0." + "0" * 29 + "1", True),
        ("0.5", True),
        ("-" + ZEROS + "5.00", False),
    ],
)
def test_ledger_string_digits_count_as_written(amount: str, ok: bool) -> None:
    events = [REFERRAL, payment(amount=amount)]
    if ok:
        PARTNER.score(events)
        return
    with pytest.raises(LedgerError) as caught:
        PARTNER.score(events)
    assert [(p.line, p.field, p.message) for p in caught.value.problems] == [
        (2, "amount", "`amount` is out of range (at most 30 digits)")
    ]


@pytest.mark.parametrize("number", ["1E+" + "0" * 40 + "2", "1." + "0" * 40, "0." + ZEROS + "1"])
def test_json_number_longer_than_the_limit_is_refused(number: str) -> None:
    line = json.dumps(payment()).replace("}", f', "amount": {number}}}')
    with pytest.raises(LedgerError) as caught:
        PARTNER.score([json.dumps(REFERRAL), line])
    assert [(p.line, p.field, p.message) for p in caught.value.problems] == [
        (2, "amount", "`amount` is out of range (at most 30 digits)")
    ]


@pytest.mark.parametrize(
    ("literal", "digits"),
    [(ZEROS + "50", 42), ("0" * 29 + "5", 30), ("0." + "0" * 30 + "1", 31), ("1" + "0" * 30, 31), ("0.5", 1)],
)
def test_rule_literal_digits_count_as_written(literal: str, digits: int) -> None:
    text = SAAS.replace("reward referrer cash 500 USD", f"reward referrer cash {literal} USD", 1)
    assert text != SAAS
    found = [d.message for d in rewardrules.check_source(text, "x.rules") if d.code == "RR401"]
    assert found == ([f"number has {digits} digits (the limit is 30)"] if digits > 30 else [])


# ---------------------------------------------------------------------------
# the HTML report's axis labels are exact


def test_axis_labels_are_exact_decimals() -> None:
    big = "123456789012345678901234.50"  # 27 digits: a binary float keeps about 16
    awards = [{"at": "2026-01-05T10:00:00Z", "unit": "USD", "amount": big, "status": "confirmed"}]
    chart = awards_chart(awards, "USD")
    assert [t.label for t in chart.y_ticks] == ["0"] + [f"{n * 25:,},000,000,000,000,000,000,000" for n in range(1, 6)]
    small = [{**awards[0], "amount": "1.20"}]
    assert [t.label for t in awards_chart(small, "USD").y_ticks] == ["0.00", "0.25", "0.50", "0.75", "1.00", "1.25"]
