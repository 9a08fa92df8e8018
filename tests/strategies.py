"""Hypothesis strategies for rule files: syntactically valid programs of the
language (docs/language.md), for round-trip properties and fuzzing.

:func:`rule_files` draws the text of a whole file: a ruleset line, units,
events with typed fields, metrics of every aggregate kind (with `where`,
`within`, `otherwise`) and derived ones, then either top-level program items
or `program` blocks, with eligibility, caps and milestones of every trigger
kind, rewards, holds, voids and messages, declarations and clauses in any
order. A drawn file always parses. Two families:

* ``rule_files(typed=False)`` stresses the syntax: any expression anywhere,
  names from a small pool that mostly resolve; most such files have
  semantic mistakes (unit mismatches, unknown names ...), which `check` must
  report, never raise on;
* ``rule_files(typed=True)`` draws references to declared names of the right
  type in places that may read them, so the files check clean (for
  properties past `check`: compile, score, differential tests).

The layout is drawn as well: every gap between two tokens is a space, a line
break, a blank line or (in half the files) a comment on its own line or
after code, and expressions get redundant parentheses, so formatters and
parsers meet spacing no person would write. :func:`expressions` and
:func:`typed_amounts` / :func:`typed_conditions` draw one expression as
tokens with its binding strength (the grammar's precedence ladder, restated
here independently of the formatter).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from hypothesis import strategies as st

Tokens = list[str]

# Binding strength, loosest first (grammar/rewardrules.lark's rule ladder).
OR, AND, NOT, COMPARE, SUM, PRODUCT, UNARY, ATOM = range(1, 9)

#: Event types the strategy may declare, with the fields each may have.
EVENT_FIELDS: dict[str, list[tuple[str, Tokens]]] = {
    "payment": [("amount", ["money", "USD"]), ("plan", ["text"]), ("trial", ["boolean"])],
    "subscription": [("mrr", ["money", "USD"]), ("renewed", ["time"])],
    "licenses": [("active", ["number"])],
    "usage": [("data", ["quantity", "MB"]), ("miles", ["quantity", "supercharger_miles"])],
    "refund": [("payment", ["text"]), ("amount", ["money", "EUR"])],
    "signup": [],
}
REFERRAL_FIELDS = [("country", ["text"]), ("source", ["text"])]
#: Metric names; `first` and `count` are reserved words that are fine as names.
METRIC_NAMES = ["paid", "spent", "mrr", "arr", "conversions", "biggest", "total_2", "first", "count"]
AGGREGATE_WORDS = {"latest", "sum", "count", "max", "min", "first"}

NUMBERS = ["0", "1", "3", "5", "12", "300", "1000", "2.50", "0.5", "0.0000001", "007", "123456789012345678.90"]
UNITS = ["USD", "EUR", "MB", "GB", "months", "points", "percent", "days", "supercharger_miles"]
DURATION_UNITS = ["days", "day", "hours", "minutes", "weeks", "week"]
ROLES = ["referrer", "referee"]
KINDS = ["cash", "credit", "discount", "gift_card", "storage", "upgrade"]
PERIODS = ["day", "week", "month", "quarter", "year"]
COMPARISONS = ["==", "!=", "<", "<=", ">", ">="]
#: String literals as they may be written, escapes and oddities included.
STRINGS = [
    '"US"',
    '"CA"',
    '""',
    '"a # not a comment"',
    '"quote \\" and backslash \\\\"',
    '"tab\\there"',
    '"\\u00e9t\\u00e9"',
    # a pair is one character; a lone half is an error of its own (RR002)
    '"\\ud83d\\ude00 is one character"',
    '"unknown escape \\q stays"',
    '"ünïcödé ☃"',
]
MESSAGES = [
    '"Thanks {{ beneficiary }}: {{ referee }} joined."',
    '"{% if amount %}{{ amount }} {{ unit }}{% else %}none{% endif %}"',
    '"{{ milestone | upper }} for {{ role }}"',
    '"{{ payment.amount }}"',
    '"{% for x in y %}{% endfor %}"',
    '"{{ unclosed "',
]
#: What may stand between two tokens (the first entries are the likeliest).
SEPARATORS = [
    " ",
    " ",
    " ",
    "\n",
    "  ",
    "\n  ",
    "\n\n",
    "\t",
    " # a comment\n",
    "\n# on its own line\n",
    "  #\n",
    ' # "quoted" # and hashed  \n',
    "\n\n# after a blank line\n\n",
    " # ünïcödé ☃\n",
]


def _maybe(draw: st.DrawFn, probability_in_8: int = 4) -> bool:
    return draw(st.integers(0, 7)) < probability_in_8


def _paren(draw: st.DrawFn, tokens: Tokens, level: int, need: int) -> Tokens:
    """Tokens of a sub-expression, parenthesized when it binds looser than
    its place needs, and now and then when it does not."""
    if level < need or draw(st.integers(0, 7)) == 7:
        return ["(", *tokens, ")"]
    return tokens


def strings() -> st.SearchStrategy[str]:
    """A string literal as source text."""
    drawn = st.builds(lambda text, ascii_: json.dumps(text, ensure_ascii=ascii_), st.text(max_size=12), st.booleans())
    return st.one_of(st.sampled_from(STRINGS), drawn)


@st.composite
def atoms(draw: st.DrawFn, refs: list[Tokens]) -> tuple[Tokens, int]:
    number = draw(st.sampled_from(NUMBERS))
    kind = draw(st.sampled_from(["number", "ref", "quantity", "percent", "string", "bool", "negative"]))
    if kind == "number":
        return [number], ATOM
    if kind == "ref" and refs:
        return list(draw(st.sampled_from(refs))), ATOM
    if kind == "quantity":
        return [number, draw(st.sampled_from(UNITS))], ATOM
    if kind == "percent":
        return [number, "%"], ATOM
    if kind == "string":
        return [draw(strings())], ATOM
    if kind == "bool":
        return [draw(st.sampled_from(["true", "false"]))], ATOM
    return ["-", number, *([draw(st.sampled_from(UNITS))] if _maybe(draw) else [])], UNARY


@st.composite
def expressions(draw: st.DrawFn, refs: list[Tokens], depth: int = 3) -> tuple[Tokens, int]:
    """One expression as tokens, and how tightly it binds (OR ... ATOM)."""
    if depth <= 0 or _maybe(draw, 3):
        return draw(atoms(refs))
    sub = expressions(refs, depth - 1)
    form = draw(
        st.sampled_from(
            ["or", "and", "not", "compare", "in", "is", "add", "mul", "neg", "percent_of", "paren", "earlier"]
        )
    )
    if form == "earlier":
        return draw(in_earlier(refs, draw(sub)))
    if form in ("or", "and"):
        own = OR if form == "or" else AND
        left, right = draw(sub), draw(sub)
        return [*_paren(draw, *left, own), form, *_paren(draw, *right, own + 1)], own
    if form == "not":
        return ["not", *_paren(draw, *draw(sub), NOT)], NOT
    if form == "compare":
        left, right = draw(sub), draw(sub)
        compared = [*_paren(draw, *left, SUM), draw(st.sampled_from(COMPARISONS)), *_paren(draw, *right, SUM)]
        return compared + _ignoring_case(draw), COMPARE
    if form == "in":
        return [
            *_paren(draw, *draw(sub), SUM),
            *(["not", "in"] if _maybe(draw) else ["in"]),
            *draw(lists(refs)),
            *_ignoring_case(draw),
        ], COMPARE
    if form == "is":
        return [*_paren(draw, *draw(sub), SUM), "is", *(["not"] if _maybe(draw) else []), "set"], COMPARE
    if form in ("add", "mul"):
        own = SUM if form == "add" else PRODUCT
        op = draw(st.sampled_from(["+", "-"] if form == "add" else ["*", "/"]))
        left, right = draw(sub), draw(sub)
        return [*_paren(draw, *left, own), op, *_paren(draw, *right, own + 1)], own
    if form == "neg":
        return ["-", *_paren(draw, *draw(sub), UNARY)], UNARY
    if form == "percent_of":
        return [draw(st.sampled_from(NUMBERS)), "%", "of", *_paren(draw, *draw(sub), UNARY)], ATOM
    return ["(", *draw(sub)[0], ")"], ATOM


@st.composite
def lists(draw: st.DrawFn, refs: list[Tokens]) -> Tokens:
    """An `in` list: short lists of any items, or a long one of strings."""
    if _maybe(draw, 1):
        items = [[s] for s in draw(st.lists(strings(), min_size=12, max_size=40))]
    else:
        items = [draw(expressions(refs, 1))[0] for _ in range(draw(st.integers(0, 4)))]
    tokens: Tokens = ["["]
    for i, item in enumerate(items):
        tokens += [*([","] if i else []), *item]
    if items and _maybe(draw, 2):
        tokens.append(",")
    return [*tokens, "]"]


def conditions(refs: list[Tokens]) -> st.SearchStrategy[Tokens]:
    return expressions(refs).map(lambda drawn: drawn[0])


@st.composite
def durations(draw: st.DrawFn) -> Tokens:
    return [draw(st.sampled_from(["1", "7", "30", "90", "365"])), draw(st.sampled_from(DURATION_UNITS))]


def _title(draw: st.DrawFn) -> Tokens:
    return [draw(strings())] if _maybe(draw, 3) else []


@st.composite
def _filters(draw: st.DrawFn, refs: list[Tokens]) -> Tokens:
    tokens: Tokens = []
    if _maybe(draw):
        tokens += ["where", *draw(conditions(refs))]
    if _maybe(draw, 3):
        tokens += ["within", *draw(durations())]
    return tokens


@st.composite
def events(draw: st.DrawFn, name: str, fields: list[tuple[str, Tokens]], every: bool = False) -> Tokens:
    """An event declaration with some of ``fields`` (all with ``every``)."""
    tokens = ["event", name, *_title(draw)]
    chosen = [f for f in fields if every or _maybe(draw, 6)]
    if not chosen and _maybe(draw, 6):
        return tokens
    tokens.append("{")
    for field, type_ref in chosen:
        optional = ["optional"] if _maybe(draw, 2) else []
        tokens += [field, ":", *optional, *type_ref, *([","] if _maybe(draw, 2) else [])]
    return [*tokens, "}"]


@st.composite
def metrics(draw: st.DrawFn, name: str, scope: Scope) -> Tokens:
    head = ["metric", name, *_title(draw), "="]
    form = draw(st.sampled_from(["aggregate", "aggregate", "referrals", "derived", "earlier"]))
    if form == "earlier":
        return head + draw(earlier_aggregates(scope.refs))
    if form == "derived":
        body, _ = draw(expressions(scope.refs))
        if body[0] in AGGREGATE_WORDS:  # `metric x = count + 1` would start an aggregate
            body = ["(", *body, ")"]
        return head + body
    if form == "referrals":
        if _maybe(draw) or not scope.metrics:
            return [*head, "count", "referrals", *(["where", *draw(conditions(scope.refs))] if _maybe(draw) else [])]
        return [*head, "sum", "referrals", ".", draw(st.sampled_from(scope.metrics))]
    event = draw(st.sampled_from(sorted(scope.events)))
    fn = draw(st.sampled_from(["count", "sum", "latest", "max", "min", "first"]))
    fields = [f for f, _ in EVENT_FIELDS[event]]
    target = [event] if fn == "count" or not fields else [event, ".", draw(st.sampled_from(fields))]
    otherwise = ["otherwise", *draw(expressions(scope.refs, 1))[0]] if _maybe(draw, 3) else []
    return [*head, fn, *target, *draw(_filters(scope.refs)), *otherwise]


@st.composite
def milestones(draw: st.DrawFn, name: str, scope: Scope) -> Tokens:
    events_ = sorted(scope.events)
    trigger_kind = draw(st.sampled_from(["when", "first", "each", "whenever", "every"]))
    if trigger_kind == "when":
        trigger = ["when", *draw(conditions(scope.refs))]
    elif trigger_kind in ("first", "each"):
        trigger = [trigger_kind, draw(st.sampled_from(events_)), *draw(_filters(scope.refs))]
    elif trigger_kind == "whenever":
        trigger = ["whenever", draw(st.sampled_from(scope.metrics or ["paid"])), "increases"]
    else:
        trigger = ["every", draw(st.sampled_from(["1", "3", "10"])), draw(st.sampled_from(scope.metrics or ["paid"]))]
    clauses = [trigger]
    for _ in range(draw(st.integers(1, 2))):
        role = draw(st.sampled_from(ROLES))
        if _maybe(draw, 1):
            clauses.append(["reward", role, "item", draw(strings())])
        else:
            amount = draw(expressions([*scope.refs, ["increase"]], 2))[0]
            clauses.append(["reward", role, draw(st.sampled_from(KINDS)), *amount])
    if _maybe(draw, 2):
        clauses.append(["hold", *draw(durations())])
    if _maybe(draw, 2):
        clauses.append(["void", "if", draw(st.sampled_from(events_)), *draw(_filters(scope.refs))])
    if _maybe(draw, 2):
        clauses.append(["message", draw(st.sampled_from(MESSAGES))])
    if _maybe(draw, 1):
        clauses.append(draw(caps(scope)))
    ordered = draw(st.permutations(clauses))
    return ["milestone", name, *_title(draw), "{", *[t for clause in ordered for t in clause], "}"]


@st.composite
def caps(draw: st.DrawFn, scope: Scope) -> Tokens:
    amount = draw(expressions(scope.refs, 1))[0]
    period = ["per", draw(st.sampled_from(PERIODS))] if _maybe(draw) else []
    return ["cap", draw(st.sampled_from(ROLES)), *amount, *period]


@st.composite
def program_items(draw: st.DrawFn, scope: Scope, names: list[str]) -> list[Tokens]:
    """Eligibility, caps and milestones: the items of a program."""
    items = [["eligible", "when", *draw(conditions(scope.refs))] for _ in range(draw(st.integers(0, 2)))]
    items += [draw(caps(scope)) for _ in range(draw(st.integers(0, 1)))]
    items += [draw(milestones(name, scope)) for name in names]
    items += [draw(loose_attributions(scope)) for _ in range(draw(st.integers(0, 1)))]
    return items


class Scope:
    """The names a file declares, for references that mostly resolve."""

    def __init__(self, events: dict[str, list[tuple[str, Tokens]]], metrics: list[str]) -> None:
        self.events = events
        self.metrics = metrics
        self.refs: list[Tokens] = [[m] for m in metrics]
        self.refs += [[e, ".", f] for e, fields in events.items() for f, _ in fields]
        self.refs += [["referral", ".", f] for f, _ in REFERRAL_FIELDS]
        self.refs += [["payment", ".", "at"], ["referral", ".", "at"]]


def _zone(draw: st.DrawFn) -> Tokens:
    """Sometimes a time zone for calendar periods."""
    zones = ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"]
    return ["timezone", json.dumps(draw(st.sampled_from(zones)))] if _maybe(draw, 2) else []


@st.composite
def file_tokens(draw: st.DrawFn) -> Tokens:
    """The tokens of a whole rule file, declarations in any order."""
    event_names = draw(st.lists(st.sampled_from(sorted(EVENT_FIELDS)), min_size=1, max_size=3, unique=True))
    metric_names = draw(st.lists(st.sampled_from(METRIC_NAMES), max_size=4, unique=True))
    scope = Scope({e: EVENT_FIELDS[e] for e in event_names}, metric_names)
    declarations: list[Tokens] = []
    if _maybe(draw, 6):
        declarations.append(["ruleset", "generated", *_title(draw), *_zone(draw)])
    if _maybe(draw, 2):
        declarations.append(["unit", "supercharger_miles", *_title(draw)])
    if _maybe(draw, 3):
        declarations.append(draw(events("referral", REFERRAL_FIELDS)))
    declarations += [draw(events(e, EVENT_FIELDS[e])) for e in event_names]
    declarations += [draw(metrics(m, scope)) for m in metric_names]
    milestone_names = iter(f"milestone_{i}" for i in range(100))
    if _maybe(draw):
        declarations += draw(program_items(scope, [next(milestone_names) for _ in range(draw(st.integers(0, 3)))]))
    else:
        for p in range(draw(st.integers(1, 2))):
            local = ["metric", f"local_{p}", "=", "count", event_names[0]] if _maybe(draw, 2) else []
            names = [next(milestone_names) for _ in range(draw(st.integers(0, 2)))]
            items = draw(program_items(scope, names)) + ([local] if local else [])
            body = [t for item in draw(st.permutations(items)) for t in item]
            declarations.append(["program", f"program_{p}", *_title(draw), "{", *body, "}"])
    return [t for declaration in draw(st.permutations(declarations)) for t in declaration]


# -- well-typed files ---------------------------------------------------------
#
# The same language, drawn with types in mind: references are to declared
# names of the right type in a place that may read them, so most drawn files
# check clean and compile (for properties past `check`).

Typed = list[tuple[Tokens, str]]  # references with their types: "USD", "number", "text" ...

POSITIVE = ["1", "5", "12", "300", "1000", "2.50", "0.5"]
#: Units each reward kind accepts (check.py's _kind_unit_problem).
KIND_UNITS = {
    "cash": ["USD", "EUR"],
    "gift_card": ["USD"],
    "discount": ["USD", "percent"],
    "credit": ["USD", "points", "supercharger_miles"],
    "storage": ["MB", "GB"],
    "upgrade": ["months"],
}
GOOD_MESSAGES = [
    '"Thanks {{ beneficiary }}: {{ referee }} joined."',
    "\"{% if amount %}{{ amount }} {{ unit }}{% else %}{{ item | default('an item') }}{% endif %}\"",
    '"{{ milestone | upper }} for {{ role }} ({{ program }})"',
]
NOT_NUMERIC = ("text", "bool", "time")


def _type_of(type_ref: Tokens) -> str:
    if type_ref[0] in ("money", "quantity"):
        return type_ref[1]
    return {"number": "number", "text": "text", "boolean": "bool", "time": "time"}[type_ref[0]]


def _fields(event: str) -> Typed:
    own = [([event, ".", name], _type_of(type_ref)) for name, type_ref in EVENT_FIELDS.get(event, [])]
    return [*own, ([event, ".", "id"], "text"), ([event, ".", "at"], "time")]


def _literal(draw: st.DrawFn, unit: str, numbers: list[str] = NUMBERS) -> Tokens:
    number = draw(st.sampled_from(numbers))
    if unit == "number":
        return [number]
    if unit == "percent" and _maybe(draw):
        return [number, "%"]
    return [number, unit]


@st.composite
def typed_amounts(draw: st.DrawFn, unit: str, refs: Typed, depth: int = 2) -> tuple[Tokens, int]:
    """A numeric expression in ``unit`` ("number" for none), from ``refs`` of that unit."""
    mine = [tokens for tokens, t in refs if t == unit]
    if depth <= 0 or _maybe(draw, 3):
        if mine and _maybe(draw):
            return list(draw(st.sampled_from(mine))), ATOM
        return _literal(draw, unit), ATOM
    same = typed_amounts(unit, refs, depth - 1)
    plain = typed_amounts("number", refs, depth - 1)
    form = draw(st.sampled_from(["add", "times", "scaled", "divided", "percent_of", "neg", "paren"]))
    if form == "add":
        left, right = draw(same), draw(same)
        return [*_paren(draw, *left, SUM), draw(st.sampled_from(["+", "-"])), *_paren(draw, *right, PRODUCT)], SUM
    if form in ("times", "scaled", "divided"):
        left, right = (draw(plain), draw(same)) if form == "scaled" else (draw(same), draw(plain))
        op = "/" if form == "divided" else "*"
        return [*_paren(draw, *left, PRODUCT), op, *_paren(draw, *right, UNARY)], PRODUCT
    if form == "percent_of":
        return [draw(st.sampled_from(POSITIVE)), "%", "of", *_paren(draw, *draw(same), UNARY)], ATOM
    if form == "neg":
        return ["-", *_paren(draw, *draw(same), UNARY)], UNARY
    return ["(", *draw(same)[0], ")"], ATOM


@st.composite
def typed_conditions(draw: st.DrawFn, refs: Typed, depth: int = 2) -> tuple[Tokens, int]:
    """A condition that reads ``refs`` the way their types allow."""
    if depth <= 0 or _maybe(draw, 3):
        numeric = sorted({t for _, t in refs if t not in NOT_NUMERIC}) or ["number"]
        texts = [tokens for tokens, t in refs if t == "text"]
        form = draw(st.sampled_from(["compare", "compare", "text", "in", "set", "bool", "literal"]))
        if form == "text" and texts:
            if _maybe(draw, 2):
                return draw(folded_conditions(texts)), COMPARE
            value = [draw(st.sampled_from(STRINGS[:2]))]
            return [*draw(st.sampled_from(texts)), draw(st.sampled_from(["==", "!="])), *value], COMPARE
        if form == "in" and texts:
            items = draw(st.lists(st.sampled_from([*STRINGS[:2], '"GB"', '"partner"']), min_size=1, max_size=4))
            word = ["not", "in"] if _maybe(draw, 2) else ["in"]
            listed = [t for i, item in enumerate(items) for t in ([","] if i else []) + [item]]
            return [*draw(st.sampled_from(texts)), *word, "[", *listed, "]"], COMPARE
        if form == "set" and refs:
            return [*draw(st.sampled_from(refs))[0], "is", *(["not"] if _maybe(draw) else []), "set"], COMPARE
        if form == "bool":
            flags = [tokens for tokens, t in refs if t == "bool"]
            if flags:
                return list(draw(st.sampled_from(flags))), ATOM
        if form == "literal":
            return [draw(st.sampled_from(["true", "false"]))], ATOM
        unit = draw(st.sampled_from(numeric))
        left, right = draw(typed_amounts(unit, refs, 1)), draw(typed_amounts(unit, refs, 1))
        if unit == "number":  # a name may be a count: compared with a number, a whole one of 0 or more (RR304)
            whole: tuple[Tokens, int] = ([draw(st.sampled_from(["0", "1", "3", "12", "1000"]))], ATOM)
            if _bare(left[0], str.isidentifier) and _bare(right[0], _numeric):
                right = whole
            elif _bare(right[0], str.isidentifier) and _bare(left[0], _numeric):
                left = whole
        return [*_paren(draw, *left, SUM), draw(st.sampled_from(COMPARISONS)), *_paren(draw, *right, SUM)], COMPARE
    sub = typed_conditions(refs, depth - 1)
    form = draw(st.sampled_from(["and", "or", "not"]))
    if form == "not":
        return ["not", *_paren(draw, *draw(sub), NOT)], NOT
    own = OR if form == "or" else AND
    left, right = draw(sub), draw(sub)
    return [*_paren(draw, *left, own), form, *_paren(draw, *right, own + 1)], own


def _numeric(token: str) -> bool:
    return token.replace(".", "", 1).isdigit() or token == "-"


def _bare(tokens: Tokens, test: Callable[[str], bool]) -> bool:
    """Whether tokens, parentheses aside, are all of one kind: a name
    (`str.isidentifier`, one token) or a literal number (`_numeric`)."""
    inner = [t for t in tokens if t not in ("(", ")")]
    return bool(inner) and all(test(t) for t in inner) and (test is not str.isidentifier or len(inner) == 1)


def _condition(draw: st.DrawFn, refs: Typed) -> Tokens:
    return draw(typed_conditions(refs))[0]


def _typed_filters(draw: st.DrawFn, refs: Typed) -> Tokens:
    tokens: Tokens = ["where", *_condition(draw, refs)] if _maybe(draw) else []
    return tokens + (["within", *draw(durations())] if _maybe(draw, 3) else [])


class TypedScope:
    """Declared events, and metrics with their types and levels so far."""

    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.referral: Typed = [(["referral", ".", f], "text") for f, _ in REFERRAL_FIELDS]
        self.metrics: dict[str, tuple[str, str]] = {}  # name -> (type, "referral" | "referrer")

    def metric_refs(self, level: str, numeric_only: bool = True) -> Typed:
        return [
            ([name], t)
            for name, (t, lvl) in self.metrics.items()
            if lvl == level and (t not in NOT_NUMERIC or not numeric_only)
        ]


@st.composite
def typed_metrics(draw: st.DrawFn, name: str, scope: TypedScope) -> Tokens:
    """A metric that reads only events and metrics declared before it (so no
    cycles), recorded in ``scope`` with its type."""
    head = ["metric", name, *_title(draw), "="]
    per_referral = scope.metric_refs("referral")
    per_referrer = scope.metric_refs("referrer")
    form = draw(st.sampled_from(["aggregate", "aggregate", "count_referrals", "sum_referrals", "derived", "earlier"]))
    if form == "earlier":
        return head + draw(typed_earlier_metrics(name, scope))
    if form == "sum_referrals" and per_referral:
        metric, unit = draw(st.sampled_from(per_referral))
        scope.metrics[name] = (unit, "referrer")
        return [*head, "sum", "referrals", ".", *metric]
    if form == "count_referrals":
        where = ["where", *_condition(draw, per_referral + scope.referral)] if _maybe(draw, 5) else []
        scope.metrics[name] = ("number", "referrer")
        return [*head, "count", "referrals", *where]
    if form == "derived" and (per_referral or per_referrer):
        level, refs = ("referral", per_referral) if per_referral and _maybe(draw) else ("referrer", per_referrer)
        refs = refs or per_referral
        level = "referral" if refs is per_referral else level
        unit = draw(st.sampled_from(sorted({t for _, t in refs})))
        body = draw(typed_amounts(unit, refs))[0]
        if body[0] in AGGREGATE_WORDS:
            body = ["(", *body, ")"]
        scope.metrics[name] = (unit, level)
        return head + body
    event = draw(st.sampled_from(scope.events))
    own = _fields(event)
    fields = [(tokens[2], t) for tokens, t in own if tokens[2] not in ("id", "at")]
    fn = draw(st.sampled_from(["count", "sum", "latest", "max", "min", "first"]))
    numeric = [(f, t) for f, t in fields if t not in NOT_NUMERIC]
    if fn in ("sum", "max", "min") and numeric:
        field, unit = draw(st.sampled_from(numeric))
    elif fn in ("latest", "first") and fields:
        field, unit = draw(st.sampled_from(fields))
    else:
        fn, field, unit = "count", "", "number"
    target = [event] if fn == "count" else [event, ".", field]
    filters = _typed_filters(draw, own + scope.referral)
    otherwise: Tokens = []
    if unit not in NOT_NUMERIC and fn != "count" and _maybe(draw, 3):
        otherwise = ["otherwise", *_literal(draw, unit)]
    scope.metrics[name] = (unit, "referral")
    return [*head, fn, *target, *filters, *otherwise]


@st.composite
def typed_milestones(draw: st.DrawFn, name: str, scope: TypedScope) -> Tokens:
    reward_refs: Typed = []
    trigger_event: str | None = None
    counts = [m for m, (t, _) in scope.metrics.items() if t == "number"]
    rising = [m for m, (t, lvl) in scope.metrics.items() if t not in NOT_NUMERIC and lvl == "referral"]
    kind = draw(st.sampled_from(["when", "first", "each", "whenever", "every"]))
    if kind == "whenever" and rising:
        metric = draw(st.sampled_from(rising))
        trigger = ["whenever", metric, "increases"]
        reward_refs = [(["increase"], scope.metrics[metric][0])]
    elif kind == "every" and counts:
        trigger = ["every", draw(st.sampled_from(["1", "3", "10"])), draw(st.sampled_from(counts))]
    elif kind in ("first", "each"):
        trigger_event = draw(st.sampled_from(scope.events))
        refs = _fields(trigger_event) + scope.referral
        trigger = [kind, trigger_event, *_typed_filters(draw, refs)]
        reward_refs = _fields(trigger_event)
    else:
        refs = scope.metric_refs("referral") + scope.metric_refs("referrer") + scope.referral
        trigger = ["when", *_condition(draw, refs)]
    clauses = [trigger]
    units: list[str] = []  # of the rewards: a partial void takes part of amounts only
    for _ in range(draw(st.integers(1, 2))):
        role = draw(st.sampled_from(ROLES))
        reward_kind = draw(st.sampled_from([*sorted(KIND_UNITS), "item"]))
        if reward_kind == "item":
            units.append("item")
            clauses.append(["reward", role, "item", draw(strings())])
        else:
            unit = draw(st.sampled_from(KIND_UNITS[reward_kind]))
            units.append(unit)
            amount = draw(typed_amounts(unit, reward_refs))[0]
            if not {tokens[0] for tokens, _ in reward_refs} & set(amount):
                # an amount that reads nothing is a constant, and a negative one is RR305
                amount = _literal(draw, unit, POSITIVE)
            clauses.append(["reward", role, reward_kind, *amount])
        own = draw(reward_terms(scope, trigger_event, units[-1]))
        if own:  # held and voided by its own terms only: the milestone's no longer restrict it
            clauses[-1] += own
            units[-1] = "own terms"
    everyone_own = all(unit == "own terms" for unit in units)  # a milestone hold or void would be RR317
    if _maybe(draw, 2) and not everyone_own:
        clauses.append(["hold", *draw(durations())])
    if _maybe(draw, 2) and not everyone_own:
        void_event = draw(st.sampled_from(scope.events))
        refs = _fields(void_event) + (_fields(trigger_event) if trigger_event else []) + scope.referral
        share = draw(void_shares(void_event, trigger_event)) if not {"item", "percent"} & set(units) else []
        clauses.append(["void", *share, "if", void_event, *_typed_filters(draw, refs)])
    if _maybe(draw, 2):
        clauses.append(["message", draw(st.sampled_from(GOOD_MESSAGES))])
    if _maybe(draw, 1):
        clauses.append(_typed_cap(draw))
    ordered = draw(st.permutations(clauses))
    return ["milestone", name, *_title(draw), "{", *[t for clause in ordered for t in clause], "}"]


def _typed_cap(draw: st.DrawFn) -> Tokens:
    period = ["per", draw(st.sampled_from(PERIODS))] if _maybe(draw) else []
    unit = draw(st.sampled_from(["USD", "percent", "MB"]))
    return ["cap", draw(st.sampled_from(ROLES)), draw(st.sampled_from(POSITIVE)), unit, *period]


@st.composite
def typed_file_tokens(draw: st.DrawFn) -> Tokens:
    """The tokens of a file meant to check clean, declarations in any order."""
    event_names = draw(st.lists(st.sampled_from(sorted(EVENT_FIELDS)), min_size=1, max_size=3, unique=True))
    scope = TypedScope(event_names)
    declarations: list[Tokens] = []
    if _maybe(draw, 6):
        declarations.append(["ruleset", "generated", *_title(draw), *_zone(draw)])
    declarations.append(["unit", "supercharger_miles", *_title(draw)])
    declarations.append(draw(events("referral", REFERRAL_FIELDS, every=True)))
    declarations += [draw(events(e, EVENT_FIELDS[e], every=True)) for e in event_names]
    for name in draw(st.lists(st.sampled_from(METRIC_NAMES), max_size=4, unique=True)):
        declarations.append(draw(typed_metrics(name, scope)))
    numbering = iter(range(100))

    def items() -> list[Tokens]:
        found = [["eligible", "when", *draw(typed_eligibility(scope))] for _ in range(draw(st.integers(0, 2)))]
        found += [_typed_cap(draw) for _ in range(draw(st.integers(0, 1)))]
        found += [draw(attributions(scope)) for _ in range(draw(st.integers(0, 1)))]
        count = draw(st.integers(1, 3))
        found += [draw(typed_milestones(f"milestone_{next(numbering)}", scope)) for _ in range(count)]
        return found + (draw(followed_counts(scope, next(numbering))) if _maybe(draw, 2) else [])

    if _maybe(draw):
        declarations += items()
    else:
        for p in range(draw(st.integers(1, 2))):
            body = [t for item in draw(st.permutations(items())) for t in item]
            declarations.append(["program", f"program_{p}", *_title(draw), "{", *body, "}"])
    return [t for declaration in draw(st.permutations(declarations)) for t in declaration]


# -- whole files -------------------------------------------------------------


@st.composite
def rule_files(draw: st.DrawFn, typed: bool | None = None) -> str:
    """The text of a syntactically valid rule file, in a drawn layout.

    ``typed=True`` draws files meant to check clean; ``False`` files that
    stress the syntax (any expression anywhere); None either."""
    if typed is None:
        typed = draw(st.booleans())
    tokens = draw(st.one_of(typed_file_tokens(), tiers_caps_file_tokens()) if typed else file_tokens())
    separators = SEPARATORS if draw(st.booleans()) else SEPARATORS[:6]  # with comments, or tidy
    gaps = draw(st.lists(st.sampled_from(separators), min_size=len(tokens), max_size=len(tokens)))
    text = draw(st.sampled_from(["", "# a header\n\n", "\n"])) + tokens[0]
    for gap, token in zip(gaps, tokens[1:], strict=False):
        text += gap + token
    return text + draw(st.sampled_from(["\n", "", "\n\n# the end\n", "  # no newline at the end"]))


# -- time triggers --------------------------------------------------------------
#
# `when C for D` and `after D [from EVENT] [if C]` (docs/language.md, "Time
# triggers"). Added after the rest, as wrappers: `milestones` and
# `typed_milestones` are rebound below to draw a timed milestone now and
# then, so every property over drawn files (the `fmt` round trip, `check`
# never raising, batch = stream = session = shuffled in
# tests/test_generated_programs.py) covers timers too.

_milestones_without_timers = milestones
_typed_milestones_without_timers = typed_milestones


@st.composite
def timed_triggers(draw: st.DrawFn, condition: st.SearchStrategy[Tokens], events: list[str]) -> Tokens:
    """`when C for D`, or `after D` with or without `from EVENT` and `if C`."""
    duration = draw(durations())
    if _maybe(draw):
        return ["when", *draw(condition), "for", *duration]
    tokens = ["after", *duration]
    if _maybe(draw):
        tokens += ["from", draw(st.sampled_from(["referral", *events]))]
    if _maybe(draw, 5):
        tokens += ["if", *draw(condition)]
    return tokens


@st.composite
def milestones(draw: st.DrawFn, name: str, scope: Scope) -> Tokens:  # type: ignore[no-redef]
    """A milestone of any trigger; now and then with a timed trigger put
    first (the syntax family: a second trigger is RR302, still parsed)."""
    tokens = draw(_milestones_without_timers(name, scope))
    if not _maybe(draw, 2):
        return tokens
    at = tokens.index("{") + 1
    return [*tokens[:at], *draw(timed_triggers(conditions(scope.refs), sorted(scope.events))), *tokens[at:]]


#: the words a milestone's clauses start with, after its trigger
_CLAUSE_WORDS = frozenset({"reward", "hold", "void", "message", "cap", "}"})


@st.composite
def typed_timed_milestones(draw: st.DrawFn, name: str, scope: TypedScope) -> Tokens:
    """A timed milestone that checks clean: a drawn `when C` milestone (its
    amounts are constants, as a timer's must be: there is no triggering
    event) whose trigger becomes `when C for D` or `after D [from E] if C`."""
    tokens = draw(_typed_milestones_without_timers(name, scope).filter(lambda t: "when" in t))
    start = tokens.index("when")
    end = next(i for i in range(start + 1, len(tokens)) if tokens[i] in _CLAUSE_WORDS)
    condition = tokens[start + 1 : end]
    timed = draw(timed_triggers(st.just(condition), scope.events))
    return [*tokens[:start], *timed, *tokens[end:]]


@st.composite
def typed_milestones(draw: st.DrawFn, name: str, scope: TypedScope) -> Tokens:  # type: ignore[no-redef]
    """A milestone that checks clean, of any trigger, timed ones included."""
    if _maybe(draw, 2):
        return draw(typed_timed_milestones(name, scope))
    return draw(_typed_milestones_without_timers(name, scope))


# -- behaviour: the referrer's earlier referrals -------------------------------
#
# `count earlier referrals [where C] [within D]` and `X [not] in earlier
# referrals.F` (docs/language.md), drawn into both families: as metrics and
# conditions anywhere in the syntax-stressing files, and, in the typed ones,
# as metrics (settled at the referral, so eligibility may read them) and as
# eligibility conditions, so the properties of generated programs (batch =
# session = stream = shuffled) and of `fmt` cover them.


@st.composite
def earlier_aggregates(draw: st.DrawFn, refs: list[Tokens]) -> Tokens:
    """`count earlier referrals`, with a filter and a window or not."""
    return ["count", "earlier", "referrals", *draw(_filters(refs))]


@st.composite
def in_earlier(draw: st.DrawFn, refs: list[Tokens], operand: tuple[Tokens, int]) -> tuple[Tokens, int]:
    """`X [not] in earlier referrals.F`, a comparison."""
    field = draw(st.sampled_from([f for f, _ in REFERRAL_FIELDS] + ["at", "id"]))
    word = ["not", "in"] if _maybe(draw) else ["in"]
    return [*_paren(draw, *operand, SUM), *word, "earlier", "referrals", ".", field], COMPARE


def _settled(scope: TypedScope) -> list[str]:
    """The typed scope's metrics over earlier referrals (settled at the referral)."""
    found: list[str] = scope.__dict__.setdefault("settled", [])
    return found


