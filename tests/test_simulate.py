"""`rewardrules simulate` (docs/simulate.md): scenarios, seeded synthetic
ledgers scored by the real engine, percentiles over runs, backtests and
paired comparisons.

Every figure here is exact and every run seeded: the convergence test
compares a fixed seed's rates with the scenario's within a tolerance
stated in standard errors, so it is deterministic, never flaky."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

import rewardrules
from rewardrules.cli import main
from rewardrules.simulate.aggregate import percentile, record, spread
from rewardrules.simulate.generate import generate, month_names, run_seed
from rewardrules.simulate.measure import measure
from rewardrules.simulate.run import RuleText, SimulationError, simulate
from rewardrules.simulate.scenario import BENCHMARKS, Events, Scenario, ScenarioError, parse_scenario

from .conftest import ROOT, RULESETS

PARTNERS = RULESETS / "partner_and_customer.rules"
SAAS = RULESETS / "saas_milestones.rules"
LAUNCH = ROOT / "examples" / "simulate" / "launch.toml"
SRC = str(ROOT / "src")

#: a small scenario: 30 partners and 60 customers, 4 months
SMALL = """\
name = "small"
start = 2027-01-01
months = 4
seed = 7

[[referrers]]
name = "partners"
source = "partner"
count = 30
referrals_per_month = { choice = [0, 1, 2], weights = [2, 2, 1] }
sales_involvement = 0.5
delay_days = { uniform = [0, 10] }
mrr = { uniform = [100, 500] }
churn_rate = 0.05
refund_rate = 0.1

