"""The same program driven by peer engines: state kept in Python, each
milestone condition evaluated by the peer (zen-engine's compiled expressions,
datalogic-py's compiled JSONLogic rules). Optional: `pip install -e '.[bench]'`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from folds import THRESHOLDS, _order, _record


def conditions(mrr: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each milestone's condition for zen-engine and for JSONLogic, reading
    the MRR at the path `mrr` of the context."""
    return {
        "mrr_1k": (f"{mrr} >= 1000", {">=": [{"var": mrr}, 1000]}),
        "arr_5k": (f"{mrr} * 12 >= 5000", {">=": [{"*": [{"var": mrr}, 12]}, 5000]}),
        "arr_10k": (f"{mrr} * 12 >= 10000", {">=": [{"*": [{"var": mrr}, 12]}, 10000]}),
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


def _zen(mrr: str) -> Tests | None:
    try:
        import zen
    except ImportError:
        return None
    return {name: zen.compile_expression(text).evaluate for name, (text, _) in conditions(mrr).items()}


def _datalogic(mrr: str) -> Tests | None:
    try:
        import datalogic_py
    except ImportError:
        return None
    engine = datalogic_py.Engine()
    return {name: engine.compile(rule).evaluate for name, (_, rule) in conditions(mrr).items()}


def available(mrr: str = "mrr") -> dict[str, Tests]:
    """The installed peers, by name, with each milestone's compiled
    condition reading the MRR at the path `mrr` of the context."""
    found = {"zen-engine compiled expressions": _zen(mrr), "datalogic-py compiled rules": _datalogic(mrr)}
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
    """The three conditions evaluated by a peer, on the smallest context:
    the MRR alone."""
    compiled = list(tests.values())

    def run(inputs: Inputs) -> int:
        held = 0
        for mrr in inputs:
            context = {"mrr": float(mrr)}
            for test in compiled:
                if test(context):
                    held += 1
        return held

    return run


def evaluate_on_events(tests: Tests, events: Iterable[dict[str, Any]]) -> Callable[[Inputs], int]:
    """The three conditions evaluated by a peer on the context a rule
    author would write them against: the whole event (`event.mrr`), as
    JSON would give it. The contexts are made before the run, and the run
    goes over the same subscription events as `evaluation_inputs`."""
    compiled = list(tests.values())
    contexts = [{"event": {**e, "mrr": float(str(e["mrr"]))}} for e in events if e["type"] == "subscription"]

    def run(_: Inputs) -> int:
        held = 0
        for context in contexts:
            for test in compiled:
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

    from rewardrules.check.program import RECORD_HEAD
    from rewardrules.core.limits import MAX_AWARDS_PER_EVENT
    from rewardrules.core.runtime import CONTEXT, Referral, ReferrerState

    compiled = program.compiled
    step = compiled.steps["subscription"]
    milestones = len(compiled.milestones)
    if compiled.checked.events["subscription"].record() != (*RECORD_HEAD, "mrr"):
        raise SystemExit("the subscription record is not (head, mrr): the harness below builds it so")

    def evaluate(inputs: Inputs) -> int:
        state = Referral("", 0, "", "", (), dict, compiled.referral_slots(), milestones)
        referrer = ReferrerState("", compiled.programs[0].referrer_slots(), milestones)
        state.links.append((compiled.programs[0], referrer))
        fired: list[Any] = []
        held = 0
        with localcontext(CONTEXT):
            for mrr in inputs:
                record = (0, "", "subscription", "", None, mrr)  # checked against the layout above
                state.done = [False] * milestones
                step(state, record, fired, MAX_AWARDS_PER_EVENT)
                held += len(fired)
                fired.clear()
        return held

    return evaluate
