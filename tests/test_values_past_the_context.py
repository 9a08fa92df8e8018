"""Values larger than scoring's decimal context holds, and what a session
and a snapshot do when scoring stops part way (review of 2026-12-08).

Scoring computes in 100 digits (`runtime.CONTEXT`). Ledger numbers have at
most 30, but a metric that multiplies them (`price * seats * seats *
seats`) can pass 100 whole digits: such a value is still written, in full,
with its currency's decimals; an `every` milestone over it stops at the
award limit; a value past the context's range (10**999999) stops scoring
with `ValueLimitError`. None of them is a Python traceback, and a session
that stopped takes nothing more until it is restored.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import rewardrules
from rewardrules.core.runtime import CONTEXT, multiples, next_multiple

#: thirty nines: the most digits a ledger number may have
N = "9" * 30

PRODUCT = """ruleset big "Big"
event signup { seats: number  price: money USD }
metric seats = latest signup.seats
metric price = latest signup.price
metric value = price * seats * seats * seats
milestone huge {
  when value >= 1 USD
  reward referrer cash 5 USD
  message "value {{ value }}"
}
milestone unreached {
  when value >= 1 USD and seats < 0
  reward referrer cash 5 USD
}
"""

EVERY = """ruleset steps "Steps"
event signup { seats: number }
metric seats = latest signup.seats
metric value = seats * seats * seats * seats
milestone step {
  every 1000 value
  reward referrer cash 1 USD
}
"""

REFERRAL = {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "ben"}


def signup(seats: str, price: str | None = None, id: str = "s1", day: int = 2) -> dict[str, Any]:
    event: dict[str, Any] = {"id": id, "at": f"2026-01-{day:02d}T00:00:00Z", "type": "signup", "referee": "ben"}
    event["seats"] = seats
    if price is not None:
        event["price"] = price
    return event


def squares(count: int) -> str:
    """A rule file whose metric `a{count}` squares the one before it
    `count` times: past 10**999999 for a ledger value of 12345."""
    lines = ['ruleset sq "Squares"', "event subscription { mrr: number }", "metric a0 = latest subscription.mrr"]
    lines += [f"metric a{i} = a{i - 1} * a{i - 1}" for i in range(1, count + 1)]
    lines.append(f"milestone m {{ when a{count} >= 1  reward referrer cash 5 USD }}")
    return "\n".join(lines) + "\n"


def test_a_money_value_of_more_digits_than_the_context_is_written_in_full() -> None:
    program = rewardrules.compile(PRODUCT, "big.rules")
    assert rewardrules.check_source(PRODUCT, "big.rules") == []
    result = program.score([REFERRAL, signup(N, N)])
    (award,) = result.data["awards"]
    value = award["why"]["values"]["value"]
    # (10**30 - 1) to the fourth has 120 digits: the last multiplication
    # rounds it to the context's 100, and it is written out with cents
    expected = format(CONTEXT.plus(Decimal((10**30 - 1) ** 4)), "f") + ".00"
    assert value == expected
    assert len(value) == 123
    assert award["message"] == f"value {value}"
    assert value in json.dumps(result.data["referrals"])


def test_explain_and_the_cli_write_such_a_value(tmp_path: Path) -> None:
    rules = tmp_path / "big.rules"
    rules.write_text(PRODUCT)
    ledger = tmp_path / "big.jsonl"
    ledger.write_text("".join(json.dumps(e) + "\n" for e in (REFERRAL, signup(N, N))))
    for command in (["score", "--format", "json"], ["explain"]):
        done = subprocess.run(
            [sys.executable, "-m", "rewardrules", *command, str(rules), str(ledger)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        assert "9999999999999999999999999999960000" in done.stdout


def test_multiples_are_exact_past_the_context() -> None:
    for value, step in [("7", "2"), ("-7", "2"), ("1000", "0.3"), ("999.5", "0.25")]:
        assert multiples(Decimal(value), Decimal(step)) == Decimal(value) // Decimal(step)
        assert next_multiple(Decimal(value), Decimal(step)) == (Decimal(value) // Decimal(step) + 1) * Decimal(step)
    huge = Decimal("1E+130")
    assert multiples(huge, Decimal("0.3")) == Decimal(10**131 // 3)
    assert next_multiple(huge, Decimal("0.3")) == Decimal(f"{(10**131 // 3 + 1) * 3}E-1")


def test_every_over_a_huge_metric_stops_at_the_award_limit() -> None:
    program = rewardrules.compile(EVERY, "steps.rules")
    with pytest.raises(rewardrules.AwardLimitError, match=r"about 10\^116 awards of milestone `step`") as info:
        program.score([REFERRAL, signup(N)])
    assert info.value.event == "s1"
    # a value that passes fewer multiples is rewarded as always
    result = program.score([REFERRAL, signup("10")])
    assert len(result.data["awards"]) == 10
    assert "next reward at 11000" in json.dumps(result.data["referrals"])


def test_a_value_past_the_range_stops_scoring_with_its_rule_line() -> None:
    program = rewardrules.compile(squares(30), "sq.rules")
    ledger = [
        REFERRAL,
        {"id": "s1", "at": "2026-01-02T00:00:00Z", "type": "subscription", "referee": "ben", "mrr": 12345},
    ]
    with pytest.raises(rewardrules.ValueLimitError) as info:
        program.score(ledger)
    assert isinstance(info.value, rewardrules.AwardLimitError)  # what catches one catches both
    assert info.value.event == "s1"
    assert "(metric `a18`, sq.rules:21:1) at event `s1` is past the largest number" in info.value.message
    # fewer squares stay within the range
    assert len(rewardrules.compile(squares(10), "sq.rules").score(ledger).data["awards"]) == 1


def test_the_cli_says_so_with_exit_2(tmp_path: Path) -> None:
    rules = tmp_path / "sq.rules"
    rules.write_text(squares(30))
    ledger = tmp_path / "sq.jsonl"
    subscription = {"id": "s1", "at": "2026-01-02T00:00:00Z", "type": "subscription", "referee": "ben", "mrr": 12345}
    ledger.write_text(json.dumps(REFERRAL) + "\n" + json.dumps(subscription) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "rewardrules", "score", str(rules), str(ledger)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("rewardrules: error: a value (metric `a18`, ")
    assert "= help: a metric that multiplies itself" in done.stderr


@pytest.mark.parametrize(
    ("rules", "event", "error"),
    [
        (EVERY, signup(N), rewardrules.AwardLimitError),
        (
            squares(30),
            {"id": "s1", "at": "2026-01-02T00:00:00Z", "type": "subscription", "referee": "ben", "mrr": 12345},
            rewardrules.ValueLimitError,
        ),
    ],
)
def test_a_session_that_stopped_part_way_takes_nothing_more(rules: str, event: dict[str, Any], error: type) -> None:
    """Before, the session kept the event as added (a retry was an ignored
    repeat), its metrics moved, and the next events were scored on top."""
    program = rewardrules.compile(rules, "r.rules")
    session = program.session()
    session.add(REFERRAL)
    kept = session.snapshot()
    with pytest.raises(error):
        session.add(event)
    with pytest.raises(rewardrules.SessionStoppedError, match="stopped at event `s1`"):
        session.add(event)
    with pytest.raises(rewardrules.SessionStoppedError):
        session.snapshot()
    assert program.restore(kept).result().data["awards"] == []


# -- snapshots -----------------------------------------------------------------

TIMED = """ruleset comm "Commission"
event payment { amount: money USD }
event subscription { mrr: money USD }
metric mrr = latest subscription.mrr otherwise 0 USD
milestone commission {
  each payment where payment.amount > 0
  reward referrer cash 10% of payment.amount
}
milestone held {
  when mrr >= 100 USD for 20 days
  reward referrer cash 33.33 USD
}
"""


@pytest.fixture(scope="module")
def timed() -> tuple[rewardrules.Program, dict[str, Any]]:
    program = rewardrules.compile(TIMED, "comm.rules")
    session = program.session()
    for event in (
        REFERRAL,
        {"id": "p1", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "ben", "amount": "1000.00"},
        {"id": "s1", "at": "2026-01-02T00:00:00Z", "type": "subscription", "referee": "ben", "mrr": "200"},
    ):
        session.add(event)
    return program, json.loads(session.snapshot())


def _restored(program: rewardrules.Program, data: dict[str, Any]) -> rewardrules.Session:
    return program.restore(json.dumps(data).encode())


def test_the_untouched_snapshot_restores(timed: tuple[rewardrules.Program, dict[str, Any]]) -> None:
    program, data = timed
    awards = _restored(program, data).result(as_of="2026-03-01T00:00:00Z").data["awards"]
    assert [(a["milestone"], a["amount"]) for a in awards] == [("commission", "100.00"), ("held", "33.33")]


def test_an_award_listed_twice_is_refused(timed: tuple[rewardrules.Program, dict[str, Any]]) -> None:
    program, data = timed
    damaged = copy.deepcopy(data)
    damaged["awards"].append(copy.deepcopy(damaged["awards"][0]))
    with pytest.raises(rewardrules.SnapshotError, match=r"`awards\[1\]`: the same award is listed twice"):
        _restored(program, damaged)


@pytest.mark.parametrize("key", ["timers", "clock", "anchored"])
def test_a_key_the_rules_need_cannot_be_missing(timed: tuple[rewardrules.Program, dict[str, Any]], key: str) -> None:
    """A snapshot taken before timers existed had none pending: for rules
    with a timer, a missing `timers` was deleted, and its pending award
    with it (33.33 USD vanished)."""
    program, data = timed
    damaged = copy.deepcopy(data)
    del damaged[key]
    with pytest.raises(rewardrules.SnapshotError, match=f"it lacks `{key}`, which these rules need"):
        _restored(program, damaged)
    older = copy.deepcopy(data)
    older["format"] = "rewardrules-session/3"
    for name in ("clock", "timers", "anchored", "history"):
        older.pop(name)
    with pytest.raises(rewardrules.SnapshotError, match="it lacks `clock`, `timers`, `anchored`"):
        _restored(program, older)


def test_rules_without_timers_still_restore_an_older_snapshot() -> None:
    program = rewardrules.compile(PRODUCT, "big.rules")
    session = program.session()
    session.add(REFERRAL)
    data = json.loads(session.snapshot())
    data["format"] = "rewardrules-session/3"
    for name in ("clock", "timers", "anchored", "history"):
        data.pop(name)
    assert _restored(program, data).result().data["awards"] == []


@pytest.mark.parametrize("amount", ["1.0E+2", "100", "100.000"])
def test_an_amount_not_in_its_currency_steps_is_refused(
    timed: tuple[rewardrules.Program, dict[str, Any]], amount: str
) -> None:
    program, data = timed
    damaged = copy.deepcopy(data)
    damaged["awards"][0]["amount"] = {"$d": amount}
    with pytest.raises(rewardrules.SnapshotError, match=r"`awards\[0\]\.amount`: .* in steps of 0\.01"):
        _restored(program, damaged)


@pytest.mark.parametrize("number", ["1e1000000", "-1E-1000000", "1e999999999"])
def test_a_session_restores_an_event_it_took(number: str) -> None:
    """A field the rules do not read keeps any number a ledger line may
    hold; its snapshot was refused on restore past scoring's range."""
    program = rewardrules.compile(PRODUCT, "big.rules")
    session = program.session()
    session.add(REFERRAL)
    session.add('{"id":"c1","at":"2026-01-10T10:00:00Z","type":"click","referee":"ben","note":' + number + "}")
    restored = program.restore(session.snapshot())
    # the event is known: its repeat is ignored, its conflict refused
    assert (
        restored.add('{"id":"c1","at":"2026-01-10T10:00:00Z","type":"click","referee":"ben","note":' + number + "}")
        == []
    )
    with pytest.raises(rewardrules.LedgerError, match="already added with different content"):
        restored.add('{"id":"c1","at":"2026-01-10T10:00:00Z","type":"click","referee":"ben","note":1}')


