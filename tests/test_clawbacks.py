"""Money that comes back: partial clawbacks (`void PART of WHOLE if EVENT`).

Golden cases (tests/golden/clawbacks/, worked out by hand) scored batch,
streamed and in a session; the checker's errors; `fmt`; settled statements
with partial reversals; `explain`."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

import rewardrules
from rewardrules.core.award import CONTRACT_FIELDS, PAYOUT_FIELDS
from rewardrules.core.ids import make_id, partial_reversal_id, reversal_id
from rewardrules.report.explain import explain_ledger
from rewardrules.syntax.formatter import format_text
from rewardrules.timeutil import parse_timestamp

from .conftest import GOLDEN, examples
from .strategies import rule_files

FOLDER = GOLDEN / "clawbacks"
RULES = FOLDER / "clawbacks.rules"
#: golden cases of the constructs: tests/golden/NAME/ledgers/*.jsonl, scored by NAME.rules
CASES = sorted(
    ledger
    for name in ("clawbacks", "reward_holds", "counts_voided")
    for ledger in (GOLDEN / name / "ledgers").glob("*.jsonl")
)
IDS = [f"{p.parents[1].name}/{p.stem}" for p in CASES]
AWARD_KEYS = tuple(f for f in CONTRACT_FIELDS if f != "id")
REVERSAL_KEYS = tuple(f for f in PAYOUT_FIELDS if f != "item")


def _program(rules: Path = RULES) -> rewardrules.Program:
    return rewardrules.load(rules)


def _rules_of(ledger: Path) -> Path:
    return ledger.parents[1] / f"{ledger.parents[1].name}.rules"


def _expected(ledger: Path) -> dict[str, Any]:
    return json.loads(ledger.with_suffix("").with_suffix(".expected.json").read_text())  # type: ignore[no-any-return]


def _ordered(ledger: Path, as_of: str | None = None) -> list[str]:
    lines = [line for line in ledger.read_text().splitlines() if line.strip()]
    limit = parse_timestamp(as_of) if as_of else None
    keyed = sorted(((parse_timestamp(json.loads(x)["at"]), json.loads(x)["id"]), x) for x in lines)
    return [line for key, line in keyed if limit is None or key[0] <= limit]


def _reversal_key(reversal: dict[str, Any]) -> tuple[str, ...]:
    return (*(str(reversal[k]) for k in REVERSAL_KEYS), reversal["why"]["event"], str(reversal["why"].get("taken")))


def _expected_reversal_key(reversal: dict[str, Any]) -> tuple[str, ...]:
    return (*(str(reversal[k]) for k in REVERSAL_KEYS), reversal["event"], str(reversal["taken"]))


@pytest.mark.parametrize("ledger", CASES, ids=IDS)
def test_golden_clawbacks(ledger: Path) -> None:
    expected = _expected(ledger)
    result = _program(_rules_of(ledger)).score(ledger.read_text().splitlines(), as_of=expected["as_of"]).data
    awards = sorted(tuple(str(a[k]) for k in AWARD_KEYS) for a in result["awards"])
    assert awards == sorted(tuple(str(a[k]) for k in AWARD_KEYS) for a in expected["awards"]), expected["notes"]
    reversals = sorted(_reversal_key(r) for r in result["reversals"])
    assert reversals == sorted(_expected_reversal_key(r) for r in expected["reversals"]), expected["notes"]


@pytest.mark.parametrize("ledger", CASES, ids=IDS)
def test_golden_clawbacks_batch_stream_and_session_agree(ledger: Path) -> None:
    expected = _expected(ledger)
    program = _program(_rules_of(ledger))
    lines = _ordered(ledger, expected["as_of"])
    batch = program.score(ledger.read_text().splitlines(), as_of=expected["as_of"]).to_json()
    assert program.score_stream(lines, as_of=expected["as_of"]).to_json() == batch
    session = program.session()
    for line in lines[: len(lines) // 2]:
        session.add(line)
    session = program.restore(session.snapshot())  # the kept refunds survive a snapshot
    for line in lines[len(lines) // 2 :]:
        session.add(line)
    assert session.result(as_of=expected["as_of"]).to_json() == batch


def test_reversal_ids_are_stable_and_linked() -> None:
    ledger = FOLDER / "ledgers" / "partial_refunds.jsonl"
    data = _program().score(ledger.read_text().splitlines()).data
    award = next(a for a in data["awards"] if a["referee"] == "c1")
    ids = [r["id"] for r in data["reversals"] if r["reverses"] == award["id"]]
    assert ids == [partial_reversal_id(award["id"], e) for e in ("f1", "f2", "f3")]
    assert ids[0] == make_id("rv_", ("reversal", award["id"], "f1"))
    assert reversal_id(award["id"]) not in ids  # a part's id is never the whole reversal's
    # the sum of the parts is what one full refund takes back: the award
    assert sum(Decimal(r["amount"]) for r in data["reversals"] if r["reverses"] == award["id"]) == Decimal("20.00")
    totals = {(t["status"], t["unit"]): t for t in data["totals"]}
    assert totals[("reversed", "USD")]["amount"] == "22.00"
    assert totals[("confirmed", "USD")]["amount"] == "30.00"


def test_a_late_refund_dated_earlier_keeps_what_was_clawed_back() -> None:
    """Refunds of thirds: the app clawed back f2's 3.34 after f1 and f2. A
    refund f0 arriving late, dated before f1, changes the running rounding:
    f1 and f2 stay as told, and the new entry takes what is left of what
    the run takes back."""
    program = _program()
    lines = (FOLDER / "ledgers" / "rounding.jsonl").read_text().splitlines()
    head = [x for x in lines if json.loads(x)["id"] in ("r1", "p1", "f1", "f2")]
    first = program.score(head).data
    told = {r["why"]["event"]: r["amount"] for r in first["reversals"]}
    assert told == {"f1": "3.33", "f2": "3.34"}
    late = '{"id": "f0", "at": "2026-01-20T00:00:00Z", "type": "refund", "referee": "t1", "payment": "p1", "amount": "0.01"}'
    fresh = program.score([*head, late]).data  # without the statement: 0.01 -> 0.00, then 3.33, 3.34
    assert {r["why"]["event"]: r["amount"] for r in fresh["reversals"]} == {"f1": "3.33", "f2": "3.34"}
    late = late.replace('"0.01"', '"0.02"')  # 0.02 -> 0.00 taken; f1 then 33.35 -> 3.34
    fresh = program.score([*head, late]).data
    assert {r["why"]["event"]: r["amount"] for r in fresh["reversals"]} == {"f1": "3.34", "f2": "3.33"}
    settled = program.score([*head, late], settled=first).data
    amounts = {r["why"]["event"]: r["amount"] for r in settled["reversals"]}
    assert amounts == {"f1": "3.33", "f2": "3.34"}  # as told: nothing rewritten
    again = program.score([*head, late], settled=settled).data
    assert again["reversals"] == settled["reversals"]  # replaying adds nothing


def test_settled_award_reversed_whole_nets_out_its_partial_reversals() -> None:
    """A settled award of 20.00 with 5.00 clawed back in part, whose
    amount then changes (an edited rule: 5% instead of 10%): the paid
    award is taken back less the 5.00 already back (15.00), and the new
    award (10.00) has the refund's part of it taken back (2.50)."""
    program = _program()
    lines = (FOLDER / "ledgers" / "partial_refunds.jsonl").read_text().splitlines()
    head = [x for x in lines if json.loads(x)["id"] in ("r1", "p1", "f1")]
    first = program.score(head).data
    assert [r["amount"] for r in first["reversals"]] == ["5.00"]
    edited = rewardrules.compile(RULES.read_text().replace("10% of", "5% of"), "clawbacks.rules")
    data = edited.score(head, settled=first).data
    old = first["awards"][0]["id"]
    new = next(a for a in data["awards"] if (a.get("why") or {}).get("reissues") == old)
    assert new["amount"] == "10.00"
    back = {(r["reverses"], r["id"] == reversal_id(r["reverses"])): r["amount"] for r in data["reversals"]}
    assert back == {(old, False): "5.00", (old, True): "15.00", (new["id"], False): "2.50"}
    # paid 20.00, back 5.00 + 15.00, paid 10.00, back 2.50: 7.50 is 10.00 less a quarter
    again = edited.score(head, settled=data).data  # replayed: the same ids and amounts, nothing new
    assert [(r["id"], r["amount"]) for r in again["reversals"]] == [(r["id"], r["amount"]) for r in data["reversals"]]
    assert [(a["id"], a["amount"]) for a in again["awards"]] == [(a["id"], a["amount"]) for a in data["awards"]]


