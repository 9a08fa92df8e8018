"""Events' instants read as values (`payment.at - referral.at <= 7 days`,
`latest payment.at`, `min`/`max`/`first` of them), refused before
(docs/sql.md, "Instants"): an instant is the engine's int nanoseconds,
read as an exact DECIMAL (a difference of two may pass BIGINT), a
duration literal its nanoseconds, an explanation or a message writes
either as the engine does (a duration in days, to 100 significant digits,
computed in Python from the nanoseconds the query gives). Byte for byte the Python engine's result, explained
too, in conditions, an aggregate's `where`, `void` conditions, a timer's
condition and messages, with a moving attribution too; on hand-written
edges (exactly 7 days, a nanosecond less) and random ledgers of
fractional instants, and on Spark."""

from __future__ import annotations

import datetime
import decimal
import json
import random
from functools import cache
from typing import Any

import pytest

import rewardrules
from rewardrules.core.datatypes import T_DURATION
from rewardrules.core.formatting import format_value
from rewardrules.core.timeutil import NS_PER_DAY
from rewardrules.sql.compile import compile_query
from rewardrules.sql.diagnose import refusals
from rewardrules.sql.spark import Spark

from .test_review_rev1_drawn import same_explained
from .test_sql_backend import python_json
from .test_sql_explain_drawn import reported_as_compiled
from .test_sql_lifted_earlier import moving
from .test_sql_sections_lifted import pay, ref, same_sections
from .test_sql_spark import spark_json
from .test_sql_voids_metrics import paid, same

INSTANTS = """\
ruleset instants

event referral { source: optional text }
event payment { amount: money USD }
event refund { payment: text }

metric last_paid = latest payment.at
metric first_paid = first payment.at
metric earliest = min payment.at where payment.amount > 1 USD
metric newest = max payment.at
metric quick_paid = count payment where payment.at - referral.at <= 7 days
metric gap = last_paid - first_paid

milestone quick {
  first payment where payment.at - referral.at <= 7 days
  reward referrer cash 10 USD
  hold 3 days
  void if refund where refund.at - payment.at < 2 days and refund.payment == payment.id
  message "{{ referee }} paid at {{ payment.at }}, first {{ first_paid }}"
}

milestone kept {
  when gap >= 30 days and newest - earliest > 0 days
  reward referrer cash 5 USD
  message "{{ last_paid }}, {{ gap }} after the first"
}

milestone fast_twice {
  when quick_paid >= 2
  reward referee credit 2 USD
}

milestone late {
  after 10 days if first_paid is set and first_paid + 5 days > referral.at + 8 days
  reward referrer cash 1 USD
}

milestone halved {
  first payment where (payment.at - referral.at) * 0.5 <= 3 days + 12 hours
    and (referral.at - payment.at) * 0.5 >= -3 days - 12 hours
  reward referrer cash 1 USD
}

milestone refund_window {
  first payment
  reward referrer cash 3 USD
  void if refund where refund.at <= referral.at + 20 days
}
"""

#: the same, where a later referral takes an unconverted referee
MOVING = moving(INSTANTS)


@cache
def program(moving: bool) -> rewardrules.Program:
    return rewardrules.compile(MOVING if moving else INSTANTS, "instants.rules")


@pytest.mark.parametrize("moving", [False, True])
def test_it_compiles_and_check_reports_nothing(moving: bool) -> None:
    compile_query(program(moving).compiled)
    assert refusals(program(moving).compiled) == []
    assert reported_as_compiled(program(moving))


def test_a_duration_times_a_number_is_whole_nanoseconds_toward_zero() -> None:
    """The engine truncates `duration * number` to whole nanoseconds
    (`to_ns`): b paid 7 days and a nanosecond after its referral, half of
    which is 3.5 days and half a nanosecond, truncated to 3.5 days, so
    `<= 3 days + 12 hours` holds for b as for a; for c (7 days and 2 ns)
    it does not. A negative one truncates toward zero too."""
    prog = program(False)
    events = [
        *EDGES[:4],
        {"id": "r3", "at": _at(1), "type": "referral", "referrer": "ann", "referee": "c"},
        {"id": "p3", "at": _at(8, 2), "type": "payment", "referee": "c", "amount": "10.00"},
    ]
    result = same(prog, events, "2026-03-01T00:00:00Z")
    assert [a["referee"] for a in result["awards"] if a["milestone"] == "halved"] == ["a", "b"]
    same_explained(prog, events)


