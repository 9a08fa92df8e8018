"""Findings of a newcomer's review of the API and its outputs: a cap's cut
shown everywhere an award is, the HTML report refusing another program's
result, wrong argument types refused at the entry, a path given to
`Session.add`, datetimes in dict events, and misspelled ledger keys."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

import rewardrules
from rewardrules.explain import explain_ledger
from rewardrules.models import json_schema
from rewardrules.report.score import text_report
from rewardrules.snapshot import SnapshotError

from .conftest import ROOT, RULESETS

#: the tutorial's step 6 cut down to its cap: 1000 USD a year, 150 USD per
#: friend whose plan reaches 500 USD a month
FRIENDS = """\
ruleset friends "Friends of Brightdesk"

event referral { country: optional text }
event subscription { mrr: money USD }

cap referrer 1000 USD per year

metric mrr "The friend's monthly revenue" = latest subscription.mrr

milestone big_customer "Your friend's plan reached 500 USD a month" {
  when mrr >= 500 USD
  reward referrer cash 150 USD
}
"""


def _friends_ledger() -> list[dict[str, Any]]:
    """maya refers c1..c9, each reaching 500 USD a month: six whole awards,
    c7's cut from 150.00 to 100.00, c8 and c9 withheld."""
    events: list[dict[str, Any]] = []
    for n in range(1, 10):
        events.append(
            {"id": f"r{n}", "at": f"2026-01-0{n}T00:00:00Z", "type": "referral", "referrer": "maya", "referee": f"c{n}"}
        )
        events.append(
            {"id": f"s{n}", "at": f"2026-02-0{n}T00:00:00Z", "type": "subscription", "referee": f"c{n}", "mrr": "500"}
        )
    return events


@pytest.fixture(scope="module")
def friends() -> rewardrules.Program:
    return rewardrules.compile(FRIENDS, "friends.rules")


def _cut(data: dict[str, Any]) -> dict[str, Any]:
    (award,) = [a for a in data["awards"] if a["referee"] == "c7"]
    return award


# -- 1. a cap's partial cut -----------------------------------------------------


def test_a_cut_award_says_its_amount_before_the_cap(friends: rewardrules.Program) -> None:
    result = friends.score(_friends_ledger())
    award = _cut(result.data)
    assert award["amount"] == "100.00"
    assert award["why"]["capped"] is True
    assert award["why"]["uncapped"] == "150.00"
    assert all("uncapped" not in a["why"] for a in result.data["awards"] if a is not award)
    typed = next(a for a in result.awards if a.referee == "c7")
    assert typed.why is not None and typed.why.uncapped == "150.00"
    assert "uncapped" in json_schema("award")["$defs"]["Why"]["properties"]


def test_the_text_table_marks_the_cut_and_counts_it(friends: rewardrules.Program) -> None:
    text = text_report(friends.score(_friends_ledger()).data)
    assert text.splitlines()[0].startswith("friends: 7 award(s) (1 cut by a cap), 2 withheld as of ")
    (row,) = [line for line in text.splitlines() if " c7 " in line]
    assert row.endswith("cash 100.00 USD  confirmed (cut by cap from 150.00)")
    assert sum("cut by cap" in line for line in text.splitlines()) == 1


def test_explain_says_how_much_the_cap_cut(friends: rewardrules.Program) -> None:
    told = explain_ledger(friends, _friends_ledger(), referee="c7")
    assert (
        "cut by a cap from 150.00 USD to 100.00 USD (50.00 USD withheld) under `cap referrer 1000 USD per year`" in told
    )


def test_a_session_keeps_the_amount_before_the_cap_across_a_snapshot(friends: rewardrules.Program) -> None:
    events = _friends_ledger()
    events.sort(key=lambda e: (e["at"], e["id"]))
    session = friends.session()
    session.add_many(events[:-3])
    restored = friends.restore(session.snapshot())
    restored.add_many(events[-3:])
    whole = friends.score(events).data
    assert restored.result().data == whole
    assert _cut(whole)["why"]["uncapped"] == "150.00"


def _snapshot_with(friends: rewardrules.Program, change: Any) -> bytes:
    session = friends.session()
    session.add_many(_friends_ledger())
    data = json.loads(session.snapshot())
    change(data["awards"])
    return json.dumps(data).encode()


def test_a_snapshot_taken_before_the_field_still_restores(friends: rewardrules.Program) -> None:
    def drop(awards: list[dict[str, Any]]) -> None:
        for award in awards:
            del award["uncapped"]

    restored = friends.restore(_snapshot_with(friends, drop)).result().data
    assert _cut(restored)["why"] == {"event": "s7", "values": {"mrr": "500.00"}, "capped": True}


