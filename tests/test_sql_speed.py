"""`score --engine duckdb --format json` with the awards' JSON text written
by DuckDB and the totals added up from its counts (`sql/write.py`): the
same bytes as the Python engine's result, on every golden ledger, on
generated ledgers, and where a value is not plain (an escape in a name, a
message, a sum that would round) by falling back to the Python-built
record."""

from __future__ import annotations

import json
import tempfile
from decimal import Decimal, localcontext
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rewardrules
from rewardrules.cli import main
from rewardrules.cli.sql import direct_result, grouped_totals
from rewardrules.core.jsonout import write_pretty
from rewardrules.core.runtime import CONTEXT
from rewardrules.score.api import parse_as_of
from rewardrules.score.result import _totals
from rewardrules.sql.compile import compile_query
from rewardrules.sql.write import Written, write_result

from .test_properties import DIFFERENTIAL, as_ofs, ledgers, program, to_line
from .test_sql_backend import SUPPORTED, golden_cases, python_json

ROOT = Path(__file__).resolve().parents[1]


def written(prog: rewardrules.Program, path: Path, as_of: str | None, as_json: bool = True) -> tuple[str | None, bool]:
    """The JSON result as `score --engine duckdb --format json` writes it
    from a ledger file read by DuckDB (None when it is not), and whether
    DuckDB wrote the awards' text, in the scoring context as the CLI runs
    it (its 100 digits, or fewer where a test narrows them: `narrowed`)."""
    with localcontext(CONTEXT):
        data = direct_result(prog, compile_query(prog.compiled), str(path), parse_as_of(as_of), as_json=as_json)
        if data is None:
            return None, False
        out: list[bytes] = []
        write_result(data, out.append)
    return b"".join(out).decode("utf-8"), isinstance(data["awards"], Written)


@pytest.mark.parametrize(("name", "ledger"), golden_cases(), ids=lambda v: getattr(v, "stem", v))
def test_golden_ledgers_give_the_same_bytes(name: str, ledger: Path) -> None:
    expected = json.loads(ledger.with_suffix("").with_suffix(".expected.json").read_text())
    prog = rewardrules.load(ROOT / "rulesets" / f"{name}.rules")
    got, _ = written(prog, ledger, expected["as_of"])
    if got is not None:
        assert got == python_json(prog, ledger.read_text(encoding="utf-8").splitlines(), expected["as_of"])


def test_most_golden_ledgers_have_their_awards_written_by_duckdb() -> None:
    """The text path is the common case (a test above that compared only
    fallbacks would prove little)."""
    by_duckdb = [
        ledger
        for name, ledger in golden_cases()
        if written(rewardrules.load(ROOT / "rulesets" / f"{name}.rules"), ledger, None)[1]
    ]
    assert len(by_duckdb) >= len(golden_cases()) // 2


@pytest.mark.parametrize("name", SUPPORTED)
@DIFFERENTIAL
@given(data=st.data())
def test_generated_ledgers_give_the_same_bytes(name: str, data: st.DataObject) -> None:
    events = data.draw(ledgers(name), label="ledger")
    as_of = data.draw(as_ofs(events), label="as_of")
    prog = program(name)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ledger.jsonl"
        path.write_text("".join(to_line(e) + "\n" for e in events), encoding="utf-8")
        got, _ = written(prog, path, as_of)
    if got is not None:
        assert got == python_json(prog, events, as_of)


#: unicode in every name a rule file gives, an item, a hold (pending and
#: confirmed), a computed amount of many digits, two currencies
NAMES = """ruleset praemien "Prämien für Empfehlungen ✓"

event payment { amount: money USD }

milestone premiere "Erste Zahlung" {
  first payment where payment.amount > 0
  reward referrer cash 0.333333333333 * payment.amount
  reward referee item "Reise nach Zürich — 2 Nächte"
  hold 30 days
}

milestone jede "Jede Zahlung" {
  each payment within 365 days
  reward referrer cash 15% of payment.amount
}
"""


def _ledger(tmp_path: Path, amounts: list[str], referrer: str = "ann") -> Path:
    lines = [f'{{"id":"r1","at":"2026-01-01T00:00:00Z","type":"referral","referrer":"{referrer}","referee":"bob"}}']
    for n, amount in enumerate(amounts):
        lines.append(
            f'{{"id":"p{n}","at":"2026-01-{n + 2:02d}T00:00:00.{n + 1}Z","type":"payment","referee":"bob","amount":"{amount}"}}'
        )
    path = tmp_path / "ledger.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("as_of", [None, "2026-01-20T00:00:00Z", "2026-03-01T00:00:00Z"])
def test_unicode_names_items_holds_and_fractions_give_the_same_bytes(tmp_path: Path, as_of: str | None) -> None:
    prog = rewardrules.compile(NAMES)
    amounts = ["0.10", "12345678901234567890.55", "0.30", "-10", "33333.33"]
    path = _ledger(tmp_path, amounts)
    got, by_duckdb = written(prog, path, as_of)
    assert by_duckdb
    expected = python_json(prog, path.read_text(encoding="utf-8").splitlines(), as_of)
    assert got == expected
    result = json.loads(expected)
    held = as_of != "2026-03-01T00:00:00Z"  # the hold of 30 days from 2026-01-02 has not ended
    assert {a["status"] for a in result["awards"]} == ({"pending", "confirmed"} if held else {"confirmed"})
    assert any(
        a["at"].endswith(".1Z") for a in result["awards"]
    )  # a fraction of a second, written as format_timestamp does


