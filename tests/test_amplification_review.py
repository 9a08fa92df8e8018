"""Review 15: award ids of `every`, message size, and award volume.

- An `every` award is for the threshold reached, so its id must not depend
  on how the step is written (`every 10` and `every 10.00`): a cosmetic
  edit would pay every award again.
- A message is cut at `MAX_MESSAGE_CHARS`, and rendering stops there: a
  short template that repeats a long value must not build megabytes first.
- One event gives at most `MAX_AWARDS_PER_EVENT` (100) awards unless the
  caller raises it, so `every 0.01 paid` (at the floor, which `check`
  passes) cannot turn a small ledger into a hundred thousand awards.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

import rewardrules
from rewardrules import limits, templates
from rewardrules.cli import main

HEAD = """ruleset volume
event payment { amount: money USD }
metric paid = sum payment.amount
"""


def ledger(*amounts: str, referee: str = "bob") -> list[dict[str, Any]]:
    referral = {"id": "r1", "at": "2026-02-01T00:00:00Z", "type": "referral", "referrer": "alice", "referee": referee}
    payments = [
        {"id": f"p{n}", "at": f"2026-02-{n + 2:02d}T00:00:00Z", "type": "payment", "referee": referee, "amount": a}
        for n, a in enumerate(amounts)
    ]
    return [referral, *payments]


def recipe_id(*fields: str) -> str:
    """docs/semantics.md, "Award ids", written out again independently."""
    data = b"".join(str(len(f.encode())).encode() + b":" + f.encode() + b"," for f in ("award", *fields))
    return "aw_" + hashlib.sha256(data).hexdigest()[:32]


def awards(program: Any, events: list[dict[str, Any]], **options: Any) -> list[dict[str, Any]]:
    return list(program.score(events, explain=True, **options).data["awards"])


# -- 1. `every` ids do not depend on how the step is written ------------------


@pytest.mark.parametrize("step", ["10", "10.00", "010", "10.0000000"])
def test_every_ids_do_not_depend_on_the_spelling_of_the_step(step: str) -> None:
    """The occurrence is the threshold reached, written canonically: `10`,
    `20`, not `10.00`, `20.00`; the id is the documented recipe's."""
    program = rewardrules.compile(HEAD + f"milestone m {{ every {step} paid  reward referrer cash 1 USD }}\n")
    found = awards(program, ledger("25"))
    assert [a["why"]["occurrence"] for a in found] == ["10", "20"]
    assert [a["id"] for a in found] == [
        recipe_id("volume", "volume", "m", "alice", "bob", occurrence, "referrer", "alice")
        for occurrence in ("10", "20")
    ]


@pytest.mark.parametrize(
    ("steps", "occurrences"),
    [
        (["0.5", "0.50", "00.500"], ["0.5", "1", "1.5"]),
        (["2.5", "2.50"], ["2.5", "5"]),
        (["0.01", "0.010"], [f"0.0{n}" for n in range(1, 10)] + ["0.1", "0.11", "0.12"]),
    ],
)
def test_fractional_every_steps_give_one_set_of_ids(steps: list[str], occurrences: list[str]) -> None:
    """No trailing zeros, no exponent, no point for a whole threshold."""
    amount = {"0.5": "1.75", "2.5": "5.5", "0.01": "0.12"}[steps[0]]
    seen = []
    for step in steps:
        program = rewardrules.compile(HEAD + f"milestone m {{ every {step} paid  reward referrer cash 1 USD }}\n")
        found = awards(program, ledger(amount))
        assert [a["why"]["occurrence"] for a in found] == occurrences
        seen.append([a["id"] for a in found])
    assert all(ids == seen[0] for ids in seen)


def test_the_ids_of_other_milestones_are_unchanged() -> None:
    """`first` has no occurrence, `each` the event's id: as before."""
    text = HEAD + (
        "milestone once { first payment  reward referrer cash 1 USD }\n"
        "milestone each_payment { each payment  reward referrer cash 1 USD }\n"
    )
    found = {
        (a["milestone"], a["why"].get("occurrence")): a["id"]
        for a in awards(rewardrules.compile(text), ledger("1.00", "2.50"))
    }
    assert found == {
        ("once", None): recipe_id("volume", "volume", "once", "alice", "bob", "", "referrer", "alice"),
        ("each_payment", "p0"): recipe_id(
            "volume", "volume", "each_payment", "alice", "bob", "p0", "referrer", "alice"
        ),
        ("each_payment", "p1"): recipe_id(
            "volume", "volume", "each_payment", "alice", "bob", "p1", "referrer", "alice"
        ),
    }