@st.composite
def typed_earlier_metrics(draw: st.DrawFn, name: str, scope: TypedScope) -> Tokens:
    """`count earlier referrals [where C] [within D]`, where C reads the
    earlier referral's fields; recorded as a per-referral number that
    eligibility may read."""
    where = ["where", *_condition(draw, scope.referral)] if _maybe(draw, 3) else []
    within = ["within", *draw(durations())] if _maybe(draw, 5) else []
    scope.metrics[name] = ("number", "referral")
    _settled(scope).append(name)
    return ["count", "earlier", "referrals", *where, *within]


@st.composite
def typed_eligibility(draw: st.DrawFn, scope: TypedScope) -> Tokens:
    """An `eligible when` condition: on the referral's fields, on metrics
    over earlier referrals (a velocity rule), or a test of a field against
    the same field of earlier referrals, guarded or not by `is not set`."""
    settled: Typed = [([name], "number") for name in _settled(scope)]
    form = draw(st.sampled_from(["fields", "velocity", "shares"]))
    if form == "velocity" and settled:
        metric = draw(st.sampled_from(settled))[0]
        return [*metric, draw(st.sampled_from(["<", "<=", ">="])), draw(st.sampled_from(["0", "1", "2", "3"]))]
    if form == "shares":
        field = draw(st.sampled_from([f for f, _ in REFERRAL_FIELDS]))
        test = ["referral", ".", field, *(["not", "in"] if _maybe(draw, 6) else ["in"])]
        test += ["earlier", "referrals", ".", field]
        return ["referral", ".", field, "is", "not", "set", "or", *test] if _maybe(draw) else test
    return _condition(draw, scope.referral + settled)


