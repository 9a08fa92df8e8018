"""Award and reversal ids: unambiguous, documented, stable.

Ids are what an app pays (and claws back) exactly once, so two different
awards must never share one, the recipe must be reproducible outside
Python (docs/semantics.md, "Award ids"), and a reversal's id must not move
when more events arrive.
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.cli import main
from rewardrules.explain import explain
from rewardrules.ids import encode, reissue_id, reversal_id
from rewardrules.models import ScoreOutput
from rewardrules.timeutil import parse_timestamp

ROOT = Path(__file__).resolve().parent.parent
PARTNERS = ROOT / "rulesets" / "partner_and_customer.rules"

#: a referral program with a hold, whose awards a refund takes back for 90 days
SHOP = """ruleset shop
event payment { amount: money USD }
event refund { payment: text }
milestone paid {
  first payment where payment.amount > 0
  reward referrer cash 10 USD
  hold 7 days
  void if refund where refund.payment == payment.id within 90 days
}
"""


def ev(id_: str, at: str, type_: str, referee: str, **fields: Any) -> dict[str, Any]:
    return {"id": id_, "at": at, "type": type_, "referee": referee, **fields}


def netstrings(fields: list[str]) -> bytes:
    """The documented encoding, written out again independently of `ids`."""
    out = b""
    for field in fields:
        data = field.encode("utf-8")
        out += str(len(data)).encode("ascii") + b":" + data + b","
    return out


def parse_netstrings(data: bytes) -> list[str]:
    """Read `encode` output back: the encoding is injective because it can be decoded."""
    fields = []
    while data:
        length, _, rest = data.partition(b":")
        size = int(length)
        assert rest[size : size + 1] == b","
        fields.append(rest[:size].decode("utf-8"))
        data = rest[size + 1 :]
    return fields


def test_awards_whose_fields_share_their_joined_text_get_different_ids() -> None:
    # Joined by U+001F, ("a", "b", "c\x1fd") and ("a", "b\x1fc", "d") read
    # alike: a 15.00 and a 1,350.00 commission used to get one id.
    program = rewardrules.load(PARTNERS)
    ledger = [
        {
            "id": "r1",
            "at": "2026-01-01T00:00:00Z",
            "type": "referral",
            "referrer": "a",
            "referee": "b",
            "source": "partner",
        },
        {
            "id": "r2",
            "at": "2026-01-01T00:00:00Z",
            "type": "referral",
            "referrer": "a",
            "referee": "b\x1fc",
            "source": "partner",
        },
        ev("c\x1fd", "2026-01-05T00:00:00Z", "payment", "b", amount="100.00"),
        ev("d", "2026-01-06T00:00:00Z", "payment", "b\x1fc", amount="9000.00"),
    ]
    awards = program.score(ledger).awards
    assert sorted(a.amount for a in awards) == ["1350.00", "15.00"]
    assert len({a.id for a in awards}) == 2


def test_the_documented_worked_example_is_what_scoring_gives() -> None:
    text = (ROOT / "docs" / "semantics.md").read_text(encoding="utf-8")
    fields = re.search(r"^fields: (.*)$", text, re.M)
    written = re.search(r"^bytes:  (.*)$", text, re.M)
    given_id = re.search(r"^id:     (aw_[0-9a-f]{32})$", text, re.M)
    assert fields and written and given_id
    names = fields.group(1).split(" | ")
    assert netstrings(names) == written.group(1).encode("utf-8")
    assert "aw_" + hashlib.sha256(netstrings(names)).hexdigest()[:32] == given_id.group(1)
    _, ruleset, program_name, milestone, referrer, referee, occurrence, role, beneficiary = names
    assert (ruleset, program_name) == ("partner_and_customer", "partners")
    ledger = [
        {
            "id": "r1",
            "at": "2026-01-10T00:00:00Z",
            "type": "referral",
            "referrer": referrer,
            "referee": referee,
            "source": "partner",
        },
        ev(occurrence, "2026-01-20T00:00:00Z", "payment", referee, amount="100.00"),
    ]
    (award,) = rewardrules.load(PARTNERS).score(ledger).awards
    assert (award.milestone, award.role, award.beneficiary) == (milestone, role, beneficiary)
    assert award.id == given_id.group(1)


def test_every_award_id_follows_the_recipe_with_control_characters_in_names() -> None:
    program = rewardrules.load(PARTNERS)
    referrer, referee, payment = "p,1:\x00\x1f", "é\u2028\x1e", "12:x,\n"
    ledger = [
        {
            "id": "r1",
            "at": "2026-01-01T00:00:00Z",
            "type": "referral",
            "referrer": referrer,
            "referee": referee,
            "source": "partner",
        },
        ev(payment, "2026-01-05T00:00:00Z", "payment", referee, amount="10.00"),
    ]
    (award,) = program.score(ledger).awards
    fields = ["award", "partner_and_customer", "partners", "partner_commission", referrer, referee, payment]
    fields += ["referrer", referrer]
    assert award.id == "aw_" + hashlib.sha256(netstrings(fields)).hexdigest()[:32]


FIELD = st.text(alphabet=st.sampled_from(["a", "1", "0", ":", ",", "\x1f", "\x00", "\n", "é", "\u2028"]), max_size=6)
ANY_FIELD = st.one_of(FIELD, st.text(max_size=8))
TUPLES = st.lists(ANY_FIELD, max_size=5)


@settings(max_examples=300, deadline=None)
@given(TUPLES, TUPLES)
def test_distinct_field_tuples_have_distinct_encodings(a: list[str], b: list[str]) -> None:
    assert (encode(a) == encode(b)) == (a == b)
    assert parse_netstrings(encode(a)) == a


@settings(max_examples=200, deadline=None)
@given(TUPLES)
def test_the_encoding_is_the_documented_one(fields: list[str]) -> None:
    assert encode(fields) == netstrings(fields)


# -- reversal ids -----------------------------------------------------------


def _shop_ledger() -> list[dict[str, Any]]:
    return [
        {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "alice", "referee": "bob"},
        ev("p1", "2026-01-02T00:00:00Z", "payment", "bob", amount="50.00"),
        ev("z9", "2026-02-20T00:00:00Z", "refund", "bob", payment="p1"),
    ]


def _reversals(ledger: list[dict[str, Any]], as_of: str = "2026-03-01T00:00:00Z") -> list[dict[str, Any]]:
    return rewardrules.compile(SHOP).score(ledger, as_of=as_of).data["reversals"]


def test_an_earlier_refund_arriving_later_keeps_the_reversal_id() -> None:
    (before,) = _reversals(_shop_ledger())
    later = [*_shop_ledger(), ev("z1", "2026-02-01T00:00:00Z", "refund", "bob", payment="p1")]
    (after,) = _reversals(later)
    assert after["why"]["event"] == "z1"  # another event now takes it back ...
    assert (after["id"], after["reverses"]) == (before["id"], before["reverses"])  # ... same reversal


def test_unrelated_events_keep_the_reversal_id() -> None:
    (before,) = _reversals(_shop_ledger())
    others = [
        {"id": "a0", "at": "2025-12-01T00:00:00Z", "type": "referral", "referrer": "carol", "referee": "dan"},
        ev("a1", "2025-12-02T00:00:00Z", "payment", "dan", amount="5.00"),
        ev("a2", "2026-01-20T00:00:00Z", "refund", "dan", payment="a1"),
    ]
    reversals = _reversals([*others, *_shop_ledger()])
    assert [r["id"] for r in reversals if r["reverses"] == before["reverses"]] == [before["id"]]
    assert len({r["id"] for r in reversals}) == len(reversals) == 2


# -- settled awards across runs --------------------------------------------------


def _referral(id_: str, at: str, referrer: str, referee: str, source: str = "partner") -> dict[str, Any]:
    return {"id": id_, "at": at, "type": "referral", "referrer": referrer, "referee": referee, "source": source}


class App:
    """The payout loop of docs/embedding.md: after each run, pay confirmed
    awards not paid yet, claw back reversals of paid awards not clawed back
    yet, and hand the statement of both to the next run."""

    def __init__(self, program: rewardrules.Program) -> None:
        self.program = program
        self.paid: dict[str, dict[str, Any]] = {}
        self.clawed: dict[str, dict[str, Any]] = {}

    def run(self, ledger: list[dict[str, Any]], as_of: str) -> tuple[list[str], list[str]]:
        statement = {"awards": list(self.paid.values()), "reversals": list(self.clawed.values())}
        result = self.program.score(ledger, as_of=as_of, settled=statement).data
        pay = [a for a in result["awards"] if a["status"] == "confirmed" and a["id"] not in self.paid]
        back = [r for r in result["reversals"] if r["id"] not in self.clawed and r["reverses"] in self.paid]
        self.paid.update((a["id"], a) for a in pay)
        self.clawed.update((r["id"], r) for r in back)
        return [a["id"] for a in pay], [r["id"] for r in back]

    def net(self) -> Decimal:
        return sum((Decimal(a["amount"]) for a in self.paid.values()), Decimal(0)) - sum(
            (Decimal(r["amount"]) for r in self.clawed.values()), Decimal(0)
        )


def net_owed(result: dict[str, Any]) -> Decimal:
    """What a run says is owed: confirmed awards less reversals."""
    paid = sum((Decimal(a["amount"]) for a in result["awards"] if a["status"] == "confirmed"), Decimal(0))
    return paid - sum((Decimal(r["amount"]) for r in result["reversals"]), Decimal(0))


def test_a_late_refund_inside_the_hold_reverses_a_paid_award() -> None:
    program = rewardrules.load(PARTNERS)
    ledger = [_referral("r1", "2026-01-01T00:00:00Z", "alice", "bob", "customer")]
    ledger.append(ev("p1", "2026-01-02T00:00:00Z", "payment", "bob", amount="50.00"))
    app = App(program)
    paid, _ = app.run(ledger, "2026-02-02T00:00:00Z")  # the hold ended on Feb 1: paid
    assert len(paid) == 1
    ledger.append(ev("z1", "2026-01-20T00:00:00Z", "refund", "bob", payment="p1"))  # arrives Feb 9
    fresh = program.score(ledger, as_of="2026-02-10T00:00:00Z").data
    assert [a["status"] for a in fresh["awards"]] == ["void"] and fresh["reversals"] == []  # alone: silent
    statement = {"awards": list(app.paid.values())}
    told = program.score(ledger, as_of="2026-02-10T00:00:00Z", settled=statement).data
    (award,) = told["awards"]
    assert (award["id"], award["status"], award["amount"]) == (paid[0], "confirmed", "100.00")  # as paid
    (reversal,) = told["reversals"]
    assert (reversal["reverses"], reversal["amount"], reversal["why"]["event"]) == (paid[0], "100.00", "z1")
    assert reversal["at"] == "2026-01-20T00:00:00Z"
    assert app.run(ledger, "2026-02-10T00:00:00Z") == ([], [reversal["id"]])
    assert app.run(ledger, "2026-02-11T00:00:00Z") == ([], [])  # replayed: nothing new
    assert app.net() == net_owed(fresh) == 0


def test_a_late_earlier_referral_moves_the_award_and_reverses_the_paid_one() -> None:
    program = rewardrules.load(PARTNERS)
    ledger = [
        _referral("r2", "2026-01-05T00:00:00Z", "alice", "bob"),
        ev("p1", "2026-01-10T00:00:00Z", "payment", "bob", amount="100.00"),
    ]
    app = App(program)
    (alice_award,), _ = app.run(ledger, "2026-01-11T00:00:00Z")
    ledger.append(_referral("r1", "2026-01-01T00:00:00Z", "carol", "bob"))  # earlier: carol referred bob
    pay, back = app.run(ledger, "2026-01-12T00:00:00Z")
    result = program.score(ledger, as_of="2026-01-12T00:00:00Z", settled={"awards": []}).data
    (carol_award,) = result["awards"]
    assert carol_award["beneficiary"] == "carol" and pay == [carol_award["id"]]
    assert back == [reversal_id(alice_award)]
    (reversal,) = list(app.clawed.values())
    assert (reversal["beneficiary"], reversal["amount"], reversal["reverses"]) == ("alice", "15.00", alice_award)
    assert app.run(ledger, "2026-01-13T00:00:00Z") == ([], [])
    assert app.net() == net_owed(result) == Decimal("15.00")


def test_a_changed_amount_is_reversed_and_paid_again_under_a_new_id() -> None:
    program = rewardrules.load(PARTNERS)  # partner commissions: 15%, at most 5000 a quarter
    ledger = [
        _referral("r1", "2026-01-01T00:00:00Z", "acme", "c1"),
        ev("p2", "2026-02-01T00:00:00Z", "payment", "c1", amount="9000.00"),
    ]
    app = App(program)
    (first,), _ = app.run(ledger, "2026-02-02T00:00:00Z")  # 1350.00
    ledger.append(ev("p1", "2026-01-15T00:00:00Z", "payment", "c1", amount="30000.00"))  # 4500: cap left 500
    pay, back = app.run(ledger, "2026-02-03T00:00:00Z")
    assert back == [reversal_id(first)]
    assert sorted(app.paid[i]["amount"] for i in pay) == ["4500.00", "500.00"]
    reissued = next(app.paid[i] for i in pay if app.paid[i]["amount"] == "500.00")
    assert reissued["id"] == reissue_id(first, "500.00", "USD", 1)
    assert reissued["why"]["reissues"] == first
    assert app.run(ledger, "2026-02-04T00:00:00Z") == ([], [])  # replayed: nothing new
    fresh = program.score(ledger, as_of="2026-02-04T00:00:00Z").data
    assert app.net() == net_owed(fresh) == Decimal("5000.00")


def test_the_payout_loop_over_many_runs_pays_what_a_fresh_run_owes() -> None:
    program = rewardrules.load(PARTNERS)
    arrivals = [  # (as-of of the run, events that arrived before it)
        ("2026-01-12T00:00:00Z", [_referral("r2", "2026-01-05T00:00:00Z", "alice", "bob")]),
        ("2026-01-13T00:00:00Z", [ev("p1", "2026-01-10T00:00:00Z", "payment", "bob", amount="100.00")]),
        ("2026-02-20T00:00:00Z", [_referral("c1", "2026-01-02T00:00:00Z", "dan", "eve", "customer")]),
        ("2026-02-21T00:00:00Z", [ev("p5", "2026-01-03T00:00:00Z", "payment", "eve", amount="20.00")]),
        ("2026-02-22T00:00:00Z", [_referral("r1", "2026-01-01T00:00:00Z", "carol", "bob")]),
        ("2026-02-23T00:00:00Z", [ev("z5", "2026-01-20T00:00:00Z", "refund", "eve", payment="p5")]),
        ("2026-02-24T00:00:00Z", [ev("p0", "2026-01-04T00:00:00Z", "payment", "bob", amount="33000.00")]),
        ("2026-02-25T00:00:00Z", [ev("p9", "2026-02-24T00:00:00Z", "payment", "bob", amount="10.00")]),
        ("2026-02-26T00:00:00Z", []),
    ]
    app = App(program)
    ledger: list[dict[str, Any]] = []
    seen_reversals: set[str] = set()
    for as_of, events in arrivals:
        ledger.extend(events)
        app.run(ledger, as_of)
        fresh = program.score(ledger, as_of=as_of).data
        assert app.net() == net_owed(fresh), as_of
        statement = {"awards": list(app.paid.values()), "reversals": list(app.clawed.values())}
        result = program.score(ledger, as_of=as_of, settled=statement).data
        ScoreOutput.model_validate(result)  # the result's schema holds, reversals of dropped awards included
        ids = [r["id"] for r in result["reversals"]]
        assert len(ids) == len(set(ids)) and seen_reversals <= set(ids)  # a reversal never goes away
        seen_reversals = set(ids)
        assert {a["id"] for a in app.paid.values()} <= {a["id"] for a in result["awards"]}  # nor a paid award
    assert app.run(ledger, "2026-02-27T00:00:00Z") == ([], [])


#: a settled award record, as a result gives it
PAID = {
    "id": "aw_" + "0" * 32,
    "at": "2026-01-02T00:00:00Z",
    "milestone": "customer_conversion",
    "role": "referrer",
    "beneficiary": "ann",
    "referrer": "ann",
    "referee": "ben",
    "kind": "cash",
    "amount": "100.00",
    "unit": "USD",
    "item": None,
    "status": "confirmed",
    "program": "customers",
}


def _paid(**changes: Any) -> list[dict[str, Any]]:
    return [{k: v for k, v in {**PAID, **changes}.items() if v is not ...}]


SETTLED_PROBLEMS = [
    ("not a statement", "x", None, "a previous result"),
    ("award not an object", ["x"], None, "an award record"),
    ("bad id", _paid(id="aw_1"), "id", "32 hex digits"),
    ("old id", _paid(id="aw_" + "0" * 24), "id", "earlier releases"),
    ("amount", _paid(amount="1e999"), "amount", "decimal"),
    ("negative", _paid(amount="-5"), "amount", "positive"),
    ("status", _paid(status="paid"), "status", "one of"),
    ("no unit", _paid(unit=...), "unit", "text"),
    ("long", _paid(unit="U" * 20_000), "unit", "at most"),
    ("role", _paid(role="partner"), "role", "referrer, referee"),
    ("kind", _paid(kind="bitcoin"), "kind", "one of cash"),
    ("at", _paid(at="yesterday"), "at", "."),
    ("no beneficiary", _paid(beneficiary=...), "beneficiary", "text"),
    ("twice", _paid() * 2, "id", "twice"),
    ("reversals", {"awards": [], "reversals": {}}, "reversals", "a list"),
    (
        "reversal id",
        {"awards": [], "reversals": [{"id": "rv_" + "0" * 32, "reverses": "aw_" + "0" * 32}]},
        "id",
        "reversal id of",
    ),
]


@pytest.mark.parametrize("case", SETTLED_PROBLEMS, ids=[c[0] for c in SETTLED_PROBLEMS])
def test_a_settled_statement_is_checked(case: tuple[str, Any, str | None, str]) -> None:
    _, data, name, message = case
    program = rewardrules.load(PARTNERS)
    with pytest.raises(rewardrules.LedgerError, match=message) as caught:
        program.score([], settled=data)
    assert caught.value.problems[0].field == name


def test_cli_settled(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = tmp_path / "ledger.jsonl"
    events = [
        _referral("r1", "2026-01-01T00:00:00Z", "alice", "bob", "customer"),
        ev("p1", "2026-01-02T00:00:00Z", "payment", "bob", amount="50.00"),
    ]
    ledger.write_text("".join(json.dumps(e) + "\n" for e in events))
    assert main(["score", str(PARTNERS), str(ledger), "--as-of", "2026-02-02T00:00:00Z", "--format", "json"]) == 0
    previous = tmp_path / "previous.json"
    previous.write_text(capsys.readouterr().out)
    events.append(ev("z1", "2026-01-20T00:00:00Z", "refund", "bob", payment="p1"))
    ledger.write_text("".join(json.dumps(e) + "\n" for e in events))
    argv = ["score", str(PARTNERS), str(ledger), "--format", "json", "--settled", str(previous)]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert [a["status"] for a in result["awards"]] == ["confirmed"] and len(result["reversals"]) == 1
    previous.write_text('[{"id": "aw_1"}]')
    assert main(argv) == 2
    assert "field `id`" in capsys.readouterr().err
    assert main([*argv[:-1], str(tmp_path / "missing.json")]) == 2
    assert "--settled: cannot read" in capsys.readouterr().err


def test_explaining_a_settled_result_names_why_a_paid_award_is_taken_back() -> None:
    program = rewardrules.load(PARTNERS)
    ledger = [
        _referral("r1", "2026-01-01T00:00:00Z", "acme", "c1"),
        ev("p2", "2026-02-01T00:00:00Z", "payment", "c1", amount="9000.00"),
    ]
    first = program.score(ledger, as_of="2026-02-02T00:00:00Z").data
    ledger.append(ev("p1", "2026-01-15T00:00:00Z", "payment", "c1", amount="30000.00"))
    data = program.score(ledger, as_of="2026-02-03T00:00:00Z", settled=first).data
    text = explain(data, referee="c1")
    assert "taken back at 2026-02-03T00:00:00Z (its amount changed after it was paid)" in text
    assert "by event None" not in text


def test_settled_gives_the_same_bytes_by_batch_stream_and_session_in_any_statement_order() -> None:
    program = rewardrules.load(PARTNERS)
    ledger = [
        _referral("r2", "2026-01-05T00:00:00Z", "alice", "bob"),
        _referral("c1", "2026-01-02T00:00:00Z", "dan", "eve", "customer"),
        ev("p1", "2026-01-10T00:00:00Z", "payment", "bob", amount="100.00"),
        ev("p5", "2026-01-03T00:00:00Z", "payment", "eve", amount="20.00"),
    ]
    first = program.score(ledger, as_of="2026-02-20T00:00:00Z").data
    assert len(first["awards"]) == 2
    ledger += [
        _referral("r1", "2026-01-01T00:00:00Z", "carol", "bob"),
        ev("z5", "2026-01-20T00:00:00Z", "refund", "eve", payment="p5"),
    ]
    ordered = sorted(ledger, key=lambda e: (parse_timestamp(e["at"]), e["id"]))
    as_of = "2026-02-21T00:00:00Z"
    batch = program.score(ledger, as_of=as_of, settled=first).to_json()
    reordered = {"awards": first["awards"][::-1]}
    assert program.score(ledger[::-1], as_of=as_of, settled=reordered).to_json() == batch
    lines = [json.dumps(e) for e in ordered]
    assert program.score_stream(lines, as_of=as_of, settled=first).to_json() == batch
    session = program.session()
    for event in ordered:
        session.add(event)
    assert session.result(as_of=as_of, settled=first).to_json() == batch
    data = json.loads(batch)
    assert len(data["reversals"]) == 2 and {a["status"] for a in data["awards"]} >= {"confirmed"}