def test_a_void_if_after_partial_ones_takes_back_the_rest_once_settled() -> None:
    program = _program()
    lines = (FOLDER / "ledgers" / "during_hold.jsonl").read_text().splitlines()
    result = program.score(lines).data
    again = program.score(lines, settled=result).data
    assert again["reversals"] == result["reversals"]
    h3 = [r for r in again["reversals"] if r["referee"] == "h3"]
    assert [(r["amount"], r["why"]["event"]) for r in h3] == [("4.00", "k1"), ("6.00", "k2")]


def test_statement_with_a_forged_partial_reversal_id_is_refused() -> None:
    program = _program()
    lines = (FOLDER / "ledgers" / "partial_refunds.jsonl").read_text().splitlines()
    result = program.score(lines).data
    result["reversals"][0]["why"]["event"] = "f9"  # the id no longer matches the event
    with pytest.raises(rewardrules.LedgerError, match="expected the reversal id"):
        program.score(lines, settled=result)


HEAD = """
event payment { amount: money USD }
event refund {
  payment: text
  amount: money USD
  units: number
}
"""


def _codes(body: str) -> list[tuple[str, str]]:
    return [(d.code, d.message) for d in rewardrules.check_source(HEAD + body, "case.rules")]


def test_part_and_whole_must_be_amounts_of_one_unit() -> None:
    base = "milestone m {{ first payment  reward referrer cash 10 USD  void {share} if refund }}"
    (found,) = _codes(base.format(share="refund.units of payment.amount"))
    assert found[0] == "RR210" and "number of money (USD)" in found[1]
    (found,) = _codes(base.format(share="refund.payment of payment.amount"))
    assert found[0] == "RR210"
    assert _codes(base.format(share="refund.amount of payment.amount")) == []
    assert _codes(base.format(share="refund.amount of 200 USD")) == []
    assert _codes(base.format(share="refund.units of 3")) == []


