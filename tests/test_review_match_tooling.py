"""A hostile review of the matching tooling (`score --match`, `explain`,
`test` and `report` for matching files): what a newcomer or an attacker
gets wrong, and how it is told."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT, RULESETS
from .test_match_tooling import CPOR, LICENSES, MATCHING, PARTNERS, run

#: payout rules whose `referral` events need a field that no referral
#: `--match` makes has: every generated referral is a ledger problem
NEEDS_CHANNEL = """\
ruleset needs_channel "Referrals need a channel"

event referral {
  channel: text
}
event licenses { active: number }

milestone big "Big" {
  first licenses where licenses.active >= 1
  reward referrer cash 5 USD
}
"""


def _ledger_lines() -> int:
    return len(LICENSES.read_text(encoding="utf-8").splitlines())


def test_a_problem_in_a_referral_of_match_is_not_told_as_a_line_of_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The referrals come after LEDGER's lines; one the payout rules refuse
    was told as `licenses.jsonl:4`, a line the file does not have."""
    rules = tmp_path / "needs_channel.rules"
    rules.write_text(NEEDS_CHANNEL, encoding="utf-8")
    code, _, err = run(capsys, "score", str(rules), str(LICENSES), "--match", str(MATCHING), str(PARTNERS))
    assert code == 2
    beyond = f"{LICENSES}:{_ledger_lines() + 1}:"
    assert beyond not in err
    assert f"<referrals --match made from {PARTNERS}>:1: error: field `channel`" in err
    assert "1 problem(s) (1 in the referrals of --match); nothing was scored" in err


