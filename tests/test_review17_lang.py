"""Review of issue 17's language front end, tried as a newcomer: mistakes
in the new constructs get one diagnostic at the mistake with a hint that
names the fix, not a block "never closed" that is closed, nor a list of
every declaration keyword."""

from __future__ import annotations

import rewardrules
from rewardrules.diagnostics import Diagnostic

EVENTS = (
    "event payment { amount: money USD }\n"
    "event refund { payment: text, amount: money USD }\n"
    "event subscription { mrr: money USD }\n"
)
MILESTONE = "milestone m { first payment  reward referrer cash 10 USD }\n"


def errors(text: str) -> list[Diagnostic]:
    return rewardrules.check_source(text, "case.rules")


def only(text: str) -> Diagnostic:
    found = errors(text)
    assert len(found) == 1, [(d.line, d.column, d.message, d.help) for d in found]
    return found[0]


def at(diagnostic: Diagnostic) -> tuple[str, int, int]:
    return diagnostic.code, diagnostic.line, diagnostic.column


# -- a declaration inside a block that cannot hold it (braces balanced) --------


def test_allowance_inside_a_program_is_misplaced_not_unclosed() -> None:
    text = f"{EVENTS}program p {{\n  allowance budget referrer 500 USD per month\n  draw from budget\n  {MILESTONE}}}\n"
    found = only(text)
    assert at(found) == ("RR001", 5, 3)  # at `allowance`, not at `program`
    assert "never closed" not in found.message
    assert "`allowance` cannot be inside program `p`" in found.message
    assert found.help is not None and "top of the file" in found.help


def test_draw_inside_a_milestone_belongs_to_its_program() -> None:
    text = (
        f"{EVENTS}allowance budget referrer 500 USD\n"
        "program p {\n"
        "  milestone m {\n"
        "    first payment\n"
        "    reward referrer cash 10 USD\n"
        "    draw from budget\n"
        "  }\n"
        "}\n"
    )
    found = only(text)
    assert at(found) == ("RR001", 9, 5)
    assert "`draw` cannot be inside milestone `m`" in found.message
    assert found.help is not None and "program" in found.help


def test_cap_inside_a_rewards_terms_names_the_terms() -> None:
    text = f"{EVENTS}milestone m {{\n  first payment\n  reward referrer cash 10 USD {{ hold 30 days  cap referrer 100 USD }}\n}}\n"
    found = only(text)
    assert at(found) == ("RR001", 6, 47)
    assert "`cap` cannot be inside the terms of a reward" in found.message
    assert found.help is not None and "`hold`" in found.help and "`void`" in found.help


def test_eligible_inside_a_milestone() -> None:
    text = f"{EVENTS}milestone m {{\n  eligible when true\n  first payment\n  reward referrer cash 10 USD\n}}\n"
    found = only(text)
    assert at(found) == ("RR001", 5, 3)
    assert "`eligible` cannot be inside milestone `m`" in found.message


def test_a_missing_brace_is_still_reported_as_never_closed() -> None:
    # one `}` fewer than `{`: the block really is left open
    text = f"{EVENTS}milestone a {{\n  first payment\n  reward referrer cash 10 USD\n{MILESTONE}"
    found = errors(text)[0]
    assert at(found) == ("RR001", 4, 1)
    assert "milestone `a` is never closed" in found.message