[[referrers]]
name = "customers"
count = 60
referrals_per_month = { uniform = [0, 1] }
customer = "orders"
order_value = { choice = [50, 150] }
orders = { uniform = [1, 2] }
refund_rate = 0.1
"""


def rules(*paths: Path) -> list[RuleText]:
    return [RuleText(path.read_text(), str(path)) for path in paths]


def report_of(scenario: Scenario, runs: int, seed: int, jobs: int = 1, *paths: Path) -> dict[str, object]:
    paths = paths or (PARTNERS,)
    months = month_names(scenario.start, scenario.months)
    figures = simulate(rules(*paths), scenario, runs, seed, jobs)
    header = {"runs": runs, "seed": seed, "currency": scenario.currency, "months_simulated": months}
    return record(header, figures, [str(p) for p in paths], months, scenario.currency, 2)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------
# percentiles


def test_percentiles_are_the_nearest_rank() -> None:
    values = list(range(1, 101))
    assert [percentile(values, p) for p in (50, 90, 99)] == [50, 90, 99]
    assert [percentile([7], p) for p in (50, 90, 99)] == [7, 7, 7]
    # n = 3: rank ceil(1.5) = 2, ceil(2.7) = 3, ceil(2.97) = 3
    assert [percentile([1, 2, 3], p) for p in (50, 90, 99)] == [2, 3, 3]
    # n = 10: P50 is rank 5, never the mean of ranks 5 and 6
    assert percentile(list(range(10)), 50) == 4


def test_spread_is_exact_text_of_values_some_run_gave() -> None:
    values = [Decimal("0.10"), Decimal("0.20"), Decimal("0.30")]
    assert spread(reversed(values)) == {
        "runs": 3,
        "min": "0.10",
        "p50": "0.20",
        "p90": "0.30",
        "p99": "0.30",
        "max": "0.30",
    }
    assert spread([]) == {"runs": 0}


# ---------------------------------------------------------------------------
# the generator


def test_the_same_seed_makes_the_same_ledger_and_another_seed_another() -> None:
    scenario = parse_scenario(SMALL)
    assert generate(scenario, 11) == generate(scenario, 11)
    assert generate(scenario, 11) != generate(scenario, 12)
    assert run_seed(7, 0) != run_seed(7, 1) != run_seed(8, 0)


def test_the_ledger_stays_in_the_horizon_and_fits_the_rule_file() -> None:
    scenario = parse_scenario(SMALL)
    events = generate(scenario, run_seed(7, 0))
    assert events, "the scenario makes leads"
    assert all("2027-01-01" <= event["at"] < "2027-05-01" for event in events)
    assert len({event["id"] for event in events}) == len(events)
    result = rewardrules.load(PARTNERS).score(events)  # the real engine takes it
    assert result.data["awards"]
    amounts = [Decimal(e["mrr"]) for e in events if e["type"] == "subscription" and Decimal(e["mrr"]) > 0]
    assert amounts and all(Decimal(100) <= a <= Decimal(500) and a == a.quantize(Decimal("0.01")) for a in amounts)


def test_event_types_are_named_as_the_rule_file_names_them() -> None:
    scenario = parse_scenario(SMALL + '\n[events]\npayment = "purchase"\n')
    types = {event["type"] for event in generate(scenario, 3)}
    assert "purchase" in types and "payment" not in types


def test_simulated_conversion_converges_to_the_scenario_rates() -> None:
    """Over 40 runs of 300 referrers the observed lead-to-customer rate of
    each source (without and with sales) is the scenario's within 4
    standard errors (under 2 percentage points with over 10,000 leads
    each). Leads of the last month are left out: a purchase after the
    horizon is not in the ledger. Conversion is the article's
    default: 31% / 41% (partner), 13% / 30% (customer)."""
    group = 'count = 150\nreferrals_per_month = 2\nsales_involvement = 0.5\ndelay_days = 0\ncustomer = "orders"\norder_value = 10\n'
    head = 'name = "convergence"\nstart = 2027-01-01\nmonths = 3\n'
    sources = ("partner", "customer")
    scenario = parse_scenario(head + "".join(f'[[referrers]]\nname = "{s}s"\nsource = "{s}"\n{group}' for s in sources))
    counts: dict[tuple[str, bool], list[int]] = {}
    for run in range(40):
        events = generate(scenario, run_seed(1, run))
        buyers = {e["referee"] for e in events if e["type"] == "payment"}
        for event in events:
            if event["type"] == "referral" and event["at"] < "2027-03-01":
                entry = counts.setdefault((event["source"], event["sales_involved"]), [0, 0])
                entry[0] += 1
                entry[1] += event["referee"] in buyers
    assert set(counts) == {("partner", False), ("partner", True), ("customer", False), ("customer", True)}
    for (source, sales), (leads, customers) in counts.items():
        expected = float(BENCHMARKS[source][sales])
        tolerance = 4 * math.sqrt(expected * (1 - expected) / leads)
        assert leads > 10_000
        assert tolerance < 0.02  # tight enough to tell 31% from 41%, and 13% from 30%
        assert abs(customers / leads - expected) <= tolerance, (source, sales, customers / leads, expected, tolerance)


# ---------------------------------------------------------------------------
# runs and the report


def test_a_run_measures_revenue_payouts_and_liability_from_the_ledger() -> None:
    """Revenue is payments less refunds of referred customers only; a
    held award is pending liability."""
    events = [
        {
            "id": "r1",
            "at": "2027-01-01T00:00:00Z",
            "type": "referral",
            "referrer": "ann",
            "referee": "bo",
            "source": "customer",
        },
        {"id": "p1", "at": "2027-01-02T00:00:00Z", "type": "payment", "referee": "bo", "amount": "100.00"},
        {"id": "p2", "at": "2027-01-03T00:00:00Z", "type": "payment", "referee": "bo", "amount": "50.00"},
        {"id": "f1", "at": "2027-02-03T00:00:00Z", "type": "refund", "referee": "bo", "payment": "p2"},
        {"id": "p3", "at": "2027-01-04T00:00:00Z", "type": "payment", "referee": "walk-in", "amount": "999.00"},
    ]
    result = rewardrules.load(PARTNERS).score(events, as_of="2027-01-20T00:00:00Z")
    figures = measure([e for e in events if e["at"] <= "2027-01-20"], result.data, Events.model_validate({}), "USD")
    assert figures.revenue == Decimal("150.00")
    assert figures.customers == 1
    assert figures.payouts == {"USD": Decimal("100")} and figures.pending == {"USD": Decimal("100")}
    assert figures.earners == {"ann": Decimal("100")}
    later = rewardrules.load(PARTNERS).score(events, as_of="2027-03-01T00:00:00Z")
    settled = measure(events, later.data, Events.model_validate({}), "USD")
    assert settled.revenue == Decimal("100.00")  # the refund takes p2 back
    assert settled.pending == {} and settled.payouts == {"USD": Decimal("100")}


def test_the_report_is_the_same_whatever_the_number_of_workers() -> None:
    scenario = parse_scenario(SMALL)
    one = report_of(scenario, 6, 5, 1)
    two = report_of(scenario, 6, 5, 2)
    assert json.dumps(one) == json.dumps(two)
    assert one["payouts"]["USD"]["runs"] == 6


def test_the_report_holds_every_figure_per_unit_and_month() -> None:
    scenario = parse_scenario(SMALL)
    report = report_of(scenario, 8, 1)
    usd = report["payouts"]["USD"]
    assert Decimal(usd["p50"]) <= Decimal(usd["p90"]) <= Decimal(usd["p99"]) and Decimal(usd["p50"]) > 0
    assert [row["month"] for row in report["months"]] == ["2027-01", "2027-02", "2027-03", "2027-04"]
    last = report["months"][-1]["cumulative_payouts"]["USD"]
    assert last == usd  # paid so far at the end of the horizon is what was paid
    assert {entry["milestone"] for entry in report["milestones"]} == {"customer_conversion", "partner_commission"}
    assert all(entry["runs_hit"] <= 8 for entry in report["milestones"])
    assert report["top_earners"] and report["top_earners"][0]["referrer"].startswith(("partners-", "customers-"))
    for name in ("revenue", "customers", "cost_per_customer", "roi"):
        assert report[name]["runs"] == 8, name
    assert Decimal(report["pending"]["USD"]["p99"]) <= Decimal(report["payouts"]["USD"]["p99"])


def test_caps_reached_are_counted_per_run(tmp_path: Path) -> None:
    capped = tmp_path / "capped.rules"
    capped.write_text(
        PARTNERS.read_text().replace("cap referrer 5000 USD per quarter", "cap referrer 50 USD per quarter")
    )
    report = report_of(parse_scenario(SMALL), 4, 2, 1, capped)
    [withheld] = report["withheld"]
    assert withheld["milestone"] == "partner_commission" and withheld["runs_hit"] == 4
    assert "50 USD" in withheld["reason"] and int(withheld["rewards"]["p50"]) > 0
    [cut] = report["capped"]  # awards the cap cut to what it left, before it was full
    assert (cut["program"], cut["milestone"]) == ("partners", "partner_commission") and cut["runs_hit"] >= 1


def test_comparing_a_rule_file_with_itself_shows_no_difference() -> None:
    report = report_of(parse_scenario(SMALL), 5, 3, 1, PARTNERS, PARTNERS)
    difference = report["compare"]["difference"]
    assert difference["runs_differ"] == 0
    assert difference["payouts"] and all(
        Decimal(s["min"]) == Decimal(s["max"]) == 0 for s in difference["payouts"].values()
    )


def test_comparing_two_rule_files_pairs_the_runs() -> None:
    """Both rule files score the same ledgers: revenue is the same run by
    run, only what the rules pay differs."""
    report = report_of(parse_scenario(SMALL), 5, 3, 1, PARTNERS, SAAS)
    assert report["compare"]["revenue"] == report["revenue"]
    assert report["compare"]["difference"]["runs_differ"] == 5


def test_a_rule_file_that_refuses_the_ledger_is_a_stated_error(tmp_path: Path) -> None:
    strict = tmp_path / "strict.rules"
    strict.write_text(
        PARTNERS.read_text().replace(
            "event payment { amount: money USD }", "event payment { amount: money USD, plan: text }"
        )
    )
    with pytest.raises(SimulationError, match=r"does not fit `partner_and_customer`.*plan"):
        simulate(rules(strict), parse_scenario(SMALL), 1, 0)


# ---------------------------------------------------------------------------
# scenario errors


def problems(text: str) -> list[tuple[int | None, str, str, str]]:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "s.toml")
    return [(p.line, p.field, p.message, p.hint) for p in caught.value.problems]


def test_scenario_errors_name_the_line_the_field_and_a_hint() -> None:
    text = SMALL.replace("sales_involvement = 0.5", "sales_involvement = 1.5").replace(
        "orders = { uniform = [1, 2] }", "orders = { uniform = [2, 1] }\nordres = 3"
    )
    found = problems(text)
    lines = text.splitlines()
    by_field = {field: (line, message, hint) for line, field, message, hint in found}
    line, message, hint = by_field["referrers[0].sales_involvement"]
    assert lines[line - 1].startswith("sales_involvement = 1.5") and "less than or equal to 1" in message
    assert "share" in hint
    line, message, _ = by_field["referrers[1].orders"]
    assert lines[line - 1].startswith("orders =") and "lower bound first" in message
    line, message, hint = by_field["referrers[1].ordres"]
    assert lines[line - 1] == "ordres = 3" and "not permitted" in message and "docs/simulate.md" in hint
    assert len(found) == 3  # one problem per field, not one per form a distribution may take


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ('name = "x"\nstart = 2027-01-15\nmonths = 3\n', "start", "first day of a month"),
        (SMALL.replace('name = "customers"', 'name = "partners"'), "", "same `name`"),
        (SMALL.replace('source = "partner"', 'source = "web"'), "referrers[0]", "no benchmark"),
        (SMALL.replace("mrr = { uniform = [100, 500] }\n", ""), "referrers[0]", "needs `mrr`"),
        (
            SMALL.replace("weights = [2, 2, 1]", "weights = [2, 2]"),
            "referrers[0].referrals_per_month",
            "2 weights for 3",
        ),
        (SMALL.replace("count = 30", "count = 90000").replace("[0, 1, 2]", "[0, 1, 1000]"), "", "leads a run"),
        (SMALL.replace("months = 4", "months = 4.5"), "months", "integer"),
    ],
)
def test_each_scenario_mistake_is_explained(text: str, field: str, words: str) -> None:
    found = problems(text)
    assert any(f == field and words in message for _, f, message, _ in found), found


@pytest.mark.parametrize(
    ("events", "words"),
    [
        ('refund = "payment"', "`payment` and `refund` are both written as `payment`"),
        ('payment = "referral"', "`referral` and `payment` are both written as `referral`"),
        ('payment = "sale"\nrefund = "sale"', "`payment` and `refund` are both written as `sale`"),
        ('subscription = "refund"', "`refund` and `subscription` are both written as `refund`"),
        ('referral = "lead"\nrefund = "referral"', "the engine's referral event"),
    ],
    ids=["default", "referral", "renamed", "later", "engine"],
)
def test_two_kinds_of_event_under_one_name_are_refused_at_events(events: str, words: str) -> None:
    # the refunds of one such scenario were scored as payments: its payouts doubled
    text = SMALL.replace("\n[[referrers]]", f"\n[events]\n{events}\n\n[[referrers]]", 1)
    [(line, field, message, hint)] = problems(text)
    assert line is not None and text.splitlines()[line - 1] == "[events]"
    assert field == "events" and words in message, message
    assert "each kind" in hint


def test_a_group_named_lead_is_refused() -> None:
    """Its referrer `lead-1000` was the simulated customer `lead-1000`: a
    self-referral, dropped without a word (review, 2026-12-08)."""
    text = SMALL.replace('name = "partners"', 'name = "lead"', 1)
    [(_, _, message, _)] = problems(text)
    assert "a group of referrers is named `lead`, the name of the simulated customers" in message


def test_renamed_events_each_their_own_are_still_accepted() -> None:
    text = SMALL.replace("\n[[referrers]]", '\n[events]\npayment = "refund"\nrefund = "payment"\n\n[[referrers]]', 1)
    assert parse_scenario(text, "s.toml").events.refund == "payment"


def test_a_raw_line_separator_in_a_string_does_not_move_the_lines() -> None:
    # TOML allows U+2028 raw in a string; an editor, and tomllib, count lines at `\n` only
    text = SMALL.replace('name = "small"', 'name = "small\u2028launch\u0085plan"').replace(
        "sales_involvement = 0.5", "sales_involvement = 1.5"
    )
    [(line, field, _, _)] = problems(text)
    assert field == "referrers[0].sales_involvement"
    assert line == 11 and text.split("\n")[line - 1] == "sales_involvement = 1.5"


def test_a_file_that_is_not_toml_names_its_line() -> None:
    [(line, field, message, _)] = problems('name = "x"\nstart = 2027-01-01\nmonths = = 3\n')
    assert line == 3 and field == "" and message.startswith("not TOML")


def test_the_scenario_schema_accepts_the_example_and_names_every_field(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "schema", "scenario")
    assert code == 0
    schema = json.loads(out)
    import tomllib

    # TOML's dates are JSON Schema's strings of format `date`
    example = json.loads(json.dumps(tomllib.loads(LAUNCH.read_text(), parse_float=str), default=str))
    jsonschema.validate(example, schema)
    group = schema["$defs"]["Referrers"]["properties"]
    assert {"conversion", "conversion_with_sales", "sales_involvement", "churn_rate", "refund_rate"} <= set(group)


# ---------------------------------------------------------------------------
# the command line


def test_the_cli_reports_a_bad_scenario_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(SMALL.replace("churn_rate = 0.05", "churn_rate = -1"))
    code, out, err = run_cli(capsys, "simulate", PARTNERS, "--scenario", bad)
    assert code == 2 and out == ""
    assert f"{bad}:14: error: field `referrers[0].churn_rate`" in err
    assert "nothing was simulated" in err and "Traceback" not in err


def test_the_cli_refuses_a_scenario_too_large(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    huge = tmp_path / "huge.toml"
    huge.write_text(SMALL + "#" * (300 * 1024))
    code, _, err = run_cli(capsys, "simulate", PARTNERS, "--scenario", huge)
    assert code == 2 and "larger than" in err


def test_the_cli_needs_a_scenario_or_a_ledger(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["simulate", str(PARTNERS)])
    assert exit.value.code == 2
    with pytest.raises(SystemExit) as exit:
        main(["simulate", str(PARTNERS), "--scenario", str(LAUNCH), "--runs", "0"])
    assert exit.value.code == 2


def test_a_backtest_reports_a_real_ledger(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(
        '{"id":"r1","at":"2026-02-01T00:00:00Z","type":"referral","referrer":"pat","referee":"bob","source":"partner"}\n'
        '{"id":"p1","at":"2026-02-02T00:00:00Z","type":"payment","referee":"bob","amount":"200"}\n'
        "\n"
        '{"id":"p2","at":"2026-04-02T00:00:00+02:00","type":"payment","referee":"bob","amount":"100.50"}\n'
    )
    code, out, _ = run_cli(capsys, "simulate", PARTNERS, "--ledger", ledger, "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["runs"] == 1 and report["months_simulated"] == ["2026-02", "2026-03", "2026-04"]
    assert report["revenue"]["p50"] == "300.50" and report["customers"]["p50"] == "1"
    assert report["payouts"]["USD"]["p50"] == "45.08"  # 15% of each payment: 30.00 + 15.08 (15.075, half to even)
    assert [row["revenue"]["p50"] for row in report["months"]] == ["200", "0", "100.50"]


def test_the_cli_gives_the_same_bytes_for_a_seed_whatever_the_hash_seed_and_jobs(tmp_path: Path) -> None:
    scenario = tmp_path / "small.toml"
    scenario.write_text(SMALL)
    outputs = set()
    for hash_seed, jobs in (("1", "1"), ("2", "2")):
        env = {**os.environ, "PYTHONPATH": SRC, "PYTHONHASHSEED": hash_seed}
        command = [sys.executable, "-m", "rewardrules", "simulate", str(PARTNERS), "--scenario", str(scenario)]
        command += ["--runs", "4", "--seed", "9", "--jobs", jobs, "--format", "json"]
        done = subprocess.run(command, capture_output=True, env=env, check=False, timeout=300)
        assert done.returncode == 0, done.stderr
        assert done.stderr == b""  # no progress bar off a terminal
        outputs.add(done.stdout)
    assert len(outputs) == 1


def _killed(task: tuple[int, int]) -> object:
    """A worker the system kills as it runs (SIGKILL, as the OOM killer
    sends it)."""
    os.kill(os.getpid(), 9)
    return None


def test_a_worker_killed_as_it_runs_is_said_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--jobs 2` with a worker killed: `BrokenProcessPool` came out as a
    traceback (exit 1) until 2026-12-07; now it is said, exit 2, and the
    API raises `SimulationError`. (The pool's workers are forked: they
    run this module's `_killed`, patched in before they start.)"""
    import rewardrules.simulate.run as run

    scenario = tmp_path / "small.toml"
    scenario.write_text(SMALL)
    monkeypatch.setattr(run, "_work", _killed)
    code, out, err = run_cli(capsys, "simulate", PARTNERS, "--scenario", scenario, "--runs", "4", "--jobs", "2")
    assert (code, out) == (2, "")
    assert err == f"rewardrules: error: {run.WORKER_LOST}\n"
    with pytest.raises(SimulationError, match="a worker process ended before its run was done"):
        simulate(rules(PARTNERS), parse_scenario(SMALL), 2, 1, 2)