def test_whole_cannot_read_the_void_event() -> None:
    text = "milestone m { first payment  reward referrer cash 10 USD  void refund.amount of refund.amount if refund }"
    (found,) = _codes(text)
    assert found[0] == "RR211" and "`refund.amount`" in found[1]


def test_partial_void_of_an_item_or_a_rate_is_refused() -> None:
    for reward in ('item "Mug"', "discount 10 percent"):
        text = (
            f"milestone m {{ first payment  reward referee {reward}  void refund.amount of payment.amount if refund }}"
        )
        codes = [c for c, _ in _codes(text)]
        assert codes == ["RR316"], reward
    fine = "milestone m { first payment  reward referee discount 10 percent  void if refund }"
    assert _codes(fine) == []


def test_unknown_names_in_a_share_get_hints() -> None:
    text = "milestone m { first payment  reward referrer cash 10 USD  void refund.amout of payment.amount if refund }"
    found = rewardrules.check_source(HEAD + text, "case.rules")
    assert [d.code for d in found] == ["RR102"]
    assert "amount" in (found[0].help or "")


def test_fmt_writes_the_share_and_is_stable() -> None:
    messy = (
        "event p { amount: money USD }\nevent r { amount: money USD }\n"
        "milestone m { each p  reward referrer cash 5 USD\n void   (r.amount) of ( 2 * p.amount )  if r }\n"
    )
    once = format_source(messy)
    assert "void r.amount of 2 * p.amount if r" in once
    assert format_source(once) == once
    assert rewardrules.check_source(once) == []
    percent = "milestone m { each p  reward referrer cash 5 USD  void (5%) of 10 percent if p }\nevent p\n"
    formatted = format_source(percent)
    assert "void (5%) of 10 percent if p" in formatted
    assert format_source(formatted) == formatted


def format_source(text: str) -> str:
    formatted, problems = format_text(text)
    assert formatted is not None, problems
    return formatted


def test_explain_tells_each_part_taken_back() -> None:
    ledger = FOLDER / "ledgers" / "partial_refunds.jsonl"
    text = explain_ledger(_program(), ledger.read_text().splitlines(), referrer="ann")
    assert "cash 5.00 USD comes back (5.00 USD taken back so far)" in text
    assert "cash 10.00 USD comes back (15.00 USD taken back so far)" in text
    pending = explain_ledger(_program(), ledger.read_text().splitlines(), as_of="2026-01-10T00:00:00Z", referrer="ann")
    assert "`refund.amount of payment.amount` back at each `refund where" in pending


def test_cli_score_lists_partial_reversals(capsys: pytest.CaptureFixture[str]) -> None:
    from rewardrules.cli import main

    code = main(["score", str(RULES), str(FOLDER / "ledgers" / "rounding.jsonl")])
    out = capsys.readouterr().out
    assert code == 0
    assert "cash 3.34 USD at 2026-02-02T00:00:00Z: partly voided by event f2 (6.67 USD taken back so far)" in out


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=rule_files(typed=True))
def test_generated_partial_voids_check_clean_and_format_stably(text: str) -> None:
    assert rewardrules.check_source(text) == []
    once = format_source(text)
    assert format_source(once) == once
    assert rewardrules.check_source(once) == []


