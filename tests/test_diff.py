"""`diff` (docs/diff.md): two versions of a rule file replayed on one
ledger; awards added, removed and changed (matched by id), per milestone and
referrer, and the cost change per unit. Exit 0 equal, 1 different, 2 bad
input."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

import rewardrules
from rewardrules.cli import main
from rewardrules.diffing import diff_ledger, diff_results

from .conftest import GOLDEN, RULESETS

SAAS = (RULESETS / "saas_milestones.rules").read_text()
HOLD = (RULESETS / "partner_and_customer.rules").read_text()
LEDGER = GOLDEN / "saas_milestones" / "several_at_once_and_drop.jsonl"
# mrr_1k needs 1500 (carol's comes later), arr_10k needs 12000 (dave never
# gets it), arr_5k pays 1200, and a new milestone mrr_800 pays 100
NEW = (
    SAAS.replace("when mrr >= 1000 USD", "when mrr >= 1500 USD")
    .replace("when arr >= 10000 USD", "when arr >= 12000 USD")
    .replace("reward referrer cash 1000 USD", "reward referrer cash 1200 USD")
    + '\nmilestone mrr_800 "MRR reached $800" {\n  when mrr >= 800 USD\n  reward referrer cash 100 USD\n}\n'
)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "OLD.rules").write_text(SAAS)
    (tmp_path / "NEW.rules").write_text(NEW)
    (tmp_path / "ledger.jsonl").write_text(LEDGER.read_text())
    return tmp_path


TEXT = (
    "diff of `OLD.rules` -> `NEW.rules` on `ledger.jsonl` as of 2026-04-01T00:00:00Z\n"
    "\n"
    "2 added, 1 removed, 3 changed, 1 unchanged\n"
    "\n"
    "added:\n"
    "  + 2026-01-31T22:30:00Z mrr_800: cash 100.00 USD to alice (referrer), referral alice -> carol, confirmed  [aw_642dfcfd67617296133e4dc84cefc9a4]\n"
    "  + 2026-02-03T10:00:00Z mrr_800: cash 100.00 USD to zoe (referrer), referral zoe -> dave, confirmed  [aw_49b219101e947a03158abeb8a41989bb]\n"
    "\n"
    "removed:\n"
    "  - 2026-02-04T10:00:00Z arr_10k: cash 2000.00 USD to zoe (referrer), referral zoe -> dave, confirmed  [aw_a0dbee19ccd4ad1b7ae51e4116dd2dfb]\n"
    "\n"
    "changed:\n"
    "  ~ arr_5k: to alice (referrer), referral alice -> carol  [aw_ffdf8836158b1826ff1c257c98dd1219]\n"
    "      amount: 1000.00 -> 1200.00\n"
    "  ~ arr_5k: to zoe (referrer), referral zoe -> dave  [aw_1d7a54a8d2960dc4afff4da102572a7a]\n"
    "      amount: 1000.00 -> 1200.00\n"
    "  ~ mrr_1k: to alice (referrer), referral alice -> carol  [aw_da690c6c93e89c67d9cb7534573fdb04]\n"
    "      at: 2026-01-31T22:30:00Z -> 2026-04-01T00:00:00Z\n"
    "\n"
    "cost (confirmed + pending), old -> new:\n"
    "  USD: 6500.00 -> 5100.00 (-1400.00)\n"
    "\n"
    "by milestone:\n"
    "  arr_10k: 1 removed; USD -2000.00\n"
    "  arr_5k: 2 changed; USD +400.00\n"
    "  mrr_1k: 1 changed\n"
    "  mrr_800: 2 added; USD +200.00\n"
    "\n"
    "by referrer:\n"
    "  alice: 1 added, 2 changed; USD +300.00\n"
    "  zoe: 1 added, 1 removed, 1 changed; USD -1700.00\n"
)


MARKDOWN = (
    "### rewardrules diff: `saas_milestones`\n"
    "\n"
    "`OLD.rules` → `NEW.rules` on `ledger.jsonl`, as of `2026-04-01T00:00:00Z`.\n"
    "\n"
    "**2 added, 1 removed, 3 changed**, 1 unchanged.\n"
    "\n"
    "| unit | old | new | change |\n"
    "| --- | ---: | ---: | ---: |\n"
    "| USD | 6500.00 | 5100.00 | -1400.00 |\n"
    "\n"
    "Cost: amounts of `confirmed` and `pending` awards.\n"
    "\n"
    "#### Added (2)\n"
    "\n"
    "| at | milestone | beneficiary | referral | reward | status |\n"
    "| --- | --- | --- | --- | --- | --- |\n"
    "| 2026-01-31T22:30:00Z | mrr\\_800 | alice (referrer) | alice → carol | cash 100.00 USD | confirmed |\n"
    "| 2026-02-03T10:00:00Z | mrr\\_800 | zoe (referrer) | zoe → dave | cash 100.00 USD | confirmed |\n"
    "\n"
    "#### Removed (1)\n"
    "\n"
    "| at | milestone | beneficiary | referral | reward | status |\n"
    "| --- | --- | --- | --- | --- | --- |\n"
    "| 2026-02-04T10:00:00Z | arr\\_10k | zoe (referrer) | zoe → dave | cash 2000.00 USD | confirmed |\n"
    "\n"
    "#### Changed (3)\n"
    "\n"
    "| milestone | beneficiary | referral | change |\n"
    "| --- | --- | --- | --- |\n"
    "| arr\\_5k | alice (referrer) | alice → carol | amount: 1000.00 → 1200.00 |\n"
    "| arr\\_5k | zoe (referrer) | zoe → dave | amount: 1000.00 → 1200.00 |\n"
    "| mrr\\_1k | alice (referrer) | alice → carol | at: 2026-01-31T22:30:00Z → 2026-04-01T00:00:00Z |\n"
    "\n"
    "#### By milestone\n"
    "\n"
    "| name | added | removed | changed | cost change |\n"
    "| --- | ---: | ---: | ---: | --- |\n"
    "| arr\\_10k | 0 | 1 | 0 | USD -2000.00 |\n"
    "| arr\\_5k | 0 | 0 | 2 | USD +400.00 |\n"
    "| mrr\\_1k | 0 | 0 | 1 | none |\n"
    "| mrr\\_800 | 2 | 0 | 0 | USD +200.00 |\n"
    "\n"
    "#### By referrer\n"
    "\n"
    "| name | added | removed | changed | cost change |\n"
    "| --- | ---: | ---: | ---: | --- |\n"
    "| alice | 1 | 0 | 2 | USD +300.00 |\n"
    "| zoe | 1 | 1 | 1 | USD -1700.00 |\n"
)


def test_text(versions: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "diff", "OLD.rules", "NEW.rules", "ledger.jsonl")
    assert (code, out, err) == (1, TEXT, "")


def test_markdown(versions: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "diff", "OLD.rules", "NEW.rules", "ledger.jsonl", "--format", "markdown")
    assert (code, out) == (1, MARKDOWN)


def test_json(versions: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "diff", "OLD.rules", "NEW.rules", "ledger.jsonl", "--format", "json")
    assert code == 1
    payload = json.loads(out)
    assert payload["equal"] is False
    assert payload["summary"] == {"added": 2, "removed": 1, "changed": 3, "unchanged": 1}
    assert payload["cost"] == [{"unit": "USD", "old": "6500.00", "new": "5100.00", "delta": "-1400.00"}]
    assert [(c["new"]["milestone"], c["fields"]) for c in payload["changed"]] == [
        ("arr_5k", ["amount"]),
        ("arr_5k", ["amount"]),
        ("mrr_1k", ["at"]),
    ]
    assert [a["milestone"] for a in payload["added"]] == ["mrr_800", "mrr_800"]
    assert [(a["milestone"], a["referee"]) for a in payload["removed"]] == [("arr_10k", "dave")]
    by_referrer = {g["referrer"]: g for g in payload["by_referrer"]}
    assert by_referrer["zoe"]["cost"] == [{"unit": "USD", "old": "3000.00", "new": "1300.00", "delta": "-1700.00"}]


def test_equal_rules_exit_0(versions: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "diff", "OLD.rules", "OLD.rules", "ledger.jsonl")
    assert code == 0
    assert out.endswith("\nno differences: 5 awards the same\n")
    code, out, _ = run_cli(capsys, "diff", "OLD.rules", "OLD.rules", "ledger.jsonl", "--format", "markdown")
    assert code == 0 and "**No differences**: 5 awards the same." in out


def test_a_reformatted_file_is_equal(versions: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (versions / "SAME.rules").write_text("# reworded comments only\n" + SAAS.replace("\n\n", "\n\n\n"))
    code, _, _ = run_cli(capsys, "diff", "OLD.rules", "SAME.rules", "ledger.jsonl")
    assert code == 0


def test_only_the_amount_changes(versions: Path) -> None:
    old = rewardrules.compile(SAAS)
    new = rewardrules.compile(SAAS.replace("reward referrer cash 500 USD", "reward referrer cash 750 USD"))
    diff = diff_ledger(old, new, LEDGER.read_bytes().splitlines())
    assert not diff.added and not diff.removed
    assert [(c.new["milestone"], c.fields, c.old["amount"], c.new["amount"]) for c in diff.changed] == [
        ("mrr_1k", ["amount"], "500.00", "750.00")
    ]
    assert [(c.unit, c.delta) for c in diff.costs] == [("USD", Decimal("250.00"))]


def test_status_changes_with_a_shorter_hold(versions: Path) -> None:
    ledger = (GOLDEN / "partner_and_customer" / "hold_pending_asof.jsonl").read_bytes().splitlines()
    old = rewardrules.compile(HOLD)
    new = rewardrules.compile(HOLD.replace("hold 30 days", "hold 10 days"))
    diff = diff_ledger(old, new, ledger, as_of="2026-05-01T00:00:00Z")
    assert [(c.new["referee"], c.fields, c.old["status"], c.new["status"]) for c in diff.changed] == [
        ("c2", ["status"], "pending", "confirmed"),
        ("c4", ["status"], "pending", "confirmed"),
    ]
    assert diff.costs[0].delta == 0  # pending and confirmed both count as cost


def test_renamed_ruleset_changes_every_id(versions: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (versions / "RENAMED.rules").write_text(SAAS.replace("ruleset saas_milestones", "ruleset saas_v2"))
    code, out, _ = run_cli(capsys, "diff", "OLD.rules", "RENAMED.rules", "ledger.jsonl")
    assert code == 1
    assert "note: the rule files name different rulesets (`saas_milestones`, `saas_v2`)" in out
    assert "5 added, 5 removed, 0 changed, 0 unchanged" in out
    assert "  USD: 6500.00 -> 6500.00 (0.00)" in out


def test_renamed_ruleset_note_keeps_its_code_spans_in_markdown(
    versions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The note's own code spans were escaped into `\\`saas\\_milestones\\`` (review, 2026-12-08)."""
    (versions / "RENAMED.rules").write_text(SAAS.replace("ruleset saas_milestones", "ruleset saas_v2"))
    code, out, _ = run_cli(capsys, "diff", "OLD.rules", "RENAMED.rules", "ledger.jsonl", "--format", "markdown")
    assert code == 1
    assert "> **Note:** the rule files name different rulesets (`saas_milestones`, `saas_v2`): award ids" in out


