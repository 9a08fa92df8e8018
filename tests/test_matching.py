"""Matching files, the partner and customer ledger, and `rewardrules match`:
mistakes are reported at their place with a hint, records keep their shape
and their ids, and the command keeps the exit-code contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from rewardrules.cli import main
from rewardrules.core.diagnostics import CODES, Severity, render
from rewardrules.ledger.events import LedgerError
from rewardrules.match.api import load, load_text, match
from rewardrules.match.check import check_text
from rewardrules.match.events import FIELDS
from rewardrules.match.format import format_text
from rewardrules.match.schema import assignment_schema, event_schema

from .conftest import ROOT, RULESETS

REFERENCE = RULESETS / "matching" / "fasttrack_matching.rules"
GOLDEN = ROOT / "tests" / "golden_matching" / "fasttrack_matching"

MINIMAL = """\
matching small "A small program"
workload teams
workload security
attribute location
require endorsement, location
round robin by workload, location per quarter
tie break longest_idle, partner
"""


def diagnostics(text: str) -> list[tuple[int, int, str, str | None, str]]:
    """(line, column, code, help, message) of each diagnostic of a matching file."""
    return [(d.line, d.column, d.code, d.help, d.message) for d in check_text(text, "m.rules")[1]]


def event(kind: str, at: str, event_id: str, **fields: Any) -> str:
    return json.dumps({"id": event_id, "type": kind, "at": f"2026-{at}T09:00:00Z", **fields})


def partner(name: str, at: str = "01-01", **endorsements: Any) -> str:
    return event(
        "partner",
        at,
        f"p-{name}-{at}",
        partner=name,
        endorsements=endorsements or {"teams": None},
        attributes={"location": ["US"]},
    )


def request(name: str, at: str, *workloads: str, location: str = "US") -> str:
    return event(
        "request",
        at,
        f"r-{name}",
        request=name,
        customer=f"c-{name}",
        workloads=list(workloads or ("teams",)),
        attributes={"location": location},
    )


def matched(lines: list[str], text: str = MINIMAL, as_of: str | None = None) -> list[dict[str, Any]]:
    result = match(load_text(text), lines, as_of)
    records: list[dict[str, Any]] = result.to_dict()["assignments"]
    return records


# -- the checker -----------------------------------------------------------------


def test_the_reference_ruleset_checks_clean_even_strict() -> None:
    assert check_text(REFERENCE.read_text(encoding="utf-8"), str(REFERENCE))[1] == []


@pytest.mark.parametrize(
    ("line", "wrong", "code", "hint"),
    [
        ("require endorsment", "endorsment", "RR804", "did you mean `endorsement`?"),
        ("require locaton", "locaton", "RR804", "did you mean `location`?"),
        ("round robin by workloads", "workloads", "RR805", "did you mean `workload`?"),
        ("acceptance at least 80% by locatio per quarter", "locatio", "RR805", "did you mean `location`?"),
        ("round robin per quater", "quater", "RR807", "did you mean `quarter`?"),
        ("pause at most 30 dayz", "dayz", "RR809", "did you mean `days`?"),
        ("split up to 1", "1", "RR808", None),
        ("workload teams", "teams", "RR803", "the first is on line 2"),
    ],
)
def test_a_mistake_is_reported_at_its_place_with_a_hint(line: str, wrong: str, code: str, hint: str | None) -> None:
    base = MINIMAL.replace("require endorsement, location\n", "").replace(
        "round robin by workload, location per quarter\n", ""
    )
    text = base + line + "\n"
    found = [d for d in diagnostics(text) if d[2] == code]
    assert found, diagnostics(text)
    number = text.splitlines().index(line) + 1 if line != "workload teams" else text.count("\n")
    column = line.rindex(wrong) + 1 if code != "RR803" else len("workload ") + 1
    assert found[0][:3] == (number, column, code)
    if hint is not None:
        assert found[0][3] is not None and found[0][3].startswith(hint)


LONG = "9" * 31
TINY = "0." + "0" * 3000 + "1"


@pytest.mark.parametrize(
    ("line", "number", "digits"),
    [
        (f"pause at most {'9' * 5000} days", "9" * 5000, 5000),
        (f"pause at most {LONG} minutes", LONG, 31),
        (f"pause at most 30 days, at least {LONG} days apart", LONG, 31),
        (f"pause at most 30 days, at least {'0' * 30}1 days apart", "0" * 30 + "1", 31),
        (f"acceptance at least {TINY}% per quarter", TINY, 3001),
        (f"acceptance at least {'0' * 29}80% per quarter", "0" * 29 + "80", 31),
        (f"split up to {'0' * 30}3", "0" * 30 + "3", 31),
    ],
    ids=["pause", "pause-31", "gap", "gap-zeros", "acceptance", "acceptance-zeros", "split-zeros"],
)
def test_a_number_has_at_most_the_digits_of_a_reward_rule_file(line: str, number: str, digits: int) -> None:
    """Every number of a matching file (`split up to`, `pause at most`, its
    gap, `acceptance at least`) obeys `limits.MAX_LITERAL_DIGITS`, counted
    as written: `0.000…1%` printed as `1E-3001%`, and 5,000 nines passed."""
    text = MINIMAL + line + "\n"
    found = diagnostics(text)
    assert [d[:3] for d in found] == [(8, line.index(number) + 1, "RR808")]
    assert found[0][4] == f"number has {digits} digits (the limit is 30)"
    assert found[0][3] is not None and "at most 30 digits" in found[0][3]
    assert check_text(text, "m.rules")[0] is None


def test_a_number_of_thirty_digits_is_read() -> None:
    fits = MINIMAL + f"pause at most {'0' * 28}30 days, at least {'0' * 29}1 days apart\n"
    rules, found = check_text(fits + f"acceptance at least 80.{'0' * 28}% per quarter\nsplit up to {'0' * 29}3\n")
    assert found == [] and rules is not None
    assert (rules.split_max, rules.pause_max_ns, rules.pause_gap_ns) == (3, 30 * 86_400 * 10**9, 86_400 * 10**9)


def test_check_refuses_a_long_number_in_a_matching_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.rules"
    bad.write_text(MINIMAL + f"pause at most {'9' * 5000} days\n", encoding="utf-8")
    assert main(["check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:8:15: error[RR808]: number has 5000 digits (the limit is 30)" in out
    assert "= help: a number in a matching file has at most 30 digits" in out


def test_a_tie_break_that_can_leave_a_tie_is_refused() -> None:
    text = MINIMAL.replace("tie break longest_idle, partner", "tie break longest_idle")
    assert [d[:3] for d in diagnostics(text)] == [(7, 11, "RR806")]
    text = MINIMAL.replace("tie break longest_idle, partner\n", "")
    assert [d[2] for d in diagnostics(text)] == ["RR810"]


def test_a_syntax_error_says_what_was_expected() -> None:
    found = diagnostics("matching m\nclaims second\n")
    assert found == [(2, 8, "RR801", "expected `first`", "unexpected `second`")]
    found = diagnostics("matching m\nworkload teams\nrequire\n")
    assert found[0][2:4] == ("RR801", "expected a name")
    assert diagnostics("matching m @")[0][:3] == (1, 12, "RR801")


def test_missing_and_repeated_declarations() -> None:
    assert [d[2] for d in diagnostics("workload teams\ntie break partner\n")] == ["RR802"]
    found = diagnostics(MINIMAL + "matching again\nclaims first\nclaims first\n")
    assert [d[:3] for d in found] == [(8, 1, "RR802"), (10, 1, "RR803")]


def test_an_unused_attribute_is_a_warning() -> None:
    rules, found = check_text(MINIMAL + "attribute industry\n", "m.rules")
    assert rules is not None
    assert [(d.code, d.severity) for d in found] == [("RR811", Severity.WARNING)]


def test_every_matching_code_is_registered_and_documented() -> None:
    codes = [code for code in CODES if code.startswith("RR8")]
    assert codes == [*(f"RR8{n:02d}" for n in range(1, 13)), "RR830", "RR831"]
    page = (ROOT / "docs" / "matching.md").read_text(encoding="utf-8")
    assert all(f"`{code}`" in page for code in codes)


def test_check_reads_a_matching_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.rules"
    bad.write_text("matching m\nworkload teams\nrequire endorsment\ntie break partner\n", encoding="utf-8")
    assert main(["check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:3:9: error[RR804]: unknown gate `endorsment`" in out
    assert "= help: did you mean `endorsement`?" in out
    assert main(["check", str(REFERENCE), "--strict"]) == 0
    assert main(["check", "--format", "sarif", str(bad)]) == 1
    log = json.loads(capsys.readouterr().out)
    assert [r["ruleId"] for r in log["runs"][0]["results"]] == ["RR804"]


def test_a_rule_error_renders_like_the_reward_checker() -> None:
    found = check_text("matching m\nworkload teams\nround robin by locaton\ntie break partner\n", "m.rules")[1]
    assert render(found[0]).splitlines() == [
        "m.rules:3:16: error[RR805]: unknown attribute `locaton`",
        "   3 | round robin by locaton",
        "     |                ^^^^^^^",
        "     = help: declare it first: `attribute locaton`",
    ]


# -- the ledger ----------------------------------------------------------------------


def problems(lines: list[str]) -> list[tuple[int, str | None, str, str | None]]:
    with pytest.raises(LedgerError) as caught:
        match(load_text(MINIMAL), lines)
    return [(p.line, p.field, p.message, p.hint) for p in caught.value.problems]


def test_ledger_mistakes_have_their_line_and_field() -> None:
    found = problems(
        [
            partner("alpha"),
            json.dumps(
                {
                    "id": "x",
                    "type": "request",
                    "at": "2026-01-02T00:00:00Z",
                    "request": "R",
                    "customer": "c",
                    "workloads": ["temas"],
                    "attributes": {"locaton": "US"},
                }
            ),
            json.dumps({"id": "x", "type": "pause", "at": "2026-01-03T00:00:00Z", "partner": "alpha", "extra": 1}),
        ]
    )
    assert [(line, field) for line, field, _, _ in found] == [
        (2, "workloads"),
        (2, "attributes.locaton"),
        (2, "attributes.location"),
        (3, "extra"),
    ]
    assert found[0][3] == "did you mean `teams`?" and found[1][3] == "did you mean `location`?"


def test_an_event_that_contradicts_the_ledger_is_a_problem() -> None:
    found = problems(
        [
            partner("alpha"),
            event("pause", "01-02", "pa", partner="nobody"),
            event("accept", "01-03", "ac", request="R9", partner="alpha"),
            request("R1", "01-04"),
            request("R1", "01-05").replace('"r-R1"', '"r-again"'),
            event("resume", "01-06", "re", partner="alpha"),
        ]
    )
    assert [(line, field) for line, field, _, _ in found] == [
        (2, "partner"),
        (3, "partner"),
        (5, "request"),
        (6, "partner"),
    ]
    assert "no partner `nobody`" in found[0][2] and "holds no assignment" in found[1][2]


def test_a_repeated_event_id_is_a_problem() -> None:
    assert problems([partner("alpha"), partner("alpha")])[0][:2] == (2, "id")


def test_golden_ledgers_and_records_match_the_schemas() -> None:
    events = jsonschema.Draft202012Validator(event_schema())
    records = jsonschema.Draft202012Validator(assignment_schema())
    rules = load(REFERENCE)
    seen = 0
    for ledger in sorted(GOLDEN.glob("*.jsonl")):
        lines = ledger.read_text(encoding="utf-8").splitlines()
        for line in lines:
            events.validate(json.loads(line))
        for record in match(rules, lines).to_dict()["assignments"]:
            records.validate(record)
            seen += 1
    assert seen >= 30
    with pytest.raises(jsonschema.ValidationError):
        events.validate({"id": "x", "type": "pause", "at": "2026-01-01T00:00:00Z"})


def test_the_event_schema_accepts_what_the_reader_accepts_for_an_optional_field() -> None:
    """The reader takes an optional field given as `null` as absent, so the
    schema allows `null` there (as the reward ledger's schema does for its
    optional fields); a required field stays non-null in both."""
    events = jsonschema.Draft202012Validator(event_schema())
    at = "2026-01-0{}T09:00:00Z".format
    lines = [
        {"id": "p", "type": "partner", "at": at(1), "partner": "alpha", "endorsements": {"teams": None}},
        {"id": "r", "type": "request", "at": at(2), "request": "R1", "customer": "c", "workloads": ["teams"]},
        {"id": "d", "type": "decline", "at": at(3), "request": "R1", "partner": "alpha"},
    ]
    nulls = [{**lines[0], "attributes": None}, {**lines[1], "attributes": None}]
    nulls.append({**lines[2], "reason": None, "workloads": None})
    for line in nulls:
        events.validate(line)
    rules = load_text("matching m\nworkload teams\ntie break partner\n")
    plain = match(rules, [json.dumps(line) for line in lines]).to_dict()["assignments"]
    assert match(rules, [json.dumps(line) for line in nulls]).to_dict()["assignments"] == plain
    assert plain[0]["status"] == "declined"
    for kind, fields in FIELDS.items():
        variant = next(v for v in event_schema()["oneOf"] if v["properties"]["type"] == {"const": kind})
        for name, (required, _) in fields.items():
            nullable = {"type": "null"} in variant["properties"][name].get("anyOf", [])
            assert nullable is not required, (kind, name)
    with pytest.raises(jsonschema.ValidationError):
        events.validate({**lines[2], "partner": None})
    with pytest.raises(LedgerError):
        match(rules, [json.dumps(lines[0]), json.dumps(lines[1]), json.dumps({**lines[2], "partner": None})])


# -- records and ids ---------------------------------------------------------------------


def test_ids_are_stable_and_unaffected_by_unrelated_events() -> None:
    lines = [partner("alpha"), partner("bravo"), request("R1", "01-05"), request("R2", "01-06")]
    first = {r["request"]: r["id"] for r in matched(lines)}
    more = [*lines, partner("charlie", "03-01"), request("R3", "03-02")]
    again = {r["request"]: r["id"] for r in matched(more)}
    assert {k: again[k] for k in first} == first
    assert len(set(again.values())) == 3 and all(i.startswith("ma_") for i in again.values())


def test_a_split_without_split_goes_to_the_fallback_whole() -> None:
    lines = [partner("alpha"), partner("bravo", security=None), request("R1", "01-05", "teams", "security")]
    records = matched(lines, MINIMAL + "fallback center\n")
    assert [(r["partner"], r["kind"], r["workloads"], r["basis"]) for r in records] == [
        ("center", "fallback", ["teams", "security"], "fallback")
    ]
    records = matched(lines)
    assert [(r["partner"], r["kind"], r["status"]) for r in records] == [(None, "none", "unmatched")]
    records = matched(lines, MINIMAL + "split up to 2\n")
    assert [(r["partner"], r["workloads"], r["basis"]) for r in records] == [
        ("alpha", ["teams"], "split"),
        ("bravo", ["security"], "split"),
    ]


def test_an_answer_covers_every_part_the_partner_holds() -> None:
    """alpha takes teams of a split, becomes endorsed for security, and takes
    security too when bravo declines it: its accept answers both parts."""
    lines = [
        partner("alpha"),
        partner("bravo", security=None),
        request("R1", "01-05", "teams", "security"),
        partner("alpha", "01-06", teams=None, security=None),
        event("decline", "01-07", "d1", request="R1", partner="bravo"),
        event("accept", "01-08", "a1", request="R1", partner="alpha"),
    ]
    records = matched(lines, MINIMAL + "split up to 2\n")
    assert [(r["partner"], r["workloads"], r["status"]) for r in records] == [
        ("alpha", ["teams"], "accepted"),
        ("bravo", ["security"], "declined"),
        ("alpha", ["security"], "accepted"),
    ]
    with pytest.raises(LedgerError, match="has answered every assignment it holds"):
        matched([*lines, event("accept", "01-09", "a2", request="R1", partner="alpha")], MINIMAL + "split up to 2\n")


def test_as_of_leaves_later_events_out() -> None:
    lines = [partner("alpha"), request("R1", "01-05"), request("R2", "02-05")]
    assert [r["request"] for r in matched(lines, as_of="2026-01-31T00:00:00Z")] == ["R1"]


def test_without_a_pause_limit_a_pause_lasts_until_resumed() -> None:
    lines = [partner("alpha"), event("pause", "01-02", "pa", partner="alpha"), request("R1", "06-01")]
    assert [r["kind"] for r in matched(lines)] == ["none"]
    limited = MINIMAL + "pause at most 30 days\n"
    assert [r["partner"] for r in matched(lines, limited)] == ["alpha"]


# -- the command ---------------------------------------------------------------------------


def test_match_command_writes_json_and_text(capsys: pytest.CaptureFixture[str]) -> None:
    ledger = str(GOLDEN / "decline_and_acceptance.jsonl")
    assert main(["match", str(REFERENCE), ledger, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["matching"] == "fasttrack_matching" and data["as_of"] == "2026-04-03T09:00:00Z"
    assert len(data["assignments"]) == 7
    assert main(["match", str(REFERENCE), ledger, "--as-of", "2026-02-01T00:00:00Z"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("matching fasttrack_matching as of 2026-02-01T00:00:00Z: 6 assignments\n")
    assert "  2026-Q1 bravo US: 0 of 1 accepted (0.0%), 1 declined, 0 pending: BELOW (period open)\n" in text


def test_match_command_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = tmp_path / "l.jsonl"
    ledger.write_text('{"id": "x", "type": "nope", "at": "2026-01-01T00:00:00Z"}\n', encoding="utf-8")
    assert main(["match", str(REFERENCE), str(ledger)]) == 2
    err = capsys.readouterr().err
    assert f"{ledger}:1: error: field `type`: unknown event type `nope`" in err
    assert "nothing was matched" in err
    bad = tmp_path / "bad.rules"
    bad.write_text("matching m\n", encoding="utf-8")
    assert main(["match", str(bad), str(ledger)]) == 1
    assert main(["match", str(tmp_path / "missing.rules"), str(ledger)]) == 2
    assert main(["match", str(REFERENCE), str(ledger), "--as-of", "yesterday"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_accepted_assignments_become_referrals_the_reward_rules_score(capsys: pytest.CaptureFixture[str]) -> None:
    """match, then score: the partner that accepted is the referrer of the
    customer, from the instant it accepted; declined parts refer no one."""
    from rewardrules import load as load_rewards

    ledger = str(GOLDEN / "decline_and_acceptance.jsonl")
    assert main(["match", str(REFERENCE), ledger, "--format", "referrals"]) == 0
    referrals = capsys.readouterr().out.splitlines()
    assert [(json.loads(r)["referrer"], json.loads(r)["referee"], json.loads(r)["at"]) for r in referrals] == [
        ("alpha", "c1", "2026-01-06T09:00:00Z"),
        ("alpha", "c2", "2026-01-09T09:00:00Z"),
        ("bravo", "c4", "2026-04-03T09:00:00Z"),
    ]
    licenses = [
        json.dumps({"id": "l1", "at": "2026-05-01T00:00:00Z", "type": "licenses", "referee": "c2", "active": 310}),
        json.dumps({"id": "l2", "at": "2026-05-01T00:00:00Z", "type": "licenses", "referee": "c3", "active": 400}),
    ]
    result = load_rewards(RULESETS / "fasttrack_cpor.rules").score([*referrals, *licenses])
    awards = [(a["beneficiary"], a["referee"], a["amount"]) for a in result.data["awards"]]
    assert awards == [("alpha", "c2", "620.00")]


def test_diff_replays_history_under_a_changed_matching_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without `longest_idle` the partner id breaks ties: R3 and R4 change
    hands; the answers given to the old assignments do not apply and are
    listed, not refused."""
    new = tmp_path / "new.rules"
    new.write_text(REFERENCE.read_text(encoding="utf-8").replace("longest_idle, partner", "partner"), encoding="utf-8")
    ledger = str(GOLDEN / "decline_and_acceptance.jsonl")
    assert main(["diff", str(REFERENCE), str(new), ledger, "--format", "json"]) == 1
    diff = json.loads(capsys.readouterr().out)
    assert [(c["request"], c["workload"], c["old"]["partner"], c["new"]["partner"]) for c in diff["changed"]] == [
        ("R3", "teams", "ftc", "charlie"),
        ("R4", "teams", "bravo", "alpha"),
    ]
    assert diff["same"] == 2 and diff["stale"] == {"old": [], "new": ["d2", "a3"]}
    assert main(["diff", str(REFERENCE), str(REFERENCE), ledger]) == 0
    assert "0 workload(s) change hands, 4 unchanged" in capsys.readouterr().out
    broken = tmp_path / "broken.rules"
    broken.write_text("matching m\n", encoding="utf-8")
    assert main(["diff", str(REFERENCE), str(broken), ledger]) == 2