# -- rate tables, caps on rewards, shared allowances (issue 17) ----------------


def _rows(draw: st.DrawFn, unit: str, values: Callable[[], Tokens]) -> Tokens:
    """The rows of a rate table, in order: bounds from increasing starts
    (whole numbers, in ``unit`` unless it is "number"), each row ending just
    before the next one starts, or leaving a gap or an overlap (warnings,
    not errors); the last row open (`N or more`) or not."""
    starts = sorted(draw(st.lists(st.integers(0, 20), min_size=1, max_size=4, unique=True)))
    suffix = [] if unit == "number" else [unit]
    tokens: Tokens = []
    for i, start in enumerate(starts):
        low = [str(start), *suffix]
        if i == len(starts) - 1 and _maybe(draw):
            tokens += [*low, "or", "more", ":", *values()]
            continue
        end = starts[i + 1] - 1 if i + 1 < len(starts) else start + draw(st.integers(0, 30))
        end = max(start, end + draw(st.sampled_from([0, 0, 0, -1, 1])))  # a gap or an overlap, now and then
        tokens += [*low, "to", str(end), *suffix, ":", *values()]
        if _maybe(draw, 2):
            tokens.append(",")
    return tokens


@st.composite
def tiers_caps_file_tokens(draw: st.DrawFn) -> Tokens:
    """A file that checks clean and uses rate tables (`tiers of`, read by
    `rate of` and as an amount), caps on the number of rewards and
    allowances drawn from by one or two programs, with the events of
    `EVENT_FIELDS` (the ledgers of test_generated_programs fit it)."""
    declarations: list[Tokens] = [
        ["event", "payment", "{", "amount", ":", "money", "USD", "plan", ":", "text", "trial", ":", "boolean", "}"],
        ["event", "signup"],
        ["metric", "paid", "=", "count", "payment"],
        ["metric", "spent", "=", "sum", "payment", ".", "amount"],
        ["metric", "conversions", "=", "count", "referrals", "where", "paid", ">=", "1"],
    ]
    over = draw(st.sampled_from(["conversions", "paid"]))
    percent = lambda: [draw(st.sampled_from(POSITIVE)), "%"]  # noqa: E731
    declarations.append(
        ["metric", "rate", *_title(draw), "=", "tiers", "of", over, "{", *_rows(draw, "number", percent), "}"]
    )
    money = lambda: [draw(st.sampled_from(POSITIVE)), "USD"]  # noqa: E731
    declarations.append(["metric", "bonus", "=", "tiers", "of", "spent", "{", *_rows(draw, "USD", money), "}"])
    graduated = _maybe(draw)
    if graduated:  # each slice of the revenue at its own rate, paid as it grows
        rows = _rows(draw, "USD", percent)
        declarations.append(["metric", "owed", "=", "graduated", "tiers", "of", "spent", "{", *rows, "}"])
    allowances = [f"allowance_{i}" for i in range(draw(st.integers(0, 2)))]
    for name in allowances:
        declarations.append(["allowance", name, *_title(draw), *_tiers_cap(draw)[1:]])
    for p in range(draw(st.integers(1, 2))):
        body: list[Tokens] = [["draw", "from", name] for name in allowances if _maybe(draw, 6)]
        body += [_tiers_cap(draw) for _ in range(draw(st.integers(0, 1)))]
        role = draw(st.sampled_from(ROLES))
        each = "each payment" + (" where payment.amount > 1 USD" if _maybe(draw) else "")
        cap = _tiers_cap(draw) if _maybe(draw, 2) else []
        body.append(
            [*f"milestone commission_{p} {{ {each} reward {role} cash rate of payment.amount".split(), *cap, "}"]
        )
        body.append(f"milestone bonus_{p} {{ first payment reward referrer gift_card bonus }}".split())
        if graduated:
            body.append(f"milestone owed_{p} {{ whenever owed increases reward referrer cash increase }}".split())
        signup = draw(st.sampled_from(ROLES))
        body.append(f"milestone signup_{p} {{ each signup reward {signup} credit 3 points }}".split())
        inner = [t for item in draw(st.permutations(body)) for t in item]
        declarations.append(["program", f"program_{p}", "{", *inner, "}"])
    return [t for declaration in draw(st.permutations(declarations)) for t in declaration]


