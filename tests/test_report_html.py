"""`rewardrules report`: the HTML page of a scoring run, without a browser
(tests/test_report_browser.py renders it in Chromium): the command and its
exit codes, the figures against `score --format json`, escaping of
untrusted names, the Content-Security-Policy, the chart's arithmetic, and
the templates in the wheel."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import rewardrules
from rewardrules.cli import main
from rewardrules.htmlreport import _nice_step, _periods, awards_chart, display_amount, render_html

from .conftest import ROOT, RULESETS

LEDGER = ROOT / "examples" / "ledger.jsonl"

#: Names that would run script if a page pasted them as HTML.
HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(2)>',
    "</td></tr></table><svg onload=alert(3)>",
    "{{ 7*7 }}",
    "&amp; é 日本",
]


def hostile_ledger(path: Path) -> Path:
    lines = []
    for i, name in enumerate(HOSTILE):
        lines.append(
            {
                "id": f"r{i}",
                "at": f"2026-01-0{i + 1}T09:00:00Z",
                "type": "referral",
                "referrer": name,
                "referee": f"{name}-friend",
            }
        )
        lines.append(
            {
                "id": f"p{i}",
                "at": f"2026-01-1{i}T09:00:00Z",
                "type": "payment",
                "referee": f"{name}-friend",
                "amount": "10.00",
            }
        )
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


HOSTILE_RULES = """
event payment { amount: money USD }
milestone paid "<b>Paid</b> & done" {
  first payment where payment.amount > 0
  reward referrer cash 5 USD
  reward referee item "<i>Mug</i>"
  message "Thanks {{ beneficiary }} </script><script>alert(4)</script>"
}
"""


class Page(HTMLParser):
    """The parts of a page the tests read: elements with their attributes,
    text, and the inline script and style."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.raw: dict[str, list[str]] = {"script": [], "style": []}
        self._in: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag in self.raw:
            self._in = tag

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in:
            self.raw[self._in].append(data)
        else:
            self.text.append(data)

    def rows(self, key: str) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.elements if tag == "tr" and key in attrs]


def report(capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str) -> tuple[int, str, str]:
    out = tmp_path / "report.html"
    code = main(["report", *args, "-o", str(out)])
    captured = capsys.readouterr()
    return code, out.read_text(encoding="utf-8") if out.exists() else "", captured.out + captured.err


def score_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["score", *args, "--format", "json"]) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