def test_rule_tests_of_the_clawbacks_program_pass() -> None:
    from rewardrules.report.testing import read_test_file, run_cases

    results = run_cases(_program(), read_test_file(FOLDER / "clawbacks.test.toml"))
    assert len(results) == 3 and all(r.passed for r in results)


def test_strict_check_of_partial_voids() -> None:
    """RR606 stays silent on a partial void (a refund after the award is
    paid is what it is for) and still warns on the chargeback's `void if`."""
    from rewardrules.check.lint import lint

    program = _program()
    found = sorted((d.code, d.line) for d in lint(program.compiled.checked))
    assert ("RR606", 18) in found
    assert not any(code == "RR606" and line == 17 for code, line in found)
    assert not any(code == "RR615" for code, _ in found)  # linked to the payment


# -- hold and void per reward ---------------------------------------------------

HOLDS = GOLDEN / "reward_holds" / "reward_holds.rules"


def test_reward_terms_replace_the_milestones_hold_and_voids() -> None:
    base = """
milestone m {
  first payment
  reward referrer cash 100 USD { hold 30 days  void if refund within 30 days }
  reward referee discount 10 percent { }
  REST
}
"""
    assert _codes(base.replace("REST", "")) == []
    codes = [c for c, _ in _codes(base.replace("REST", "hold 7 days  void if refund within 7 days"))]
    assert codes == ["RR317", "RR317"]
    two = base.replace("{ hold 30 days", "{ hold 30 days  hold 2 days").replace("REST", "")
    assert [c for c, _ in _codes(two)] == ["RR306"]


def test_a_partial_void_in_one_rewards_terms_spares_a_percent_reward() -> None:
    shared = """
milestone m {
  each payment
  reward referrer cash 10% of payment.amount
  reward referee discount 5 percent
  void refund.amount of payment.amount if refund where refund.payment == payment.id
}
"""
    assert [c for c, _ in _codes(shared)] == ["RR316"]
    own = """
milestone m {
  each payment
  reward referrer cash 10% of payment.amount { void refund.amount of payment.amount if refund where refund.payment == payment.id }
  reward referee discount 5 percent
}
"""
    assert _codes(own) == []


def test_fmt_writes_reward_terms_on_the_rewards_line() -> None:
    messy = (
        HEAD
        + "milestone m { first payment\n reward referrer cash 5 USD {hold 3 days\n void if refund}\n reward referee cash 1 USD {} }\n"
    )
    once = format_source(messy)
    assert "  reward referrer cash 5 USD { hold 3 days  void if refund }\n" in once
    assert "  reward referee cash 1 USD { }\n" in once
    assert format_source(once) == once
    assert rewardrules.check_source(once) == []


def test_explain_tells_each_rewards_own_hold() -> None:
    ledger = GOLDEN / "reward_holds" / "ledgers" / "early_refund.jsonl"
    text = explain_ledger(_program(HOLDS), ledger.read_text().splitlines(), as_of="2026-01-05T00:00:00Z", referee="c2")
    assert "held until 2026-02-02T00:00:00Z (30-day hold); void if `refund where" in text
    assert "held until 2026-01-10T00:00:00Z (7-day hold)" in text
    assert "held until 2026-01-17T00:00:00Z (14-day hold); `refund.amount of payment.amount` back at each" in text


def test_strict_check_per_reward_hold() -> None:
    from rewardrules.check.lint import lint

    text = (
        HEAD
        + "milestone m { first payment  reward referrer cash 5 USD { hold 3 days  void if refund within 30 days }"
        + "  reward referee cash 1 USD  hold 30 days  void if refund within 30 days }\n"
    )
    program = rewardrules.compile(text)
    found = [(d.code, d.message) for d in lint(program.compiled.checked) if d.code != "RR604"]  # unused fields
    assert [c for c, _ in found] == ["RR606"]
    assert "the hold is 3 days" in found[0][1]