def _tiers_cap(draw: st.DrawFn) -> Tokens:
    """A cap on the number of rewards or on an amount, for life or per period."""
    period = ["per", draw(st.sampled_from(PERIODS))] if _maybe(draw, 5) else []
    role = draw(st.sampled_from(ROLES))
    if _maybe(draw):
        return ["cap", role, draw(st.sampled_from(["1", "2", "3", "10"])), "rewards", *period]
    return ["cap", role, draw(st.sampled_from(POSITIVE)), draw(st.sampled_from(["USD", "points"])), *period]


@st.composite
def tiers_caps_files(draw: st.DrawFn) -> str:
    """The text of a file of :func:`tiers_caps_file_tokens`, in a drawn layout."""
    tokens = draw(tiers_caps_file_tokens())
    gaps = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(tokens), max_size=len(tokens)))
    return tokens[0] + "".join(gap + token for gap, token in zip(gaps, tokens[1:], strict=False)) + "\n"


# -- attribution and case (issue 17) ------------------------------------------

#: texts that differ only in case (and `ß`, whose folding is `ss`): the
#: generated ledgers hold "partner" and "US"
CASE_STRINGS = ['"partner"', '"PARTNER"', '"Partner"', '"us"', '"US"', '"Straße"', '"STRASSE"']