@pytest.mark.parametrize(
    ("index", "value"),
    [
        (6, {"$d": "100.00"}),  # no more than what was paid
        (6, {"$d": "120.00"}),  # not the reward's constant amount
        (0, {"$d": "150.00"}),  # an award no cap cut
        (6, "150.00"),  # not a tagged decimal
    ],
)
def test_a_damaged_amount_before_the_cap_is_refused(friends: rewardrules.Program, index: int, value: Any) -> None:
    def damage(awards: list[dict[str, Any]]) -> None:
        awards[index]["uncapped"] = value

    with pytest.raises(SnapshotError, match=rf"awards\[{index}\]\.uncapped"):
        friends.restore(_snapshot_with(friends, damage))


# -- 2. the HTML report of another program's result -----------------------------


def test_render_html_refuses_a_result_of_another_ruleset(friends: rewardrules.Program) -> None:
    from rewardrules.htmlreport import render_html

    saas = rewardrules.load(RULESETS / "saas_milestones.rules")
    result = saas.score(ROOT / "examples" / "tiny.jsonl")
    assert render_html(saas, result.data).startswith("<!DOCTYPE html>")
    with pytest.raises(ValueError, match=r"ruleset `saas_milestones`, not of the program's `friends`"):
        render_html(friends, result.data)


def test_the_embedding_guide_keeps_one_program_per_name() -> None:
    """The guide's blocks run in one namespace: a block that loads another
    rule file into `program` makes every later use of it draw the wrong one."""
    text = (ROOT / "docs" / "embedding.md").read_text(encoding="utf-8")
    assert len(re.findall(r"^program = ", text, re.MULTILINE)) == 1


# -- 3. arguments of the wrong kind ---------------------------------------------


def _entries() -> dict[str, Any]:
    """Each public entry point as a call of the one argument under test."""
    from rewardrules.diffing import diff_ledger
    from rewardrules.htmlreport import render_html

    program = rewardrules.load(RULESETS / "saas_milestones.rules")
    tiny = ROOT / "examples" / "tiny.jsonl"
    data = program.score(tiny).data
    return {
        "compile(text)": lambda v: rewardrules.compile(v),
        "compile(path)": lambda v: rewardrules.compile("ruleset x", v),
        "check_source(text)": lambda v: rewardrules.check_source(v, "x"),
        "check_source(path)": lambda v: rewardrules.check_source("ruleset x", v),
        "load(path)": lambda v: rewardrules.load(v),
        "score(events)": lambda v: program.score(v),
        "score(as_of)": lambda v: program.score(tiny, as_of=v),
        "score(explain)": lambda v: program.score(tiny, explain=v),
        "score(path)": lambda v: program.score([], path=v),
        "score_stream(events)": lambda v: program.score_stream(v),
        "score_stream(explain)": lambda v: program.score_stream(tiny, explain=v),
        "score_stream(path)": lambda v: program.score_stream([], path=v),
        "add_many(events)": lambda v: program.session().add_many(v),
        "result(as_of)": lambda v: program.session().result(as_of=v),
        "result(explain)": lambda v: program.session().result(explain=v),
        "snapshot(key)": lambda v: program.session().snapshot(key=v),
        "restore(snapshot)": lambda v: program.restore(v),
        "restore(key)": lambda v: program.restore(program.session().snapshot(), key=v),
        "render_html(program)": lambda v: render_html(v, data),
        "render_html(data)": lambda v: render_html(program, v),
        "render_html(ledger)": lambda v: render_html(program, data, ledger=v),
        "explain_ledger(program)": lambda v: explain_ledger(v, tiny),
        "explain_ledger(events)": lambda v: explain_ledger(program, v),
        "explain_ledger(referrer)": lambda v: explain_ledger(program, tiny, referrer=v),
        "explain_ledger(referee)": lambda v: explain_ledger(program, tiny, referee=v),
        "diff_ledger(old)": lambda v: diff_ledger(v, program, tiny),
        "diff_ledger(new)": lambda v: diff_ledger(program, v, tiny),
        "diff_ledger(path)": lambda v: diff_ledger(program, program, [], path=v),
    }


ENTRIES = _entries()
#: values no entry takes for the argument under test (`None` is tested
#: where it means nothing: not for optional arguments)
WRONG = [5, 1.5, object(), ["x"], b"x"]
OPTIONAL = {
    "score(as_of)",
    "result(as_of)",
    "snapshot(key)",
    "restore(key)",
    "render_html(ledger)",
    "explain_ledger(referrer)",
    "explain_ledger(referee)",
}
#: a list is what these take: a ledger of one line
TAKES_A_LIST = {
    "score(events)",
    "score_stream(events)",
    "add_many(events)",
    "explain_ledger(events)",
}


