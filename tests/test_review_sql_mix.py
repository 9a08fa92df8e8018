"""The SQL back end where the constructs of its two halves meet (docs/sql.md):
caps per period on `after D` timers, `void if` on amounts that divide or read
a rate table, messages in `whenever` milestones and with fraction amounts,
held timer awards, caps counting voided rewards, `ignoring case` in a void
condition, earlier referrals with holds, reversals of capped awards. Drawn
programs and ledgers, DuckDB against the Python engine, byte for byte; a
program the compiler refuses must be reported by `check --engine sql` too,
never run with a different result."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rewardrules
from rewardrules.sql.compile import Unsupported, compile_query
from rewardrules.sql.diagnose import refusals

from .test_properties import DIFFERENTIAL, as_ofs, ledgers
from .test_sql_backend import ROOT, duckdb_json, python_json

HEAD = """ruleset mix "Constructs that meet"{zone}

event referral {{ source: optional text }}
event payment {{ amount: money USD }}
event refund {{ payment: text, reason: optional text }}

metric paid = sum payment.amount
metric payments = count payment
metric average = paid / payments
metric rate = tiers of paid {{ 0 USD to 99.99 USD: 10%  100 USD to 999.99 USD: 12.5%  1000 USD or more: 15% }}
"""

#: triggers, and whether the milestone has a triggering `payment`
TRIGGERS = {
    "each": ("each payment where payment.amount > 0", True),
    "first": ("first payment where payment.amount >= 10 USD within 90 days", True),
    "whenever": ("whenever paid increases", False),
    "when": ("when paid >= 100 USD", False),
    # 30 days: one of the ledgers' boundary steps, so timers fall on events' instants
    "after": ("after 30 days if paid > 0 USD", False),
    "after_from": ("after 30 days from payment", False),
}

#: amounts, by what they may read: any milestone, a triggering payment,
#: a `whenever` milestone's rise
AMOUNTS = {
    "any": ["cash 10 USD", "credit 2.50 USD", "cash paid / 7", "cash rate of paid", "cash 10% of average"],
    "payment": ["cash payment.amount / 3", "cash rate of payment.amount", "cash 15% of payment.amount"],
    "whenever": ["cash 10% of increase", "cash increase / 3"],
}

#: void conditions, by whether they read the triggering payment
VOIDS = {
    False: [
        "",
        ' where refund.reason == "fraud" ignoring case',
        ' where refund.reason in ["FRAUD", "x"] ignoring case',
    ],
    True: [" where refund.payment == payment.id", ' where refund.payment == payment.id or refund.reason == "FRAUD"'],
}

CAPS = [
    "cap referrer 40 USD",
    "cap referrer 60 USD per month",
    "cap referrer 2 rewards per week",
    "cap referrer 3 rewards",
    "cap referee 25 USD per day",
]

MESSAGES = {
    False: [
        'message "{{ referee }} got {{ amount }} {{ unit }}: {{ paid }} in {{ payments }} payment(s)"',
        'message "{{ average }} on average"',  # money that divides: rounded half to even from its fraction
    ],
    True: ['message "{{ amount }} for {{ payment.amount }} ({{ payment.id }}), {{ paid }} so far"'],
}


@st.composite
def milestone(draw: st.DrawFn, n: int, program_capped: bool) -> str:
    """One milestone mixing a trigger, rewards, holds, voids, a cap and a message."""
    kind = draw(st.sampled_from(sorted(TRIGGERS)))
    trigger, has_payment = TRIGGERS[kind]
    timer = kind.startswith("after")
    amounts = AMOUNTS["any"] + AMOUNTS["payment"] * has_payment + AMOUNTS["whenever"] * (kind == "whenever")
    lines = [f"milestone m{n} {{", f"  {trigger}"]
    bare = False  # a reward without terms of its own: the milestone's terms apply to it
    for role in draw(st.sampled_from([["referrer"], ["referee"], ["referrer", "referee"], ["referrer", "referrer"]])):
        terms = []
        if draw(st.booleans()):
            terms.append(f"hold {draw(st.sampled_from([1, 5, 30]))} days")
        if not timer and draw(st.integers(0, 3)) == 0:
            terms.append(f"void if refund{draw(st.sampled_from(VOIDS[False]))}")
        suffix = f" {{ {'  '.join(terms)} }}" if terms else ""
        bare = bare or not terms
        lines.append(f"  reward {role} {draw(st.sampled_from(amounts))}{suffix}")
    if bare and draw(st.booleans()):
        lines.append(f"  hold {draw(st.sampled_from([2, 10, 40]))} days")
    # a void on a timer, or a second cap, is refused: checked against `check --engine sql`
    if bare and (not timer or draw(st.integers(0, 7)) == 0) and draw(st.booleans()):
        condition = draw(st.sampled_from(VOIDS[False] + VOIDS[True] * has_payment))
        window = draw(st.sampled_from(["", " within 30 days", " within 2 days"]))
        lines.append(f"  void if refund{condition}{window}")
    if (not program_capped or draw(st.integers(0, 7)) == 0) and draw(st.booleans()):
        lines.append(f"  {draw(st.sampled_from(CAPS))}")
    if draw(st.booleans()):
        lines.append(f"  {draw(st.sampled_from(MESSAGES[has_payment and draw(st.booleans())]))}")
    return "\n".join([*lines, "}"])


#: the `eligible when` of each program of a file of two (a referral may be in both)
SOURCES = ['referral.source == "partner" ignoring case', 'referral.source in ["customer", "Partner"]']


@st.composite
def programs(draw: st.DrawFn) -> str:
    """A rule file of one program, or of two drawing from one allowance,
    over partner_and_customer's events."""
    zone = draw(st.sampled_from(["", ' timezone "America/New_York"']))
    parts = [HEAD.format(zone=zone)]
    if draw(st.booleans()):
        where = draw(st.sampled_from(["", ' where referral.source == "partner" ignoring case']))
        within = draw(st.sampled_from(["", " within 30 days"]))
        parts.append(f"metric before = count earlier referrals{where}{within}")
        earlier = [f"eligible when before < {draw(st.integers(1, 3))}"]
    else:
        earlier = []
    if draw(st.integers(0, 3)) == 0:  # two programs, one allowance (a cap of their own is a second cap)
        limit = draw(st.sampled_from(["2 rewards per month", "80 USD per week", "50 USD"]))
        parts.append(f"allowance pot referrer {limit}")
        for p, source in enumerate(SOURCES):
            body = [*earlier, f"eligible when {source}", "draw from pot"]
            body += [draw(milestone(2 * n + p, True)) for n in range(draw(st.integers(1, 2)))]
            parts.append(f"program p{p} {{\n" + "\n".join(body) + "\n}")
        return "\n\n".join(parts) + "\n"
    parts += earlier
    capped = draw(st.booleans())
    if capped:
        parts.append(draw(st.sampled_from(CAPS)))
    count = draw(st.integers(1, 3))
    parts.extend(draw(milestone(n, capped)) for n in range(count))
    return "\n\n".join(parts) + "\n"