def test_reversals_reduce_the_cost() -> None:
    award = {
        "id": "aw_1",
        "at": "2026-01-01T00:00:00Z",
        "milestone": "m",
        "role": "referrer",
        "beneficiary": "a",
        "referrer": "a",
        "referee": "b",
        "kind": "cash",
        "amount": "100.00",
        "unit": "USD",
        "item": None,
        "status": "confirmed",
        "message": None,
    }
    reversal = {**award, "id": "rv_1", "reverses": "aw_1", "at": "2026-03-01T00:00:00Z"}
    old = {"ruleset": "r", "as_of": "2026-04-01T00:00:00Z", "awards": [award]}
    new = {**old, "reversals": [reversal]}
    diff = diff_results(old, new)
    assert diff.equal  # the awards are the same
    assert [(c.unit, c.old, c.new) for c in diff.costs] == [("USD", Decimal("100.00"), Decimal("0.00"))]
    assert [(g.name, g.summary()) for g in diff.by_milestone] == [("m", "USD -100.00")]


def test_stdin_ledger(versions: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(LEDGER.read_bytes())))
    code, out, _ = run_cli(capsys, "diff", "OLD.rules", "NEW.rules", "-")
    assert code == 1
    assert out.startswith("diff of `OLD.rules` -> `NEW.rules` on `<stdin>`")


