"""Follow-ups of the output work: percent bounds counted per rate (not
summed), the HTML report's withheld amounts, `fmt --diff` escaped yet
appliable, and progress lines that say the unit of what they measure."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rewardrules.bounds import bounds
from rewardrules.check import check_text
from rewardrules.cli import main
from rewardrules.model import CheckedRuleset


def _cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _checked(text: str) -> CheckedRuleset:
    checked, diagnostics = check_text(text)
    assert checked is not None, diagnostics
    return checked


# -- check --bounds: percent is counted per rate ----------------------------------

PERCENT = """\
ruleset pct

event payment { amount: money USD }
metric paid = count payment

milestone welcome {
  first payment
  reward referee discount 20 percent
}

milestone second {
  when paid >= 2
  reward referee discount 10 percent
}

milestone loyal {
  each payment
  reward referrer discount 10 percent
  reward referrer discount 5 percent
}
"""


def test_percent_bounds_count_awards_per_rate_instead_of_summing() -> None:
    text = bounds(_checked(PERCENT)).render()
    # two one-off discounts are two awards, not "30 percent"
    assert "to the referee: at most 1 award(s) of 20 percent, and at most 1 award(s) of 10 percent" in text
    assert "30 percent" not in text
    # a repeating milestone with two rates: each rate named, never "15 percent"
    assert (
        "to the referrer: any number of awards of 10 percent, and any number of awards of 5 percent: "
        "`loyal` pays 10 percent and 5 percent at every `payment` with no cap"
    ) in text
    assert "15 percent" not in text and "unbounded percent" not in text


def test_percent_bounds_in_json_list_rates_and_counts() -> None:
    program = bounds(_checked(PERCENT)).to_dict()["programs"][0]  # type: ignore[index]
    referee, referrer = program["per_referral"][1], program["per_referral"][0]
    assert referee["role"] == "referee" and referee["each"] is True
    assert referee["awards"] == [{"rate": "20", "count": 1}, {"rate": "10", "count": 1}]
    assert referee["max"] == "20" and referee["unbounded_because"] == []
    assert referrer["awards"] == [{"rate": "10", "count": None}, {"rate": "5", "count": None}]
    assert referrer["max"] is None and referrer["unbounded_because"]


def test_a_lifetime_percent_cap_bounds_the_number_of_awards() -> None:
    rules = """\