def test_a_settled_statement_survives_respelling_the_step() -> None:
    """The exactly-once payer's case: what was paid under `every 10` is
    what `every 10.00` gives, so nothing is reversed and reissued."""
    before = rewardrules.compile(HEAD + "milestone m { every 10 paid  reward referrer cash 1 USD }\n")
    after = rewardrules.compile(HEAD + "milestone m { every 10.00 paid  reward referrer cash 1 USD }\n")
    paid = before.score(ledger("25"))
    again = after.score(ledger("25"), settled=paid.data).data
    assert [a["id"] for a in again["awards"]] == [a["id"] for a in paid.data["awards"]]
    assert again.get("reversals", []) == []


# -- 2. messages are rendered only up to their limit --------------------------


class CountingText(str):
    """A text that counts how often a template writes it out."""

    written = 0

    def __str__(self) -> str:
        CountingText.written += 1
        return str.__str__(self)


def test_rendering_stops_at_the_message_limit() -> None:
    """`{{referee}}` 900 times with a long referee: the old render wrote
    the value 900 times (450 MB for a 500,000-character referee) before
    cutting; now it stops after the piece that passes the limit."""
    text = "{{referee}}" * 900
    value = CountingText("x" * 5_000)
    CountingText.written = 0
    message = templates.render(text, {"referee": value})
    assert CountingText.written == 1
    assert len(message) == limits.MAX_MESSAGE_CHARS and message.endswith("…")
    assert message[:-1] == "x" * (limits.MAX_MESSAGE_CHARS - 1)


def test_a_cut_message_is_what_a_full_render_cut_would_be() -> None:
    """Stopping early changes no byte: the pieces before the cut are a
    full render's (short values, constants, a condition between them)."""
    text = '{% if referee != "" %}to {{ referee | upper }}: {% endif %}' + "{{referrer}}, " * 800 + "end"
    context = {"referee": "bob", "referrer": "alice-" * 3}
    full = templates._compiled(text).render(dict(context))
    assert len(full) > limits.MAX_MESSAGE_CHARS
    assert templates.render(text, context) == full[: limits.MAX_MESSAGE_CHARS - 1] + "…"
    short = '{% if referee == "bob" %}hi {{ referee }}{% endif %}'
    assert templates.render(short, context) == "hi bob"


def test_a_scored_message_is_cut_with_a_marker() -> None:
    text = HEAD + 'milestone m { first payment  reward referrer cash 1 USD  message "' + "{{referee}}" * 900 + '" }\n'
    referee = "b" * 5_000
    (award,) = awards(rewardrules.compile(text), ledger("1", referee=referee))
    assert award["message"] == "b" * (limits.MAX_MESSAGE_CHARS - 1) + "…"


# -- 3. awards per event -------------------------------------------------------

CENTS = HEAD + "milestone tick { every 0.01 paid  reward referrer cash 0.01 USD }\n"


def test_the_floor_step_cannot_amplify_a_ledger() -> None:
    """`every 0.01 paid` passes `check` (it is the floor), but one payment
    of 10.00 would be 1,000 awards: past the default of 100 scoring stops,
    before the event issues any."""
    program = rewardrules.compile(CENTS)
    assert rewardrules.check_source(CENTS) == []
    with pytest.raises(rewardrules.AwardLimitError) as info:
        program.score(ledger("0.50", "10.00"))
    assert info.value.limit == limits.MAX_AWARDS_PER_EVENT == 100
    assert info.value.event == "p1"
    assert "would give 1,000 awards of milestone `tick`" in info.value.message
    assert "--max-awards-per-event" in info.value.hint and "max_awards_per_event=" in info.value.hint


def test_an_app_raises_the_limit_explicitly() -> None:
    program = rewardrules.compile(CENTS)
    events = ledger("0.50", "10.00")
    batch = awards(program, events, max_awards_per_event=1000)
    assert len(batch) == 1050
    stream = program.score_stream([json.dumps(e) for e in events], max_awards_per_event=1000).data["awards"]
    assert [a["id"] for a in stream] == [a["id"] for a in batch]
    session = program.session(max_awards_per_event=1000)
    issued = [award.id for e in events for award in session.add(e)]
    assert issued == [a["id"] for a in batch]
    with pytest.raises(rewardrules.AwardLimitError, match="limit of 999 at one event"):
        program.score(ledger("10.00"), max_awards_per_event=999)


