"""The hot paths' shortcuts give exactly what the general code gives.

`ids.award_id` builds the bytes of an all-ASCII award in one step instead
of a netstring per field; `ledger.iter_lines` looks for a backslash before
it looks for `\\u`. Each shortcut must agree with the recipe it skips.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from rewardrules.core import ids
from rewardrules.ledger.decode import iter_lines

FIELDS = [
    ("ref1", "cus1", "", "referrer", "ref1"),
    ("", "", "", "", ""),
    ("a:1,", "2:b,", "3", "referee", "x,y:z"),
    ("réf", "cus1", "", "referrer", "réf"),  # not ASCII: the general path
    ("ref1", "客户", "2026-03", "referee", "客户"),
    ("\x00\x1f", "a\nb", "0", "referrer", "z"),
]


@pytest.mark.parametrize("fields", FIELDS)
def test_award_id_is_the_documented_recipe(fields: tuple[str, str, str, str, str]) -> None:
    head = ("award", "ruleset", "program", "milestone")
    recipe = b"".join(b"%d:%s," % (len(f.encode()), f.encode()) for f in (*head, *fields))
    expected = "aw_" + hashlib.sha256(recipe).hexdigest()[:32]
    assert ids.award_id(ids.award_head(*head[1:]), *fields) == expected


def test_award_ids_of_ascii_and_other_fields_differ() -> None:
    head = ids.award_head("r", "p", "m")
    assert ids.award_id(head, "ab", "", "", "r", "b") != ids.award_id(head, "a", "b", "", "r", "b")
    assert ids.award_id(head, "é", "", "", "r", "b") != ids.award_id(head, "e", "", "", "r", "b")


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        ('{"id": "a\\ud800", "at": "2026-01-01T00:00:00Z", "type": "t"}', True),  # lone surrogate, escaped
        ('{"id": "a\\\\ud800", "at": "2026-01-01T00:00:00Z", "type": "t"}', False),  # an escaped backslash
        ('{"id": "a\\n\\u00e9", "at": "2026-01-01T00:00:00Z", "type": "t"}', False),  # other escapes
        ('{"id": "a\\n\\"", "at": "2026-01-01T00:00:00Z", "type": "t"}', False),
    ],
)
def test_escaped_surrogates_are_still_found(text: str, refused: bool) -> None:
    for line in (text, text.encode()):
        [(number, value, problem)] = list(iter_lines([line]))
        assert number == 1
        assert (problem is not None) == refused
        if not refused:
            assert value == json.loads(text)