def test_the_text_report_names_its_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "small.toml"
    scenario.write_text(SMALL)
    code, out, _ = run_cli(capsys, "simulate", PARTNERS, "--scenario", scenario, "--runs", "3", "--compare", PARTNERS)
    assert code == 0
    for words in (
        "payouts USD",
        "pending (held) USD",
        "revenue attributed",
        "cost per customer",
        "ROI",
        "milestones:",
        "top earners:",
        "runs that differ: 0 of 3",
        "2027-04",
    ):
        assert words in out, words


def test_a_callers_decimal_context_changes_nothing() -> None:
    """Under `prec=3` MRR changes, sums and ratios would round: every entry
    computes in the engine's context instead."""
    import decimal

    scenario = parse_scenario(SMALL.replace("churn_rate = 0.05", "churn_rate = 0.05\nmrr_change = 0.0123"))
    expected = json.dumps(report_of(scenario, 2, 4))
    with decimal.localcontext(decimal.Context(prec=3, traps=[decimal.Inexact])):
        assert json.dumps(report_of(scenario, 2, 4)) == expected


def test_progress_is_shown_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rewardrules.cli import simulate as command

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert command._progress() is None
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    show = command._progress()
    assert show is not None
    show(1, 2)
    show(2, 2)
    assert terminal.getvalue().endswith("] run 1/2\r[" + "#" * 30 + "] run 2/2\n")