@pytest.mark.parametrize("name", ["partner_and_customer", "referral_milestones", "saas_milestones"])
def test_totals_are_those_of_score_json(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = str(RULESETS / f"{name}.rules")
    code, html, said = report(capsys, tmp_path, rules, str(LEDGER))
    assert code == 0, said
    data = score_json(capsys, rules, str(LEDGER))
    assert said == f"wrote {tmp_path / 'report.html'}: {len(data['awards'])} awards as of {data['as_of']}\n"
    page = Page(html)
    shown = [
        (r["data-unit"], r["data-kind"], r["data-status"])
        for r in page.rows("data-kind")  # rows of the totals table
    ]
    assert shown == [(t["unit"], t["kind"], t["status"]) for t in data["totals"]]
    amounts = [a["data-amount"] for t, a in page.elements if t == "td" and "data-amount" in a]
    assert amounts[: len(data["totals"])] == [t["amount"] for t in data["totals"]]
    assert amounts[len(data["totals"]) : len(data["totals"]) + len(data["awards"])] == [
        a["amount"] for a in data["awards"]
    ]
    assert [r["id"] for r in page.rows("data-status") if (r.get("id") or "").startswith("aw_")] == [
        a["id"] for a in data["awards"]
    ]


def test_untrusted_names_are_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "hostile.rules"
    rules.write_text(HOSTILE_RULES, encoding="utf-8")
    code, html, said = report(capsys, tmp_path, str(rules), str(hostile_ledger(tmp_path / "ledger.jsonl")))
    assert code == 0, said
    page = Page(html)
    # One script element, and no element or attribute that a name brought in.
    assert [t for t, _ in page.elements if t == "script"] == ["script"]
    assert not [t for t, _ in page.elements if t in ("img", "b", "i")]
    assert not [(t, a) for t, a in page.elements if any(k.startswith("on") for k in a)]
    text = "".join(page.text)
    for name in HOSTILE:
        assert name in text
    assert "<b>Paid</b> & done" in text
    assert "Thanks <script>alert(1)</script> </script><script>alert(4)</script>" in text
    assert "{{ 7*7 }}" in text and "49" not in text


def test_names_are_written_with_their_bidi_and_control_characters_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A referrer `ann\u202e...` reversed how the rest of its cell read
    (`ann → bob`): the page writes names as every text output does
    (review, 2026-12-08)."""
    ledger = tmp_path / "bidi.jsonl"
    events = [
        {
            "id": "r1",
            "at": "2026-01-01T09:00:00Z",
            "type": "referral",
            "referrer": "ann\u202eevil",
            "referee": "b\u200bob",
        },
        {"id": "p1", "at": "2026-01-10T09:00:00Z", "type": "payment", "referee": "b\u200bob", "amount": "10.00"},
    ]
    ledger.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    rules = tmp_path / "hostile.rules"
    rules.write_text(HOSTILE_RULES, encoding="utf-8")
    code, html, said = report(capsys, tmp_path, str(rules), str(ledger))
    assert code == 0, said
    assert "\u202e" not in html and "\u200b" not in html
    text = "".join(Page(html).text)
    assert "ann\\u202eevil" in text and "b\\u200bob" in text


def test_the_page_allows_its_own_script_and_style_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, html, _ = report(capsys, tmp_path, str(RULESETS / "partner_and_customer.rules"), str(LEDGER))
    page = Page(html)
    (csp,) = [
        a["content"] for t, a in page.elements if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert csp is not None
    policy = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert policy["default-src"] == "'none'"
    for kind, directive in (("script", "script-src"), ("style", "style-src")):
        (body,) = page.raw[kind]
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert policy[directive] == f"'sha256-{digest}'"
    assert not re.search(r"\s(on[a-z]+|style)=", html), "inline handlers and style attributes are blocked by the policy"
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "the page loads nothing"


def test_every_section_is_there(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, html, _ = report(capsys, tmp_path, str(RULESETS / "referral_milestones.rules"), str(LEDGER))
    page = Page(html)
    ids = {a.get("id") for _, a in page.elements}
    for section in ("totals", "time-section", "funnel-section", "top-referrers", "awards", "award-search", "rejected"):
        assert section in ids
    # A chart per unit (percent and USD), each with its figures as a table.
    charts = [a for t, a in page.elements if t == "svg" and "data-unit" in a]
    assert sorted(c["data-unit"] or "" for c in charts) == ["USD", "percent"]
    funnel = {a["data-milestone"]: None for t, a in page.elements if t == "tr" and "data-milestone" in a}
    assert list(funnel) == ["welcome_discount", "first_referral", "five_referrals", "ten_referrals"]


def test_funnel_counts_are_those_of_the_explanations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    program = rewardrules.load(RULESETS / "partner_and_customer.rules")
    with LEDGER.open(encoding="utf-8") as ledger:
        data = program.score(ledger).data
    html = render_html(program, data)
    for name in ("customer_conversion", "partner_commission"):
        reached = sum(
            1
            for r in data["referrals"]
            for p in r["programs"]
            if p["eligible"]
            for m in p["milestones"]
            if m["milestone"] == name and m["reached"]
        )
        row = re.search(rf'<tr data-milestone="{name}">.*?data-count="(\d+)"', html, re.S)
        assert row is not None and int(row.group(1)) == reached


def test_an_empty_run_renders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    code, html, said = report(capsys, tmp_path, str(RULESETS / "dropbox.rules"), str(empty))
    assert code == 0, said
    assert "No awards as of 1970-01-01T00:00:00Z." in html


def test_reversals_are_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "clawback.rules"
    rules.write_text(
        "event payment { amount: money USD }\nevent refund { payment: text }\n"
        "milestone paid { first payment  reward referrer cash 50 USD  hold 14 days\n"
        "  void if refund where refund.payment == payment.id within 90 days }\n",
        encoding="utf-8",
    )
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(
        '{"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "c1"}\n'
        '{"id": "p1", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "c1", "amount": "100.00"}\n'
        '{"id": "f1", "at": "2026-03-01T00:00:00Z", "type": "refund", "referee": "c1", "payment": "p1"}\n',
        encoding="utf-8",
    )
    code, html, _ = report(capsys, tmp_path, str(rules), str(ledger))
    assert code == 0
    data = score_json(capsys, str(rules), str(ledger))
    (reversal,) = data["reversals"]
    assert f'<tr data-reverses="{reversal["reverses"]}">' in html
    assert "1 award, 1 reversal" in html


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["rulesets/dropbox.rules", "missing.jsonl", "-o", "x.html"], 2, "cannot read `missing.jsonl`"),
        (["missing.rules", "examples/ledger.jsonl", "-o", "x.html"], 2, "cannot read `missing.rules`"),
        (["rulesets/dropbox.rules", "examples/ledger.jsonl", "-o", "x.html", "--as-of", "2026-01-01"], 2, "--as-of"),
        (["rulesets/dropbox.rules", "examples/ledger.jsonl", "-o", "no/such/dir/x.html"], 2, "cannot write"),
    ],
    ids=["no-ledger", "no-rules", "bad-as-of", "unwritable"],
)
def test_exit_codes(
    args: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["report", *args]) == code
    assert message in capsys.readouterr().err
    assert not (ROOT / "x.html").exists()


def test_invalid_rules_and_ledgers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad_rules = tmp_path / "bad.rules"
    bad_rules.write_text(
        "event payment { amount: money USD }\nmilestone m { first paymnt  reward referrer cash 1 USD }\n"
    )
    assert main(["report", str(bad_rules), str(LEDGER), "-o", str(tmp_path / "x.html")]) == 1
    assert "RR101" in capsys.readouterr().err
    bad_ledger = tmp_path / "bad.jsonl"
    bad_ledger.write_text('{"id": "r1", "at": "2026-01-01", "type": "referral"}\n')
    assert main(["report", str(RULESETS / "dropbox.rules"), str(bad_ledger), "-o", str(tmp_path / "x.html")]) == 2
    assert "nothing was scored" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()


def test_output_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(RULESETS / "zoom.rules"), str(LEDGER), "-o", "-"]) == 0
    assert capsys.readouterr().out.startswith("<!DOCTYPE html>")


def test_the_output_option_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["report", str(RULESETS / "zoom.rules"), str(LEDGER)])
    assert exit.value.code == 2
    assert "-o/--output" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("amount", "unit", "shown"),
    [
        ("2167.50", "USD", "2,167.50 USD"),
        ("0.005", "KWD", "0.005 KWD"),
        ("1000000", "JPY", "1,000,000 JPY"),
        ("20", "percent", "20%"),
        ("1", "item", "1 item"),
        ("3", "item", "3 items"),
        ("1000", "supercharger_miles", "1,000 supercharger miles"),
    ],
)
def test_display_amount(amount: str, unit: str, shown: str) -> None:
    assert display_amount(amount, unit) == shown


@pytest.mark.parametrize(
    ("first", "last", "period", "bars"),
    [
        (date(2026, 1, 1), date(2026, 1, 1), "day", 1),
        (date(2026, 1, 1), date(2026, 2, 9), "day", 40),
        (date(2026, 1, 1), date(2026, 2, 10), "week", 7),
        (date(2026, 1, 5), date(2026, 12, 31), "month", 12),
        (date(2020, 1, 1), date(2026, 12, 31), "quarter", 28),
        (date(2000, 1, 1), date(2026, 12, 31), "year", 27),
    ],
)
def test_periods(first: date, last: date, period: str, bars: int) -> None:
    found, starts = _periods(first, last)
    assert (found, len(starts)) == (period, bars)
    assert starts[0] <= first and starts[-1] <= last


@pytest.mark.parametrize(
    ("top", "step"), [(180, 50), (2167.5, 500), (1, 0.2), (0.3, 0.1), (100, 20), (1000, 200), (5, 1), (0, 1)]
)
def test_nice_step(top: float, step: float) -> None:
    assert _nice_step(top) == Decimal(str(step))  # exact: a Decimal, not a float


def test_chart_bars_stack_to_the_totals() -> None:
    awards = [
        {"at": "2026-01-05T10:00:00Z", "unit": "USD", "amount": "100.00", "status": "confirmed"},
        {"at": "2026-01-06T10:00:00Z", "unit": "USD", "amount": "50.00", "status": "void"},
        {"at": "2026-01-20T10:00:00Z", "unit": "USD", "amount": "30.00", "status": "pending"},
        {"at": "2026-01-20T10:00:00Z", "unit": "MB", "amount": "500", "status": "confirmed"},
    ]
    chart = awards_chart(awards, "USD")
    assert chart.period == "day" and len(chart.rows) == 3
    top = chart.plot_height
    heights = {(s.status, s.label.split(":")[0]): s.height for s in chart.segments}
    assert heights[("confirmed", "2026-01-05")] == pytest.approx(top * 100 / 100)  # the axis tops at 100
    assert heights[("void", "2026-01-06")] == pytest.approx(top * 50 / 100)
    assert [t.label for t in chart.y_ticks] == ["0", "20", "40", "60", "80", "100"]
    assert chart.summary.startswith("3 awards in USD, 180.00 USD in all")
