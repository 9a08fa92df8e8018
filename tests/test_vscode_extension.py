"""The VS Code extension (editors/vscode/): its TextMate grammar, tested with
the grammar test tool of its own package.json (vscode-tmgrammar-test, which
`.ci/run` installs with `npm ci`), and compared, token for token, with the
Pygments lexer on every reference rule set; its snippets expand to rule
files that check clean; its manifest names files that exist."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pygments.token import Comment, Keyword, Name, Number, Operator, String, _TokenType

from rewardrules.syntax.highlight import RewardRulesLexer

from .conftest import ROOT, RULESETS

EXTENSION = ROOT / "editors" / "vscode"
GRAMMAR = EXTENSION / "syntaxes" / "rewardrules.tmLanguage.json"
TOOLS = EXTENSION / "node_modules" / "vscode-tmgrammar-test" / "dist"
REFERENCE = sorted(RULESETS.glob("*.rules"))


def _node(tool: str, *args: str, cwd: Path = EXTENSION) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    assert node is not None, "node is needed for the grammar tests (.ci/run installs it)"
    script = TOOLS / tool
    assert script.is_file(), "run `npm ci` in editors/vscode (.ci/run does)"
    return subprocess.run([node, str(script), *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_the_grammar_is_what_make_grammar_writes() -> None:
    """The grammar follows the lexer's word lists: a reserved word added to
    the language reaches the editor when make_grammar.py is run again."""
    sys.path.insert(0, str(EXTENSION))
    try:
        import make_grammar
    finally:
        sys.path.remove(str(EXTENSION))
    assert GRAMMAR.read_text(encoding="utf-8") == make_grammar.text(), "run editors/vscode/make_grammar.py"


def test_the_grammar_tests_pass() -> None:
    result = _node("unit.js", "-g", str(GRAMMAR), "test/*.rules")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("run successfuly") == len(list((EXTENSION / "test").glob("*.rules")))


#: the TextMate scope each kind of Pygments token must have (any of these)
EXPECTED: list[tuple[_TokenType, tuple[str, ...]]] = [
    (Comment, ("comment.line",)),
    (String.Escape, ("constant.character.escape",)),
    (String.Interpol, ("meta.template.expression",)),
    (String, ("string.quoted",)),
    (Keyword.Declaration, ("storage.type",)),
    (Keyword.Type, ("storage.type",)),
    (Keyword.Constant, ("constant.language",)),
    (Keyword, ("keyword.other", "keyword.operator.word")),
    (Operator.Word, ("keyword.operator.word",)),
    (Operator, ("keyword.operator",)),
    (Number, ("constant.numeric",)),
    (Name.Namespace, ("entity.name.namespace",)),
    (Name.Constant, ("constant.other.unit", "entity.name.constant")),
    (Name.Class, ("entity.name.type",)),
    (Name.Variable, ("variable.other",)),
    (Name.Function, ("entity.name.function",)),
    (Name.Attribute, ("variable.other.property",)),
    (Name.Builtin.Pseudo, ("support.constant.kind",)),
    (Name.Builtin, ("variable.language", "support.constant.role")),
]


def _scopes(snapshot: str) -> dict[tuple[int, int], str]:
    """(line, column) -> scopes, from a vscode-tmgrammar-snap snapshot:
    each source line (`>` first) is followed by `#   ^^^ scopes` lines."""
    found: dict[tuple[int, int], str] = {}
    line = -1
    for row in snapshot.splitlines():
        if row.startswith(">"):
            line += 1
        elif row.startswith("#"):
            marks = re.match(r"#( *)(\^+) (.*)", row)
            assert marks is not None, row
            start = len(marks.group(1))
            for column in range(start, start + len(marks.group(2))):
                found[(line, column)] = marks.group(3)
    return found


def test_the_grammar_colours_the_reference_rule_sets_as_the_lexer_does(tmp_path: Path) -> None:
    for path in REFERENCE:
        shutil.copy(path, tmp_path / path.name)
    result = _node("snapshot.js", "-g", str(GRAMMAR), "--updateSnapshot", str(tmp_path / "*.rules"))
    assert result.returncode == 0, result.stdout + result.stderr
    wrong: list[str] = []
    for path in REFERENCE:
        text = path.read_text(encoding="utf-8")
        scopes = _scopes((tmp_path / (path.name + ".snap")).read_text(encoding="utf-8"))
        for index, kind, value in RewardRulesLexer().get_tokens_unprocessed(text):
            wanted = next((scopes for token, scopes in EXPECTED if kind in token), None)
            if wanted is None or not value.strip():
                continue
            line = text.count("\n", 0, index)
            column = index - (text.rfind("\n", 0, index) + 1)
            got = scopes.get((line, column), "")
            if not any(scope in got for scope in wanted):
                wrong.append(f"{path.name}:{line + 1}:{column + 1}: {value!r} is {kind}, the grammar says {got!r}")
    assert not wrong, "\n".join(wrong[:40])


def _expand(body: list[str]) -> str:
    """A snippet as inserted when every placeholder keeps its default (a
    choice: its first option)."""
    text = "\n".join(body)
    text = re.sub(r"\$\{\d+\|([^,|]*)[^}]*\}", r"\1", text)
    text = re.sub(r"\$\{\d+:([^}]*)\}", r"\1", text)
    return re.sub(r"\$\d+", "", text)


HEADER = """\
ruleset demo
event referral { source: optional text }
event payment { amount: money USD }
metric paid = count payment
metric conversions = count referrals where paid >= 1
"""


@pytest.mark.parametrize("name", ["Milestone", "Program"])
def test_the_snippets_expand_to_rules_that_check_clean(name: str) -> None:
    import rewardrules

    snippets = json.loads((EXTENSION / "snippets" / "rewardrules.json").read_text(encoding="utf-8"))
    text = HEADER + _expand(snippets[name]["body"]) + "\n"
    assert rewardrules.check_source(text) == [], text


def test_the_rule_test_snippet_is_a_rule_test() -> None:
    from rewardrules.report.testing import parse_test_file

    snippets = json.loads((EXTENSION / "snippets" / "rule-test.json").read_text(encoding="utf-8"))
    tests = parse_test_file(_expand(snippets["Rule test case"]["body"]) + "\n", str(RULESETS / "demo.test.toml"))
    assert [case.name for case in tests.cases] == ["what it shows"]


def test_the_manifest_names_files_that_exist() -> None:
    manifest = json.loads((EXTENSION / "package.json").read_text(encoding="utf-8"))
    contributes = manifest["contributes"]
    paths = [manifest["main"], *(g["path"] for g in contributes["grammars"])]
    paths += [s["path"] for s in contributes["snippets"]]
    paths += [lang["configuration"] for lang in contributes["languages"]]
    assert all((EXTENSION / p).is_file() for p in paths), paths
    assert contributes["languages"][0]["extensions"] == [".rules"]
    json.loads((EXTENSION / "language-configuration.json").read_text(encoding="utf-8"))
