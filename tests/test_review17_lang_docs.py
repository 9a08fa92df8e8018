"""Review of issue 17, docs: the reserved-word list of docs/language.md is
the parser's, word for word, so a reader can tell which names a keyword
may shadow (`timezone` after a ruleset was missing)."""

from __future__ import annotations

import re

from rewardrules.syntax.parser import keywords

from .conftest import ROOT


def test_the_reserved_words_listed_are_the_parsers_keywords() -> None:
    page = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    section = page.split("\n## Reserved words\n", 1)[1].split("\n## ", 1)[0]
    listed = re.match(r"\s*`([a-z_ \n]+)`", section)
    assert listed is not None
    words = listed[1].split()
    assert len(words) == len(set(words))
    # `referrals` is a keyword only after `earlier`; it is listed as the
    # built-in name it is everywhere (highlighted as one, too)
    assert set(words) == set(keywords()) - {"referrals"}
    assert "`referrals` too, a built-in name" in section