@st.composite
def mixed_ledgers(draw: st.DrawFn) -> list[dict[str, Any]]:
    """partner_and_customer's ledgers, refunds given a reason (any case)."""
    events = draw(ledgers("partner_and_customer"))
    for event in events:
        if event["type"] == "refund":
            reason = draw(st.sampled_from([None, "fraud", "FRAUD", "Fraud", "other", "x"]))
            if reason is not None:
                event["reason"] = reason
    return events


def compare(rules: str, events: list[Any] | None, as_of: str | None) -> None:
    """The same bytes from both engines (on `events`, when given), or a
    refusal that `check --engine sql` reports too (and nothing reported
    for a program that compiles)."""
    prog = rewardrules.compile(rules)
    reported = refusals(prog.compiled)
    try:
        compile_query(prog.compiled)
    except Unsupported as refused:
        assert (refused.construct, refused.span) in {(r.construct, r.span) for r in reported}
        return
    assert reported == []
    if events is not None:
        sql = duckdb_json(prog, events, as_of)
        assert sql == python_json(prog, events, as_of)
        json.loads(sql)


@DIFFERENTIAL
@given(rules=programs(), data=st.data())
def test_mixed_programs_give_the_python_bytes(rules: str, data: st.DataObject) -> None:
    events = data.draw(mixed_ledgers(), label="ledger")
    as_of = data.draw(as_ofs(events), label="as_of")
    compare(rules, events, as_of)