def test_too_many_referrer_runs_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "big.toml"
    scenario.write_text(SMALL.replace("count = 30", "count = 90000").replace("[0, 1, 2]", "[0, 0, 1]"))
    code, out, err = run_cli(capsys, "simulate", PARTNERS, "--scenario", scenario, "--runs", "1000")
    assert code == 2 and out == "" and "referrer-runs" in err


def test_a_bad_ledger_or_rule_file_is_reported_with_its_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text('{"id":"p1","at":"2026-02-02T00:00:00","type":"payment","referee":"bob","amount":"1"}\n')
    code, out, err = run_cli(capsys, "simulate", PARTNERS, "--ledger", ledger)
    assert code == 2 and out == "" and ":1: error: field `at`" in err and "Traceback" not in err
    broken = tmp_path / "broken.rules"
    broken.write_text("ruleset broken\nmilestone m { when nothing }\n")
    code, out, err = run_cli(capsys, "simulate", PARTNERS, "--scenario", LAUNCH, "--compare", broken)
    assert code == 1 and out == "" and "broken.rules:2" in err


@pytest.mark.parametrize(
    ("stated", "said"),
    [
        ('"300,00"', 'must be a number, not "300,00"'),
        ('"NaN"', 'must be a number, not "NaN"'),
        ('"sNaN"', 'must be a number, not "sNaN"'),
        ('"1e999999999"', 'must be a number, not "1e999999999"'),
        ("1e999999999", "is out of range"),
        ("true", "must be a number, not true"),
        ("{}", "must be a number, not {}"),
        ("[1]", "must be a number, not [1]"),
    ],
)
def test_a_backtest_refuses_a_revenue_amount_the_rule_file_does_not_declare(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stated: str, said: str
) -> None:
    """`partner_and_customer.rules` declares `refund { payment: text }`, so
    the scorer never read a refund's `amount`, which the backtest counts
    as revenue taken back: `"300,00"` was a traceback (exit 1), `"NaN"` a
    `NaN` revenue in the report, until 2026-12-08. Now it is a problem at
    its line and field, as the scorer's are, exit 2, and nothing is
    reported; with `--sample` too."""
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(
        '{"id":"r1","at":"2026-02-01T00:00:00Z","type":"referral","referrer":"pat","referee":"bob","source":"partner"}\n'
        '{"id":"p1","at":"2026-02-02T00:00:00Z","type":"payment","referee":"bob","amount":"200"}\n'
        "\n"
        '{"id":"f1","at":"2026-02-03T00:00:00Z","type":"refund","referee":"bob","payment":"p1","amount":'
        + stated
        + "}\n"
    )
    for extra in ((), ("--sample", "1")):
        code, out, err = run_cli(capsys, "simulate", PARTNERS, "--ledger", ledger, *extra)
        assert (code, out) == (2, ""), err
        assert f"{ledger}:4: error: field `amount`: `amount` {said}" in err
        assert "counts the `amount` of each payment and refund" in err and "Traceback" not in err
        assert err.endswith("rewardrules: error: the ledger has 1 problem(s); nothing was simulated\n")