# -- found by review (2026-12-08) ------------------------------------------------


def test_a_timer_condition_past_the_range_stops_with_its_line() -> None:
    """A `for` condition is tested as the timer is armed, outside the
    step: its overflow was a raw `decimal.Overflow` traceback."""
    rules = squares(17).replace("milestone m { when a17 >= 1 ", "milestone m { when a17 * a17 >= 1 for 10 days ")
    program = rewardrules.compile(rules, "sqt.rules")
    ledger = [
        REFERRAL,
        {"id": "s1", "at": "2026-01-02T00:00:00Z", "type": "subscription", "referee": "ben", "mrr": 12345},
    ]
    with pytest.raises(
        rewardrules.ValueLimitError, match=r"\(condition of milestone `m`, sqt.rules:21:15\) at event `s1`"
    ):
        program.score(ledger)


def test_explain_writes_a_plain_number_past_the_context() -> None:
    rules = """ruleset neg "Neg"
event signup { seats: number }
metric seats = latest signup.seats
metric value = 0 - seats * seats * seats * seats
milestone big {
  when value >= 10
  reward referrer cash 5 USD
}
"""
    from rewardrules.report.explain import explain_ledger

    program = rewardrules.compile(rules, "neg.rules")
    text = explain_ledger(program, [REFERRAL, signup(N)])
    whole = format(CONTEXT.plus(Decimal((10**30 - 1) ** 4)), "f")  # rounded to 100 digits, as scoring does
    assert f"next: `big`: {whole} more `value` (-{whole} of 10)" in text.replace("\n", " ")


