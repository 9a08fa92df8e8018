"""Untrusted inputs at the trust boundary (docs/reliability.md): test files
may only read inside their folder and never make a diagnostic quote another
file; ledger money carries its currency; number literals are bounded as
written; Stripe payloads that conflict, or cannot be read, are clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from rewardrules.cli import main

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
