"""Formula metrics that read formula metrics, each naming the one before
it twice (`a2 = a1 + a1 * 0.5`): the Python compiler and the SQL compiler
each walked every formula again per name, 2^depth times in a chain (a
rule file of 25 lines took minutes to compile, and its query was 10 MB at
a depth of 12). Now each formula is walked once: the Python compiler's
dependency order (`generate.with_dependencies`), and in SQL each
per-referral formula's value, exponent and sign is a column computed once
(`compile._Compiler.beside_formula`), and the walks that ask whether a
formula divides (`expressions.divides`, `quotients.computed`, `leaves`)
decide each formula once. The results are the engine's, byte for byte."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

import rewardrules
from rewardrules.compiler import generate
from rewardrules.sql.compile import compile_query
from rewardrules.sql.sections import compile_explained

from .conftest import engine_cases
from .test_sql_rate_table_decimals import clickhouse_alike, explained_alike
from .test_sql_referrer_sums import same


def _chain(depth: int) -> str:
    """A chain of `depth` formulas over `seats`, with a message of the last."""
    chain = "\n".join(f"metric a{k} = a{k - 1} + a{k - 1} * 2" for k in range(1, depth + 1))
    return f"""\
ruleset chain

event usage {{ seats: number }}

metric seats = sum usage.seats
metric a0 = seats * 2
{chain}

milestone big {{
  when a{depth} > 5
  reward referrer cash 1 USD
  message "{{{{ a{depth} }}}}"
}}
"""


def test_the_python_compiler_reads_each_formula_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A chain of 16: the names of each formula are read once each (the
    walk from the milestone, then one per formula), where 2^16 and more
    were."""
    calls = []
    real = generate._Compiler.direct_metrics

    def counted(self: Any, exprs: Any) -> Any:
        calls.append(1)
        return real(self, exprs)

    monkeypatch.setattr(generate._Compiler, "direct_metrics", counted)
    rewardrules.compile(_chain(16), "chain.rules")
    assert 0 < len(calls) < 200


@pytest.mark.parametrize("explain", [False, True])
def test_the_query_grows_with_the_chain_not_with_its_square(explain: bool) -> None:
    """Each formula one column: 14 more formulas add under 20 KB of SQL
    (the query of a chain of 14 was 2.8 MB, explained 39 MB)."""

    def size(depth: int) -> int:
        compiled = rewardrules.compile(_chain(depth), "chain.rules").compiled
        if explain:
            query, sections = compile_explained(compiled)
            return len(query.awards) + len(sections.referrals)
        return len(compile_query(compiled).awards)

    assert size(14) - size(0) < 20_000


#: values, exponents and signs of formulas named twice, over a graduated
#: table, a `latest` that may be below 0 and constants with decimals
RULES = """\
ruleset chained

event usage { seats: number }

metric seats = sum usage.seats
metric last = latest usage.seats
metric g = graduated tiers of seats {
  0 to 9.99: 1%
  10 to 99.99: 2.5%
  100 or more: 3%
}
metric a1 = g + g * 2 - last
metric a2 = a1 + a1 * 0.5
metric a3 = a2 - a2 * 2
metric a4 = a3 * a3 + g

milestone rising {
  when a2 > 1
  reward referrer cash 1 USD
  message "{{ a1 }} {{ a2 }} {{ a3 }} {{ a4 }}"
}

milestone falling {
  when a3 < -1 and a4 > 0
  reward referrer cash 2 USD
}
"""


def _prog() -> rewardrules.Program:
    return rewardrules.compile(RULES, "chained.rules")


def _drawn(seed: int) -> list[str]:
    rng = random.Random(seed)
    referees = ["bob", "cat"]
    events: list[dict[str, Any]] = [
        {"id": f"r{n}", "type": "referral", "at": "2026-01-01T00:00:00Z", "referrer": "ann", "referee": name}
        for n, name in enumerate(referees)
    ]
    for n in range(rng.randint(1, 10)):
        seats = rng.choice(["0", "-0.50", "1.5", "9.99", "10", "-3", "12.125", "99.999", "150", "0.001"])
        at = f"2026-01-{rng.randint(2, 28):02d}T00:00:00Z"
        events.append({"id": f"u{n}", "type": "usage", "at": at, "referee": rng.choice(referees), "seats": seats})
    return [json.dumps(event) for event in events]


def test_each_formula_is_a_column() -> None:
    """At most a value, an exponent and a sign for each of the 5 formulas."""
    query = compile_query(_prog().compiled)
    assert 0 < query.awards.count(" AS fm") <= 15