def _ignoring_case(draw: st.DrawFn) -> Tokens:
    """Sometimes `ignoring case` after a comparison (the untyped files:
    anything that parses, for fmt and the parser)."""
    return ["ignoring", "case"] if _maybe(draw, 2) else []


@st.composite
def folded_conditions(draw: st.DrawFn, texts: list[Tokens]) -> Tokens:
    """A text compared `ignoring case`: with `==`, `!=`, `in` or `not in`."""
    subject = draw(st.sampled_from(texts))
    form = draw(st.sampled_from(["==", "!=", "in", "not in"]))
    if form in ("==", "!="):
        return [*subject, form, draw(st.sampled_from(CASE_STRINGS)), "ignoring", "case"]
    items = draw(st.lists(st.sampled_from(CASE_STRINGS), min_size=1, max_size=3))
    listed = [t for i, item in enumerate(items) for t in ([","] if i else []) + [item]]
    return [*subject, *form.split(), "[", *listed, "]", "ignoring", "case"]


@st.composite
def attributions(draw: st.DrawFn, scope: TypedScope) -> Tokens:
    """A program's `attribution` clause in each form that checks clean:
    first (the default, said), first that lapses, last, last that lapses;
    the conversion is the first event of a declared type, maybe filtered."""
    model = draw(st.sampled_from(["first", "first", "last"]))
    if model == "first" and _maybe(draw, 2):
        return ["attribution", "first", "referral"]
    event = draw(st.sampled_from(scope.events))
    conversion = ["first", event]
    if _maybe(draw):
        conversion += ["where", *_condition(draw, _fields(event))]
    if model == "first" or _maybe(draw):
        return ["attribution", model, "referral", "lapses", "after", *draw(durations()), "unless", *conversion]
    return ["attribution", "last", "referral", "before", *conversion]


