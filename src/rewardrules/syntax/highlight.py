"""Syntax highlighting of rule files: a Pygments lexer.

Not a stage of the pipeline (the parser has its own Lark grammar): this
lexer only colours text, in the docs site (```rules fences), in terminals
(``pygmentize -l rewardrules file.rules``) and in any tool that uses
Pygments. It is registered through the ``pygments.lexers`` entry point, so
installing rewardrules is enough for Pygments to find it.

It follows grammar/rewardrules.lark: keywords, names by what they declare,
units after numbers and types, roles and reward kinds after ``reward`` and
``cap``, and ``{{ ... }}`` / ``{% ... %}`` inside messages. Pygments is an
optional dependency (the ``docs`` and ``test`` extras); the engine never
imports this module.
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
)

__all__ = ["RewardRulesLexer"]

#: Every reserved word of the language (docs/language.md, "Reserved words").
RESERVED = (
    "ruleset",
    "timezone",
    "unit",
    "event",
    "metric",
    "program",
    "eligible",
    "when",
    "for",
    "after",
    "from",
    "cap",
    "per",
    "milestone",
    "first",
    "each",
    "whenever",
    "increases",
    "every",
    "reward",
    "hold",
    "void",
    "if",
    "unless",
    "voided",
    "message",
    "where",
    "within",
    "otherwise",
    "latest",
    "sum",
    "count",
    "max",
    "min",
    "and",
    "or",
    "not",
    "in",
    "is",
    "set",
    "true",
    "false",
    "of",
    "money",
    "quantity",
    "number",
    "text",
    "time",
    "boolean",
    "optional",
    "earlier",
    "allowance",
    "draw",
    "tiers",
    "graduated",
    "to",
    "more",
    "attribution",
    "lapses",
    "before",
    "ignoring",
    "case",
)

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
_WS = r"(\s+)"
#: A name that is not a reserved word: `0 within 30 days` is a number then a keyword.
_NOT_RESERVED = r"(?!(?:" + "|".join(RESERVED) + r")\b)"

#: Names the language defines: the referral, a referrer's referrals, the rise
#: of a `whenever` metric, and the roles.
BUILTINS = ("referral", "referrals", "increase", "referrer", "referee")
AGGREGATES = ("latest", "sum", "count", "max", "min", "first")


class RewardRulesLexer(RegexLexer):
    """Lexer for rewardrules rule files (``*.rules``)."""

    name = "rewardrules"
    aliases = ["rewardrules", "rules"]  # noqa: RUF012 (Pygments reads class attributes)
    filenames = ["*.rules"]  # noqa: RUF012
    mimetypes = ["text/x-rewardrules"]  # noqa: RUF012
    url = "https://pypi.org/project/rewardrules/"

    tokens = {  # noqa: RUF012
        "root": [
            (r"\s+", Whitespace),
            (r"#[^\n]*", Comment.Single),
            (r'"', String.Double, "string"),
            # Declarations: the keyword, then the name it declares.
            (r"(ruleset|program)" + _WS + "(" + _NAME + ")", bygroups(Keyword.Declaration, Whitespace, Name.Namespace)),
            (r"(unit)" + _WS + "(" + _NAME + ")", bygroups(Keyword.Declaration, Whitespace, Name.Constant)),
            (r"(event)" + _WS + "(" + _NAME + ")", bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (r"(metric)" + _WS + "(" + _NAME + ")", bygroups(Keyword.Declaration, Whitespace, Name.Variable)),
            (r"(milestone)" + _WS + "(" + _NAME + ")", bygroups(Keyword.Declaration, Whitespace, Name.Function)),
            (r"(allowance)" + _WS + "(" + _NAME + ")", bygroups(Keyword.Declaration, Whitespace, Name.Constant)),
            (
                r"(draw)" + _WS + r"(from)" + _WS + "(" + _NAME + ")",
                bygroups(Keyword, Whitespace, Keyword, Whitespace, Name.Constant),
            ),
            (
                r"(tiers)" + _WS + r"(of)" + _WS + "(" + _NAME + ")",
                bygroups(Keyword, Whitespace, Keyword, Whitespace, Name.Variable),
            ),
            # A field declaration inside an event block: `amount: money USD`.
            (r"(" + _NAME + r")(\s*)(:)", bygroups(Name.Attribute, Whitespace, Punctuation)),
            (r"(money|quantity)" + _WS + "(" + _NAME + ")", bygroups(Keyword.Type, Whitespace, Name.Constant)),
            (words(("number", "text", "time", "boolean", "optional"), suffix=r"\b"), Keyword.Type),
            # Rewards and caps: `reward referrer cash ...`, `cap referrer ... per quarter`.
            (
                r"(reward)" + _WS + "(" + _NAME + ")" + _WS + "(" + _NAME + ")",
                bygroups(Keyword, Whitespace, Name.Builtin, Whitespace, Name.Builtin.Pseudo),
            ),
            (r"(cap)" + _WS + "(" + _NAME + ")", bygroups(Keyword, Whitespace, Name.Builtin)),
            (r"(per)" + _WS + "(" + _NAME + ")", bygroups(Keyword, Whitespace, Name.Constant)),
            # Triggers and voids that name an event or a metric.
            (
                r"(void)" + _WS + r"(if)" + _WS + "(" + _NAME + ")",
                bygroups(Keyword, Whitespace, Keyword, Whitespace, Name.Class),
            ),
            (r"(each)" + _WS + "(" + _NAME + ")", bygroups(Keyword, Whitespace, Name.Class)),
            (r"(whenever)" + _WS + "(" + _NAME + ")", bygroups(Keyword, Whitespace, Name.Variable)),
            (
                r"(every)" + _WS + "(" + _NUMBER + ")" + _WS + "(" + _NAME + ")",
                bygroups(Keyword, Whitespace, Number, Whitespace, Name.Variable),
            ),
            # Aggregates (and the `first` trigger) over an event or the referrals.
            (
                r"(" + "|".join(AGGREGATES) + r")" + _WS + r"(referrals)\b",
                bygroups(Keyword, Whitespace, Name.Builtin),
            ),
            (
                r"(" + "|".join(AGGREGATES) + r")" + _WS + _NOT_RESERVED + "(" + _NAME + ")",
                bygroups(Keyword, Whitespace, Name.Class),
            ),
            # Amounts: `500 USD`, `30 days`, `15%`.
            (r"(" + _NUMBER + r")(\s*)(%)", bygroups(Number, Whitespace, Operator)),
            (
                r"(" + _NUMBER + ")" + _WS + _NOT_RESERVED + "(" + _NAME + ")",
                bygroups(Number, Whitespace, Name.Constant),
            ),
            (_NUMBER, Number),
            (words(("true", "false"), suffix=r"\b"), Keyword.Constant),
            (words(("and", "or", "not", "in", "is", "set", "of"), suffix=r"\b"), Operator.Word),
            (words(RESERVED, suffix=r"\b"), Keyword),
            # `payment.amount`, `referral.country`, `referrals.mrr`.
            (r"(\.)(" + _NAME + ")", bygroups(Punctuation, Name.Attribute)),
            (words(BUILTINS, suffix=r"\b"), Name.Builtin),
            (_NAME, Name),
            (r"==|!=|<=|>=|<|>|=|\+|-|\*|/", Operator),
            (r"[{}()\[\],:]", Punctuation),
        ],
        "string": [
            (r"\\.", String.Escape),
            (r"\{\{.*?\}\}|\{%.*?%\}", String.Interpol),
            (r'[^"\\{\n]+', String.Double),
            (r"\{", String.Double),
            (r'"', String.Double, "#pop"),
        ],
    }
