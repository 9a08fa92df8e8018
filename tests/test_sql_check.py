"""`check --engine sql` (docs/sql.md, docs/cli.md): every construct the SQL
back end does not compile yet, each at its line, as an RR450 error; none
for a file that `score --engine duckdb` runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rewardrules
from rewardrules.cli import main
from rewardrules.sql.compile import Unsupported, compile_query
from rewardrules.sql.diagnose import refusals

from .conftest import RULESETS

SEVERAL = """\
ruleset several

event payment { amount: money USD }

milestone first_pay {
  first payment where payment.amount > 0
  reward referrer cash 10 USD
}

milestone kept {
  whenever share increases
  reward referrer cash 1 USD
}

metric paid = sum payment.amount
metric refs = count referrals

milestone ratio {
  every 100 paid
  reward referrer cash 5 USD
  cap referrer 100 USD per month
}

metric share = paid / refs / 2
"""


def test_every_construct_is_reported_at_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "several.rules"
    path.write_text(SEVERAL, encoding="utf-8")
    assert main(["check", str(path)]) == 0  # the Python engine takes it
    capsys.readouterr()
    assert main(["check", "--engine", "sql", "--format", "json", str(path)]) == 1
    found = json.loads(capsys.readouterr().out)["diagnostics"]
    assert {d["code"] for d in found} == {"RR450"}
    assert [(d["line"], d["severity"]) for d in found] == [(11, "error")]  # `every` (line 19) compiles now
    assert "`whenever` of `share` (arithmetic on a quotient" in found[0]["message"]


@pytest.mark.parametrize("path", sorted(RULESETS.glob("*.rules")), ids=lambda p: p.stem)
def test_nothing_is_reported_exactly_when_the_file_compiles(path: Path) -> None:
    """A file with no RR450 is one `compile_query` compiles; the first
    construct `compile_query` refuses is among those reported."""
    compiled = rewardrules.load(path).compiled
    found = refusals(compiled)
    try:
        compile_query(compiled)
    except Unsupported as refusal:
        assert (refusal.construct, refusal.span) in [(r.construct, r.span) for r in found]
    else:
        assert found == []


def test_check_engine_sql_passes_a_file_that_compiles(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--engine", "sql", str(RULESETS / "saas_milestones.rules")]) == 0
    assert "0 errors" in capsys.readouterr().err


def test_a_file_with_errors_reports_those_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.rules"
    path.write_text(SEVERAL.replace("sum payment.amount", "sum payment.amout"), encoding="utf-8")
    assert main(["check", "--engine", "sql", "--format", "json", str(path)]) == 1
    codes = {d["code"] for d in json.loads(capsys.readouterr().out)["diagnostics"]}
    assert "RR450" not in codes and codes


VOIDS_AND_MESSAGES = """\
ruleset bad

event payment { amount: money USD }
event refund { payment: text  amount: money USD }
event usage { seats: number  amount: money USD }

metric paid = sum payment.amount
metric refs = count referrals
metric ratio = paid / paid / 2
milestone m1 {
  whenever ratio increases
  reward referrer cash 1 USD * refs
  void if refund where refund.amount / 3 * 3 >= 1 USD
  message "{{ paid }}"
}

milestone m2 {
  each usage
  reward referrer cash 1 USD
  void refund.amount of usage.amount if refund
  message "{{ spread }}"
}

milestone m3 {
  each usage
  reward referrer credit 1 points * usage.seats / 3
}

metric spread = sum referrals.scaled
metric used = sum usage.seats
metric scaled = tiers of used { 0 to 10: 100%  10 or more: 100.0% }
"""


def test_voids_and_messages_are_reported_beside_the_trigger(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A milestone's trigger that does not compile hides neither its `void`
    condition nor, in another milestone, a reward's amount (m2's partial
    void and its message, a sum of a rate table's rows, compile)."""
    path = tmp_path / "bad.rules"
    path.write_text(VOIDS_AND_MESSAGES, encoding="utf-8")
    assert main(["check", "--engine", "sql", "--format", "json", str(path)]) == 1
    found = json.loads(capsys.readouterr().out)["diagnostics"]
    assert [(d["line"], d["column"]) for d in found] == [(11, 3), (13, 24), (26, 26)]
    assert "`whenever` of `ratio` (arithmetic on a quotient" in found[0]["message"]
    assert "arithmetic on a quotient that the engine rounds" in found[1]["message"]
    assert "a computed amount that divides, in a unit that is not a currency" in found[2]["message"]