def _at(day: int, nanos: int = 0) -> str:
    """The instant `nanos` after midnight of 2026's day `day` (1 is 01-01)."""
    date = datetime.date(2026, 1, 1) + datetime.timedelta(days=day - 1)
    fraction = f".{nanos:09d}".rstrip("0") if nanos else ""
    return f"{date.isoformat()}T00:00:00{fraction}Z"


#: a pays exactly 7 days after its referral, b a nanosecond later; a's
#: refund of its payment 2 days less a nanosecond after it
EDGES = [
    {"id": "r1", "at": _at(1), "type": "referral", "referrer": "ann", "referee": "a"},
    {"id": "r2", "at": _at(1), "type": "referral", "referrer": "ann", "referee": "b"},
    {"id": "p1", "at": _at(8), "type": "payment", "referee": "a", "amount": "10.00"},
    {"id": "p2", "at": _at(8, 1), "type": "payment", "referee": "b", "amount": "10.00"},
    {"id": "f1", "at": "2026-01-09T23:59:59.999999999Z", "type": "refund", "referee": "a", "payment": "p1"},
]


def test_seven_days_is_inclusive_to_the_nanosecond() -> None:
    result = same(program(False), EDGES, "2026-03-01T00:00:00Z")
    assert paid(result, "quick") == [("01-08", "void")]  # a's only: b paid a nanosecond late
    quick = next(a for a in result["awards"] if a["milestone"] == "quick")
    assert quick["message"] == "a paid at 2026-01-08T00:00:00Z, first 2026-01-08T00:00:00Z"
    assert paid(result, "refund_window") == [("01-08", "confirmed")] * 2  # no hold: a's refund reverses it
    assert [(r["milestone"], r["referee"]) for r in result["reversals"]] == [("refund_window", "a")]
    same_explained(program(False), EDGES)


def _random(rng: random.Random) -> list[dict[str, Any]]:
    """Up to 30 events over 45 days at instants with fractions of a second
    (ties too): referrals of two referrers, payments, refunds."""
    events: list[dict[str, Any]] = []
    for n in range(rng.randint(1, 30)):
        at = _at(rng.choice([1, 2, 4, 8, 9, 11, 20, 38, 45]), rng.choice([0, 0, 1, 500_000_000, 999_999_999]))
        referee = rng.choice("abcde")
        roll = rng.random()
        if roll < 0.35:
            events.append(
                {
                    "id": f"e{n:02d}",
                    "at": at,
                    "type": "referral",
                    "referrer": rng.choice(["ann", "bob"]),
                    "referee": referee,
                }
            )
        elif roll < 0.8:
            amount = rng.choice(["10.00", "0.50"])
            events.append({"id": f"e{n:02d}", "at": at, "type": "payment", "referee": referee, "amount": amount})
        else:
            named = [e["id"] for e in events if e["type"] == "payment"] or ["none"]
            events.append(
                {"id": f"e{n:02d}", "at": at, "type": "refund", "referee": referee, "payment": rng.choice(named)}
            )
    return events