@st.composite
def loose_attributions(draw: st.DrawFn, scope: Scope) -> Tokens:
    """An `attribution` clause for the syntax files: any model word, any
    parts (the checker judges them)."""
    words = ["attribution", draw(st.sampled_from(["first", "last", "lats"])), "referral"]
    if _maybe(draw):
        words += ["lapses", "after", *draw(durations())]
    if _maybe(draw, 5):
        event = draw(st.sampled_from(sorted(scope.events)))
        where = ["where", *draw(conditions(scope.refs))] if _maybe(draw) else []
        words += [draw(st.sampled_from(["before", "unless"])), "first", event, *where]
    return words


# -- partial clawbacks ---------------------------------------------------------


@st.composite
def void_shares(draw: st.DrawFn, void_event: str, trigger_event: str | None) -> Tokens:
    """The share of a partial `void` (``refund.amount of payment.amount``),
    or none (a `void if` of the whole award): the part reads the void
    event's numeric field or is a constant, the whole reads the triggering
    event's field of the same unit or is a constant (never the void event:
    RR211). Constants include zero, so a share with nothing to divide by is
    drawn too."""
    if not _maybe(draw, 5):
        return []
    numeric = [(name, _type_of(t)) for name, t in EVENT_FIELDS.get(void_event, []) if _type_of(t) not in NOT_NUMERIC]
    if numeric:
        name, unit = draw(st.sampled_from(numeric))
        part: Tokens = [void_event, ".", name]
    else:
        unit = draw(st.sampled_from(["number", "USD"]))
        part = _literal(draw, unit, ["0", "1", "2.50", "3"])
    wholes = [
        [trigger_event, ".", name]
        for name, t in EVENT_FIELDS.get(trigger_event or "", [])
        if trigger_event != void_event and _type_of(t) == unit
    ]
    constant = _literal(draw, unit, ["0", "3", "12", "300"])
    whole = draw(st.sampled_from(wholes)) if wholes and _maybe(draw, 6) else constant
    return [*part, "of", *whole]