ruleset capped_pct
event payment { amount: money USD }
milestone loyal {
  each payment
  reward referrer discount 15 percent
  cap referrer 40 percent
}
"""
    (program,) = bounds(_checked(rules)).programs
    # the engine counts rates against the cap: 15 + 15 + 10 (cut), then nothing
    assert program.per_referral[0][1].describe() == "at most 3 award(s) of 15 percent"
    assert program.per_referrer[0].describe() == "at most 3 award(s) of 15 percent"


def test_a_percent_cap_count_is_exact_for_any_digits() -> None:
    """30-digit caps and rates: the count has 57 digits, more than a
    decimal context's default precision, and is still exact."""
    rate, cap = "0." + "0" * 27 + "3", "1" + "0" * 29
    rules = "ruleset big\nevent payment { amount: money USD }\nmilestone m {\n  each payment\n"
    rules += f"  reward referee discount {rate} percent\n  cap referee {cap} percent\n}}\n"
    (program,) = bounds(_checked(rules)).programs
    most = -(-(10**29) * 10**28 // 3)
    assert program.per_referral[0][1].describe() == f"at most {most} award(s) of {rate} percent"


def test_the_percent_cap_count_is_what_the_engine_issues() -> None:
    """The bound of a lifetime percent cap is reached: 15 + 15 + 10 (cut)."""
    import rewardrules

    rules = "ruleset c\nevent payment { amount: money USD }\n"
    rules += "milestone loyal {\n  each payment\n  reward referee discount 15 percent\n  cap referee 40 percent\n}\n"
    payments = [
        {"id": f"p{n}", "at": f"2026-01-0{n + 1}T00:00:00Z", "type": "payment", "referee": "a", "amount": "1"}
        for n in range(1, 7)
    ]
    referral = {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "c", "referee": "a"}
    data = rewardrules.compile(rules).score([json.dumps(e) for e in (referral, *payments)]).data
    assert [a["amount"] for a in data["awards"]] == ["15", "15", "10"]
    (program,) = bounds(_checked(rules)).programs
    assert program.per_referral[0][1].describe() == f"at most {len(data['awards'])} award(s) of 15 percent"


def test_percent_per_referrer_names_the_milestone_paid_for_every_referral(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "p.rules").write_text(PERCENT)
    code, out, _ = _cli(capsys, "check", "--bounds", tmp_path / "p.rules")
    assert code == 0
    assert (
        "per referrer: any number of awards of 10 percent, and any number of awards of 5 percent: "
        "`loyal` pays 10 percent and 5 percent at every `payment` for every referral with no cap, "
        "and the number of referrals has no limit"
    ) in out
    payload = json.loads(_cli(capsys, "check", "--format", "json", tmp_path / "p.rules")[1])
    assert payload["bounds"][0]["programs"][0]["per_referrer"][0]["each"] is True


COMPUTED_PERCENT = """\
ruleset computed_pct
event payment { amount: money USD, pct: quantity percent }
milestone capped {
  each payment
  reward referee discount payment.pct
  cap referee 50 percent
}
milestone once {
  first payment
  reward referrer discount payment.pct
}
"""


def test_a_computed_percent_is_not_bounded_by_a_cap_in_number() -> None:
    """A rate read from the ledger has no upper bound, unless a lifetime cap
    cuts each award to it; even then the number of awards has no limit (a
    cap bounds the sum of the rates), and the reason says so."""
    (program,) = bounds(_checked(COMPUTED_PERCENT)).programs
    (_, referrer), (_, referee) = program.per_referral
    assert referee.describe() == (
        "any number of awards of `payment.pct` (at most 50 percent each): `capped` pays `payment.pct` at every "
        "`payment`: a cap in percent bounds the sum of the rates, not the number of awards"
    )
    assert referrer.describe() == (
        "at most 1 award(s) of `payment.pct` (no upper bound): `once` pays `payment.pct` (no upper bound) once with no cap"
    )
    assert referee.to_dict()["awards"] == [{"rate": None, "amount": "payment.pct", "at_most": "50", "count": None}]
    assert referrer.to_dict()["max"] is None


def test_a_computed_percent_paid_once_under_a_lifetime_cap_is_bounded() -> None:
    rules = COMPUTED_PERCENT.replace("  each payment\n", "  first payment\n")
    (program,) = bounds(_checked(rules)).programs
    referee = program.per_referral[1][1]
    assert referee.describe() == "at most 1 award(s) of `payment.pct` (at most 50 percent each)"
    assert referee.to_dict()["max"] == "50"


# -- the HTML report's "Not issued" table shows what would have been paid ---------

WITHHELD = """\
ruleset withheld

event payment { amount: money USD }

cap referrer 1000 USD
cap referee 20 percent

milestone first_paid {
  first payment where payment.amount > 0
  reward referrer cash 1000 USD
  reward referee discount 20 percent
}

milestone second_paid {
  when paid >= 2
  reward referrer cash 1500 USD
  reward referee discount 20 percent
}

metric paid = count payment
"""


def _event(n: int, kind: str, referee: str, **fields: str) -> str:
    record = {"id": f"e{n}", "at": f"2026-01-{n:02d}T00:00:00Z", "type": kind, "referee": referee, **fields}
    return json.dumps(record)


def _withheld_ledger() -> str:
    return (
        "\n".join(
            [
                _event(1, "referral", "a", referrer="carlos"),
                _event(2, "payment", "a", amount="10.00"),
                _event(3, "payment", "a", amount="10.00"),
                _event(4, "referral", "<b>x</b>", referrer="carlos"),
                _event(5, "payment", "<b>x</b>", amount="10.00"),
            ]
        )
        + "\n"
    )


def _not_issued_rows(html: str) -> list[str]:
    """The text of each row of the withheld table, cells joined by `|`."""
    from html.parser import HTMLParser

    class Rows(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.inside, self.rows, self.cells = False, [], []  # type: ignore[var-annotated]

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "table":
                self.inside = ("id", "withheld") in attrs
            elif tag == "tr" and self.inside:
                self.rows.append([])
            elif tag == "td" and self.inside and self.rows:
                self.rows[-1].append("")

        def handle_data(self, data: str) -> None:
            if self.inside and self.rows and self.rows[-1]:
                self.rows[-1][-1] += data

    parser = Rows()
    parser.feed(html)
    return ["|".join(cell.strip() for cell in row) for row in parser.rows if row]


def test_html_not_issued_shows_what_would_have_been_paid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "w.rules").write_text(WITHHELD)
    (tmp_path / "l.jsonl").write_text(_withheld_ledger())
    code, _, err = _cli(capsys, "report", tmp_path / "w.rules", tmp_path / "l.jsonl", "-o", tmp_path / "r.html")
    assert code == 0, err
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    data = json.loads(_cli(capsys, "score", tmp_path / "w.rules", tmp_path / "l.jsonl", "--format", "json")[1])
    withheld = [(w["role"], w["kind"], w["amount"], w["unit"]) for w in data["withheld"]]
    assert withheld == [
        ("referrer", "cash", "1500.00", "USD"),
        ("referee", "discount", "20", "percent"),
        ("referrer", "cash", "1000.00", "USD"),
    ]
    rows = _not_issued_rows(html)
    # amounts grouped like awards, percent as a rate; the referee's name escaped
    assert [row.split("|")[4] for row in rows] == ["cash 1,500.00 USD", "discount 20%", "cash 1,000.00 USD"]
    assert "carlos → <b>x</b>" in rows[2]
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert 'data-amount="1500.00" data-unit="USD"' in html


def test_html_withheld_reward_without_an_amount_says_so() -> None:
    from rewardrules.htmlreport import _reward_text

    assert _reward_text({"kind": "cash", "amount": None, "unit": "USD", "item": None}) == "cash (USD, no amount)"
    assert _reward_text({"kind": "discount", "amount": "12.5", "unit": "percent", "item": None}) == "discount 12.5%"


# -- fmt --diff: escaped, and still a patch that applies ---------------------------

#: what `formatting.printable` escapes; a diff may hold only tabs and line ends of them
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _apply(original: str, diff: str) -> str:
    """Apply a unified diff the way `patch` does, strictly: every context
    and removed line must match the original exactly, every hunk's counts
    must be right. (A small applier, so that the test needs no `patch`.)"""
    old = original.split("\n")
    old_lines = [line + "\n" for line in old[:-1]] + ([old[-1]] if old[-1] else [])
    lines = diff.split("\n")[:-1]
    assert lines[0].startswith("--- ") and lines[1].startswith("+++ ")
    result: list[str] = []
    at, i = 0, 2
    while i < len(lines):
        header = re.fullmatch(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", lines[i])
        assert header, lines[i]
        start, count, _, new_count = (int(g) if g is not None else 1 for g in header.groups())
        start = start - 1 if count else start
        result += old_lines[at:start]
        at, i, seen_old, seen_new = start, i + 1, 0, 0
        while i < len(lines) and not lines[i].startswith("@@"):
            tag, text = lines[i][0], lines[i][1:] + "\n"
            if i + 1 < len(lines) and lines[i + 1] == "\\ No newline at end of file":
                text, i = text[:-1], i + 1
            if tag in " -":
                assert old_lines[at] == text, (old_lines[at], text)
                at, seen_old = at + 1, seen_old + 1
            if tag in " +":
                result.append(text)
                seen_new += 1
            i += 1
        assert (seen_old, seen_new) == (count, new_count)
    return "".join(result + old_lines[at:])


ORDINARY = "ruleset  r\r\n# tab\there, café\r\nevent payment { amount: money USD }\nmilestone m {\n  first payment\n  reward referrer cash 5 USD\n}"


def test_fmt_diff_of_ordinary_text_applies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Tabs, `\\r\\n` line endings, non-ASCII letters and a last line without
    a newline are kept as they are: the diff turns the file into `fmt`'s."""
    path = tmp_path / "o.rules"
    path.write_bytes(ORDINARY.encode())
    code, diff, _ = _cli(capsys, "fmt", "--diff", path)
    assert code == 1
    assert "-# tab\there, café\r\n" in diff
    assert _cli(capsys, "fmt", path)[0] == 0
    assert _apply(ORDINARY, diff) == path.read_bytes().decode()


def test_fmt_diff_escapes_control_characters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "ruleset  r\n# clear \x1b[2J here\x0c and on \u202e\x85 end\nevent payment { amount: money USD }\n"
    text += "milestone m {\n  first payment\n  reward referrer cash 5 USD\n}\n"
    path = tmp_path / "c\x1b[31m.rules"
    path.write_text(text, encoding="utf-8", newline="")
    code, diff, err = _cli(capsys, "fmt", "--diff", "--check", path)
    assert code == 1
    assert not CONTROL.search(diff + err)
    assert " # clear \\x1b[2J here\\x0c and on \\u202e\\x85 end\n" in diff
    assert diff.startswith("--- " + str(tmp_path) + "/c\\x1b[31m.rules (original)\n")
    assert "would reformat " + str(tmp_path) + "/c\\x1b[31m.rules" in err
    # the form feed and NEL are inside a line, not line ends: the hunk is whole
    readable = text.replace("\x1b", "\\x1b").replace("\x0c", "\\x0c").replace("\u202e", "\\u202e")
    assert _apply(readable.replace("\x85", "\\x85"), diff).startswith("ruleset r\n\n# clear \\x1b[2J")


def test_fmt_check_lists_a_file_with_windows_line_endings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The canonical layout ends lines with `\\n`: a file that differs only
    by its `\\r\\n` is to be reformatted (it was read as already canonical)."""
    path = tmp_path / "w.rules"
    path.write_bytes(b"ruleset r\r\n\r\nunit seats\r\n")
    code, out, _ = _cli(capsys, "fmt", "--check", path)
    assert (code, out) == (1, f"would reformat {path}\n")
    assert _cli(capsys, "fmt", path)[0] == 0
    assert path.read_bytes() == b"ruleset r\n\nunit seats\n"


# -- progress says the unit of the value and of the target -------------------------

UNITS = """\
ruleset units

unit seats

event subscription { mrr: money USD, seats: quantity seats }

metric mrr = latest subscription.mrr
metric seats = latest subscription.seats

milestone mrr_1k {
  when mrr >= 1000
  reward referrer cash 100 USD
}

milestone big {
  when mrr > 5000 USD and seats >= 50
  reward referrer cash 500 USD
}

milestone per_seats {
  every 10 seats
  reward referrer cash 5 USD
}

milestone growth {
  whenever seats increases
  reward referrer cash 1 USD
}

milestone mixed {
  when mrr >= 100 USD or seats >= 5
  reward referrer cash 1 USD
}
"""


def _units_ledger(*events: dict[str, str]) -> list[str]:
    referral = {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "carlos", "referee": "a"}
    return [json.dumps(e) for e in (referral, *events)]


SUBSCRIPTION = {
    "id": "s1", "at": "2026-01-02T00:00:00Z", "type": "subscription", "referee": "a", "mrr": "90.00", "seats": "3"
}  # fmt: skip


def _progress(ledger: list[str]) -> tuple[dict[str, str], dict[str, object]]:
    import rewardrules

    data = rewardrules.compile(UNITS).score(ledger).data
    (program,) = data["referrals"][0]["programs"]
    return {m["milestone"]: m.get("progress") for m in program["milestones"]}, program["metrics"]


def test_progress_writes_units_of_value_and_target() -> None:
    progress, metrics = _progress(_units_ledger(SUBSCRIPTION))
    # a bare number takes the metric's unit
    assert progress["mrr_1k"] == "`mrr` is 90.00 USD of 1000 USD"
    assert progress["big"] == "`mrr` is 90.00 USD of 5000 USD; `seats` is 3 seats of 50 seats"
    assert progress["per_seats"] == "`seats` is 3 seats; next reward at 10 seats"
    assert progress["growth"] == "`seats` is 3 seats; each rise is rewarded"
    # a condition that is not a plain threshold shows its values with units
    assert progress["mixed"] == "`mrr >= 100 USD or seats >= 5` is not met (mrr = 90.00 USD, seats = 3 seats)"
    # the machine-readable values stay as they were: no unit
    assert metrics == {"mrr": "90.00", "seats": "3"}


def test_progress_without_a_value_names_the_unit_of_the_target() -> None:
    progress, _ = _progress(_units_ledger())
    assert progress["mrr_1k"] == "no `mrr` yet (needs 1000 USD)"
    assert progress["big"].startswith("no `mrr` yet (needs more than 5000 USD); no `seats` yet (needs 50 seats)")
    assert progress["per_seats"] == "no `seats` yet; rewarded every 10 seats"


def test_score_and_explain_say_the_unit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "u.rules").write_text(UNITS)
    (tmp_path / "l.jsonl").write_text("\n".join(_units_ledger(SUBSCRIPTION)) + "\n")
    _, out, _ = _cli(capsys, "score", tmp_path / "u.rules", tmp_path / "l.jsonl")
    assert "  a (referred by carlos): mrr_1k: `mrr` is 90.00 USD of 1000 USD\n" in out
    _, out, _ = _cli(capsys, "explain", tmp_path / "u.rules", tmp_path / "l.jsonl")
    # explain reads the rule: a bare `1000` is USD, as the metric is
    assert "next: `mrr_1k`: `mrr` is 90.00 USD of 1000 USD, 910.00 USD to go\n" in out
    assert "next: `per_seats`: `seats` is 3 seats of 10 seats, 7 seats to go\n" in out


DURATION = """\
ruleset d
event payment { amount: money USD }
metric last = latest payment.at
metric first_at = first payment.at
metric tenure = last - first_at
milestone long {
  when tenure >= 30 days
  reward referrer cash 5 USD
}
milestone two_weeks {
  when tenure > 2 weeks
  reward referrer cash 5 USD
}
"""


def test_progress_of_a_duration_says_days(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A duration is written in days, and so is its threshold; explain
    reads the value (it said "has no value yet")."""
    (tmp_path / "d.rules").write_text(DURATION)
    payments = [
        {"id": f"p{n}", "at": at, "type": "payment", "referee": "a", "amount": "1"}
        for n, at in ((1, "2026-01-02T00:00:00Z"), (2, "2026-01-05T12:00:00Z"))
    ]
    (tmp_path / "l.jsonl").write_text("\n".join(_units_ledger(*payments)) + "\n")
    _, out, _ = _cli(capsys, "score", tmp_path / "d.rules", tmp_path / "l.jsonl")
    assert "  a (referred by carlos): long: `tenure` is 3.5 days of 30 days\n" in out
    assert "  a (referred by carlos): two_weeks: `tenure` is 3.5 days of 2 weeks\n" in out
    _, out, _ = _cli(capsys, "explain", tmp_path / "d.rules", tmp_path / "l.jsonl")
    assert "next: `long`: `tenure` is 3.5 days of 30 days, 26.5 days to go\n" in out
    assert "next: `two_weeks`: `tenure` is 3.5 days of more than 14 days\n" in out