@pytest.mark.parametrize("moving", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_random_ledgers_give_the_same_awards(moving: bool, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(3):
        events = _random(rng)
        same(program(moving), events, "2026-03-01T00:00:00Z")
        same(program(moving), events, "2026-01-12T00:00:00Z")  # holds and timers still open
        same_explained(program(moving), events)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")
def test_the_same_on_spark(spark: Spark) -> None:
    """The query written in Spark's dialect (one run: Spark is slow to plan)."""
    as_of = "2026-03-01T00:00:00Z"
    assert spark_json(spark, program(False), EDGES, as_of) == python_json(program(False), EDGES, as_of)


def test_a_duration_is_written_in_the_engines_context_whatever_the_callers() -> None:
    """A gap of 30 days and a nanosecond, in a message and an explanation:
    exactly (`30 days 0.000000001 seconds`; its days to 100 significant
    digits before tests/test_duration_text.py), also when the app's own
    decimal context is narrower (`format_value` divided in the caller's
    context once)."""
    events = [
        {"id": "r1", "at": _at(1), "type": "referral", "referrer": "ann", "referee": "a"},
        {"id": "p1", "at": _at(2), "type": "payment", "referee": "a", "amount": "10.00"},
        {"id": "p2", "at": _at(32, 1), "type": "payment", "referee": "a", "amount": "10.00"},
    ]
    result = same(program(False), events, "2026-03-01T00:00:00Z")
    kept = next(a for a in result["awards"] if a["milestone"] == "kept")
    gap = "30 days 0.000000001 seconds"
    assert kept["message"] == f"2026-02-01T00:00:00.000000001Z, {gap} after the first"
    with decimal.localcontext() as narrow:
        narrow.prec = 5
        assert format_value(30 * NS_PER_DAY + 1, T_DURATION) == gap
        assert format_value(30 * NS_PER_DAY + 27, T_DURATION) == "30.0000000000003125 days"
    explained = program(False).score(events, as_of="2026-03-01T00:00:00Z").data["awards"]
    assert next(a for a in explained if a["milestone"] == "kept")["why"]["values"]["gap"] == gap
    same_explained(program(False), events)  # the SQL engine's explanation: the same


#: fields declared `time`: in conditions, aggregates (`first`, `latest`,
#: `max`), eligibility, a `void` condition, a message and explanations
TIME_FIELDS = """\
ruleset time_fields

event referral { signed: optional time }
event payment { amount: money USD, due: optional time }

metric first_due = first payment.due
metric last_due = latest payment.due
metric latest_due = max payment.due where payment.due - payment.at < 30 days
metric early = count payment where payment.due is set and payment.due < referral.signed + 10 days

eligible when referral.signed is not set or referral.signed <= referral.at + 15 days

milestone on_time {
  first payment where payment.due is set and payment.at <= payment.due
  reward referrer cash 10 USD
  message "due {{ payment.due }}, first due {{ first_due }}"
}

milestone signed_fast {
  when early >= 1 and last_due - first_due >= 0 days and latest_due is set
  reward referee credit 5 USD
  void if payment where payment.due is set and payment.due < referral.signed
}
"""


def _time_fields(rng: random.Random) -> list[dict[str, Any]]:
    """A random ledger of `TIME_FIELDS`: instants of the fields with
    offsets, fractions, before 1970 too, or missing."""
    stamps = [
        "2026-01-02T00:00:00+02:00",
        "2026-01-05T00:00:00Z",
        "1969-12-31T23:59:59.5Z",
        _at(9, 1),
        _at(20),
        _at(45),
    ]
    events: list[dict[str, Any]] = []
    for n, event in enumerate(_random(rng)):
        if event["type"] == "refund":
            continue
        name = "signed" if event["type"] == "referral" else "due"
        if rng.random() < 0.7:
            event[name] = rng.choice(stamps)
        events.append({**event, "id": f"t{n:02d}"})
    return events


@pytest.mark.parametrize("seed", range(3))
def test_time_fields_give_the_same_awards(seed: int) -> None:
    prog = rewardrules.compile(TIME_FIELDS, "time_fields.rules")
    assert refusals(prog.compiled) == []
    rng = random.Random(seed)
    for _ in range(3):
        events = _time_fields(rng)
        same(prog, events, "2026-03-01T00:00:00Z")
        same_explained(prog, events)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")
def test_time_fields_on_spark(spark: Spark) -> None:
    prog = rewardrules.compile(TIME_FIELDS, "time_fields.rules")
    events = _time_fields(random.Random(7))
    assert spark_json(spark, prog, events, None) == python_json(prog, events, None)


def test_instants_far_from_1970_are_explained_to_the_nanosecond() -> None:
    """An explanation writes an instant from its integer: DuckDB's `//` of
    a DECIMAL is a DOUBLE, which lost a second in 2261 and 1678 (review).
    And a difference of two instants 584 years apart is exact (as BIGINT
    it would overflow)."""
    events = [
        {"id": "r1", "at": "2261-12-31T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "a"},
        {"id": "p1", "at": "2261-12-31T23:59:58.999999999Z", "type": "payment", "referee": "a", "amount": "1.00"},
        {"id": "r2", "at": "1678-01-02T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "b"},
        {"id": "p2", "at": "1678-01-02T00:00:00.999999999Z", "type": "payment", "referee": "b", "amount": "1.00"},
        # c's payments 584 years apart: `gap` (1.84e19 ns) is past BIGINT's range, computed exactly
        {"id": "r3", "at": "1678-01-02T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "c"},
        {"id": "p3", "at": "1678-01-03T00:00:00Z", "type": "payment", "referee": "c", "amount": "2.00"},
        {"id": "p4", "at": "2261-12-31T00:00:00Z", "type": "payment", "referee": "c", "amount": "2.00"},
    ]
    explained = program(False).score(events).data["awards"]
    kept = next(a for a in explained if a["milestone"] == "kept")
    days = (datetime.date(2261, 12, 31) - datetime.date(1678, 1, 3)).days
    assert kept["referee"] == "c" and kept["message"] == f"2261-12-31T00:00:00Z, {days} days after the first"
    quick = [a["why"]["values"]["payment.at"] for a in explained if a["milestone"] == "quick"]
    assert quick == ["1678-01-02T00:00:00.999999999Z", "1678-01-03T00:00:00Z", "2261-12-31T23:59:58.999999999Z"]
    same(program(False), events)  # `same_explained` lets a value too wide for DuckDB pass: not here
    same_explained(program(False), events)


def with_milestone(block: str) -> rewardrules.Program:
    """`INSTANTS` with one more milestone (`block`: its name and body),
    before `refund_window`."""
    text = INSTANTS.replace("milestone refund_window {", f"milestone {block}\n\nmilestone refund_window {{")
    return rewardrules.compile(text, "instants.rules")


def test_a_duration_in_a_list_is_its_nanoseconds_in_both_engines() -> None:
    """`in [1 days]` meant one nanosecond in the Python engine (its list
    held the bare number), where `== 1 days` meant a day (review): a pays
    a day after its referral, b a nanosecond after."""
    prog = with_milestone(
        "a_day {\n  first payment where payment.at - referral.at in [1 days, 2 days]\n  reward referrer cash 1 USD\n}"
    )
    events = [
        {"id": "r1", "at": _at(1), "type": "referral", "referrer": "ann", "referee": "a"},
        {"id": "r2", "at": _at(1), "type": "referral", "referrer": "ann", "referee": "b"},
        {"id": "p1", "at": _at(2), "type": "payment", "referee": "a", "amount": "1.00"},
        {"id": "p2", "at": _at(1, 1), "type": "payment", "referee": "b", "amount": "1.00"},
    ]
    result = same(prog, events)
    assert [a["referee"] for a in result["awards"] if a["milestone"] == "a_day"] == ["a"]


def test_the_referrals_own_event_never_voids_its_award() -> None:
    """`void if referral`: the engine keeps no referral event to look back
    at, so the referral's own event, at the award's instant, takes nothing
    back; the query took it as a void event (review)."""
    prog = with_milestone("own {\n  first payment\n  reward referrer cash 1 USD\n  void if referral\n}")
    events = [
        {"id": "r1", "at": _at(1), "type": "referral", "referrer": "ann", "referee": "a"},
        {"id": "r2", "at": _at(1), "type": "payment", "referee": "a", "amount": "1.00"},
    ]
    result = same(prog, events)
    assert paid(result, "own") == [("01-01", "confirmed")]
    same_explained(prog, events)


LAPSE = """ruleset l "L"

event payment { amount: money USD }

attribution first referral lapses after 30 days unless first payment

milestone one { first payment  reward referrer cash 5 USD }
"""


@pytest.mark.parametrize(
    ("lines", "as_of", "said"),
    [
        (("1600-01-01T00:00:00Z", "2100-01-02T00:00:00Z"), None, "event `r1` is at 1600-01-01T00:00:00Z"),
        (("2026-01-01T00:00:00Z", "2300-01-02T00:00:00Z"), None, "event `p1` is at 2300-01-02T00:00:00Z"),
        (("1700-01-01T00:00:00Z", "2100-01-02T00:00:00Z"), "2300-01-01T00:00:00Z", "the as-of is at 2300-01-01"),
    ],
)
def test_an_instant_past_a_bigint_is_said(
    lines: tuple[str, str], as_of: str | None, said: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Python engine holds the years 0001 to 9999; the SQL engines
    nanoseconds in a BIGINT (1677 to 2262): past them DuckDB stopped with
    its own conversion error. Now said at once, naming the event or the
    as-of (exit 2, nothing written); the Python engine scores the ledger."""
    from rewardrules.cli import main

    rules, ledger = tmp_path / "l.rules", tmp_path / "l.jsonl"
    rules.write_text(LAPSE, encoding="utf-8")
    events = [
        {"id": "r1", "at": lines[0], "type": "referral", "referrer": "ann", "referee": "bob"},
        {"id": "p1", "at": lines[1], "type": "payment", "referee": "bob", "amount": "10.00"},
    ]
    ledger.write_text("".join(f"{json.dumps(e)}\n" for e in events), encoding="utf-8")
    when = ["--as-of", as_of] if as_of else []
    assert main(["score", "--engine", "duckdb", *when, str(rules), str(ledger)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and said in err
    assert "the SQL engines hold instants from 1677-09-21T00:12:43.145224192Z to 2262-04-11" in err
    assert "Conversion Error" not in err and "Traceback" not in err
    assert main(["score", *when, str(rules), str(ledger)]) == 0


#: every place the query compares the gap between two instants with a
#: duration: an aggregate's and a trigger's `within`, a `void` window, a
#: lapse (of the attribution's fold, of a timer's start, of the explained
#: sections' holds and releases)
GAPS = """\
ruleset gaps

event payment { amount: money USD }
event refund { payment: text }

metric recent = count payment within 7 days

program lapsing {
  attribution last referral lapses after 30 days unless first payment where payment.amount > 5 USD

  milestone quick {
    first payment within 7 days
    reward referrer cash 10 USD
    void if refund within 30 days
  }

  milestone counted {
    when recent >= 1
    reward referee cash 1 USD
  }

  milestone later {
    after 2 days
    reward referrer cash 2 USD
  }

  milestone paid_later {
    after 1 days from payment if recent >= 0
    reward referrer cash 4 USD
  }
}

program first_holds {
  attribution first referral lapses after 30 days unless first payment where payment.amount > 5 USD

  milestone converted {
    first payment where payment.amount > 5 USD
    reward referee cash 5 USD
  }
}

program kept {
  milestone each_one {
    each payment
    reward referrer cash 3 USD
    void if refund where refund.payment == payment.id within 30 days
  }
}
"""

#: 1700, 2026 and 2261: more than 2^63 ns (292 years) apart, within a BIGINT
FAR = ("1700-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "2261-01-01T00:00:00Z")


@pytest.mark.parametrize("seed", range(1))
def test_instants_centuries_apart_are_compared(seed: int) -> None:
    """DuckDB stopped with "Overflow in subtraction of INT64" (exit 2) where
    a gap compared with a duration passed 292 years; the gap is now a
    HUGEINT, and the awards, explained too, are the Python engine's."""
    prog = rewardrules.compile(GAPS, "gaps.rules")
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    for n in range(12):
        day = rng.choice(FAR)
        if rng.random() < 0.3:
            event = {"type": "referral", "referrer": rng.choice(["ann", "ben"])}
        elif rng.random() < 0.7:
            event = {"type": "payment", "amount": rng.choice(["10.00", "1.00"])}
        else:
            event = {"type": "refund", "payment": f"e{rng.randrange(12)}"}
        events.append({"id": f"e{n}", "at": day, "referee": rng.choice(["bob", "cy"]), **event})
    events[:0] = [
        {"id": "r0", "at": FAR[0], "type": "referral", "referrer": "ann", "referee": "bob"},
        {"id": "r1", "at": FAR[0], "type": "referral", "referrer": "ben", "referee": "cy"},
    ]
    for as_of in (None, "2100-01-01T00:00:00Z"):
        same(prog, events, as_of)
        same_sections(prog, events, as_of, too_wide=False)
    same_explained(prog, events, too_wide=False)


def test_a_gap_of_centuries_is_past_a_window() -> None:
    """A payment 326 years after its referral is outside `within 7 days`
    (the one an hour after it is inside); a refund 235 years after the
    award is outside its void window."""
    prog = rewardrules.compile(GAPS, "gaps.rules")
    events = [
        {"id": "r0", "at": FAR[0], "type": "referral", "referrer": "ann", "referee": "bob"},
        {"id": "p0", "at": "1700-01-01T01:00:00Z", "type": "payment", "referee": "bob", "amount": "10.00"},
        {"id": "p1", "at": FAR[1], "type": "payment", "referee": "bob", "amount": "10.00"},
        {"id": "f1", "at": FAR[2], "type": "refund", "referee": "bob", "payment": "p1"},
        # never converted: its lapse, a timer's start and the as-of are centuries after its referral
        {"id": "r1", "at": FAR[0], "type": "referral", "referrer": "ben", "referee": "cy"},
        {"id": "q1", "at": FAR[1], "type": "payment", "referee": "cy", "amount": "1.00"},
    ]
    same_sections(prog, events, too_wide=False)
    same_explained(prog, events, too_wide=False)
    result = same(prog, events)
    assert paid(result, "quick") == [("01-01", "confirmed")]
    assert [a["at"] for a in result["awards"] if a["milestone"] == "counted"] == ["1700-01-01T01:00:00Z"]
    assert sorted(a["status"] for a in result["awards"] if a["milestone"] == "each_one" and a["referee"] == "bob") == [
        "confirmed",
        "confirmed",
    ]


#: an award's hold and timers whose instants pass the last a BIGINT holds
#: (2262-04-11), per referral and per referrer
LATE = """\
ruleset late

event payment { amount: money USD }

metric paid = sum payment.amount
metric paying = count referrals where paid > 0

milestone held {
  first payment
  reward referrer cash 1 USD
  hold 365 days
  void if payment where payment.amount < 0
}

milestone year_on {
  after 365 days
  reward referrer cash 2 USD
}

milestone from_payment {
  after 200 days from payment if paid > 0
  reward referee cash 3 USD
}

milestone kept_paying {
  when paid > 0 for 300 days
  reward referrer cash 4 USD
}

milestone referrer_paying {
  when paying >= 1 for 300 days
  reward referrer cash 5 USD
}
"""


@pytest.mark.parametrize("moves", [False, True], ids=["kept", "moving"])
@pytest.mark.parametrize("as_of", [None, "2262-03-01T00:00:00Z"])
def test_instants_past_a_bigint_after_a_hold_or_a_timer(as_of: str | None, moves: bool) -> None:
    """An award in 2262 with a hold of a year, and timers due in 2263: the
    query added BIGINTs and stopped ("Overflow in addition of INT64",
    exit 2). The confirmation and the dues are HUGEINT (`sql.later_by`):
    the award is pending, the timers pending, written as the engine writes
    them (`pays at 2263-...`), and the voided award void; with an
    attribution that moves, its lapse after a referral of April 2262."""
    lapsing = "attribution last referral lapses after 30 days unless first payment\n\nevent payment"
    prog = rewardrules.compile(LATE.replace("event payment", lapsing, 1) if moves else LATE, "late.rules")
    events = [
        ref("r1", "2262-01-01T00:00:00Z", "ann", "bob"),
        ref("r2", "2262-01-01T00:00:00Z", "ann", "cy"),
        pay("p1", "2262-01-02T00:00:00Z", "bob", "10.00"),
        pay("p2", "2262-01-02T00:00:00Z", "cy", "10.00"),
        pay("p3", "2262-02-01T00:00:00Z", "cy", "-1.00"),
        ref("r3", "2262-04-01T00:00:00Z", "ann", "dee"),
        pay("p4", "2262-04-02T00:00:00Z", "dee", "10.00"),
    ]
    result = same(prog, events, as_of)
    held = sorted(a["status"] for a in result["awards"] if a["milestone"] == "held")
    assert held == (["pending", "void"] if as_of == "2262-03-01T00:00:00Z" else ["pending", "pending", "void"])
    assert {a["milestone"] for a in result["awards"]} == {"held"}
    sections = same_sections(prog, events, as_of, too_wide=False)
    progress = [m.get("progress", "") for r in sections["referrals"] for m in r["programs"][0]["milestones"]]
    assert any("2263-" in text for text in progress)
    same_explained(prog, events, too_wide=False)


def test_a_timer_due_past_a_bigint_is_said(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """What is left: an award at an instant no BIGINT holds cannot be, but
    a timer due past 2262 is never paid by an as-of a BIGINT holds. An
    overflow of instants is said with what the SQL engines hold (exit 2)."""
    from rewardrules.sql.run import TooWide, _said

    with pytest.raises(TooWide) as said, _said():
        import duckdb

        duckdb.sql("SELECT CAST(9214646400000000000 AS BIGINT) + CAST(31536000000000000 AS BIGINT)").fetchall()
    assert "Overflow in addition of INT64" in str(said.value)
    assert (
        "hold instants as BIGINT nanoseconds, from 1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z"
        in str(said.value)
    )


def test_a_whole_decimal_in_a_section_is_stored_as_its_integer() -> None:
    """The next test's bug without Spark: every timer's due is a HUGEINT,
    which Spark gives as a whole Decimal, and the sections' store failed
    on it for every timer explained on Spark; it is the integer now, and
    a Decimal with a fraction is refused, never changed."""
    import io
    from decimal import Decimal

    from rewardrules.sql.spark_sections import _read, _store

    class Row:  # a pyspark Row's one method the store reads
        def __init__(self, **values: Any) -> None:
            self.values = values

        def asDict(self) -> dict[str, Any]:  # pyspark Row's name
            return self.values

    due = 9_223_372_036_854_775_808_000
    store = io.BytesIO()
    _store(iter([Row(due=Decimal(due), rid="r1")]), store, None)
    store.seek(0)
    assert list(_read(store)) == [{"due": due, "rid": "r1"}]
    with pytest.raises(TypeError, match="Decimal"):
        _store(iter([Row(due=Decimal("1.5"))]), io.BytesIO(), None)


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")
def test_a_timer_due_past_a_bigint_on_spark(spark: Spark) -> None:
    """Spark writes HUGEINT as DECIMAL(38, 0): the explained sections'
    timer `due` came back a Decimal, which the sections' store refused
    ("Object of type Decimal is not JSON serializable", exit 2, for every
    timer explained on Spark: review). A whole one is its int; the pending
    timer due in 2263 is written as the Python engine writes it."""
    from functools import partial

    from rewardrules.cli.sql import duckdb_result
    from rewardrules.score.api import parse_as_of
    from rewardrules.sql.sections import compile_explained

    prog = rewardrules.compile(LATE, "late.rules")
    events = [ref("r1", "2262-01-01T00:00:00Z", "ann", "bob"), pay("p1", "2262-01-02T00:00:00Z", "bob", "10.00")]
    as_of = "2262-03-01T00:00:00Z"
    query, sections = compile_explained(prog.compiled)
    runner = partial(spark.run, sections=sections)
    data = duckdb_result(prog, query, events, parse_as_of(as_of), "<ledger>", runner, explain=True)
    written = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    assert written == prog.score(events, as_of=as_of).to_json()
    assert "pays at 2263-01-01T00:00:00Z" in written
