"""Tables keyed by syntax nodes belong to the checked program (nothing
outlives a compile), and generated code maps back to rule-file lines."""

from __future__ import annotations

import gc
import linecache
import sys
from typing import Any

import pytest

import rewardrules
from rewardrules.check.checker import check_text
from rewardrules.check.program import CheckedRuleset, NodeMap
from rewardrules.core import runtime
from rewardrules.syntax import nodes as ast

# A milestone on a metric's increases and a message make the compiler order
# metrics by a reference of its own (it used to keep such nodes alive in a
# module-level list, as the tables were keyed by `id()`).
RULES = """ruleset probe_{n}

event payment {{ amount: money USD, fee: optional money USD }}

metric paid_{n} = sum payment.amount where payment.amount > {n}
metric doubled_{n} = paid_{n} * 2

milestone first_sale {{
  first payment where payment.fee > 5 USD
  reward referrer cash payment.amount / 2
}}

milestone growth {{
  whenever doubled_{n} increases
  reward referrer cash 1 USD
  message "now {{doubled_{n}}}"
}}
"""

LEDGER = [
    {"id": "r1", "at": "2026-01-05T09:00:00Z", "type": "referral", "referrer": "alice", "referee": "acme"},
    {"id": "p1", "at": "2026-01-06T09:00:00Z", "type": "payment", "referee": "acme", "amount": "40.00", "fee": "9.00"},
]


def _containers() -> dict[str, int]:
    """The size of every list, dict and set held at module level by
    rewardrules' modules, and of `linecache`'s cache."""
    sizes = {"linecache.cache": len(linecache.cache)}
    for name, module in list(sys.modules.items()):
        if name != "rewardrules" and not name.startswith("rewardrules."):
            continue
        for attr, value in list(vars(module).items()):
            if type(value) in (list, dict, set):
                sizes[f"{name}.{attr}"] = len(value)
    return sizes


def _compile_and_score(n: int) -> None:
    program = rewardrules.compile(RULES.format(n=n), f"probe_{n}.rules")
    program.score(LEDGER)


def test_compiling_many_times_grows_no_module_level_container() -> None:
    _compile_and_score(0)  # first use: lazy imports, first-use tables
    gc.collect()
    before = _containers()
    for n in range(1, 25):
        _compile_and_score(n)
    gc.collect()
    after = _containers()
    grown = {name: (before.get(name, 0), size) for name, size in after.items() if size > before.get(name, 0)}
    assert grown == {}


def test_checked_program_and_its_nodes_are_freed_with_the_program() -> None:
    marker = "paid_7391"

    def alive() -> list[object]:
        return [
            o
            for o in gc.get_objects()
            if (type(o) is CheckedRuleset and o.name == "probe_7391")
            or (type(o) is ast.Ident and o.text in (marker, "doubled_7391"))
        ]

    _compile_and_score(7391)
    gc.collect()
    assert alive() == []


def test_node_tables_tell_equal_nodes_apart() -> None:
    """Nodes compare by value and ignore their spans, so `x > 1` written
    twice is two equal nodes: the checked program's tables keep one entry
    for each (by identity), and hold the node so its key is never reused."""
    text = (
        "ruleset twice\n"
        "event payment { amount: money USD }\n"
        "milestone a { first payment where payment.amount > 1 USD\n reward referrer cash 1 USD }\n"
        "milestone b { first payment where payment.amount > 1 USD\n reward referrer cash 1 USD }\n"
    )
    checked, diagnostics = check_text(text, "twice.rules")
    assert checked is not None, diagnostics
    first, second = (m.trigger.where for m in checked.milestones)  # type: ignore[union-attr]
    assert first == second and first is not second
    assert first in checked.types and second in checked.types
    refs = [node for node in (first, second) for node in ast.walk(node) if isinstance(node, ast.Ref)]
    assert len(refs) == 2 and all(ref in checked.bindings for ref in refs)
    assert ast.Ref(ast.Ident("payment"), ast.Ident("amount")) not in checked.bindings  # equal, but not checked

    table: NodeMap[Any, int] = NodeMap()
    key = ast.Ident("x")
    table[key] = 1
    del key
    gc.collect()
    assert list(table.values()) == [1] and len(table) == 1  # the key is held: its id stays its own