def test_a_session_restores_its_own_snapshot_of_an_underflow() -> None:
    """`1 / a / a` of a huge `a` underflows to `0E-1000098`: its own
    snapshot was refused (`out of range`), and so was `result` with a
    timer pending (which takes a snapshot of the session)."""
    lines = squares(17).splitlines()[:-1]
    lines += ["metric share = 1 / a17 / a17", "milestone m { when share >= 0  reward referrer cash 5 USD }"]
    lines += ["milestone later { after 30 days  reward referrer cash 1 USD }"]
    program = rewardrules.compile("\n".join(lines) + "\n", "t.rules")
    session = program.session()
    session.add(REFERRAL)
    session.add({"id": "s1", "at": "2026-01-02T00:00:00Z", "type": "subscription", "referee": "ben", "mrr": 12345})
    restored = program.restore(session.snapshot())
    assert restored.result().to_json() == session.result().to_json()
    later = session.result(as_of="2026-03-01T00:00:00Z").data["awards"]
    assert [a["milestone"] for a in later] == ["m", "later"]


@pytest.mark.parametrize("text", ["1E+99999999999999999999", "1E-99999999999999999999"])
def test_a_decimal_past_what_decimal_takes_is_a_snapshot_error(text: str) -> None:
    program = rewardrules.compile(PRODUCT, "big.rules")
    session = program.session()
    session.add({**REFERRAL, "note": "x"})
    data = json.loads(session.snapshot())
    data["seen"]["$o"]["r1"]["$o"]["note"] = {"$d": text}
    with pytest.raises(rewardrules.SnapshotError, match=r"`seen\.r1\.note`: the decimal number is out of range"):
        _restored(program, data)