def test_an_id_of_ledger_taken_by_a_referral_of_match_is_told_at_both_places(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """LEDGER holds an event with the id of a referral `--match` makes
    (another referrer): refused, the referral told as the referral's, the
    LEDGER line it collides with by its number in LEDGER."""
    code, out, _ = run(capsys, "match", str(MATCHING), str(PARTNERS), "--format", "referrals")
    assert code == 0
    referral = out.splitlines()[0].replace('"contoso"', '"mallory"')
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(LICENSES.read_text(encoding="utf-8") + referral + "\n", encoding="utf-8")
    code, _, err = run(capsys, "score", str(CPOR), str(ledger), "--match", str(MATCHING), str(PARTNERS))
    assert code == 2
    assert f"{ledger}:{_ledger_lines() + 2}:" not in err
    assert f"<referrals --match made from {PARTNERS}>:1: error: field `id`" in err
    assert f"already used on line {_ledger_lines() + 1}" in err


def test_problems_in_ledger_and_in_the_referrals_are_each_at_their_own_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "needs_channel.rules"
    rules.write_text(NEEDS_CHANNEL, encoding="utf-8")
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text("{not json\n\n", encoding="utf-8")
    code, _, err = run(capsys, "score", str(rules), str(ledger), "--match", str(MATCHING), str(PARTNERS))
    assert code == 2
    assert f"{ledger}:1: error: invalid JSON" in err
    assert f"<referrals --match made from {PARTNERS}>:1: error: field `channel`" in err
    assert f"{ledger}:3:" not in err
    assert "2 problem(s) (1 in the referrals of --match)" in err


# -- the language server, the matching file closed ----------------------------


def _analysed_alone(tmp_path: Path, tests_text: str) -> Any:
    """A matching file's test file as the server sees it with the matching
    file closed (the server reads no file)."""
    from rewardrules.lsp.documents import analyse

    return analyse((tmp_path / "m.test.toml").as_uri(), tests_text, False, lambda _: None)


def test_a_matching_test_file_opened_alone_has_no_false_award_errors(tmp_path: Path) -> None:
    """Every expectation of a matching file's tests was "unknown award
    field" until the matching file was opened too: a newcomer opening
    fasttrack_matching.test.toml saw every case in red."""
    from rewardrules.lsp.runs import run as run_cases

    tests_text = (RULESETS / "matching" / "fasttrack_matching.test.toml").read_text(encoding="utf-8")
    alone = _analysed_alone(tmp_path, tests_text)
    assert [d.message for d in alone.diagnostics] == []
    assert run_cases(alone, lambda _: None)[1] == "open m.rules to run these tests (the server reads no file)"


def test_a_mistake_in_a_matching_test_file_opened_alone_is_still_told(tmp_path: Path) -> None:
    tests_text = '[[case]]\nname = "one"\nevents = []\nexpect = [ { partnr = "contoso" } ]\n'
    messages = [d.message for d in _analysed_alone(tmp_path, tests_text).diagnostics]
    assert any("unknown award field `partnr`" in message for message in messages)


# -- explain's JSON form is documented ----------------------------------------


def _keys(value: Any) -> set[str]:
    """Every key of a JSON value, at any depth."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_every_key_of_explain_json_is_documented(capsys: pytest.CaptureFixture[str]) -> None:
    """A tool reading `explain --format json` learns its shape from
    docs/matching.md ("Explaining an assignment"): every key, at any depth,
    and the text a value of `compared` may be besides an instant."""
    code, out, _ = run(capsys, "explain", str(MATCHING), str(PARTNERS), "--format", "json")
    assert code == 0
    data = json.loads(out)
    docs = (ROOT / "docs" / "matching.md").read_text(encoding="utf-8")
    section = docs[docs.index("## Explaining an assignment") : docs.index("## The report page")]
    assert not {key for key in _keys(data) if f"`{key}`" not in section}
    never = [c for e in data["explanations"] for d in e["decisions"] for c in d["compared"] if c["value"] == "never"]
    assert never and '`"never"`' in section


# -- LEDGER and EVENTS on one stream -------------------------------------------


def test_ledger_and_events_on_one_pipe_are_refused_not_read_once() -> None:
    """`score R - --match M /dev/stdin` (or the other way round) read one
    pipe: EVENTS, read first, took all of it, LEDGER was empty and the score
    came out wrong with exit 0. Only `-` twice was refused."""
    from .test_cli import MODULE, run_processes

    events = PARTNERS.read_bytes()
    ledger = LICENSES.read_bytes()
    one_pipe = [
        ([*MODULE, "score", CPOR, "-", "--match", MATCHING, "/dev/stdin"], events),
        ([*MODULE, "score", CPOR, "/dev/stdin", "--match", MATCHING, "-"], ledger),
    ]
    apart = [
        ([*MODULE, "score", CPOR, "-", "--match", MATCHING, PARTNERS], ledger),
        ([*MODULE, "score", CPOR, LICENSES, "--match", MATCHING, "/dev/stdin"], events),
    ]
    processes = run_processes(*((argv, stdin, None) for argv, stdin in one_pipe + apart))
    for process in processes[:2]:
        assert process.returncode == 2, process.stdout.decode()
        assert b"both read standard input (or one pipe)" in process.stderr
        assert process.stdout == b""
    for process in processes[2:]:
        assert process.returncode == 0, process.stderr.decode()
        assert b"1 award(s)" in process.stdout


def test_swapped_arguments_of_match_are_told_in_its_own_words(capsys: pytest.CaptureFixture[str]) -> None:
    """`--match EVENTS MATCHING` was told "the rule file comes first: RULES
    LEDGER", the usage of another command."""
    code, _, err = run(capsys, "score", str(CPOR), str(LICENSES), "--match", str(PARTNERS), str(MATCHING))
    assert code == 2
    assert "are the arguments swapped? the rule file comes first: --match MATCHING EVENTS" in err


def test_explain_of_a_request_of_another_customer_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    """`--request RFA-1 --customer tailspin` explained "0 assignments" with
    exit 0: both exist, RFA-1 is fabrikam's."""
    code, out, err = run(
        capsys, "explain", str(MATCHING), str(PARTNERS), "--request", "RFA-1", "--customer", "tailspin"
    )
    assert (code, out) == (2, "")
    assert "request `RFA-1` is not a request of customer `tailspin`" in err
    assert "it is `fabrikam`'s" in err
    code, out, _ = run(capsys, "explain", str(MATCHING), str(PARTNERS), "--request", "RFA-1", "--customer", "fabrikam")
    assert code == 0 and "1 assignment explained" in out


# -- report -o never writes over an input ----------------------------------------


@pytest.mark.parametrize("rules", [MATCHING, CPOR], ids=["matching", "reward"])
def test_report_never_writes_over_the_ledger_or_the_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rules: Path
) -> None:
    """`report RULES ledger.jsonl -o ledger.jsonl` (a slip of the hand)
    replaced the ledger with the HTML page: the money records were gone."""
    source = PARTNERS if rules == MATCHING else LICENSES
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_bytes(source.read_bytes())
    copy = tmp_path / "rules.rules"
    copy.write_bytes(rules.read_bytes())
    for output, name in ((ledger, "LEDGER"), (copy, "RULESET")):
        code, out, err = run(capsys, "report", str(copy), str(ledger), "-o", str(output))
        assert (code, out) == (2, ""), err
        assert f"is the {name} the report was made from" in err
    assert ledger.read_bytes() == source.read_bytes()
    assert copy.read_bytes() == rules.read_bytes()
    code, _, err = run(capsys, "report", str(copy), str(ledger), "-o", str(tmp_path / "page.html"))
    assert code == 0, err
    assert (tmp_path / "page.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_one_device_read_twice_is_no_stream(capsys: pytest.CaptureFixture[str]) -> None:
    """`/dev/null` as both LEDGER and EVENTS reads empty twice: no one pipe."""
    code, out, err = run(capsys, "score", str(CPOR), "/dev/null", "--match", str(MATCHING), "/dev/null")
    assert code == 0, err
    assert "0 award(s)" in out


def test_the_language_server_tells_an_unknown_workload_as_rewardrules_test_does(tmp_path: Path) -> None:
    """`rewardrules test` refuses an expectation naming a workload the
    matching file does not declare; the editor showed nothing for it."""
    from rewardrules.lsp.documents import analyse

    rules_path = tmp_path / "m.rules"
    rules = analyse(rules_path.as_uri(), MATCHING.read_text(encoding="utf-8"), False, lambda _: None)
    tests_text = '[[case]]\nname = "one"\nevents = []\nexpect_none = [ { workloads = ["teamz"] } ]\n'
    tests = analyse(
        (tmp_path / "m.test.toml").as_uri(), tests_text, False, lambda p: rules if p == str(rules_path) else None
    )
    messages = [d.message for d in tests.diagnostics]
    assert len(messages) == 1 and "has no workload `teamz`" in messages[0], messages
    assert "did you mean `teams`?" in messages[0]
    assert tests.diagnostics[0].range.start.line == 0