# -- hold and void per reward ----------------------------------------------------


@st.composite
def reward_terms(draw: st.DrawFn, scope: TypedScope, trigger_event: str | None, unit: str) -> Tokens:
    """A reward's own terms (``{ hold 30 days  void if refund ... }``, or
    ``{ }`` for neither), or none: at most one hold, any voids; a partial
    void only for a reward in an additive unit (not an item or percent)."""
    if not _maybe(draw, 3):
        return []
    terms: list[Tokens] = []
    if _maybe(draw):
        terms.append(["hold", *draw(durations())])
    for _ in range(draw(st.integers(0, 2))):
        void_event = draw(st.sampled_from(scope.events))
        refs = _fields(void_event) + (_fields(trigger_event) if trigger_event else []) + scope.referral
        share = draw(void_shares(void_event, trigger_event)) if unit not in ("item", "percent") else []
        terms.append(["void", *share, "if", void_event, *_typed_filters(draw, refs)])
    ordered = draw(st.permutations(terms))
    return ["{", *[t for term in ordered for t in term], "}"]


# -- counts that follow reversals --------------------------------------------------


@st.composite
def followed_counts(draw: st.DrawFn, scope: TypedScope, n: int) -> list[Tokens]:
    """A conversion milestone with a `void` (the milestone's, or its
    reward's own terms), a count of referrals `unless voided` it, and a
    per-referrer milestone on that count: items of one program."""
    event = draw(st.sampled_from(scope.events))
    void_event = draw(st.sampled_from(scope.events))
    refs = _fields(void_event) + _fields(event) + scope.referral
    share = draw(void_shares(void_event, event))
    void = ["void", *share, "if", void_event, *_typed_filters(draw, refs)]
    hold = ["hold", *draw(durations())] if _maybe(draw) else []
    reward = ["reward", "referrer", "cash", "10", "USD"]
    if _maybe(draw):
        body = [*reward, "{", *hold, *void, "}"]
    else:
        body = [*reward, *hold, *void]
    converted = ["milestone", f"converted_{n}", "{", "first", event, *body, "}"]
    where = ["where", *_condition(draw, scope.referral)] if _maybe(draw, 2) else []
    metric = ["metric", f"kept_{n}", "=", "count", "referrals", *where, "unless", "voided", f"converted_{n}"]
    step = draw(st.sampled_from(["1", "2"]))
    bonus = [
        "milestone",
        f"bonus_{n}",
        "{",
        "every",
        step,
        f"kept_{n}",
        "reward",
        "referrer",
        "gift_card",
        "5",
        "USD",
        "}",
    ]
    return draw(st.permutations([converted, metric, bonus]))
