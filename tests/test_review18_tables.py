"""Review of issue 18: the matching grammar's Lark tables are shipped like
the reward grammar's, so the parser is not built from the grammar at start
(`match/_grammar_tables.py`, plain literals, regenerated with `python -m
rewardrules.match.parse`)."""

from __future__ import annotations

import ast as pyast
from collections.abc import Iterator
from pathlib import Path

import lark
import pytest

from rewardrules.match import parse
from rewardrules.match.check import check_text
from rewardrules.syntax.tables import digest

from .conftest import ROOT, RULESETS

MATCHING_FILES = sorted((RULESETS / "matching").glob("*.rules"))


@pytest.fixture
def fresh_parser() -> Iterator[None]:
    parse._parser.cache_clear()
    yield
    parse._parser.cache_clear()


def test_shipped_tables_are_plain_data_for_this_grammar() -> None:
    from rewardrules.match import _grammar_tables as tables

    regenerate = "run `python -m rewardrules.match.parse`"
    assert (digest(parse.grammar_text()), lark.__version__) == (tables.GRAMMAR_SHA256, tables.LARK_VERSION), regenerate
    body = pyast.parse(Path(tables.__file__).read_text(encoding="utf-8")).body
    values = [n.value for n in body if isinstance(n, (pyast.Assign, pyast.AnnAssign)) and n.value is not None]
    # literal_eval raises on anything but literals: no code runs on import
    assert [type(pyast.literal_eval(value)) for value in values] == [str, str, dict, dict]
    assert parse._shipped_parser(parse.grammar_text()) is not None


def test_the_parser_is_not_built_from_the_grammar_at_start(fresh_parser: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def analyse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the matching grammar was analysed at start")

    monkeypatch.setattr(lark.Lark, "__init__", analyse)
    rules, found = check_text(MATCHING_FILES[0].read_text(encoding="utf-8"), str(MATCHING_FILES[0]))
    assert rules is not None and found == []
    _, found = check_text("matching m\nworkload teams\nrequire endorsment\nroundrobin\n")
    assert [d.code for d in found] == ["RR801"]


def test_shipped_tables_parse_like_the_grammar() -> None:
    built = lark.Lark(parse.grammar_text(), **parse._OPTIONS)
    shipped = parse._shipped_parser(parse.grammar_text())
    assert shipped is not None
    docs = (ROOT / "docs" / "matching.md").read_text(encoding="utf-8").split("```match\n")[1:]
    texts = [p.read_text(encoding="utf-8") for p in MATCHING_FILES] + [block.split("```")[0] for block in docs]
    assert len(texts) >= 3
    for text in texts:
        assert shipped.parse(text) == built.parse(text)


def test_tables_for_another_grammar_are_not_used() -> None:
    assert parse._shipped_parser(parse.grammar_text() + "\n// changed\n") is None
