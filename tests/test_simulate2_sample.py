"""`rewardrules simulate --ledger L --sample SIZE`: a backtest on a sample
of a real ledger's referrers (docs/simulate.md).

Referrers are sampled, never lines: a sampled referrer keeps their whole
history, so what they earn in the sample is what they earn in the whole
ledger, exactly. The sample is the same for a seed whatever the line
order, the report says it is a sample, and its figures are not scaled."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from pathlib import Path

import pytest

from rewardrules.cli import main
from rewardrules.score.api import compile
from rewardrules.simulate.generate import generate, run_seed
from rewardrules.simulate.measure import measure
from rewardrules.simulate.sample import sample_lines, sample_size
from rewardrules.simulate.scenario import Events, parse_scenario

from .test_simulate import PARTNERS, SMALL


def _lines(events: list[dict[str, object]]) -> list[bytes]:
    return [json.dumps(event).encode() for event in events]


@pytest.fixture
def events() -> list[dict[str, object]]:
    return generate(parse_scenario(SMALL), run_seed(5, 0))


def _events(lines: list[bytes]) -> list[dict[str, object]]:
    return [json.loads(line) for line in lines if line.strip()]


def test_a_sampled_referrer_keeps_their_whole_history_and_earns_as_in_the_ledger(
    events: list[dict[str, object]],
) -> None:
    lines = _lines(events)
    kept, sample = sample_lines(lines, 20, 9)
    assert (sample.size, sample.of, sample.seed) == (20, len({e["referrer"] for e in events if "referrer" in e}), 9)
    chosen = {e["referrer"] for e in _events(kept) if "referrer" in e}
    assert len(chosen) == 20
    referees = {e["referee"] for e in events if e.get("referrer") in chosen}
    # every line of the sampled referrers' referees, and no other
    assert _events(kept) == [
        e for e in events if e["referee"] in referees and e.get("referrer", next(iter(chosen))) in chosen
    ]
    program = compile(PARTNERS.read_text(), str(PARTNERS))
    names = Events.model_validate({})
    as_of = max(e["at"] for e in events)
    whole = measure(events, program.score(lines, as_of=as_of).data, names, "USD")
    part = measure(_events(kept), program.score(kept, as_of=as_of).data, names, "USD")
    assert part.earners == {r: a for r, a in whole.earners.items() if r in chosen}
    assert part.earners and sum(part.earners.values()) < sum(whole.earners.values())


def test_the_sample_is_the_same_for_a_seed_whatever_the_line_order(events: list[dict[str, object]]) -> None:
    lines = _lines(events)
    shuffled = lines[:]
    random.Random(4).shuffle(shuffled)
    picked = {line for line in sample_lines(lines, Decimal("0.3"), 2)[0] if line}
    assert {line for line in sample_lines(shuffled, Decimal("0.3"), 2)[0] if line} == picked
    assert {line for line in sample_lines(lines, Decimal("0.3"), 3)[0] if line} != picked


def test_a_share_is_rounded_half_to_even_and_is_at_least_one_referrer(events: list[dict[str, object]]) -> None:
    lines = _lines(events)
    total = sample_lines(lines, 1, 0)[1].of
    assert total == 84  # the referrers with a referral; 6 of the 90 made none
    assert sample_lines(lines, Decimal("0.125"), 0)[1].size == 10  # 10.5, half to even
    assert sample_lines(lines, Decimal("0.375"), 0)[1].size == 32  # 31.5
    assert sample_lines(lines, Decimal("0.001"), 0)[1].size == 1
    assert sample_lines(lines, 500, 0)[1].size == 84  # a number above the referrers takes them all


@pytest.mark.parametrize("text", ["0", "1.0", "1.5", "-1", "0.", ".5", "1e3", "10%", "0.5x", "٣"])
def test_a_size_that_is_no_share_and_no_number_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="a share of the referrers above 0 and below 1"):
        sample_size(text)


def test_the_report_says_it_is_a_sample_and_is_the_same_bytes_for_any_line_order(
    events: list[dict[str, object]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_bytes(b"\n".join(_lines(events)) + b"\n")
    argv = ["simulate", str(PARTNERS), "--ledger", str(ledger), "--sample", "0.5", "--seed", "8"]
    assert main([*argv, "--format", "json"]) == 0
    first = capsys.readouterr().out
    report = json.loads(first)
    assert report["sample"] == {"referrers": 42, "of": 84, "seed": 8, "scaled": False} and report["seed"] == 8
    shuffled = _lines(events)
    random.Random(1).shuffle(shuffled)
    ledger.write_bytes(b"\n".join(shuffled) + b"\n")
    assert main([*argv, "--format", "json"]) == 0
    assert capsys.readouterr().out == first
    assert main(argv) == 0
    assert "(a sample: 42 of its 84 referrers; figures not scaled)" in capsys.readouterr().out
    assert main([*argv, "--format", "html"]) == 0
    assert "a sample: 42 of its 84 referrers" in capsys.readouterr().out
    assert main(["simulate", str(PARTNERS), "--ledger", str(ledger), "--format", "json"]) == 0
    assert "sample" not in json.loads(capsys.readouterr().out)


def test_the_sample_is_scored_as_of_the_whole_ledgers_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ann's customer reward is held 30 days; the ledger ends with bea's
    lines 60 days later, so it is confirmed, in the sample of ann too."""
    rows = [
        {
            "id": "r1",
            "at": "2027-01-01T00:00:00Z",
            "type": "referral",
            "referrer": "ann",
            "referee": "c1",
            "source": "customer",
        },
        {"id": "p1", "at": "2027-01-02T00:00:00Z", "type": "payment", "referee": "c1", "amount": "10.00"},
        {
            "id": "r2",
            "at": "2027-03-01T00:00:00Z",
            "type": "referral",
            "referrer": "bea",
            "referee": "c2",
            "source": "customer",
        },
    ]
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text("".join(json.dumps(row) + "\n" for row in rows))
    seed = next(s for s in range(50) if b"ann" in b"".join(sample_lines(_lines(rows), 1, s)[0]))
    assert (
        main(
            [
                "simulate",
                str(PARTNERS),
                "--ledger",
                str(ledger),
                "--sample",
                "1",
                "--seed",
                str(seed),
                "--format",
                "json",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["payouts"]["USD"]["p50"] == "100.00" and report["pending"]["USD"]["p50"] == "0"
    assert report["months_simulated"] == ["2027-01", "2027-02", "2027-03"]


def test_a_problem_in_a_sampled_line_names_its_line_in_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        '{"id": "r1", "at": "2027-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "c1"}',
        '{"id": "r2", "at": "2027-01-01T00:00:00Z", "type": "referral", "referrer": "bea", "referee": "c2"}',
        '{"id": "p2", "at": "2027-01-02T00:00:00Z", "type": "payment", "referee": "c2", "amount": "10.00"}',
        '{"id": "p1", "at": "2027-01-02", "type": "payment", "referee": "c1", "amount": "10.00"}',
    ]
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text("\n".join(rows) + "\n")
    seed = next(s for s in range(50) if b"ann" in b"".join(sample_lines([r.encode() for r in rows], 1, s)[0]))
    code = main(["simulate", str(PARTNERS), "--ledger", str(ledger), "--sample", "1", "--seed", str(seed)])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and f"{ledger}:4: error: field `at`" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--scenario", "s.toml", "--sample", "0.5"], "--sample is for a backtest (--ledger)"),
        (["--ledger", "l.jsonl", "--seed", "3"], "--seed is for a forecast"),
        (["--ledger", "l.jsonl", "--sample", "3", "--runs", "5"], "--runs is for a forecast"),
    ],
)
def test_sample_options_out_of_place_are_usage_errors(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", str(PARTNERS), *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and words in err


def test_compare_scores_both_rule_files_on_the_same_sample(
    events: list[dict[str, object]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_bytes(b"\n".join(_lines(events)) + b"\n")
    argv = ["simulate", str(PARTNERS), "--ledger", str(ledger), "--sample", "0.4", "--seed", "6", "--format", "json"]
    assert main([*argv, "--compare", str(PARTNERS)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["compare"]["difference"]["runs_differ"] == 0
    assert report["compare"]["payouts"] == report["payouts"] and report["sample"]["referrers"] == 34
    capped = tmp_path / "capped.rules"
    capped.write_text(PARTNERS.read_text().replace("5000 USD per quarter", "100 USD per quarter"))
    assert main([*argv, "--compare", str(capped)]) == 0
    paired = json.loads(capsys.readouterr().out)
    assert paired["payouts"] == report["payouts"]  # the first file's figures: the same sample
    assert paired["compare"]["difference"]["runs_differ"] == 1
    assert Decimal(paired["compare"]["difference"]["payouts"]["USD"]["p50"]) < 0