def test_a_share_without_a_value_takes_nothing_and_other_units_round_to_the_awards_decimals() -> None:
    text = """
event grant { total: optional quantity MB }
event cut { used: optional quantity MB }
milestone joined {
  first grant
  reward referee storage 500 MB
  void cut.used of grant.total if cut
}
"""
    program = rewardrules.compile(text)
    referral = '{"id": "r", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "a", "referee": "b"}'
    grant = '{"id": "g", "at": "2026-01-02T00:00:00Z", "type": "grant", "referee": "b", "total": 3}'
    cuts = [
        '{"id": "c0", "at": "2026-01-03T00:00:00Z", "type": "cut", "referee": "b"}',  # no part
        '{"id": "c1", "at": "2026-01-04T00:00:00Z", "type": "cut", "referee": "b", "used": 0}',  # nothing
        '{"id": "c2", "at": "2026-01-05T00:00:00Z", "type": "cut", "referee": "b", "used": 1}',
        '{"id": "c3", "at": "2026-01-06T00:00:00Z", "type": "cut", "referee": "b", "used": 1}',
        '{"id": "c4", "at": "2026-01-07T00:00:00Z", "type": "cut", "referee": "b", "used": 2}',
    ]
    data = program.score([referral, grant, *cuts]).data
    # 500 x 1/3 = 166.67 -> 167; 500 x 2/3 = 333.33 -> 333 (166 more); then all: 500 (167 more)
    assert [(r["why"]["event"], r["amount"], r["why"]["taken"]) for r in data["reversals"]] == [
        ("c2", "167", "167"),
        ("c3", "166", "333"),
        ("c4", "167", "500"),
    ]
    assert [a["status"] for a in data["awards"]] == ["confirmed"]
    no_whole = grant.replace(', "total": 3', "")  # the award's base has no value: nothing comes back
    assert program.score([referral, no_whole, *cuts]).data["reversals"] == []


def test_a_settled_award_the_run_no_longer_gives_is_taken_back_less_its_parts() -> None:
    program = _program()
    lines = (FOLDER / "ledgers" / "partial_refunds.jsonl").read_text().splitlines()
    head = [x for x in lines if json.loads(x)["id"] in ("r1", "p1", "f1")]
    first = program.score(head).data
    renamed = rewardrules.compile(RULES.read_text().replace("milestone commission", "milestone renamed"), "c.rules")
    data = renamed.score(head, settled=first).data
    old = first["awards"][0]["id"]
    back = sorted((r["amount"], r["id"] == reversal_id(old)) for r in data["reversals"] if r["reverses"] == old)
    assert back == [("15.00", True), ("5.00", False)]  # 5.00 back in part already, as told; the rest whole
    told = next(r for r in first["reversals"])
    assert told in data["reversals"]  # listed as the app was told it


# -- counts that follow reversals -----------------------------------------------

COUNTS = GOLDEN / "counts_voided" / "counts_voided.rules"


def test_unless_voided_names_a_per_referral_milestone_of_the_program() -> None:
    text = COUNTS.read_text()
    typo = text.replace("unless voided first_paid", "unless voided first_pad")
    found = [(d.code, d.message, d.help) for d in rewardrules.check_source(typo, "c.rules")]
    assert [(c, h) for c, _, h in found] == [("RR114", "did you mean `first_paid`?")]
    per_referrer = text.replace("unless voided first_paid", "unless voided three_paying")
    assert [d.code for d in rewardrules.check_source(per_referrer, "c.rules")] == ["RR318"]
    over_events = text.replace("where payment.amount > 0\n", "where payment.amount > 0 unless voided first_paid\n", 1)
    assert [d.code for d in rewardrules.check_source(over_events, "c.rules")] == ["RR318"]


def test_fmt_keeps_unless_voided_before_the_window() -> None:
    text = COUNTS.read_text()
    assert format_source(text) == text
    messy = text.replace("unless voided first_paid", "unless\n   voided   first_paid")
    assert format_source(messy) == text


def test_a_count_follows_reversals_only_when_the_program_says_so() -> None:
    """The default is unchanged: `count referrals` counts a conversion even
    when its award was voided (a refund does not unpay the payment the
    metric counts, and the reference programs keep their results)."""
    lines = (GOLDEN / "counts_voided" / "ledgers" / "basic.jsonl").read_text().splitlines()
    data = _program(COUNTS).score(lines).data
    (referrer,) = data["referrers"]
    assert referrer["metrics"] == {"conversions": "6", "kept": "4"}
    plain = rewardrules.compile(COUNTS.read_text().replace(" unless voided first_paid", ""), "c.rules")
    bonuses = [a["referee"] for a in plain.score(lines).data["awards"] if a["milestone"] == "every_two"]
    assert bonuses == ["b", "d", "f"]
