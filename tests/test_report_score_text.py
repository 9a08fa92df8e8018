"""`score`'s text report written while the result is made
(`report.score.write_text`): the same text as the result built whole, in
bounded memory (the table's rows in sorted runs on disk), and a scratch
file that cannot be written said as such, not as a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rewardrules
from rewardrules.cli import main
from rewardrules.ledger import order
from rewardrules.report import score as text
from rewardrules.report.score import text_report, write_text

from .conftest import ROOT, RULESETS

#: a cap (a cut award and withheld rows), a hold with partial voids
#: (reversals), a per-referral metric (progress lines); a self-referral is
#: rejected
MIXED = """\
ruleset mixed

event payment { amount: money USD }
event refund {
  payment: text
  amount: money USD
}

cap referrer 150 USD

metric paid = sum payment.amount

milestone commission {
  each payment where payment.amount > 0
  reward referrer cash 10% of payment.amount
  hold 14 days
  void refund.amount of payment.amount if refund where refund.payment == payment.id within 90 days
}

milestone big {
  when paid >= 500 USD
  reward referrer cash 100 USD
}
"""

#: one award a paying referral: its records written by DuckDB as JSON text
FIRST = """\
ruleset first

event payment { amount: money USD }

milestone paid {
  first payment where payment.amount > 0
  reward referrer cash 10 USD
}
"""

PEOPLE = ("ann", "bob", "cy", "dee")


def _streamed(program: rewardrules.Program, events: list[dict[str, Any]], **options: Any) -> str:
    """The text as `score` writes it: made while it is written."""
    out: list[str] = []
    program.score_written(events, **options).write(lambda fields: write_text(fields, out.append))
    return "".join(out)


def _whole(program: rewardrules.Program, events: list[dict[str, Any]], **options: Any) -> str:
    return text_report(program.score(events, **options).data)


@st.composite
def _ledgers(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Referrals, payments and refunds around 1970 (instants before it are
    negative), with fractions of a second, in any line order."""
    events: list[dict[str, Any]] = []
    for n in range(draw(st.integers(1, 14))):
        seconds = draw(st.integers(-3 * 86400, 120 * 86400))
        fraction = draw(st.sampled_from(["", ".25", ".5"]))
        stamp = _stamp(seconds) + (fraction + "Z" if fraction else "Z")
        kind = draw(st.sampled_from(["referral", "payment", "payment", "refund"]))
        event: dict[str, Any] = {"id": f"e{n}", "at": stamp, "type": kind, "referee": draw(st.sampled_from(PEOPLE))}
        if kind == "referral":
            event["referrer"] = draw(st.sampled_from(PEOPLE))
        else:
            event["amount"] = str(draw(st.integers(0, 900)))
        if kind == "refund":
            event["payment"] = f"e{draw(st.integers(0, 13))}"
        events.append(event)
    return draw(st.permutations(events))


def _stamp(seconds: int) -> str:
    import datetime

    moment = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=_ledgers(), explain=st.booleans())
def test_streamed_text_is_the_whole_text_across_runs(
    monkeypatch: pytest.MonkeyPatch, events: list[Any], explain: bool
) -> None:
    """Rows go through runs of two on disk and are merged back in the
    order of their instants (an award before a withheld reward of one
    instant); every section is the one the whole result gives."""
    program = rewardrules.compile(MIXED, "mixed")
    whole = _whole(program, events, explain=explain)
    monkeypatch.setattr(text, "ROW_RUN", 2)
    assert _streamed(program, events, explain=explain) == whole


def test_every_section_in_its_place() -> None:
    """The text of a ledger that reaches every section: an award before a
    withheld reward of one instant, though the withheld one's event comes
    first (an award of another referrer), and a later award after it;
    columns as wide as their widest cell."""
    program = rewardrules.compile(MIXED, "mixed")
    assert _streamed(program, _EVERY) == _whole(program, _EVERY) == GOLDEN