def _takes(entry: str, value: Any) -> bool:
    """Whether the entry takes the value after all (it is not tested)."""
    if value is None:
        return entry in OPTIONAL
    if isinstance(value, list):
        return entry in TAKES_A_LIST
    if isinstance(value, bytes):  # a snapshot, a key, a file name as `open` takes it
        return entry in {"restore(snapshot)", "restore(key)", "snapshot(key)", "load(path)"}
    return type(value) is int and entry.endswith("(as_of)")  # nanoseconds since 1970


CASES = [
    pytest.param(entry, value, id=f"{entry}-{type(value).__name__}")
    for entry in sorted(ENTRIES)
    for value in [None, *WRONG]
    if not _takes(entry, value)
]


@pytest.mark.parametrize(("entry", "value"), CASES)
def test_an_argument_of_the_wrong_kind_is_a_type_error(entry: str, value: Any) -> None:
    with pytest.raises(TypeError) as caught:
        ENTRIES[entry](value)
    parameter = entry[entry.index("(") + 1 : -1]
    assert parameter in str(caught.value) or "ledger" in str(caught.value)


@pytest.mark.parametrize("value", ["no", "", 0, 1])
def test_explain_takes_a_bool_only(value: object) -> None:
    program = rewardrules.load(RULESETS / "saas_milestones.rules")
    with pytest.raises(TypeError, match="explain must be bool, not"):
        program.score(ROOT / "examples" / "tiny.jsonl", explain=value)  # type: ignore[arg-type]


def test_the_type_errors_say_what_to_pass(friends: rewardrules.Program) -> None:
    with pytest.raises(TypeError, match=r"text must be str, not bytes: decode bytes first"):
        rewardrules.compile(b"ruleset x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^text must be str, not NoneType$"):
        rewardrules.check_source(None, "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^key must be bytes or str or None, not int$"):
        friends.session().snapshot(key=5)  # type: ignore[arg-type]


@pytest.mark.parametrize("settled", ["x", 5, object()])
def test_a_settled_statement_is_data_like_a_ledger(friends: rewardrules.Program, settled: Any) -> None:
    """`settled` is what the CLI reads from JSON: what is no statement is a
    `LedgerError` saying what one is, not a `TypeError`."""
    with pytest.raises(rewardrules.LedgerError, match="a previous result"):
        friends.score([], settled=settled)


def test_settled_takes_a_previous_score_result(friends: rewardrules.Program) -> None:
    first = friends.score(_friends_ledger())
    again = friends.score(_friends_ledger(), settled=first)
    assert again.data == friends.score(_friends_ledger(), settled=first.data).data


# -- 4. a path given to `add`, a datetime in a dict event -------------------------


@pytest.fixture
def saas() -> rewardrules.Program:
    return rewardrules.load(RULESETS / "saas_milestones.rules")


ONE_EVENT = "`add` takes one event (a dict or one JSON line); for a file use `add_many(path)`"


@pytest.mark.parametrize(
    "text", [str(ROOT / "examples" / "tiny.jsonl"), "ledger.jsonl", b"events.json", str(ROOT / "README.md")]
)
def test_add_given_a_path_hints_at_add_many(saas: rewardrules.Program, text: str | bytes) -> None:
    session = saas.session()
    with pytest.raises(rewardrules.LedgerError) as caught:
        session.add(text)
    (problem,) = caught.value.problems
    assert problem.message.startswith("invalid JSON")
    assert problem.hint == ONE_EVENT
    assert session.result().data == saas.score([]).data  # nothing was added


@pytest.mark.parametrize("text", ["hello", "{bad", "not-a-file.txt", "x" * 5000 + ".jsonl"])
def test_add_of_other_text_keeps_the_json_hint(saas: rewardrules.Program, text: str) -> None:
    with pytest.raises(rewardrules.LedgerError) as caught:
        saas.session().add(text)
    assert caught.value.problems[0].hint == "each line is one JSON object"


def test_a_datetime_at_is_refused_saying_how_to_write_it(saas: rewardrules.Program) -> None:
    at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    event = {"id": "r1", "at": at, "type": "referral", "referrer": "alice", "referee": "bob"}
    for call in (lambda: saas.session().add(event), lambda: saas.score([event]), lambda: saas.score_stream([event])):
        with pytest.raises(rewardrules.LedgerError) as caught:
            call()
        (problem,) = caught.value.problems
        assert (problem.field, problem.message) == ("at", "timestamp must be a string, not datetime")
        assert "`value.isoformat()` of an aware datetime" in (problem.hint or "")
    written = {**event, "at": at.isoformat()}
    assert saas.session().add(written) == []  # as the hint says: it is taken


# -- 5. a misspelled key of a missing field ---------------------------------------


def _problem(program: rewardrules.Program, event: dict[str, Any]) -> Any:
    with pytest.raises(rewardrules.LedgerError) as caught:
        program.score([event])
    (problem,) = caught.value.problems
    return problem


SUBSCRIPTION = {"id": "s1", "at": "2026-01-10T10:00:00Z", "type": "subscription", "referee": "bob"}