# -- the cases the drawn programs found, each on its own ----------------------

REFUND = {"id": "f1", "at": "2026-01-10T00:00:00Z", "type": "refund", "referee": "bob", "payment": "p1"}
EVENTS: list[dict[str, Any]] = [
    {"id": "r1", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"},
    {"id": "p1", "at": "2026-01-02T00:00:00Z", "type": "payment", "referee": "bob", "amount": "100.00"},
    {"id": "p2", "at": "2026-01-05T00:00:00Z", "type": "payment", "referee": "bob", "amount": "33.33"},
    {**REFUND, "reason": "FRAUD"},
]


def awards(rules: str, events: list[dict[str, Any]] = EVENTS) -> list[dict[str, Any]]:
    compare(HEAD.format(zone="") + rules, events, None)
    found: list[dict[str, Any]] = json.loads(
        python_json(rewardrules.compile(HEAD.format(zone="") + rules), events, None)
    )["awards"]
    return found


def test_a_whenever_milestone_with_a_message() -> None:
    """Its hits carried no `msg` column: DuckDB refused the query."""
    found = awards(
        'milestone m { whenever paid increases\n  reward referrer cash 10% of increase\n  message "{{ paid }} so far" }'
    )
    assert [a["message"] for a in found] == ["100.00 so far", "133.33 so far"]


def test_a_whenever_milestone_with_voids() -> None:
    """Its void CTEs were never written: DuckDB refused the query."""
    found = awards(
        "milestone m { whenever paid increases\n  reward referrer cash 10% of increase\n  hold 30 days\n  void if refund }"
    )
    assert [(a["amount"], a["status"]) for a in found] == [("10.00", "void"), ("3.33", "void")]


def test_ignoring_case_in_a_void_condition() -> None:
    """The folded column was read unqualified, ambiguous between the void
    event and the triggering event: DuckDB refused the query."""
    found = awards(
        'milestone m { each payment\n  reward referrer cash 5 USD\n  hold 30 days\n  void if refund where refund.reason == "fraud" ignoring case }'
    )
    assert [a["status"] for a in found] == ["void", "void"]


def test_check_does_not_report_a_dividing_amount_that_compiles() -> None:
    """`check --engine sql` compiled an amount as a plain expression and
    reported `division`, which `compile_query` compiles as a fraction."""
    prog = rewardrules.compile(HEAD.format(zone="") + "milestone m { each payment\n  reward referrer cash paid / 7 }")
    compile_query(prog.compiled)
    assert refusals(prog.compiled) == []


def refused(rules: str) -> list[tuple[str, int]]:
    """What `compile_query` refuses first, and what `check --engine sql`
    reports: (construct, line) each."""
    prog = rewardrules.compile(HEAD.format(zone="") + rules)
    with pytest.raises(Unsupported) as first:
        compile_query(prog.compiled)
    reported = [(r.construct, r.span.line if r.span else 0) for r in refusals(prog.compiled)]
    assert first.value.span is not None
    assert (first.value.construct, first.value.span.line) in reported
    return reported


def test_a_message_reading_a_quotient_compiles() -> None:
    """It was refused as "division" at the metric's line, then at the
    message; the message's text of a quotient of numbers (not money) is now
    computed from the values it reads (tests/test_sql_constructs3_messages.py)."""
    rules = 'metric ratio = paid / paid\nmilestone m { each payment\n  reward referrer cash 1 USD\n  message "{{ ratio }}" }'
    prog = rewardrules.compile(HEAD.format(zone="") + rules)
    compile_query(prog.compiled)
    assert refusals(prog.compiled) == []


def test_whenever_of_a_quotient_compiles_and_its_increase_is_refused() -> None:
    """`whenever` of one quotient compiles (tests/test_sql_whenever_quotient.py);
    `increase` of it is refused at its line, as is `whenever` of a
    quotient rounded twice."""
    rules = "milestone m { whenever average increases\n  reward referrer cash 1 USD }"
    prog = rewardrules.compile(HEAD.format(zone="") + rules)
    compile_query(prog.compiled)
    assert refusals(prog.compiled) == []
    found = refused("milestone m { whenever average increases\n  reward referrer cash 10% of increase }")
    assert found == [("`increase` of a value that involves a division", 12)]
    found = refused("metric half = average / 2\nmilestone m { whenever half increases\n  reward referrer cash 1 USD }")
    assert found == [
        ("`whenever` of `half` (arithmetic on a quotient, which the engine rounds to 100 digits first)", 12)
    ]


# -- the cookbook's programs --------------------------------------------------


def cookbook_programs() -> list[tuple[str, str]]:
    """Every rule file of docs/cookbook.md (named or not), by its line."""
    from .test_docs_examples import blocks

    return [
        (f"{b.file or 'cookbook.md'}:{b.line}", b.text)
        for b in blocks(ROOT / "docs" / "cookbook.md")
        if b.lang == "rules" and "milestone" in b.text
    ]


def cookbook_ledger(name: str) -> list[str] | None:
    """The ledger the cookbook scores a pattern with (`patterns/x.jsonl`)."""
    from .test_docs_examples import blocks

    stem = name.split(":")[0].removesuffix(".rules")
    found = [b.text for b in blocks(ROOT / "docs" / "cookbook.md") if b.file == f"{stem}.jsonl"]
    return found[0].splitlines() if found else None


@pytest.mark.parametrize(("name", "text"), cookbook_programs(), ids=[n for n, _ in cookbook_programs()])
def test_cookbook_programs_give_the_python_bytes_or_are_reported(name: str, text: str) -> None:
    """A cookbook program compiles and gives the Python bytes on its own
    ledger, or what `compile_query` refuses is what `check --engine sql`
    reports; one that compiles has nothing reported."""
    compare(text, cookbook_ledger(name), None)


def test_reversals_are_listed_by_instant_not_by_its_text() -> None:
    """The Python engine sorted reversals by the text of `at`, where
    `...:00.5Z` comes before `...:00Z`; the query sorts by the instant.
    Both now list the earlier reversal first."""
    events = [
        *EVENTS[:3],
        {**REFUND, "id": "fa", "at": "2026-02-10T00:00:00.5Z"},
        {**REFUND, "id": "fb", "at": "2026-02-10T00:00:00Z", "payment": "p2"},
    ]
    rules = "milestone m { each payment\n  reward referrer cash 5 USD\n  void if refund where refund.payment == payment.id }"
    compare(HEAD.format(zone="") + rules, events, None)
    result = json.loads(python_json(rewardrules.compile(HEAD.format(zone="") + rules), events, None))
    assert [r["at"] for r in result["reversals"]] == ["2026-02-10T00:00:00Z", "2026-02-10T00:00:00.5Z"]


def test_settled_reversals_are_listed_by_instant_too() -> None:
    """A run against a settled statement sorted its reversals again by
    the text of `at`."""
    prog = rewardrules.compile(
        HEAD.format(zone="")
        + "milestone m { each payment\n  reward referrer cash 5 USD\n  void if refund where refund.payment == payment.id }"
    )
    paid = prog.score(EVENTS[:3], as_of="2026-02-01T00:00:00Z").data
    events = [
        *EVENTS[:3],
        {**REFUND, "id": "fa", "at": "2026-02-10T00:00:00.5Z"},
        {**REFUND, "id": "fb", "at": "2026-02-10T00:00:00Z", "payment": "p2"},
    ]
    result = prog.score(events, as_of="2026-03-01T00:00:00Z", settled=paid).data
    assert [r["at"] for r in result["reversals"]] == ["2026-02-10T00:00:00Z", "2026-02-10T00:00:00.5Z"]