def test_every_section_in_its_place_on_duckdb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The same text from `--engine duckdb`, whose partial voids keep its
    award records in Python (not DuckDB's JSON text)."""
    (tmp_path / "p.rules").write_text(MIXED)
    (tmp_path / "l.jsonl").write_text("".join(json.dumps(event) + "\n" for event in _EVERY))
    assert main(["score", str(tmp_path / "p.rules"), str(tmp_path / "l.jsonl"), "--engine", "duckdb"]) == 0
    assert capsys.readouterr().out == GOLDEN


#: `test_every_section_in_its_place`'s ledger
_EVERY: list[dict[str, Any]] = [
    {
        "id": "r1",
        "at": "1969-12-31T23:59:59.5Z",
        "type": "referral",
        "referrer": "ann",
        "referee": "bob_the_referee",
    },
    {"id": "r2", "at": "1969-12-31T23:59:59.5Z", "type": "referral", "referrer": "ann", "referee": "ann"},
    {"id": "r3", "at": "1970-01-01T00:00:01Z", "type": "referral", "referrer": "cy", "referee": "dee"},
    {"id": "p1", "at": "1970-01-01T00:00:00.25Z", "type": "payment", "referee": "bob_the_referee", "amount": "600"},
    {"id": "p2", "at": "1970-01-01T00:00:00Z", "type": "payment", "referee": "bob_the_referee", "amount": "300"},
    {"id": "a4", "at": "1970-01-03T00:00:00Z", "type": "payment", "referee": "bob_the_referee", "amount": "400"},
    {"id": "b5", "at": "1970-01-03T00:00:00Z", "type": "payment", "referee": "dee", "amount": "200"},
    {"id": "p6", "at": "1970-01-04T00:00:00Z", "type": "payment", "referee": "dee", "amount": "100"},
    {
        "id": "f1",
        "at": "1970-02-01T00:00:00Z",
        "type": "refund",
        "referee": "bob_the_referee",
        "payment": "p1",
        "amount": "100",
    },
]

#: `test_every_section_in_its_place`'s text (checked by hand)
GOLDEN = """\
mixed: 5 award(s) (1 cut by a cap), 1 withheld as of 1970-02-01T00:00:00Z

at                       milestone   role      beneficiary  referee          amount          status
1970-01-01T00:00:00Z     commission  referrer  ann          bob_the_referee  cash 30.00 USD  confirmed
1970-01-01T00:00:00.25Z  commission  referrer  ann          bob_the_referee  cash 60.00 USD  confirmed
1970-01-01T00:00:00.25Z  big         referrer  ann          bob_the_referee  cash 60.00 USD  confirmed (cut by cap from 100.00)
1970-01-03T00:00:00Z     commission  referrer  cy           dee              cash 20.00 USD  confirmed
1970-01-03T00:00:00Z     commission  referrer  ann          bob_the_referee  cash 40.00 USD  withheld: cap of 150 USD reached
1970-01-04T00:00:00Z     commission  referrer  cy           dee              cash 10.00 USD  confirmed

totals (withheld rewards are not in them):
  cash confirmed: 180.00 USD in 5 award(s)
  cash reversed: 10.00 USD in 1 award(s)

reversals (take back what the award paid):
  rv_9afa668ae06e8275374d344c0efba81a reverses aw_93f3b69b72ffdc49fde8f013f16587e8: ann cash 10.00 USD at 1970-02-01T00:00:00Z: partly voided by event f1 (10.00 USD taken back so far)

progress:
  dee (referred by cy): big: `paid` is 300.00 USD of 500 USD

referrals not counted:
  event r2: ann -> ann: self referral
"""


@pytest.mark.parametrize("name", ["saas_milestones", "partner_and_customer", "referral_milestones"])
def test_the_cli_text_is_the_whole_text(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`score` (text: batch, `--stream` and `--engine duckdb`, whose award
    records are read back from the JSON text DuckDB writes) prints what
    `text_report` of the whole result gives, with its rows through
    several runs."""
    ledger = tmp_path / "l.jsonl"
    made = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "generate.py"), "--events", "3000", "--seed", "5"],
        capture_output=True,
        check=True,
    )
    ledger.write_bytes(made.stdout)
    events = [json.loads(line) for line in made.stdout.splitlines()]
    rules = RULESETS / f"{name}.rules"
    whole = _whole(rewardrules.compile(rules.read_text(), name), events)
    monkeypatch.setattr(text, "ROW_RUN", 64)
    for extra in ([], ["--stream"], ["--engine", "duckdb"]):
        assert main(["score", str(rules), str(ledger), *extra]) == 0
        assert capsys.readouterr().out == whole


def test_a_scratch_file_that_cannot_be_made_is_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk (or no temporary directory) when the rows go to disk:
    exit 2 and what failed, no traceback (DuckDB's session, fetching the
    awards' text when the writer stopped, ends as its rows are dropped)."""
    (tmp_path / "p.rules").write_text(FIRST)
    lines = [
        json.dumps(
            {"id": f"r{n}", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": f"b{n}"}
        )
        for n in range(5)
    ]
    lines += [
        json.dumps({"id": f"p{n}", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": f"b{n}", "amount": "10"})
        for n in range(5)
    ]
    (tmp_path / "l.jsonl").write_text("\n".join(lines) + "\n")

    def full(*_: Any, **__: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(text, "ROW_RUN", 2)
    monkeypatch.setattr(order.tempfile, "TemporaryFile", full)
    for engine in ("python", "duckdb"):
        assert main(["score", str(tmp_path / "p.rules"), str(tmp_path / "l.jsonl"), "--engine", engine]) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert (
            err
            == f"rewardrules: error: cannot make a scratch file to put {text._PURPOSE}: [Errno 28] No space left on device\n"
        )


def test_progress_lines_spill_past_the_spool(monkeypatch: pytest.MonkeyPatch) -> None:
    """Progress lines past the spool's size go to a file and come back in
    order; a file that cannot be written is a `ScratchError`."""
    lines = text._Lines()
    monkeypatch.setattr(text, "_SPOOL", 64)
    lines.extend(f"  line {n} \x1b" for n in range(50))
    assert list(lines.lines()) == [f"  line {n} \\x1b" for n in range(50)]
    lines.close()

    def full(*_: Any, **__: Any) -> Any:
        raise OSError(28, "No space left on device")

    failing = text._Lines()
    monkeypatch.setattr(tempfile, "TemporaryFile", full)
    try:
        with pytest.raises(text.ScratchError, match="cannot write the scratch file that keeps the report's lines"):
            failing.extend("x" * 30 for _ in range(10))
    finally:
        failing.close()


@given(
    st.lists(
        st.tuples(st.integers(-(2**63), 2**63), st.integers(0, 1), st.integers(0, 2**40 - 1)),
        min_size=2,
        max_size=20,
    )
)
def test_a_row_place_orders_as_its_tuple(places: list[tuple[int, int, int]]) -> None:
    """One int per row sorts as (instant, kind, n): before 1970 too."""
    assert sorted(places, key=lambda p: text._place(*p)) == sorted(places)
