"""Award and reversal ids: unambiguous, documented, stable.

Ids are what an app pays (and claws back) exactly once, so two different
awards must never share one, the recipe must be reproducible outside
Python (docs/semantics.md, "Award ids"), and a reversal's id must not move
when more events arrive.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.ids import encode

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
