"""The payout loop chained run to run (each run settled with the result
before it), and partial reversals in a statement checked as awards are
(review of 2026-12-08).

A paid award that a late event put back in its hold came back `pending`:
a statement made from that result no longer counted it paid, so its later
void took nothing back (50 USD lost). A partial reversal's unit, kind,
amount and repeats were not checked: told in EUR it cancelled a USD
reversal; listed twice, the last copy won.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

import rewardrules

NET = """ruleset netpay "net"
event payment { amount: money USD }
event refund { amount: money USD }
event chargeback { }
metric paid "Paid" = sum payment.amount
metric back "Refunded" = sum refund.amount
milestone big "Net over 100" {
  when paid - back >= 100 USD
  reward referrer cash 50 USD
  hold 10 days
  void if chargeback within 30 days
}
"""

PARTIAL = """ruleset partial "partial"
event payment { amount: money USD }
event refund { payment: text, amount: money USD }
milestone commission "Commission" {
  each payment
  reward referrer cash 15% of payment.amount
  void refund.amount of payment.amount if refund where refund.payment == payment.id
}
"""

REFERRAL = {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "ben"}


def payment(id: str, at: str, amount: str) -> dict[str, Any]:
    return {"id": id, "at": at, "type": "payment", "referee": "ben", "amount": amount}


def test_a_paid_award_back_in_its_hold_stays_paid_and_its_void_is_taken_back() -> None:
    program = rewardrules.compile(NET, "net.rules")
    first = [REFERRAL, payment("p1", "2026-01-02T00:00:00Z", "100.00"), payment("p2", "2026-01-20T00:00:00Z", "100.00")]
    run1 = program.score(first, as_of="2026-01-15T00:00:00Z").data
    assert [a["status"] for a in run1["awards"]] == ["confirmed"]
    # a refund dated before the payment moves the trigger to p2: inside the hold again
    late = [*first, {"id": "f1", "at": "2026-01-01T12:00:00Z", "type": "refund", "referee": "ben", "amount": "50.00"}]
    run2 = program.score(late, as_of="2026-01-21T00:00:00Z", settled=run1).data
    (award,) = run2["awards"]
    assert (award["id"], award["status"], award["amount"]) == (run1["awards"][0]["id"], "confirmed", "50.00")
    assert run2["reversals"] == []
    # chained: the statement is run2's result; a chargeback voids the award
    voided = [*late, {"id": "c1", "at": "2026-01-22T00:00:00Z", "type": "chargeback", "referee": "ben"}]
    run3 = program.score(voided, as_of="2026-01-25T00:00:00Z", settled=run2).data
    (reversal,) = run3["reversals"]
    assert (reversal["reverses"], reversal["amount"]) == (award["id"], "50.00")
    assert reversal["why"] == {"event": "c1", "reason": "voided after it was paid"}


@pytest.fixture(scope="module")
def partial() -> tuple[rewardrules.Program, dict[str, Any], list[dict[str, Any]]]:
    program = rewardrules.compile(PARTIAL, "part.rules")
    ledger = [
        REFERRAL,
        payment("p1", "2026-01-02T00:00:00Z", "1000.00"),
        {
            "id": "f1",
            "at": "2026-01-05T00:00:00Z",
            "type": "refund",
            "referee": "ben",
            "payment": "p1",
            "amount": "500.00",
        },
    ]
    statement = program.score(ledger, as_of="2026-01-25T00:00:00Z").data
    # a late, earlier referral of ben by zed: ann's award is no longer given
    late = [
        *ledger,
        {"id": "r0", "at": "2025-12-31T00:00:00Z", "type": "referral", "referrer": "zed", "referee": "ben"},
    ]
    return program, statement, late


def _anns(program: rewardrules.Program, statement: Any, late: list[dict[str, Any]]) -> list[tuple[str, str]]:
    data = program.score(late, as_of="2026-01-26T00:00:00Z", settled=statement).data
    return [(r["amount"], r["unit"]) for r in data["reversals"] if r["beneficiary"] == "ann"]


def test_the_honest_statement_takes_back_the_rest(partial: Any) -> None:
    program, statement, late = partial
    assert _anns(program, statement, late) == [("75.00", "USD"), ("75.00", "USD")]


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        ({"unit": "EUR"}, "unit", "expected the unit of award `aw_"),
        ({"unit": "JPY", "amount": "75"}, "unit", "expected the unit of award `aw_"),
        ({"kind": "credit"}, "kind", "expected the kind of award `aw_"),
        ({"kind": "bogus"}, "kind", "expected one of cash"),
        ({"role": "nobody"}, "role", "expected one of referrer, referee"),
        ({"amount": "150.00"}, "why.taken", "at least the amount 150.00"),
    ],
)
def test_a_partial_reversal_told_otherwise_is_refused(
    partial: Any, edit: dict[str, str], field: str, words: str
) -> None:
    program, statement, late = partial
    damaged = copy.deepcopy(statement)
    damaged["reversals"][0].update(edit)
    with pytest.raises(rewardrules.LedgerError) as info:
        _anns(program, damaged, late)
    (problem,) = info.value.problems
    assert problem.field == field and words in problem.message


def test_a_partial_reversal_listed_twice_is_refused(partial: Any) -> None:
    """The last copy won: listed again at 1.00, 149.00 was taken back."""
    program, statement, late = partial
    damaged = copy.deepcopy(statement)
    damaged["reversals"].append({**damaged["reversals"][0], "amount": "1.00"})
    with pytest.raises(rewardrules.LedgerError, match="is listed twice"):
        _anns(program, damaged, late)


def test_partial_reversals_past_their_award_are_refused(partial: Any) -> None:
    program, statement, late = partial
    damaged = copy.deepcopy(statement)
    damaged["reversals"][0].update(amount="150.01", why={**damaged["reversals"][0]["why"], "taken": "150.01"})
    with pytest.raises(rewardrules.LedgerError, match=r"take back more than its 150\.00 USD"):
        _anns(program, damaged, late)


def test_a_partial_of_an_award_the_statement_does_not_list_is_checked_against_the_run(partial: Any) -> None:
    program, statement, late = partial
    damaged = copy.deepcopy(statement)
    damaged["awards"] = []
    damaged["reversals"][0]["unit"] = "EUR"
    with pytest.raises(rewardrules.LedgerError, match="expected the unit of award `aw_"):
        program.score(late[:-1], as_of="2026-01-26T00:00:00Z", settled=damaged)


def test_an_award_reissued_twice_is_never_clawed_back_past_what_it_paid() -> None:
    """The rule file's reward kind edited cash -> credit -> cash, the
    documented loop run after each edit, with a half refund in between:
    the credit award paid 15.00 and 22.50 was taken back of it (its whole
    reversal did not net its 7.50 partial)."""
    base = PARTIAL.replace("cash 15%", "KIND 15%")
    cash, credit = (rewardrules.compile(base.replace("KIND", kind), "p.rules") for kind in ("cash", "credit"))
    pay, refund = (
        payment("p1", "2026-01-02T00:00:00Z", "100.00"),
        {
            "id": "f1",
            "at": "2026-01-05T00:00:00Z",
            "type": "refund",
            "referee": "ben",
            "payment": "p1",
            "amount": "50.00",
        },
    )
    paid: dict[str, dict[str, Any]] = {}
    clawed: dict[str, dict[str, Any]] = {}
    for program, ledger, day in (
        (cash, [REFERRAL, pay], 3),
        (credit, [REFERRAL, pay], 4),
        (credit, [REFERRAL, pay, refund], 6),
        (cash, [REFERRAL, pay, refund], 7),
        (cash, [REFERRAL, pay, refund], 8),
    ):
        statement = {"ruleset": program.name, "awards": list(paid.values()), "reversals": list(clawed.values())}
        run = program.score(ledger, as_of=f"2026-01-0{day}T00:00:00Z", settled=statement).data
        paid.update({a["id"]: a for a in run["awards"] if a["status"] == "confirmed" and a["id"] not in paid})
        clawed.update({r["id"]: r for r in run["reversals"] if r["id"] not in clawed and r["reverses"] in paid})
    for award_id, award in paid.items():
        back = sum(Decimal(r["amount"]) for r in clawed.values() if r["reverses"] == award_id)
        assert back <= Decimal(award["amount"]), (award["kind"], award["amount"], back)
    assert sorted((a["kind"], a["amount"]) for a in paid.values()) == [
        ("cash", "15.00"),
        ("cash", "15.00"),
        ("credit", "15.00"),
    ]


def test_a_paid_award_back_in_its_hold_keeps_the_message_it_was_told() -> None:
    program = rewardrules.compile(
        NET.replace("  hold 10 days", '  hold 10 days\n  message "net paid {{ paid }}"'), "net.rules"
    )
    first = [REFERRAL, payment("p1", "2026-01-02T00:00:00Z", "100.00"), payment("p2", "2026-01-20T00:00:00Z", "100.00")]
    run1 = program.score(first, as_of="2026-01-15T00:00:00Z").data
    late = [*first, {"id": "f1", "at": "2026-01-01T12:00:00Z", "type": "refund", "referee": "ben", "amount": "50.00"}]
    (award,) = program.score(late, as_of="2026-01-21T00:00:00Z", settled=run1).data["awards"]
    assert (
        (award["status"], award["message"])
        == ("confirmed", run1["awards"][0]["message"])
        == ("confirmed", "net paid 100.00")
    )