def test_a_text_json_escapes_falls_back_to_the_same_bytes(tmp_path: Path) -> None:
    """A `"` or `\\` in a name is escaped by `json`: the record is built in
    Python instead, with the same bytes."""
    prog = rewardrules.compile(NAMES.replace("Reise nach Zürich", 'Reise \\"nach\\" Zürich'))
    path = _ledger(tmp_path, ["10.00"])
    got, by_duckdb = written(prog, path, None)
    assert not by_duckdb
    assert got == python_json(prog, path.read_text(encoding="utf-8").splitlines(), None)
    assert '\\"nach\\"' in (got or "")


def test_a_message_is_rendered_by_python_with_the_same_bytes(tmp_path: Path) -> None:
    source = NAMES.replace("  hold 30 days\n", '  hold 30 days\n  message "Danke, {referrer}: {amount} {unit}"\n')
    prog = rewardrules.compile(source)
    path = _ledger(tmp_path, ["10.00", "20.00"])
    got, by_duckdb = written(prog, path, None)
    assert not by_duckdb
    assert got == python_json(prog, path.read_text(encoding="utf-8").splitlines(), None)


def test_the_cli_writes_the_python_engines_bytes(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    rules = tmp_path / "names.rules"
    rules.write_text(NAMES, encoding="utf-8")
    path = _ledger(tmp_path, ["10.00", "0.01", "99999999999999.99"])
    assert main(["score", str(rules), str(path), "--engine", "duckdb", "--no-explain", "--format", "json"]) == 0
    duck = capsysbinary.readouterr().out
    assert main(["score", str(rules), str(path), "--no-explain", "--format", "json"]) == 0
    assert duck == capsysbinary.readouterr().out


def test_no_awards_is_an_empty_list() -> None:
    data = {"ruleset": "x", "as_of": "2026-01-01T00:00:00Z", "awards": Written([], 0), "reversals": [], "totals": []}
    out: list[bytes] = []
    write_result(data, out.append)
    expected: list[bytes] = []
    write_pretty({**data, "awards": []}, expected.append)
    assert b"".join(out) == b"".join(expected)


def _awards(groups: list[tuple[str, str, str, str, int]]) -> list[dict[str, str]]:
    return [{"unit": u, "kind": k, "status": s, "amount": a} for u, k, s, a, n in groups for _ in range(n)]


@pytest.mark.parametrize(
    "groups",
    [
        [("USD", "cash", "confirmed", "500.00", 3), ("USD", "cash", "confirmed", "0.10", 2)],
        [
            ("USD", "cash", "pending", "-10.00", 1),
            ("EUR", "credit", "confirmed", "1.5", 4),
            ("item", "item", "confirmed", "1", 2),
        ],
        [("percent", "discount", "confirmed", "20", 2), ("percent", "discount", "confirmed", "12.5", 1)],
    ],
)
def test_totals_from_counts_are_the_totals_of_the_awards(groups: list[tuple[str, str, str, str, int]]) -> None:
    reversals = [{"unit": "USD", "kind": "cash", "amount": "500.00"}]
    assert grouped_totals(groups, reversals) == _totals(_awards(groups), reversals)


def test_totals_that_would_round_or_lose_a_text_are_left_to_the_awards() -> None:
    """A sum past the context's digits rounds, after each addition in award
    order; two texts of one rate (`20`, `20.0`) are written as the first
    award's: the counts say neither, so the caller adds the awards."""
    big = "9" * 98 + ".99"  # two of them: 101 digits, past the engine's 100
    assert grouped_totals([("USD", "cash", "confirmed", big, 2)], []) is None
    assert grouped_totals([("USD", "cash", "confirmed", big[1:], 2)], []) is not None
    same_rate = [("percent", "discount", "confirmed", "20", 1), ("percent", "discount", "confirmed", "20.0", 1)]
    assert grouped_totals(same_rate, []) is None
    assert Decimal("20") == Decimal("20.0")


#: each payment's amount paid back: a sum of amounts of many digits
WHOLE = """ruleset whole "Whole"

event payment { amount: money USD }

milestone back "Back" {
  each payment within 365 days
  reward referrer cash payment.amount
}
"""


def narrowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine's own context narrowed to 28 digits for one test: with its
    100, no sum of a ledger's amounts (30 digits each) rounds, and the
    awards' path of a sum that would is not reached (the caller's context
    is not the engine's: `test_sql_backend.test_totals_past_the_caller_s_precision_are_exact`)."""
    monkeypatch.setattr(CONTEXT, "prec", 28)


def test_a_sum_that_would_round_is_added_in_award_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prog = rewardrules.compile(WHOLE)
    path = _ledger(tmp_path, ["9" * 26 + ".99", "9" * 26 + ".99", "9" * 26 + ".98"])
    with monkeypatch.context() as narrow:
        narrowed(narrow)
        got, by_duckdb = written(prog, path, None)
        assert not by_duckdb  # 29 digits: the context's 28 round the sum, in award order
        assert got == written(prog, path, None, as_json=False)[0]
        assert '"amount": "300000000000000000000000000.00"' in (got or "")
    got, by_duckdb = written(prog, path, None)
    assert by_duckdb
    assert got == python_json(prog, path.read_text(encoding="utf-8").splitlines(), None)