def _raising(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make a run-time helper of generated code raise (an engine bug)."""

    def broken(*args: Any) -> Any:
        raise ZeroDivisionError(f"{name} is broken")

    monkeypatch.setitem(runtime.HELPERS, name, broken)


def _rule_line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    ("helper", "needle", "what"),
    [
        ("n_gt", "payment.fee > 5 USD", "condition of milestone `first_sale`"),
        ("n_div", "payment.amount / 2", "amount of a reward of milestone `first_sale`"),
    ],
)
def test_error_in_generated_code_names_the_rule_line(
    monkeypatch: pytest.MonkeyPatch, helper: str, needle: str, what: str
) -> None:
    _raising(helper, monkeypatch)  # before compiling: helpers are the generated module's globals
    text = RULES.format(n=1)
    program = rewardrules.compile(text, "rules/probe.rules")
    with pytest.raises(ZeroDivisionError) as raised:
        program.score(LEDGER)
    line = _rule_line(text, needle)
    column = text.splitlines()[line - 1].index(needle.split()[0]) + 1
    notes = raised.value.__notes__
    assert len(notes) == 1
    prefix = f"in rule file rules/probe.rules:{line}:"
    assert notes[0].startswith(prefix) and notes[0].endswith(f"({what})")
    if helper == "n_div":  # the amount's own span
        assert notes[0] == f"{prefix}{column} ({what})"


def test_session_errors_are_annotated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    _raising("n_gt", monkeypatch)
    program = rewardrules.compile(RULES.format(n=1), "probe.rules")
    session = program.session()
    session.add(LEDGER[0])
    with pytest.raises(ZeroDivisionError) as raised:
        session.add(LEDGER[1])
    assert raised.value.__notes__ == [
        f"in rule file probe.rules:{_rule_line(RULES, 'payment.fee > 5 USD')}:3 (condition of milestone `first_sale`)"
    ]


def test_source_line_maps_generated_lines_and_keeps_the_path_out_of_the_code() -> None:
    path = "odd'path\\with quotes.rules"
    text = RULES.format(n=2)
    program = rewardrules.compile(text, path)
    source = program.compiled.source.splitlines()
    amount = next(i for i, line in enumerate(source, 1) if "n_div(" in line)
    origin = program.source_line(amount)
    assert origin is not None
    assert (origin.path, origin.line) == (path, _rule_line(text, "payment.amount / 2"))
    assert origin.what == "amount of a reward of milestone `first_sale`"
    metric = next(i for i, line in enumerate(source, 1) if line.strip().startswith("mv1 ="))
    assert program.source_line(metric) == (path, _rule_line(text, "metric doubled_2"), 1, "metric `doubled_2`")
    defs = [i for i, line in enumerate(source, 1) if line.startswith("def ")]
    assert defs and all(program.source_line(i) is None for i in defs)  # plumbing
    assert program.source_line(0) is None and program.source_line(len(source) + 1) is None
    # the path reaches generated code only as a repr'd constant (the header comment)
    assert [line for line in source if "quotes" in line] == [f"# {str(f'generated by rewardrules from {path}')!r}"]


def test_the_linecache_entry_lives_as_long_as_the_ruleset() -> None:
    program = rewardrules.compile(RULES.format(n=3), "probe.rules")
    filename = program.compiled.filename
    assert linecache.getline(filename, 3).startswith("def step_")
    del program
    gc.collect()
    assert filename not in linecache.cache


def test_error_in_a_void_condition_names_its_rule_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Void conditions run when the result is built, after the events."""
    text = (
        "ruleset voids\n"
        "event payment { amount: money USD }\n"
        "event refund { amount: optional money USD }\n"
        "milestone first_sale {\n"
        "  first payment where payment.amount > 5 USD\n"
        "  reward referrer cash 10 USD\n"
        "  void if refund where refund.amount >= 1 USD within 30 days\n"
        "}\n"
    )
    _raising("n_ge", monkeypatch)
    program = rewardrules.compile(text, "voids.rules")
    refund = {"id": "f1", "at": "2026-01-07T09:00:00Z", "type": "refund", "referee": "acme", "amount": "3.00"}
    with pytest.raises(ZeroDivisionError) as raised:
        program.score([*LEDGER, refund])
    assert raised.value.__notes__ == ["in rule file voids.rules:7:3 (void condition of milestone `first_sale`)"]
