"""Output for people and tools, as a newcomer reads it: withheld rewards say
what they would have paid and are shown (not counted), a referral's rows
name the referee, percentages are counted rather than summed, progress reads
as English, and names from ledgers and rule files cannot forge lines or
reach a terminal as control sequences."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import rewardrules
from rewardrules.cli import main
from rewardrules.diagnostics import render
from rewardrules.diffing import diff_results
from rewardrules.explain import explain
from rewardrules.htmlreport import build_view

from .conftest import ROOT

CAPPED = """\
ruleset capped

event payment { amount: money USD }

cap referrer 100 USD

milestone first_paid {
  first payment where payment.amount > 0
  reward referrer cash 100 USD
}
"""

DISCOUNTS = """\
ruleset discounts

event payment { amount: money USD }
event subscription { mrr: money USD }

metric mrr = latest subscription.mrr

milestone welcome {
  first payment where payment.amount > 0
  reward referee discount 20 percent
  reward referrer discount 10 percent
}

milestone big {
  when mrr >= 500 USD
  reward referrer cash 50 USD
}

milestone bigger {
  when mrr > 900 USD
  reward referrer cash 50 USD
}
"""


def _ledger(*events: dict[str, Any]) -> list[str]:
    return [json.dumps(e) for e in events]


def _referral(n: int, referrer: str, referee: str) -> dict[str, Any]:
    return {
        "id": f"r{n}",
        "at": f"2026-01-01T00:00:0{n}Z",
        "type": "referral",
        "referrer": referrer,
        "referee": referee,
    }


def _payment(n: int, referee: str, day: int) -> dict[str, Any]:
    return {
        "id": f"p{n}",
        "at": f"2026-01-{day:02d}T00:00:00Z",
        "type": "payment",
        "referee": referee,
        "amount": "10.00",
    }


CAPPED_LEDGER = _ledger(
    _referral(1, "carlos", "a"), _referral(2, "carlos", "b"), _payment(1, "a", 2), _payment(2, "b", 3)
)


def _cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _files(tmp_path: Path, rules: str, ledger: list[str]) -> tuple[Path, Path]:
    (tmp_path / "p.rules").write_text(rules)
    (tmp_path / "l.jsonl").write_text("\n".join(ledger) + "\n")
    return tmp_path / "p.rules", tmp_path / "l.jsonl"


# -- 1. withheld rewards ------------------------------------------------------


def test_withheld_record_says_what_it_would_have_paid_and_fits_the_schema() -> None:
    data = rewardrules.compile(CAPPED).score(CAPPED_LEDGER).data
    (withheld,) = data["withheld"]
    assert withheld["referee"] == "b"
    assert (withheld["kind"], withheld["amount"], withheld["unit"], withheld["item"]) == ("cash", "100.00", "USD", None)
    assert withheld["reason"] == "cap of 100 USD reached"
    jsonschema.Draft202012Validator(rewardrules.json_schema("result")).validate(data)
    schema = rewardrules.json_schema("result")
    assert "amount" in schema["$defs"]["Withheld"]["properties"]


def test_a_milestone_withheld_by_a_cap_has_no_next_step() -> None:
    """The cap took the whole reward: explain must not go on to say the
    milestone is still waiting for a payment."""
    program = rewardrules.compile(CAPPED)
    data = program.score(CAPPED_LEDGER).data
    (entry,) = data["referrals"][1]["programs"][0]["milestones"]
    assert entry["withheld"] is True and "progress" not in entry
    told = explain(data, referee="b", program=program)
    assert "not issued: cash 100.00 USD to carlos (referrer) for `first_paid`: cap of 100 USD reached" in told
    assert "next:" not in told and "waiting" not in told


def test_score_text_shows_withheld_rows_outside_the_totals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules, ledger = _files(tmp_path, CAPPED, CAPPED_LEDGER)
    code, out, _ = _cli(capsys, "score", rules, ledger)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "capped: 1 award(s), 1 withheld as of 2026-01-03T00:00:00Z"
    rows = [line.split(None, 6) for line in lines if line.startswith("2026-")]
    assert rows == [
        ["2026-01-02T00:00:00Z", "first_paid", "referrer", "carlos", "a", "cash", "100.00 USD  confirmed"],
        [
            "2026-01-03T00:00:00Z",
            "first_paid",
            "referrer",
            "carlos",
            "b",
            "cash",
            "100.00 USD  withheld: cap of 100 USD reached",
        ],
    ]
    assert "  cash confirmed: 100.00 USD in 1 award(s)" in lines


# -- 2. referee column --------------------------------------------------------


def test_score_text_tells_two_rewards_of_one_referrer_apart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = _ledger(
        _referral(1, "carlos", "acme"),
        _referral(2, "carlos", "globex"),
        _payment(1, "acme", 2),
        _payment(2, "globex", 2),
    )
    rules, path = _files(tmp_path, DISCOUNTS, ledger)
    _, out, _ = _cli(capsys, "score", rules, path)
    lines = out.splitlines()
    assert lines[2].split() == ["at", "milestone", "role", "beneficiary", "referee", "amount", "status"]
    referrer_rows = [line.split()[4] for line in lines if line.startswith("2026-") and " referrer " in line]
    assert referrer_rows == ["acme", "globex"]


# -- 3. percentages are counted, not summed -----------------------------------


def _discounts() -> tuple[rewardrules.Program, list[str]]:
    ledger = _ledger(
        _referral(1, "carlos", "a"), _referral(2, "carlos", "b"), _referral(3, "dana", "c"),
        _payment(1, "a", 2), _payment(2, "b", 3), _payment(3, "c", 4),
    )  # fmt: skip
    return rewardrules.compile(DISCOUNTS), ledger


def test_percent_totals_count_awards_per_rate() -> None:
    program, ledger = _discounts()
    totals = program.score(ledger).data["totals"]
    assert {
        "unit": "percent",
        "kind": "discount",
        "status": "confirmed",
        "count": 3,
        "amount": "10",
        "each": True,
    } in totals
    assert {
        "unit": "percent",
        "kind": "discount",
        "status": "confirmed",
        "count": 3,
        "amount": "20",
        "each": True,
    } in totals
    assert not any(t["unit"] == "percent" and t["amount"] in ("60", "30", "90") for t in totals)


def test_score_text_counts_percent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, ledger = _discounts()
    rules, path = _files(tmp_path, DISCOUNTS, ledger)
    _, out, _ = _cli(capsys, "score", rules, path)
    assert "  discount confirmed: 3 award(s) of 10 percent\n" in out
    assert "  discount confirmed: 3 award(s) of 20 percent\n" in out
    assert "percent in " not in out


def test_diff_counts_percent_awards_per_rate() -> None:
    program, ledger = _discounts()
    old = program.score(ledger, explain=False).data
    new = program.score(ledger[:-1], explain=False).data  # dana's referee no longer pays
    diff = diff_results(old, new)
    costs = {(c["unit"], c.get("each")): c for c in diff.to_dict()["cost"]}
    assert costs[("percent", "20")] == {"unit": "percent", "each": "20", "old": "3", "new": "2", "delta": "-1"}
    assert "  20 percent: 3 award(s) -> 2 award(s) (-1 award(s))" in diff.text()
    assert "| 20 percent | 3 award(s) | 2 award(s) | -1 award(s) |" in diff.markdown()


def test_html_report_counts_percent() -> None:
    program, ledger = _discounts()
    view = build_view(program, program.score(ledger).data)
    card = next(c for c in view["cards"] if c["unit"] == "percent")
    assert card["statuses"] == [{"status": "confirmed", "amount": "3 × 10%, 3 × 20%"}]
    assert [t["display"] for t in view["totals"] if t["unit"] == "percent"] == ["3 × 10%", "3 × 20%"]
    (chart,) = [c for c in view["charts"] if c.unit == "percent"]
    assert "in all" not in chart.summary


# -- 4. progress in plain words -----------------------------------------------


def test_progress_of_a_metric_without_a_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules, path = _files(tmp_path, DISCOUNTS, _ledger(_referral(1, "carlos", "a")))
    _, out, _ = _cli(capsys, "score", rules, path)
    assert "  a (referred by carlos): big: no `mrr` yet (needs 500 USD)\n" in out
    assert "  a (referred by carlos): bigger: no `mrr` yet (needs more than 900 USD)\n" in out
    assert "is not set of" not in out


def test_progress_of_every_and_increase_without_a_value() -> None:
    program = rewardrules.compile(
        "ruleset r\nevent s { n: quantity points }\nmetric n = latest s.n\n"
        "milestone e { every 3 n\n reward referrer cash 1 USD }\n"
        "milestone i { whenever n increases\n reward referrer cash 1 USD }\n"
    )
    data = program.score(_ledger(_referral(1, "carlos", "a"))).data
    progress = [m["progress"] for m in data["referrals"][0]["programs"][0]["milestones"]]
    assert progress == ["no `n` yet; rewarded every 3 points", "no `n` yet; each rise is rewarded"]


# -- 5. names are printed safely ----------------------------------------------

FORGED = "evil\n2026-01-01T00:00:00Z  first_paid  referrer  mallory  x  cash 999.00 USD  confirmed\x1b[2J|pipe"


def test_printable_escapes_controls_and_markdown_cells_escape_pipes() -> None:
    from rewardrules.formatting import markdown_text as markdown_cell  # (a table cell's escaping)
    from rewardrules.formatting import printable  # the one escaping function, new

    assert printable("a\nb\x1b[31m\u202ec\td\x7f") == "a\\nb\\x1b[31m\\u202ec\\td\\x7f"
    assert printable("plain, ünïcode ✓") == "plain, ünïcode ✓"
    assert markdown_cell("a|b\nc") == "a\\|b\\\\nc"


def test_markdown_text_makes_every_markup_character_inert() -> None:
    from rewardrules.formatting import markdown_code, markdown_text

    assert markdown_text("[x](https://evil.example/)") == "\\[x\\]\\(https\\://evil\\.example/\\)"
    assert markdown_text("<img src=x onerror=alert(1)> & co") == "&lt;img src=x onerror=alert\\(1\\)&gt; &amp; co"
    assert markdown_text("**bold** _em_ `code` ~~s~~ #1 @you $x$") == (
        "\\*\\*bold\\*\\* \\_em\\_ \\`code\\` \\~\\~s\\~\\~ \\#1 \\@you \\$x\\$"
    )
    assert markdown_text("plain words, ünïcode") == "plain words, ünïcode"
    # a code span: one backtick more than the longest run in it, padded when it starts or ends with one
    assert markdown_code("a/b.rules") == "`a/b.rules`"
    assert markdown_code("x``y.rules") == "```x``y.rules```"
    assert markdown_code("`x`") == "`` `x` ``"
    assert markdown_code("a|b", in_table=True) == "`a\\|b`"


def test_diff_markdown_names_and_paths_inject_no_markup(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    link, html, bold = "[x](https://evil.example/)", "<img src=x onerror=alert(1)>", "**bold**`tick`"
    ledger = _ledger(_referral(1, link, html), _payment(1, html, 2), _referral(2, bold, "b"), _payment(2, "b", 3))
    folder = tmp_path / "a`b"
    folder.mkdir()
    old, path = _files(folder, CAPPED, ledger)
    new = folder / "n.rules"
    new.write_text(CAPPED.replace("cash 100 USD", "cash 50 USD"))
    code, out, _ = _cli(capsys, "diff", old, new, path, "--format", "markdown")
    assert code == 1
    for raw in (link, html, bold, "<img", "](", "**bold"):
        assert raw not in out
    assert "\\[x\\]\\(https\\://evil\\.example/\\)" in out
    assert "&lt;img src=x onerror=alert\\(1\\)&gt;" in out
    assert "\\*\\*bold\\*\\*\\`tick\\`" in out
    # a path with a backtick stays one code span: fenced by two
    assert f"``{old}`` → ``{new}`` on ``{path}``" in out


def _forged_ledger() -> list[str]:
    return _ledger(
        _referral(1, "carlos", FORGED), _payment(1, FORGED, 2), _referral(2, "carlos", "b"), _payment(2, "b", 3)
    )


def _assert_safe(text: str, lines: int | None = None) -> None:
    assert "\x1b" not in text and "\u202e" not in text
    # the forged row stays inside its cell (Markdown doubles the backslash)
    assert "mallory" not in text or "evil\\n2026" in text.replace("\\\\", "\\")
    if lines is not None:
        assert len(text.splitlines()) == lines


def test_score_and_explain_text_escape_ledger_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules, path = _files(tmp_path, CAPPED, _forged_ledger())
    _, out, _ = _cli(capsys, "score", rules, path)
    _assert_safe(out)
    rows = [line for line in out.splitlines() if line.startswith("2026-")]
    assert len(rows) == 2 and "evil\\n2026-01-01T00:00:00Z" in rows[0]
    _, told, _ = _cli(capsys, "explain", rules, path)
    _assert_safe(told)
    assert not any(line.lstrip().startswith("2026-01-01T00:00:00Z  first_paid") for line in told.splitlines())


def test_diff_text_and_markdown_escape_names() -> None:
    program = rewardrules.compile(CAPPED)
    other = rewardrules.compile(CAPPED.replace("cash 100 USD", "cash 50 USD"))
    ledger = _forged_ledger()
    diff = diff_results(program.score(ledger, explain=False).data, other.score(ledger, explain=False).data)
    text, markdown = diff.text(), diff.markdown()
    _assert_safe(text)
    _assert_safe(markdown)
    changed = [line for line in markdown.splitlines() if "evil" in line]
    assert changed and all(line.count(" | ") == 3 and "\\|pipe" in line for line in changed)


def test_check_escapes_what_it_echoes_from_a_rule_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.rules").write_text(
        "ruleset r\nevent payment { amount: money USD }\nmilestone m { first payment where payment.am\x1b[2Jout > 0\n reward referrer cash 1 USD }\n"
    )
    code, out, err = _cli(capsys, "check", tmp_path / "bad.rules")
    assert code == 1
    _assert_safe(out + err)
    assert "\\x1b[2J" in out
    code, out, _ = _cli(capsys, "check", "--format", "github", tmp_path / "bad.rules")
    _assert_safe(out)


def test_diagnostic_caret_stays_under_escaped_text() -> None:
    diagnostics = rewardrules.check_source(
        'ruleset r\nevent e { a: text }\nmilestone m { first e where \x1bq.x == ""\n reward referrer cash 1 USD }\n'
    )
    shown = "\n".join(render(d) for d in diagnostics)
    _assert_safe(shown)


def test_rule_test_output_escapes_case_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "p.rules").write_text(CAPPED)
    (tmp_path / "p.test.toml").write_text(
        '[[case]]\nname = "fails\\u001b[31m\\nforged ok"\nevents = [\n'
        '  { id = "r1", at = 2026-01-01T00:00:00Z, type = "referral", referrer = "c", referee = "a" },\n]\n'
        'expect = [ { milestone = "first_paid" } ]\n'
    )
    code, out, err = _cli(capsys, "test", tmp_path / "p.rules")
    assert code == 1
    _assert_safe(out + err)
    assert "FAIL  `fails\\x1b[31m\\nforged ok`" in out


# -- 6. the tutorial ------------------------------------------------------------


def test_tutorial_installs_from_a_clone_and_holds_only_the_referrers_bonus() -> None:
    text = (ROOT / "docs" / "tutorial.md").read_text()
    assert ".venv/bin/pip install -e ." in text
    assert "\n.venv/bin/pip install rewardrules" not in text
    final = text.split("## Step 6")[1].split("```rules\n")[1].split("```")[0]
    program = rewardrules.compile(final)
    held = {m.name: m.hold_ns is not None for m in program.compiled.checked.milestones}
    roles = {m.name: {r.role for r in m.rewards} for m in program.compiled.checked.milestones}
    assert held["friend_paid"] and roles["friend_paid"] == {"referrer"}
    assert not held["friend_discount"] and roles["friend_discount"] == {"referee"}


def test_explain_escapes_a_name_it_did_not_find(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules, path = _files(tmp_path, CAPPED, CAPPED_LEDGER)
    code, _, err = _cli(capsys, "explain", rules, path, "--referrer", "carlo\x1b[2J")
    assert code == 2
    _assert_safe(err)
    assert "no referral with referrer `carlo\\x1b[2J`" in err


def test_check_bounds_and_score_escape_item_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = 'ruleset r\nevent payment { amount: money USD }\nmilestone m {\n  first payment\n  reward referrer item "Trip\x1b[2J"\n}\n'
    (tmp_path / "item.rules").write_text(rules)
    code, out, err = _cli(capsys, "check", "--bounds", tmp_path / "item.rules")
    assert code == 0
    _assert_safe(out + err)
    assert '1 item "Trip\\x1b[2J"' in out
    ledger = _ledger(_referral(1, "carlos", "a"), _payment(1, "a", 2))
    (tmp_path / "l.jsonl").write_text("\n".join(ledger) + "\n")
    _, out, _ = _cli(capsys, "score", tmp_path / "item.rules", tmp_path / "l.jsonl")
    _assert_safe(out)
    assert "Trip\\x1b[2J" in out
