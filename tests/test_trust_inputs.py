"""Untrusted inputs at the trust boundary (docs/reliability.md): test files
may only read inside their folder and never make a diagnostic quote another
file; ledger money carries its currency; number literals are bounded as
written; Stripe payloads that conflict, or cannot be read, are clear errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

import rewardrules
from rewardrules.cli import main
from rewardrules.ledger import LedgerError

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
    code, output = run_cli(capsys, "test", layout, "--coverage")
    assert code == 2 and "hunter2" not in output
    assert "evil.rules` is a symbolic link leading outside" in output


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


def test_cli_names_line_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(json.dumps(REFERRAL) + "\n" + json.dumps(payment(amount="1000000", currency="JPY")) + "\n")
    code, output = run_cli(capsys, "score", RULESETS / "partner_and_customer.rules", ledger)
    assert code == 2
    assert f'{ledger}:2: error: field `amount`: `amount` is in "JPY"' in output