def test_a_session_over_the_limit_issues_nothing_of_that_event_and_stops() -> None:
    """The step ran part way (the metric moved, no award was issued): the
    session takes nothing more, not even the same event again (which it
    would take for a repeat and ignore), until restored from a snapshot."""
    program = rewardrules.compile(CENTS)
    session = program.session()
    events = ledger("0.50", "10.00")
    assert sum(len(session.add(e)) for e in events[:2]) == 50
    before = session.snapshot()
    with pytest.raises(rewardrules.AwardLimitError):
        session.add(events[2])
    for call in (
        lambda: session.add(events[2]),
        lambda: session.add_many(events[2:]),
        lambda: session.advance("2027-01-01T00:00:00Z"),
        session.result,
        session.snapshot,
    ):
        with pytest.raises(rewardrules.SessionStoppedError, match=r"stopped at event `p1` .*restore it"):
            call()
    restored = program.restore(before)
    assert len(restored.result().data["awards"]) == 50
    with pytest.raises(rewardrules.AwardLimitError):
        restored.add(events[2])


def test_a_restored_session_takes_the_limit_again() -> None:
    """A snapshot does not carry the limit: the app passes it to `restore`."""
    program = rewardrules.compile(CENTS)
    session = program.session(max_awards_per_event=1000)
    events = ledger("0.50", "10.00")
    assert sum(len(session.add(e)) for e in events[:2]) == 50
    snapshot = session.snapshot()
    with pytest.raises(rewardrules.AwardLimitError):
        program.restore(snapshot).add(events[2])
    restored = program.restore(snapshot, max_awards_per_event=1000)
    assert len(restored.add(events[2])) == 1000


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "100", limits.MAX_AWARDS_PER_RUN + 1])
def test_a_limit_that_is_no_count_is_refused(value: Any) -> None:
    program = rewardrules.compile(CENTS)
    for call in (
        lambda: program.score(ledger("1"), max_awards_per_event=value),
        lambda: program.score_stream([], max_awards_per_event=value),
        lambda: program.session(max_awards_per_event=value),
        lambda: program.restore(b"not read", max_awards_per_event=value),
    ):
        with pytest.raises(ValueError, match="max_awards_per_event must be a whole number"):
            call()


def test_diff_ledger_takes_the_limit() -> None:
    from rewardrules.diffing import diff_ledger

    old = rewardrules.compile(CENTS)
    new = rewardrules.compile(CENTS.replace("0.01 USD }", "0.02 USD }"))
    with pytest.raises(rewardrules.AwardLimitError):
        diff_ledger(old, new, ledger("10.00"))
    diff = diff_ledger(old, new, ledger("10.00"), max_awards_per_event=1000)
    assert not diff.equal and len(diff.to_dict()["changed"]) == 1000


@pytest.fixture
def cents_files(tmp_path: Path) -> tuple[Path, Path]:
    rules = tmp_path / "cents.rules"
    rules.write_text(CENTS)
    events = tmp_path / "cents.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in ledger("0.50", "10.00")))
    return rules, events


COMMANDS = {
    "score": ["score", "--format", "json"],
    "stream": ["score", "--stream", "--format", "json"],
    "explain": ["explain", "--format", "json"],
    "diff": ["diff", "RULES"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_cli_option_raises_the_limit(command: str, cents_files: tuple[Path, Path], capsys: Any) -> None:
    rules, events = cents_files
    args = [str(rules) if a == "RULES" else a for a in COMMANDS[command]]
    assert main([*args, str(rules), str(events)]) == 2
    assert "more than the limit of 100 at one event" in capsys.readouterr().err
    assert main([*args, str(rules), str(events), "--max-awards-per-event", "1000"]) == 0
    out = capsys.readouterr().out
    if command in ("score", "stream"):
        assert len(json.loads(out)["awards"]) == 1050


def test_the_report_takes_the_option_too(cents_files: tuple[Path, Path], tmp_path: Path, capsys: Any) -> None:
    rules, events = cents_files
    out = tmp_path / "report.html"
    assert main(["report", str(rules), str(events), "-o", str(out)]) == 2
    assert not out.exists()
    assert main(["report", str(rules), str(events), "-o", str(out), "--max-awards-per-event", "1000"]) == 0
    assert out.exists()


@pytest.mark.parametrize("value", ["0", "-5", "x", "1e3", "٣", "5000001", "9" * 40])
def test_the_cli_refuses_a_limit_that_is_no_count(value: str, cents_files: tuple[Path, Path], capsys: Any) -> None:
    rules, events = cents_files
    with pytest.raises(SystemExit) as info:
        main(["score", str(rules), str(events), f"--max-awards-per-event={value}"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--max-awards-per-event: expected a whole number from 1 to 5,000,000" in err and "Traceback" not in err