def test_a_backtest_reads_amounts_as_the_scorer_does(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A refund's `amount` as a JSON number, a string or left out (the
    payment it names taken back), a payment's as a number with an exponent:
    all exact, and a refund of a customer no referral names is not read."""
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(
        '{"id":"r1","at":"2026-02-01T00:00:00Z","type":"referral","referrer":"pat","referee":"bob","source":"partner"}\n'
        '{"id":"p1","at":"2026-02-02T00:00:00Z","type":"payment","referee":"bob","amount":"200"}\n'
        '{"id":"p2","at":"2026-02-02T01:00:00Z","type":"payment","referee":"bob","amount":1.005E2}\n'
        '{"id":"f1","at":"2026-02-03T00:00:00Z","type":"refund","referee":"bob","payment":"p1","amount":0.1}\n'
        '{"id":"f2","at":"2026-02-03T01:00:00Z","type":"refund","referee":"bob","payment":"p2"}\n'
        '{"id":"f3","at":"2026-02-03T02:00:00Z","type":"refund","referee":"eve","payment":"p9","amount":"x"}\n'
    )
    code, out, err = run_cli(capsys, "simulate", PARTNERS, "--ledger", ledger, "--format", "json")
    assert code == 0, err
    assert json.loads(out)["revenue"]["p50"] == "199.9"


def test_a_scenario_without_leads_reports_zero_not_nothing() -> None:
    report = report_of(
        parse_scenario(
            SMALL.replace("{ choice = [0, 1, 2], weights = [2, 2, 1] }", "0").replace("{ uniform = [0, 1] }", "0")
        ),
        2,
        1,
    )
    assert report["payouts"]["USD"]["p99"] == "0" and report["pending"]["USD"]["p99"] == "0"
    assert (
        report["customers"]["p99"] == "0"
        and report["cost_per_customer"] == {"runs": 0}
        and report["roi"] == {"runs": 0}
    )
    assert report["conversion"] == [] and report["top_earners"] == []
