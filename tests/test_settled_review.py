"""Settled statements after a hostile review (docs/semantics.md, "Settled
awards and late events"; docs/embedding.md, the payout loop):

- "as paid" is the whole reward (kind, unit, item and amount): a rule edit
  that keeps an award's id but changes its currency, kind or item reverses
  what was paid, in what it was paid, and reissues the new reward;
- a statement is of one ruleset: another ruleset's is refused, not clawed
  back award by award;
- `--settled` is read as a rule file is (a regular file, bounded), for
  `score`, `explain` and `report`, and its texts as a ledger's;
- text output lists the reversals and the reissued awards.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import rewardrules
from rewardrules import limits
from rewardrules.cli import common, main
from rewardrules.core.formatting import quoted
from rewardrules.ids import reissue_id, reversal_id
from rewardrules.models import ScoreOutput

from .conftest import ROOT, RULESETS
from .test_input_bounds import _cli  # the CLI in a child: a timeout and a cap on memory

PARTNERS = (RULESETS / "partner_and_customer.rules").read_text()
MILESTONES = (RULESETS / "referral_milestones.rules").read_text()
AS_OF = "2026-03-01T00:00:00Z"
LEDGER = [
    {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "alice", "referee": "bob"},
    {"id": "p1", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "bob", "amount": "50.00"},
]
CUSTOMER = [{**LEDGER[0], "source": "customer"}, LEDGER[1]]


def edited(text: str, old: str, new: str) -> rewardrules.Program:
    """The rule file with one reward edited (the same ruleset, milestones
    and so award ids)."""
    assert old in text
    return rewardrules.compile(text.replace(old, new))


def reversal_of(result: dict[str, Any], award: str) -> dict[str, Any]:
    (reversal,) = [r for r in result["reversals"] if r["reverses"] == award]
    return reversal


def reward(record: dict[str, Any]) -> tuple[str, str, str, str | None]:
    return (record["kind"], record["amount"], record["unit"], record["item"])


# -- 1. the whole reward is what was paid ------------------------------------------


def test_a_changed_currency_is_reversed_in_the_currency_paid_and_reissued() -> None:
    paid = rewardrules.compile(PARTNERS).score(CUSTOMER, as_of=AS_OF).data
    (award,) = paid["awards"]
    assert reward(award) == ("cash", "100.00", "USD", None)
    program = edited(PARTNERS, "cash 100 USD", "cash 90 EUR")
    result = program.score(CUSTOMER, as_of=AS_OF, settled=paid).data
    kept, new = result["awards"]
    assert kept["id"] == award["id"] and reward(kept) == ("cash", "100.00", "USD", None)
    reversal = reversal_of(result, award["id"])
    assert reward(reversal) == ("cash", "100.00", "USD", None)
    assert reversal["why"] == {"event": None, "reason": "its reward changed after it was paid"}
    assert reward(new) == ("cash", "90.00", "EUR", None)
    assert new["id"] == reissue_id(award["id"], "90.00", "EUR", 1) and new["why"]["reissues"] == award["id"]
    totals = {(t["unit"], t["status"]): t["amount"] for t in result["totals"]}
    assert totals[("USD", "reversed")] == "100.00" and ("EUR", "reversed") not in totals
    ScoreOutput.model_validate(result)


def test_the_same_amount_in_another_currency_is_not_as_paid() -> None:
    paid = rewardrules.compile(PARTNERS).score(CUSTOMER, as_of=AS_OF).data
    program = edited(PARTNERS, "cash 100 USD", "cash 100 EUR")
    result = program.score(CUSTOMER, as_of=AS_OF, settled=paid).data
    assert [reward(r) for r in result["reversals"]] == [("cash", "100.00", "USD", None)]
    assert [reward(a) for a in result["awards"]] == [("cash", "100.00", "USD", None), ("cash", "100.00", "EUR", None)]


def test_a_changed_kind_is_reversed_as_the_kind_paid() -> None:
    ledger = [LEDGER[0], {**LEDGER[1], "amount": "10.00"}]
    paid = rewardrules.compile(MILESTONES).score(ledger, as_of=AS_OF).data
    referee = next(a for a in paid["awards"] if a["milestone"] == "welcome_discount" and a["role"] == "referee")
    program = edited(MILESTONES, "reward referee discount 10 percent", "reward referee credit 10 USD")
    result = program.score(ledger, as_of=AS_OF, settled=paid).data
    assert [r["reverses"] for r in result["reversals"]] == [referee["id"]]
    assert reward(result["reversals"][0]) == ("discount", "10", "percent", None)
    kept = next(a for a in result["awards"] if a["id"] == referee["id"])
    assert reward(kept) == ("discount", "10", "percent", None) and kept["status"] == "confirmed"
    (new,) = [a for a in result["awards"] if (a.get("why") or {}).get("reissues") == referee["id"]]
    assert reward(new) == ("credit", "10.00", "USD", None)


def five_conversions() -> list[dict[str, Any]]:
    ledger = []
    for n in range(5):
        ledger.append(
            {
                "id": f"r{n}",
                "at": f"2026-01-0{n + 1}T00:00:00Z",
                "type": "referral",
                "referrer": "alice",
                "referee": f"b{n}",
            }
        )
        ledger.append(
            {
                "id": f"p{n}",
                "at": f"2026-01-0{n + 1}T01:00:00Z",
                "type": "payment",
                "referee": f"b{n}",
                "amount": "10.00",
            }
        )
    return ledger


def test_a_changed_item_is_reversed_and_reissued() -> None:
    ledger = five_conversions()
    paid = rewardrules.compile(MILESTONES).score(ledger, as_of=AS_OF).data
    (item,) = [a for a in paid["awards"] if a["kind"] == "item"]
    program = edited(MILESTONES, '"Complimentary annual subscription"', '"Trip to Rome"')
    result = program.score(ledger, as_of=AS_OF, settled=paid).data
    assert [r["reverses"] for r in result["reversals"]] == [item["id"]]
    assert reward(result["reversals"][0]) == ("item", "1", "item", "Complimentary annual subscription")
    items = [reward(a) for a in result["awards"] if a["kind"] == "item"]
    assert items == [("item", "1", "item", "Complimentary annual subscription"), ("item", "1", "item", "Trip to Rome")]


class App:
    """The payout loop of docs/embedding.md: pay what is confirmed and not
    paid, claw back what is reversed and paid, hand both to the next run."""

    def __init__(self) -> None:
        self.paid: dict[str, dict[str, Any]] = {}
        self.clawed: dict[str, dict[str, Any]] = {}

    def run(self, program: rewardrules.Program, ledger: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
        statement = {
            "ruleset": program.name,
            "awards": list(self.paid.values()),
            "reversals": list(self.clawed.values()),
        }
        result = program.score(ledger, as_of=AS_OF, settled=statement).data
        pay = [a for a in result["awards"] if a["status"] == "confirmed" and a["id"] not in self.paid]
        back = [r for r in result["reversals"] if r["id"] not in self.clawed and r["reverses"] in self.paid]
        self.paid.update((a["id"], a) for a in pay)
        self.clawed.update((r["id"], r) for r in back)
        return [a["id"] for a in pay], [r["id"] for r in back]

    def held(self) -> dict[tuple[str, str, str | None], Decimal]:
        """What each kind/unit/item nets to: paid less clawed back."""
        net: dict[tuple[str, str, str | None], Decimal] = {}
        for record, sign in [*((a, 1) for a in self.paid.values()), *((r, -1) for r in self.clawed.values())]:
            key = (record["kind"], record["unit"], record["item"])
            net[key] = net.get(key, Decimal(0)) + sign * Decimal(record["amount"])
        return {k: v for k, v in net.items() if v}


def test_an_item_changed_twice_pays_each_item_once_and_claws_each_back() -> None:
    """The reissued id holds amount and unit, not the item: the second
    change meets the id the first one was paid under, which the run lists
    as paid and reverses before paying the new item under the next attempt."""
    ledger = five_conversions()
    app = App()
    app.run(rewardrules.compile(MILESTONES), ledger)
    rome = edited(MILESTONES, '"Complimentary annual subscription"', '"Trip to Rome"')
    pay, back = app.run(rome, ledger)
    assert len(pay) == len(back) == 1 and app.paid[pay[0]]["item"] == "Trip to Rome"
    first = app.paid[pay[0]]["why"]["reissues"]
    assert pay[0] == reissue_id(first, "1", "item", 1)
    lisbon = edited(MILESTONES, '"Complimentary annual subscription"', '"Trip to Lisbon"')
    pay, back = app.run(lisbon, ledger)
    assert back == [reversal_id(reissue_id(first, "1", "item", 1))]
    assert pay == [reissue_id(first, "1", "item", 2)] and app.paid[pay[0]]["item"] == "Trip to Lisbon"
    assert app.clawed[back[0]]["item"] == "Trip to Rome"
    assert app.run(lisbon, ledger) == ([], [])  # replayed: nothing new
    items = {key: amount for key, amount in app.held().items() if key[0] == "item"}
    assert items == {("item", "item", "Trip to Lisbon"): Decimal(1)}


def test_a_payout_loop_over_currency_edits_holds_what_the_last_rules_give() -> None:
    app = App()
    for rules in (PARTNERS, PARTNERS.replace("cash 100 USD", "cash 90 EUR"), PARTNERS):
        app.run(rewardrules.compile(rules), CUSTOMER)
    assert app.run(rewardrules.compile(PARTNERS), CUSTOMER) == ([], [])
    assert app.held() == {("cash", "USD", None): Decimal("100.00")}


@pytest.mark.parametrize("amount", ["100." + "0" * 40, "100.001", "1." + "1" * 40])
def test_a_settled_amount_finer_than_its_currency_is_refused(amount: str) -> None:
    paid = rewardrules.compile(PARTNERS).score(CUSTOMER, as_of=AS_OF).data
    paid["awards"][0]["amount"] = amount
    with pytest.raises(rewardrules.LedgerError, match="at most 2 decimal") as caught:
        rewardrules.compile(PARTNERS).score(CUSTOMER, as_of=AS_OF, settled=paid)
    (problem,) = caught.value.problems
    assert (problem.line, problem.field) == (1, "amount")


def test_a_settled_amount_with_fewer_decimals_is_as_paid() -> None:
    paid = rewardrules.compile(PARTNERS).score(CUSTOMER, as_of=AS_OF).data
    paid["awards"][0]["amount"] = "100"
    result = rewardrules.compile(PARTNERS).score(CUSTOMER, as_of=AS_OF, settled=paid).data
    assert result["reversals"] == [] and [a["amount"] for a in result["awards"]] == ["100.00"]


# -- 2. one ruleset's statement ----------------------------------------------------


def test_a_previous_result_of_another_ruleset_is_refused() -> None:
    other = rewardrules.compile(PARTNERS).score(CUSTOMER, as_of=AS_OF).data
    with pytest.raises(rewardrules.LedgerError, match="of ruleset `partner_and_customer`, not") as caught:
        rewardrules.compile(MILESTONES).score(LEDGER, as_of=AS_OF, settled=other)
    assert caught.value.problems[0].field == "ruleset"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"program": "customers"}, "program", "has no program `customers`"),
        ({"milestone": "customer_conversion"}, "milestone", "has no milestone `customer_conversion`"),
        ({"ruleset": "partner_and_customer"}, "ruleset", "an award of ruleset `partner_and_customer`"),
    ],
)
def test_an_award_record_of_another_ruleset_is_refused_by_entry(
    change: dict[str, str], field: str, message: str
) -> None:
    program = rewardrules.compile(MILESTONES)
    paid = program.score(five_conversions(), as_of=AS_OF).data["awards"]
    statement = [paid[0], {**paid[1], **change}]
    with pytest.raises(rewardrules.LedgerError, match=message) as caught:
        program.score(five_conversions(), as_of=AS_OF, settled=statement)
    (problem,) = caught.value.problems
    assert (problem.line, problem.field) == (2, field)


def test_a_reversal_record_of_another_ruleset_is_refused() -> None:
    program = rewardrules.compile(MILESTONES)
    award = "aw_" + "0" * 32
    statement = {"awards": [], "reversals": [{"id": reversal_id(award), "reverses": award, "ruleset": "other"}]}
    with pytest.raises(rewardrules.LedgerError, match="of ruleset `other`") as caught:
        program.score([], settled=statement)
    assert (caught.value.problems[0].line, caught.value.problems[0].field) == (1, "ruleset")


def test_a_statement_of_this_ruleset_may_list_a_milestone_removed_since() -> None:
    paid = rewardrules.compile(PARTNERS).score(CUSTOMER, as_of=AS_OF).data
    renamed = edited(PARTNERS, "milestone customer_conversion ", "milestone conversion ")
    result = renamed.score(CUSTOMER, as_of=AS_OF, settled=paid).data  # the previous result names its ruleset
    old = paid["awards"][0]["id"]
    assert reversal_of(result, old)["why"]["reason"] == "paid, but this run no longer gives it"
    labelled = [{**paid["awards"][0], "ruleset": "partner_and_customer"}]  # a bare list names it per record
    assert reversal_of(renamed.score(CUSTOMER, as_of=AS_OF, settled=labelled).data, old)["amount"] == "100.00"
    with pytest.raises(rewardrules.LedgerError, match="no milestone `customer_conversion`"):
        renamed.score(CUSTOMER, as_of=AS_OF, settled=paid["awards"])  # named by neither: refused


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("command", [("score",), ("explain",), ("report", "-o", "out.html")])
def test_the_cli_refuses_another_rulesets_statement_as_the_statements_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: tuple[str, ...]
) -> None:
    other = rewardrules.compile(PARTNERS).score(CUSTOMER, as_of=AS_OF).to_json()
    rules = _write(tmp_path, "m.rules", MILESTONES)
    ledger = _write(tmp_path, "l.jsonl", "".join(json.dumps(e) + "\n" for e in LEDGER))
    argv = [command[0], str(rules), str(ledger), *command[1:], "--settled", str(_write(tmp_path, "s.json", other))]
    if command[0] == "report":
        argv[argv.index("out.html")] = str(tmp_path / "out.html")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "field `ruleset`: the statement is of ruleset `partner_and_customer`" in err
    assert "the settled statement has a problem" in err and "the ledger has" not in err


# -- 3. texts as the ledger reader checks them -------------------------------------


@pytest.mark.parametrize("where", ["beneficiary", "ruleset"])
def test_a_lone_surrogate_in_a_settled_text_is_refused_with_the_ledgers_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    paid = rewardrules.compile(PARTNERS).score(CUSTOMER, as_of=AS_OF).data
    paid["awards"][0][where] = "ev\ud800il"
    rules = _write(tmp_path, "p.rules", PARTNERS)
    ledger = _write(tmp_path, "l.jsonl", "".join(json.dumps(e) + "\n" for e in CUSTOMER))
    statement = _write(tmp_path, "s.json", json.dumps(paid))  # ASCII JSON: "\ud800" escaped
    assert main(["score", str(rules), str(ledger), "--format", "json", "--settled", str(statement)]) == 2
    err = capsys.readouterr().err
    assert f"{statement}:1: error: field `{where}`: not valid Unicode text" in err
    assert "escape a character outside the BMP as a surrogate pair" in err


# -- 4. read as a rule file is --------------------------------------------------------


@pytest.mark.parametrize("command", ["score", "explain", "report"])
def test_settled_refuses_a_fifo_instead_of_waiting_for_a_writer(tmp_path: Path, command: str) -> None:
    pipe = tmp_path / "settled.json"
    os.mkfifo(pipe)
    ledger = str(ROOT / "examples" / "tiny.jsonl")
    out = ["-o", str(tmp_path / "out.html")] if command == "report" else []
    process = _cli(command, str(RULESETS / "saas_milestones.rules"), ledger, *out, "--settled", str(pipe))
    assert process.returncode == 2
    assert "--settled: cannot read" in process.stderr and "it is a fifo, not a regular file" in process.stderr


def test_settled_refuses_dev_zero() -> None:
    ledger = str(ROOT / "examples" / "tiny.jsonl")
    process = _cli("score", str(RULESETS / "saas_milestones.rules"), ledger, "--settled", "/dev/zero")
    assert process.returncode == 2 and "it is a device, not a regular file" in process.stderr


def test_a_settled_file_past_its_limit_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    statement = _write(tmp_path, "s.json", json.dumps({"awards": []}) + " " * 100)
    ledger = str(ROOT / "examples" / "tiny.jsonl")
    argv = ("score", str(RULESETS / "saas_milestones.rules"), ledger, "--settled", str(statement))
    process = _cli(*argv, lowered=("MAX_SETTLED_FILE_BYTES=100",))
    assert process.returncode == 2
    assert "is larger than 100 bytes, the limit for a settled statement" in process.stderr
    assert _cli(*argv, lowered=(f"MAX_SETTLED_FILE_BYTES={statement.stat().st_size}",)).returncode == 0
    assert limits.MAX_SETTLED_FILE_BYTES == 256 * 1024 * 1024


def test_memory_running_out_on_a_settled_file_is_an_error_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    statement = _write(tmp_path, "s.json", '{"awards": []}')

    def out_of_memory(data: bytes) -> Any:
        raise MemoryError

    monkeypatch.setattr(common.json, "loads", out_of_memory)
    assert common.read_settled_file(str(statement)) == 2
    assert f"--settled: {quoted(statement)} does not fit in memory" in capsys.readouterr().err  # cut when long


# -- 5. text output ------------------------------------------------------------------


def test_score_text_lists_reversals_and_reissued_awards(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paid = rewardrules.compile(PARTNERS).score(CUSTOMER, as_of=AS_OF).data
    (award,) = paid["awards"]
    rules = _write(tmp_path, "v2.rules", PARTNERS.replace("cash 100 USD", "cash 90 EUR"))
    ledger = _write(tmp_path, "l.jsonl", "".join(json.dumps(e) + "\n" for e in CUSTOMER))
    statement = _write(tmp_path, "s.json", json.dumps(paid))
    assert main(["score", str(rules), str(ledger), "--as-of", AS_OF, "--settled", str(statement)]) == 0
    out = capsys.readouterr().out
    new = reissue_id(award["id"], "90.00", "EUR", 1)
    assert (
        f"reversals (take back what the award paid):\n  {reversal_id(award['id'])} reverses {award['id']}: "
        f"alice cash 100.00 USD at {AS_OF}: its reward changed after it was paid\n"
    ) in out
    assert (
        f"reissued awards (each replaces an award reversed):\n  {new} reissues {award['id']}: alice cash 90.00 EUR\n"
        in out
    )


def test_score_text_names_the_event_of_a_reversal_and_escapes_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = [
        {**CUSTOMER[0], "referrer": "al\x1b[31mice"},
        CUSTOMER[1],
        {"id": "z1", "at": "2026-01-20T00:00:00Z", "type": "refund", "referee": "bob", "payment": "p1"},
    ]
    paid = rewardrules.compile(PARTNERS).score(ledger[:2], as_of="2026-02-02T00:00:00Z").data
    rules = _write(tmp_path, "p.rules", PARTNERS)
    path = _write(tmp_path, "l.jsonl", "".join(json.dumps(e) + "\n" for e in ledger))
    statement = _write(tmp_path, "s.json", json.dumps(paid))
    assert main(["score", str(rules), str(path), "--as-of", AS_OF, "--settled", str(statement)]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if " reverses " in line)
    assert line.endswith(": voided after it was paid by event z1")
    assert "al\\x1b[31mice cash 100.00 USD at 2026-01-20T00:00:00Z" in line and "\x1b" not in out
