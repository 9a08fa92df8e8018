"""The same program driven by peer engines: state kept in Python, each
milestone condition evaluated by the peer (zen-engine's compiled expressions,
datalogic-py's compiled JSONLogic rules). Optional: `pip install -e '.[bench]'`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from folds import THRESHOLDS, _order, _record

CONDITIONS = {
    "mrr_1k": ("mrr >= 1000", {">=": [{"var": "mrr"}, 1000]}),
    "arr_5k": ("mrr * 12 >= 5000", {">=": [{"*": [{"var": "mrr"}, 12]}, 5000]}),
    "arr_10k": ("mrr * 12 >= 10000", {">=": [{"*": [{"var": "mrr"}, 12]}, 10000]}),
}


#: each milestone's condition, compiled by a peer engine
Tests = dict[str, Callable[[dict[str, Any]], Any]]


def fold(events: Iterable[dict[str, Any]], test: Tests) -> list[dict[str, Any]]:
    """The hand-written fold with a peer's conditions."""
    referrals: dict[str, str] = {}
    reached: dict[str, set[str]] = {}
    awards = []
    for at, _, event in _order(events):
        referee = event["referee"]
        if event["type"] == "referral":
            referrer = event["referrer"]
            if referrer != referee and referee not in referrals:
                referrals[referee] = referrer
                reached[referee] = set()
            continue
        referrer = referrals.get(referee)
        if referrer is None:
            continue
        raw = event["mrr"]
        context = {"mrr": float(raw if isinstance(raw, Decimal) else Decimal(raw))}
        done = reached[referee]
        for name, _, _, amount in THRESHOLDS:
            if name not in done and test[name](context):
                done.add(name)
                awards.append(_record(at, name, referrer, referee, amount))
    return awards


def _zen() -> Tests | None:
    try:
        import zen
    except ImportError:
        return None
    return {name: zen.compile_expression(text).evaluate for name, (text, _) in CONDITIONS.items()}


def _datalogic() -> Tests | None:
    try:
        import datalogic_py
    except ImportError:
        return None
    engine = datalogic_py.Engine()
    return {name: engine.compile(rule).evaluate for name, (_, rule) in CONDITIONS.items()}


def available() -> dict[str, Tests]:
    """The installed peers, by name, with each milestone's compiled condition."""
    found = {"zen-engine compiled expressions": _zen(), "datalogic-py compiled rules": _datalogic()}
    return {name: tests for name, tests in found.items() if tests is not None}


# -- Evaluation alone -------------------------------------------------------
# What a rules engine itself adds: evaluating the program's conditions for
# one event, without the work every scorer shares (reading, ordering,
# attribution, award records). For each subscription event, all three
# milestone conditions are tested on the customer's MRR (none is skipped as
# already reached), and each implementation returns how many held, so the
# benchmark can check they agree.

Inputs = list[Decimal]


def evaluation_inputs(events: Iterable[dict[str, Any]]) -> Inputs:
    """The MRR of each subscription event."""
    return [
        raw if isinstance(raw, Decimal) else Decimal(raw)
        for raw in (e["mrr"] for e in events if e["type"] == "subscription")
    ]


def evaluate_by_hand(inputs: Inputs) -> int:
    """The three conditions written in Python: the floor."""
    held = 0
    for mrr in inputs:
        arr = 12 * mrr
        held += (mrr >= 1000) + (arr >= 5000) + (arr >= 10000)
    return held


def evaluate(tests: Tests) -> Callable[[Inputs], int]:
    """The three conditions evaluated by a peer."""
    conditions = list(tests.values())

    def run(inputs: Inputs) -> int:
        held = 0
        for mrr in inputs:
            context = {"mrr": float(mrr)}
            for test in conditions:
                if test(context):
                    held += 1
        return held

    return run


def evaluate_rewardrules(program: Any) -> Callable[[Inputs], int]:
    """The engine's generated code for the rule file: the step of a
    `subscription` event (metric update and milestone tests), on the
    engine's state (its reached flags cleared before each event, so every
    test runs)."""
    from decimal import localcontext

    from rewardrules.model import RECORD_HEAD
    from rewardrules.runtime import CONTEXT, Referral, ReferrerState

    compiled = program.compiled
    step = compiled.steps["subscription"]
    milestones = len(compiled.milestones)
    if compiled.checked.events["subscription"].record() != (*RECORD_HEAD, "mrr"):
        raise SystemExit("the subscription record is not (head, mrr): the harness below builds it so")

    def evaluate(inputs: Inputs) -> int:
        state = Referral("", 0, "", "", {}, compiled.referral_slots(), milestones)
        referrer = ReferrerState("", compiled.programs[0].referrer_slots(), milestones)
        state.links.append((compiled.programs[0], referrer))
        fired: list[Any] = []
        held = 0
        with localcontext(CONTEXT):
            for mrr in inputs:
                record = (0, "", "subscription", "", None, mrr)  # checked against the layout above
                state.done = [False] * milestones
                step(state, record, fired)
                held += len(fired)
                fired.clear()
        return held

    return evaluate