def test_a_stop_between_two_events_of_a_batch_stops_the_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C after the first event of `add_many` was added: its awards
    were never returned, and the session went on as if all was well."""
    program = rewardrules.compile(PRODUCT, "big.rules")
    session = program.session()
    real = rewardrules.Session._apply
    calls = []

    def apply(self: rewardrules.Session, parsed: Any, obj: Any) -> Any:
        calls.append(parsed.id)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, parsed, obj)

    monkeypatch.setattr(rewardrules.Session, "_apply", apply)
    with pytest.raises(KeyboardInterrupt):
        session.add_many([REFERRAL, signup("2", "3"), signup("3", "3", id="s2", day=3)])
    monkeypatch.undo()
    with pytest.raises(
        rewardrules.SessionStoppedError, match=r"part way through a batch \(add_many\) \(KeyboardInterrupt\)"
    ):
        session.result()


def test_a_value_past_10_to_the_1000_is_written_with_its_exponent() -> None:
    """A metric squaring the ledger's 2 twenty times has 315,653 digits:
    written out, 100 referrals gave 95 MB of JSON from a 20 KB ledger."""
    lines = squares(20).splitlines()
    program = rewardrules.compile("\n".join(lines) + "\n", "amp.rules")
    ledger = [REFERRAL, {"id": "s1", "at": "2026-01-02T00:00:00Z", "type": "subscription", "referee": "ben", "mrr": 2}]
    result = program.score(ledger)
    value = result.data["awards"][0]["why"]["values"]["a20"]
    expected = Decimal(2)
    for _ in range(20):  # as the engine computes it: each square rounded to 100 digits
        expected = CONTEXT.multiply(expected, expected)
    assert value == str(expected)
    assert value.endswith("E+315652") and len(value) < 120
    assert len(result.to_json()) < 20_000
    # a smaller power is written out in full, as before
    small = rewardrules.compile(squares(8), "sq.rules").score(ledger)
    assert small.data["awards"][0]["why"]["values"]["a8"] == str(2**256)


def test_written_keeps_plain_notation_up_to_the_limit() -> None:
    from rewardrules.core.formatting import PLAIN_EXPONENT, written

    assert written(Decimal("1E+1000")) == "1" + "0" * 1000
    assert written(Decimal("1E+1001")) == "1E+1001"
    assert written(Decimal("1E-1000")) == "0." + "0" * 999 + "1"
    assert written(Decimal("1E-1001")) == "1E-1001"
    assert written(Decimal("-2.50")) == "-2.50"
    assert written(Decimal("0E+2000")) == written(Decimal("0E-1000098")) == "0"
    assert written(Decimal("0.00")) == "0.00"
    assert PLAIN_EXPONENT == 1000


def test_every_over_a_metric_of_more_than_4300_digits_stops_at_the_award_limit() -> None:
    """Python refuses to write an int of more than 4,300 digits: the
    limit's message about the count was a `ValueError` traceback (review)."""
    program = rewardrules.compile(squares(14).replace("when a14 >= 1", "every 1 a14"), "ev.rules")
    ledger = [REFERRAL, {"id": "s1", "at": "2026-01-02T00:00:00Z", "type": "subscription", "referee": "ben", "mrr": 2}]
    with pytest.raises(rewardrules.AwardLimitError, match=r"would give about 10\^4932 awards of milestone `m`"):
        program.score(ledger)


