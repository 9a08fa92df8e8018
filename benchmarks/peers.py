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


def _fold(events: Iterable[dict[str, Any]], test: dict[str, Callable[[dict[str, Any]], Any]]) -> list[dict[str, Any]]:
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


def zen_fold() -> Callable[[Iterable[dict[str, Any]]], list[dict[str, Any]]] | None:
    try:
        import zen
    except ImportError:
        return None
    compiled = {name: zen.compile_expression(text).evaluate for name, (text, _) in CONDITIONS.items()}
    return lambda events: _fold(events, compiled)


def datalogic_fold() -> Callable[[Iterable[dict[str, Any]]], list[dict[str, Any]]] | None:
    try:
        import datalogic_py
    except ImportError:
        return None
    engine = datalogic_py.Engine()
    compiled = {name: engine.compile(rule).evaluate for name, (_, rule) in CONDITIONS.items()}
    return lambda events: _fold(events, compiled)