def test_a_missing_field_names_the_misspelled_key_present(saas: rewardrules.Program) -> None:
    problem = _problem(saas, {**SUBSCRIPTION, "mr": "450.00"})
    assert (problem.field, problem.message) == ("mrr", "`subscription` events need `mrr`")
    assert problem.hint == 'the event has `mr`: did you mean `mrr`? (an amount such as 99.90 or "99.90")'
    payment = rewardrules.compile(
        "ruleset p\nevent payment { amount: money USD }\nmilestone paid {\n  first payment where payment.amount > 0\n"
        "  reward referrer cash 5 USD\n}\n"
    )
    event = {"id": "p1", "at": "2026-01-10T10:00:00Z", "type": "payment", "referee": "bob", "amout": "5"}
    assert _problem(payment, event).hint.startswith("the event has `amout`: did you mean `amount`?")


@pytest.mark.parametrize(
    ("event", "field", "near"),
    [
        (
            {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referer": "a", "referee": "b"},
            "referrer",
            "referer",
        ),
        ({"id": "s1", "att": "2026-01-01T00:00:00Z", "type": "subscription", "referee": "b", "mrr": "1"}, "at", "att"),
        ({"idd": "s1", "at": "2026-01-01T00:00:00Z", "type": "subscription", "referee": "b", "mrr": "1"}, "id", "idd"),
        (
            {"id": "s1", "at": "2026-01-01T00:00:00Z", "type": "subscription", "refere": "b", "mrr": "1"},
            "referee",
            "refere",
        ),
    ],
)
def test_every_missing_field_names_a_near_key(
    saas: rewardrules.Program, event: dict[str, Any], field: str, near: str
) -> None:
    problem = _problem(saas, event)
    assert problem.field == field
    assert (problem.hint or "").startswith(f"the event has `{near}`: did you mean `{field}`?")


def test_no_near_key_no_guess(saas: rewardrules.Program) -> None:
    """A key that is a field of the event (`referrer`) or far from the name
    is no misspelling: the usual hint stays."""
    assert _problem(saas, {**SUBSCRIPTION, "plan": "pro"}).hint == 'an amount such as 99.90 or "99.90"'
    event = {**SUBSCRIPTION, "referrer": "alice", "mrr": "1"}
    del event["referee"]
    assert _problem(saas, event).hint == "name the referred person it concerns"


def test_a_settled_statement_keeps_the_amount_before_the_cap(friends: rewardrules.Program) -> None:
    """The app was told the award was cut from 150.00: a record kept as paid
    keeps that, checked like the other fields of its `why`."""
    from rewardrules.settle import read_settled

    paid = _cut(friends.score(_friends_ledger()).data)
    settled = read_settled([paid])
    assert settled.awards[paid["id"]].record["why"]["uncapped"] == "150.00"
    with pytest.raises(rewardrules.LedgerError) as caught:
        read_settled([{**paid, "why": {**paid["why"], "uncapped": 150}}])
    assert caught.value.problems[0].field == "why.uncapped"


def test_the_html_report_says_how_much_the_cap_cut(friends: rewardrules.Program) -> None:
    from rewardrules.htmlreport import render_html

    page = render_html(friends, friends.score(_friends_ledger()).data)
    assert page.count("cut by a cap from 150.00 USD") == 1


# -- found on the way: numbers that are no JSON in an event's free fields ---------


@pytest.mark.parametrize(
    "value",
    [
        Decimal("sNaN"),
        Decimal("NaN"),
        Decimal("-Infinity"),
        float("nan"),
        [float("inf")],
        {"deep": Decimal("Infinity")},
    ],
    ids=["sNaN", "NaN", "-Infinity", "float-nan", "in-a-list", "in-an-object"],
)
def test_a_number_that_is_no_json_is_a_ledger_error_anywhere_in_an_event(saas: rewardrules.Program, value: Any) -> None:
    """A field no rule reads still reaches the duplicate check and a
    snapshot: a NaN made the first raise `InvalidOperation` and the second
    unrestorable. Refused where it comes in, naming the field."""
    event = {"id": "o1", "at": "2026-01-01T00:00:00Z", "type": "other", "note": value}
    for call in (
        lambda: saas.score([event, dict(event)]),
        lambda: saas.score_stream([event]),
        lambda: saas.session().add(event),
        lambda: saas.session().add_many([event]),
    ):
        with pytest.raises(rewardrules.LedgerError) as caught:
            call()
        assert caught.value.problems[0].field == "note"
    session = saas.session()
    session.add({**event, "note": "fine"})
    assert saas.restore(session.snapshot()).result().data == session.result().data


def test_load_still_takes_a_path_as_bytes() -> None:
    assert rewardrules.load(bytes(RULESETS / "saas_milestones.rules")).name == "saas_milestones"
