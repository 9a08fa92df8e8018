"""Write syntaxes/rewardrules.tmLanguage.json, the TextMate grammar of rule files.

The grammar follows the Pygments lexer (`rewardrules.syntax.highlight`),
rule for rule, from the same word lists, so the editor and the docs colour
a file alike and a new reserved word reaches both.
`tests/test_vscode_extension.py` fails when the committed grammar is not
what this script writes. Run from the repository's root:

    PYTHONPATH=$PWD/src python editors/vscode/make_grammar.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rewardrules.syntax.highlight import AGGREGATES, BUILTINS, RESERVED

HERE = Path(__file__).resolve().parent
TARGET = HERE / "syntaxes" / "rewardrules.tmLanguage.json"
NAME = r"[A-Za-z_][A-Za-z0-9_]*"
NUMBER = r"[0-9]+(?:\.[0-9]+)?"
NOT_RESERVED = r"(?!(?:" + "|".join(RESERVED) + r")\b)"
OPERATOR_WORDS = ("and", "or", "not", "in", "is", "set", "of")
S = "rewardrules"


def _words(match: str, *scopes: str) -> dict[str, Any]:
    """A pattern whose groups get these scopes, in order."""
    return {"match": match, "captures": {str(i): {"name": f"{scope}.{S}"} for i, scope in enumerate(scopes, 1)}}


def _declaration(keywords: str, scope: str) -> dict[str, Any]:
    return _words(r"\b(" + keywords + r")\s+(" + NAME + ")", "storage.type", scope)


def grammar() -> dict[str, Any]:
    keywords = [w for w in RESERVED if w not in (*OPERATOR_WORDS, "true", "false")]
    patterns = [
        {"include": "#comment"},
        {"include": "#string"},
        _declaration("ruleset|program", "entity.name.namespace"),
        _declaration("unit|allowance", "entity.name.constant"),
        _declaration("event", "entity.name.type"),
        _declaration("metric", "variable.other.declaration"),
        _declaration("milestone", "entity.name.function"),
        _words(r"\b(draw)\s+(from)\s+(" + NAME + ")", "keyword.other", "keyword.other", "entity.name.constant"),
        _words(r"\b(tiers)\s+(of)\s+(" + NAME + ")", "keyword.other", "keyword.operator.word", "variable.other"),
        _words(r"\b(" + NAME + r")\s*(:)", "variable.other.property", "punctuation.separator"),
        _words(r"\b(money|quantity)\s+(" + NAME + ")", "storage.type", "constant.other.unit"),
        {"match": r"\b(number|text|time|boolean|optional)\b", "name": f"storage.type.{S}"},
        _words(
            r"\b(reward)\s+(" + NAME + r")\s+(" + NAME + ")",
            "keyword.other",
            "support.constant.role",
            "support.constant.kind",
        ),
        _words(r"\b(cap)\s+(" + NAME + ")", "keyword.other", "support.constant.role"),
        _words(r"\b(per)\s+(" + NAME + ")", "keyword.other", "constant.other.unit"),
        _words(r"\b(void)\s+(if)\s+(" + NAME + ")", "keyword.other", "keyword.other", "entity.name.type"),
        _words(r"\b(each)\s+(" + NAME + ")", "keyword.other", "entity.name.type"),
        _words(r"\b(whenever)\s+(" + NAME + ")", "keyword.other", "variable.other"),
        _words(
            r"\b(every)\s+(" + NUMBER + r")\s+(" + NAME + ")", "keyword.other", "constant.numeric", "variable.other"
        ),
        _words(r"\b(" + "|".join(AGGREGATES) + r")\s+(referrals)\b", "keyword.other", "variable.language"),
        _words(
            r"\b(" + "|".join(AGGREGATES) + r")\s+" + NOT_RESERVED + "(" + NAME + ")",
            "keyword.other",
            "entity.name.type",
        ),
        _words(r"\b(" + NUMBER + r")\s*(%)", "constant.numeric", "keyword.operator"),
        _words(r"\b(" + NUMBER + r")\s+" + NOT_RESERVED + "(" + NAME + ")", "constant.numeric", "constant.other.unit"),
        {"match": r"\b" + NUMBER + r"\b", "name": f"constant.numeric.{S}"},
        {"match": r"\b(true|false)\b", "name": f"constant.language.{S}"},
        {"match": r"\b(" + "|".join(OPERATOR_WORDS) + r")\b", "name": f"keyword.operator.word.{S}"},
        {"match": r"\b(" + "|".join(keywords) + r")\b", "name": f"keyword.other.{S}"},
        _words(r"(\.)(" + NAME + ")", "punctuation.accessor", "variable.other.property"),
        {"match": r"\b(" + "|".join(BUILTINS) + r")\b", "name": f"variable.language.{S}"},
        {"match": r"==|!=|<=|>=|<|>|=|\+|-|\*|/", "name": f"keyword.operator.{S}"},
    ]
    return {
        "name": "rewardrules",
        "scopeName": "source.rewardrules",
        "fileTypes": ["rules"],
        "patterns": patterns,
        "repository": {
            "comment": {"match": r"#.*$", "name": f"comment.line.number-sign.{S}"},
            "string": {
                "begin": '"',
                "end": '"|$',
                "name": f"string.quoted.double.{S}",
                "patterns": [
                    {"match": r"\\.", "name": f"constant.character.escape.{S}"},
                    {"match": r"\{\{.*?\}\}|\{%.*?%\}", "name": f"meta.template.expression.{S}"},
                ],
            },
        },
    }


def text() -> str:
    return json.dumps(grammar(), indent=2) + "\n"


if __name__ == "__main__":
    TARGET.write_text(text(), encoding="utf-8")