def test_diff_of_matching_files_in_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--format markdown gives Markdown for matching files too (it gave the
    text), in the style of the reward diff's; --max-awards-per-event, an
    option of reward rules, is refused rather than ignored."""
    new = tmp_path / "new.rules"
    new.write_text(REFERENCE.read_text(encoding="utf-8").replace("longest_idle, partner", "partner"), encoding="utf-8")
    ledger = str(GOLDEN / "decline_and_acceptance.jsonl")
    assert main(["diff", str(REFERENCE), str(new), ledger, "--format", "markdown"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "### rewardrules diff: `fasttrack_matching`",
        "",
        f"`{REFERENCE}` → `{new}` on `{ledger}`, as of `2026-04-03T09:00:00Z`.",
        "",
        "**2 workloads change hands**, 2 unchanged.",
        "",
        "| request | workload | old | new |",
        "| --- | --- | --- | --- |",
        "| R3 | teams | ftc (fallback, fallback) | charlie (round\\_robin, pending) |",
        "| R4 | teams | bravo (round\\_robin, accepted) | alpha (round\\_robin, pending) |",
        "",
        "Answers that do not apply under new: d2, a3.",
    ]
    assert main(["diff", str(REFERENCE), str(REFERENCE), ledger, "--format", "markdown"]) == 0
    assert "**No differences**: 4 workloads held the same." in capsys.readouterr().out
    assert main(["diff", str(REFERENCE), str(new), ledger, "--max-awards-per-event", "5"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == (
        f"rewardrules: error: --max-awards-per-event diffs reward rules; `{REFERENCE}` is a matching file\n"
    )


def test_matching_diff_markdown_makes_names_inert() -> None:
    from rewardrules.match.diff import diff_markdown

    evil = "[x](https://evil.example/)<img src=x onerror=alert(1)>**b**`t`|"
    side = {"partner": evil, "kind": "k", "basis": "round_robin", "status": "pending"}
    diff = {
        "old": "m",
        "new": "m",
        "as_of": "2026-01-01T00:00:00Z",
        "changed": [{"request": evil, "workload": "w", "old": None, "new": side}],
        "same": 0,
        "stale": {"old": [], "new": [evil]},
    }
    out = diff_markdown(diff, "a`b.rules", "n.rules", "l.jsonl")
    for raw in ("](", "<img", "**b", "`t`", "t`|"):
        assert raw not in out
    escaped = "\\[x\\]\\(https\\://evil\\.example/\\)&lt;img src=x onerror=alert\\(1\\)&gt;\\*\\*b\\*\\*\\`t\\`\\|"
    assert f"| {escaped} | w | (not requested) | {escaped} (round\\_robin, pending) |" in out
    assert f"under new: {escaped}." in out
    assert "``a`b.rules`` → `n.rules` on `l.jsonl`" in out


def test_a_new_partner_starts_level_and_gets_no_burst() -> None:
    """alpha and bravo have 5 referrals each when charlie joins: charlie
    takes every third referral from then on, not the next ten in a row."""
    before = [request(f"R{n}", f"01-{2 + n:02d}") for n in range(10)]
    after = [request(f"S{n}", f"01-{15 + n:02d}") for n in range(9)]
    lines = [partner("alpha"), partner("bravo"), *before, partner("charlie", "01-14"), *after]
    records = matched(lines)
    later = [r["partner"] for r in records if r["request"].startswith("S")]
    assert sorted(later) == ["alpha"] * 3 + ["bravo"] * 3 + ["charlie"] * 3
    assert later[:3] != ["charlie"] * 3


def test_a_partner_back_from_a_pause_gets_no_burst() -> None:
    """alpha pauses while bravo takes eight referrals; back, alpha shares
    the next ones with bravo instead of taking all of them."""
    paused = [request(f"R{n}", f"01-{5 + n:02d}") for n in range(8)]
    back = [request(f"S{n}", f"01-{20 + n:02d}") for n in range(6)]
    lines = [
        partner("alpha"),
        partner("bravo"),
        event("pause", "01-04", "pa", partner="alpha"),
        *paused,
        event("resume", "01-19", "re", partner="alpha"),
        *back,
    ]
    records = matched(lines)
    assert [r["partner"] for r in records if r["request"].startswith("R")] == ["bravo"] * 8
    assert sorted(r["partner"] for r in records if r["request"].startswith("S")) == ["alpha"] * 3 + ["bravo"] * 3


def test_request_narrows_the_output_to_one_request(capsys: pytest.CaptureFixture[str]) -> None:
    ledger = str(GOLDEN / "decline_and_acceptance.jsonl")
    assert main(["match", str(REFERENCE), ledger, "--request", "R3", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(a["partner"], a["status"]) for a in data["assignments"]] == [
        ("charlie", "declined"),
        ("alpha", "declined"),
        ("ftc", "fallback"),
    ]
    assert data["acceptance"] is None
    assert main(["match", str(REFERENCE), ledger, "--request", "R33"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "rewardrules: error: no request `R33` as of 2026-04-03T09:00:00Z",
        "     = help: did you mean `R3`?",
    ]


@pytest.mark.parametrize("kind", [[], {"a": 1}, 7, None])
def test_a_type_that_is_no_string_is_a_problem_of_its_field(kind: object) -> None:
    (found,) = problems([json.dumps({"id": "x", "type": kind, "at": "2026-01-01T00:00:00Z"})])
    assert found[:2] == (1, "type") and found[2].startswith("unknown event type")


@pytest.mark.parametrize(
    ("clause", "column", "hint"),
    [
        ("requre endorsement", 1, "did you mean `require`?"),
        ("claim first", 1, "did you mean `claims`?"),
        ("round robn", 7, "did you mean `robin`?"),
        ("split up 3", 10, "expected `to`"),
    ],
)
def test_a_misspelt_keyword_gets_the_keyword_as_its_hint(clause: str, column: int, hint: str) -> None:
    (found,) = diagnostics(f"matching m\nworkload teams\n{clause}\n")
    assert found[:4] == (3, column, "RR801", hint)


def test_a_time_zone_moves_where_periods_start() -> None:
    """01:00 UTC on April 1 is still March 31 in New York: with the file's
    time zone there, the referral is counted and measured in Q1."""
    late = json.loads(request("R1", "03-02"))
    late["at"] = "2026-04-01T01:00:00Z"
    lines = [partner("alpha"), json.dumps(late)]
    acceptance = "acceptance at least 80% by location per quarter\n"
    zoned = MINIMAL.replace('"A small program"', '"A small program" timezone "America/New_York"') + acceptance
    for text, period, start in (
        (MINIMAL + acceptance, "2026-Q2", "2026-04-01T00:00:00Z"),
        (zoned, "2026-Q1", "2026-01-01T05:00:00Z"),
    ):
        result = match(load_text(text), lines).to_dict()
        assert result["assignments"][0]["why"]["counts"].endswith(f"since {start}")
        assert [row["period"] for row in result["acceptance"]["rows"]] == [period]
        assert format_text(text)[0] == text
    assert [d[:3] for d in diagnostics(MINIMAL.replace('program"', 'program" timezone "Mars/Olympus"'))] == [
        (1, 43, "RR812")
    ]
