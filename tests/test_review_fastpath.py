"""Review of the Python path's speed-ups (`decode.kept_lines`, `cli.process`):
the fast loop must read what `iter_lines` reads, whatever the items are."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rewardrules.ledger import decode
from rewardrules.score.api import load

from .conftest import RULESETS
from .test_fastpath_reading import LINES, reference


class Text(str):
    """A str subclass, as `numpy.str_` is (lines taken from an array)."""


class Raw(bytes):
    """A bytes subclass."""


REFERRAL = '{"id": "r1", "at": "2026-01-05T09:00:00Z", "type": "referral", "referrer": "ann", "referee": "bob"}'
PAYMENT = '{"id": "s1", "at": "2026-01-10T09:00:00Z", "type": "subscription", "referee": "bob", "mrr": "1500.00"}'


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from([*LINES, REFERRAL]).flatmap(lambda s: st.sampled_from([Text(s), Raw(s.encode())])), max_size=6
    )
)
def test_kept_lines_reads_text_subclasses_as_iter_lines_does(lines: list[Any]) -> None:
    """A line given as a str or bytes subclass is text to `iter_lines`
    (`isinstance`); the fast loop took it for an object and refused it as
    "an event must be a JSON object"."""
    assert list(decode.kept_lines(lines)) == reference(lines)


def test_a_ledger_of_str_subclass_lines_scores_as_its_plain_lines() -> None:
    program = load(RULESETS / "saas_milestones.rules")
    plain = program.score([REFERRAL, PAYMENT], explain=False).to_json()
    assert program.score([Text(REFERRAL), Text(PAYMENT)], explain=False).to_json() == plain
    assert program.score([Raw(REFERRAL.encode()), Raw(PAYMENT.encode())], explain=False).to_json() == plain
    assert '"awards": [\n    {' in plain  # something is scored