def test_money_past_the_limit_is_written_the_same_however_computed() -> None:
    """`price * a10 / 0.5` and `price * a10 * 2` are one amount: past
    10^1000 they were written with 99 and 100 trailing zeros (review)."""
    lines = squares(10).splitlines()[:-1]
    lines[1] = "event subscription { mrr: number  price: money USD }"
    lines += ["metric price = latest subscription.price", "metric x = price * a10 / 0.5", "metric y = price * a10 * 2"]
    lines += ['milestone m { when x >= 1 USD  reward referrer cash 5 USD  message "{{ x }} {{ y }}" }']
    program = rewardrules.compile("\n".join(lines) + "\n", "q.rules")
    event = {
        "id": "s1",
        "at": "2026-01-02T00:00:00Z",
        "type": "subscription",
        "referee": "ben",
        "mrr": 10,
        "price": "4",
    }
    (award,) = program.score([REFERRAL, event]).data["awards"]
    assert award["message"] == "8E+1024 8E+1024"
    assert award["why"]["values"]["x"] == "8E+1024"


@pytest.mark.parametrize(
    ("rules", "edit"),
    [
        (
            'ruleset s "S"\nevent payment { amount: money USD }\n'
            "milestone first { first payment  reward referrer cash 5 USD }\n",
            {"done": [False]},
        ),
        (
            'ruleset s "S"\nevent payment { amount: money USD }\nmetric paid = sum payment.amount\n'
            "milestone step { every 10 paid  reward referrer cash 1 USD }\n",
            {"prev": [{"$d": "0"}]},
        ),
        (
            'ruleset s "S"\nevent payment { amount: money USD }\nmetric paid = sum payment.amount\n'
            "milestone step { every 10 paid  reward referrer cash 1 USD }\n",
            {"prev": [{"$d": "1"}]},
        ),
    ],
    ids=["first", "every-none", "every-fewer"],
)
def test_a_milestone_not_marked_reached_for_its_award_is_refused(rules: str, edit: dict[str, Any]) -> None:
    """One flag edited: the next payment issued the same award id again
    (`first`), or the multiples 10 and 20 again (`every`) (review)."""
    program = rewardrules.compile(rules, "s.rules")
    session = program.session()
    session.add(REFERRAL)
    session.add({"id": "p1", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "ben", "amount": "25.00"})
    data = json.loads(session.snapshot())
    _restored(program, data)  # as taken: restores
    data["referrals"][0].update(edit)
    with pytest.raises(rewardrules.SnapshotError, match=r"`awards\[\d\]`: its milestone is not marked reached"):
        _restored(program, data)