@pytest.mark.parametrize(
    ("old", "new", "ledger", "extra", "expected"),
    [
        ("OLD.rules", "BROKEN.rules", "ledger.jsonl", [], "error[RR102]"),
        ("MISSING.rules", "NEW.rules", "ledger.jsonl", [], "cannot read `MISSING.rules`"),
        ("OLD.rules", "NEW.rules", "missing.jsonl", [], "cannot read `missing.jsonl`"),
        ("OLD.rules", "NEW.rules", "bad.jsonl", [], "nothing was compared"),
        ("OLD.rules", "STRICT.rules", "ledger.jsonl", [], "under NEW `saas_milestones`"),
        ("OLD.rules", "NEW.rules", "ledger.jsonl", ["--as-of", "yesterday"], "--as-of: "),
    ],
    ids=["invalid-rules", "missing-rules", "missing-ledger", "invalid-ledger", "invalid-under-new", "bad-as-of"],
)
def test_bad_input_is_exit_2(
    versions: Path,
    capsys: pytest.CaptureFixture[str],
    old: str,
    new: str,
    ledger: str,
    extra: list[str],
    expected: str,
) -> None:
    (versions / "BROKEN.rules").write_text(SAAS.replace("subscription.mrr", "subscription.mr"))
    # a required field the ledger's subscriptions do not have
    (versions / "STRICT.rules").write_text(SAAS.replace("mrr: money USD", "mrr: money USD\n  plan: text"))
    (versions / "bad.jsonl").write_text('{"id": "x"}\n')
    code, out, err = run_cli(capsys, "diff", old, new, ledger, *extra)
    assert code == 2 and out == ""
    assert expected in err and "Traceback" not in err