@pytest.mark.parametrize("seed", range(6))
def test_duckdb_gives_the_engine_s_bytes(seed: int) -> None:
    same(_drawn(seed), None, _prog())


def test_explained_and_on_clickhouse() -> None:
    ledgers = [_drawn(seed) for seed in range(6)]
    explained_alike(_prog(), ledgers)
    clickhouse_alike(_prog(), engine_cases(ledgers))  # one; all six in the long run


def _wide(count: int) -> str:
    """`count` formulas that read no other formula, each in a condition and
    a message: one level of columns (by review: one CTE per column made 40
    CTEs in a row, past what Spark resolves)."""
    metrics = "\n".join(f"metric f{n} = seats * {n} + last" for n in range(count))
    tests = " and ".join(f"f{n} > -100" for n in range(count))
    shown = " ".join(f"{{{{ f{n} }}}}" for n in range(count))
    return f"""\
ruleset wide

event usage {{ seats: number }}

metric seats = sum usage.seats
metric last = latest usage.seats
{metrics}

milestone m {{
  when {tests}
  reward referrer cash 1 USD
  message "{shown}"
}}
"""


#: a referral and two uses: the wide file's formulas and the chain's hold
USES = [
    '{"id":"r1","type":"referral","at":"2026-01-01T00:00:00Z","referrer":"ann","referee":"bob"}',
    '{"id":"u1","type":"usage","at":"2026-01-02T00:00:00Z","referee":"bob","seats":"1.5"}',
    '{"id":"u2","type":"usage","at":"2026-01-03T00:00:00Z","referee":"bob","seats":"2"}',
]


def test_formulas_are_computed_by_level() -> None:
    """The wide file's columns are one CTE; the chain's, one per link."""
    wide = compile_query(rewardrules.compile(_wide(60), "wide.rules").compiled).awards
    assert "formulas1 AS" not in wide and "metered AS (SELECT *, " in wide
    chain = compile_query(rewardrules.compile(_chain(6), "chain.rules").compiled).awards
    assert "formulas6 AS" in chain and "formulas7 AS" not in chain


def test_many_formulas_and_a_long_chain_on_clickhouse() -> None:
    """Plain: 60 formulas, a chain of 30. Explained: 30 formulas, and a
    chain of 10 (of 30, the explained query did not finish in a minute:
    docs/sql.md)."""
    from rewardrules.cli.sql import duckdb_result

    from .clickhouse import ClickHouse
    from .test_sql_backend import python_json

    for rules in (_wide(60), _chain(30)):
        prog = rewardrules.compile(rules, "f.rules")
        plain = duckdb_result(prog, compile_query(prog.compiled), USES, None, "<ledger>", ClickHouse().runner())
        assert json.dumps(plain, indent=2) + "\n" == python_json(prog, USES, None)
    for rules in (_wide(30), _chain(10)):
        clickhouse_alike(rewardrules.compile(rules, "f.rules"), [USES])


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")
def test_many_formulas_and_a_chain_on_spark(spark: Any) -> None:
    """40 formulas (one level: by review, 40 CTEs in a row, one per column,
    passed the 100 iterations of Spark's analyzer), and a chain of 10 (of
    20, the analyzer ran out of its 1 GB heap: docs/sql.md)."""
    from .test_sql_backend import python_json
    from .test_sql_spark import spark_json

    for rules in (_wide(40), _chain(10)):
        prog = rewardrules.compile(rules, "f.rules")
        assert spark_json(spark, prog, USES, None) == python_json(prog, USES, None)


def test_a_per_referrer_chain_is_refused_past_a_size_not_compiled_for_ever() -> None:
    """A per-referrer formula is written out at each name (no column holds
    it): a chain of 30 doubling links is refused at the link whose SQL
    passes `MOST_WRITTEN_OUT`, by `check --engine sql` too (by review: it
    ran past a minute)."""
    from rewardrules.sql.diagnose import refusals

    chain = "\n".join(f"metric a{k} = a{k - 1} + a{k - 1} * 2" for k in range(1, 31))
    rules = f"""\
ruleset per_referrer

event usage {{ seats: number }}

metric seats = sum usage.seats
metric a0 = count referrals where seats > 0
{chain}

milestone big {{
  when a30 > 5
  reward referrer cash 1 USD
}}
"""
    found = refusals(rewardrules.compile(rules, "r.rules").compiled)
    assert found and "written out where it is read" in str(found[0])
