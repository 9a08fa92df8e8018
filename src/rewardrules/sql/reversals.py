"""`void if` and holds in SQL: each award's status, and its reversal.

The Python engine (`score.clawback`) takes an award back at the first event
of its referral, at or before the as-of, that meets one of its reward's
`void` clauses (the milestone's, or the reward's own terms) within the
clause's window after the award (0 <= delay <= window), in ledger order
(instant, then id). Here:

- `v{k}` (one CTE per milestone with voids): every (award's event, clause,
  void event) that matches, the clause's condition read on the void event
  (`v`) and the award's triggering event (`t`), both rows of `seen`;
- `f{k}_{s}`: per award's event, the first match among the clauses of a
  reward (`s` numbers the distinct sets of clauses of the milestone's
  rewards), joined to the reward's award rows as `vat` and `vid`;
- the status: `void` when that event comes at or before the award is
  confirmed (its instant plus its reward's hold), else `pending` while the
  as-of is before the confirmation, else `confirmed`;
- a reversal row for a confirmed award whose first void event comes after
  its confirmation: the award's amount (after caps) back, at that event,
  its id `rv_` and the hash of `reversal` and the award's id.

Partial voids (`void PART of WHOLE if ...`): the share is a quotient the
Python engine rounds to 100 significant digits before it multiplies, which
no exact DECIMAL(38) arithmetic gives byte for byte (a share of 1/6 of
0.03 USD is a half-cent tie exactly, and 0.01 USD from the engine's
rounded share). So for a reward with partial `void` clauses the query
gives its awards' void events instead (`clawbacks`: the award, each event
with its first clause, its part and whole as exact text), and the entries
and statuses are computed from them, for those awards only, by the Python
engine's own arithmetic (`score.clawback.take`, called by
`cli.sql.partial_results`: the score stage comes after this one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..check.program import VoidInfo
from ..compiler.generate import CompiledMilestone
from ..syntax import nodes as ast
from . import compile as sql  # not `from .compile import`: compile.py imports this module
from . import expressions

if TYPE_CHECKING:
    from .compile import _Compiler

#: the columns every award row carries for its reversal (NULL without
#: voids); `claw`: its reward has partial voids (see `clawbacks_select`)
COLUMNS = ("vat", "vid", "confirmed", "claw")

AS_OF = '(SELECT "at" FROM as_of)'

#: the table alias of each event role a `void` clause reads: the void event,
#: the award's triggering event (both rows of `seen`), and the referral's
#: own event (its row of `refs`, joined only when a clause reads it)
ALIASES = {"void": "v", "event": "t", "referral": "r"}


def refuse_unsupported(compiler: _Compiler, milestone: CompiledMilestone) -> None:
    """Refuse the voids not compiled yet: partial ones of a reward that is
    not money in a currency, unless it is a constant no cap on an amount
    cuts (what is taken back is rounded to the last decimal of the award's
    Decimal, which the written amount, without trailing zeros, does not
    tell: a constant's is known, `cli.sql.partial_results`). (A milestone
    counted per referrer has its voids as any: its award belongs to the
    referral of its triggering event, or of the event that started its
    timer, whose events void it.)"""
    for reward in milestone.rewards:
        if reward.quantum is not None or not partial(milestone, reward.info.voids):
            continue
        if reward.constant is None or any(not cap.counts_rewards for cap in reward.caps):
            raise compiler.refuse(
                "a partial void of a computed or capped amount in a unit that is not a currency", reward.info.decl
            )


def void_ctes(compiler: _Compiler, milestone: CompiledMilestone) -> list[str]:
    """The CTEs of a milestone's void events (`v{k}`) and of each of its
    rewards' first one (`f{k}_{s}`); none for a milestone without voids."""
    info = milestone.info
    if not info.voids:
        return []
    k = info.index
    timed = ast.timer_of(info.trigger) is not None  # no triggering event: `h.event` is ''
    shares = numbered_shares(compiler, milestone)
    matches = [_clause(compiler, k, j, void, timed, shares) for j, void in enumerate(info.voids)]
    ctes = [f"v{k} AS (\n" + "\nUNION ALL\n".join(matches) + "\n)"]
    explained = ', "rule" AS vrule' if compiler.explain else ""  # its `why.voided_by.rule` (sql/explain.py)
    for s, clauses in enumerate(_void_sets(milestone)):
        chosen = ", ".join(str(j) for j in clauses)
        if partial(milestone, clauses):  # every event, once, with its first clause
            ranked = 'ROW_NUMBER() OVER (PARTITION BY rid, event, vid ORDER BY "rule") AS n'
            ctes.append(
                f'p{k}_{s} AS (SELECT referrer, referee, event, vat, vid, "rule", part, whole FROM (SELECT *, {ranked} '
                f'FROM v{k} WHERE "rule" IN ({chosen})) AS m WHERE n = 1)'
            )
            continue
        ranked = 'ROW_NUMBER() OVER (PARTITION BY rid, event ORDER BY vat, vid, "rule") AS n'
        ctes.append(
            f"f{k}_{s} AS (SELECT rid, event, vat, vid{explained} FROM (SELECT *, {ranked} FROM v{k} "
            f'WHERE "rule" IN ({chosen})) AS m WHERE n = 1)'
        )
    return ctes


def partial(milestone: CompiledMilestone, clauses: tuple[int, ...]) -> bool:
    """Whether some of these `void` clauses of the milestone are partial."""
    return any(milestone.voids[j].share is not None for j in clauses)


def numbered_shares(compiler: _Compiler, milestone: CompiledMilestone) -> tuple[int, ...]:
    """The partial `void` clauses whose part and whole `v{k}` also gives as
    numbers (`pn{j}`, `wn{j}`): those of a milestone a count `unless voided`
    follows, which tells in the query when an award is taken back whole
    (sql/voided.py); none for any other."""
    if milestone.info.index not in compiler.voided.indexes:
        return ()
    return tuple(j for j, void in enumerate(milestone.voids) if void.share is not None)


def _clause(
    compiler: _Compiler, k: int, j: int, void: VoidInfo, timed: bool = False, shares: tuple[int, ...] = ()
) -> str:
    """The matches of one `void` clause: the void event `v` of the award's
    referral within the window after the award's event `t`, meeting the
    condition read on both. A timer's award has no triggering event (its
    condition cannot read one): the window starts at its instant, and a
    void event at that instant counts, as in the Python engine, though the
    timer fired after it. `shares`: the partial clauses whose part and
    whole each row gives as numbers too, NULL but on its own clause's rows
    (a column per clause: a UNION of DECIMALs of different scales would
    round them to one)."""
    decl = void.decl
    compiler.types.add(void.event)
    # the referral's own event is never a void event (the engine keeps no referral event to look back at)
    tests = [f"v.type = {sql.literal(void.event)}", 'v."at" >= h."at"', "v.id <> h.rid"]
    window = void.window_ns
    if window is not None:
        tests.append(f"{sql.gap('v.' + sql.AT, 'h.' + sql.AT)} <= {int(window)}")
    if decl.where is not None:
        tests.append(void_clause(compiler, void))
    trigger = "" if timed else "JOIN seen AS t ON t.rid = h.rid AND t.id = h.event "
    if _reads_referral(compiler, void):  # `referral.F`: the referral event's own field
        trigger += "JOIN refs AS r ON r.id = h.rid "
    part, whole = _share(compiler, void)
    numbers = "".join(_numbers(compiler, void, j) if n == j else f", NULL AS pn{n}, NULL AS wn{n}" for n in shares)
    return (
        f'SELECT h.rid, h.referrer, h.referee, h.event, {j} AS "rule", v."at" AS vat, v.id AS vid, {part} AS part, '
        f"{whole} AS whole{numbers} FROM h{k} AS h {trigger}JOIN seen AS v ON v.rid = h.rid "
        f"WHERE {' AND '.join(tests)}"
    )


def _numbers(compiler: _Compiler, void: VoidInfo, j: int) -> str:
    """A partial void's part and whole as exact numbers (`, ... AS pn{j},
    ... AS wn{j}`), read as `_share` reads them."""
    decl = void.decl
    assert decl.part is not None and decl.whole is not None
    compiler.aliases = ALIASES
    try:
        return f", {compiler.expr(decl.part)} AS pn{j}, {compiler.expr(decl.whole)} AS wn{j}"
    finally:
        compiler.aliases = {}


def _share(compiler: _Compiler, void: VoidInfo) -> tuple[str, str]:
    """A partial void's part and whole as exact text (NULL for no value),
    read on the void event and the award's triggering event; NULLs for a
    `void if`. A quotient is refused: its exact value has no finite text."""
    decl = void.decl
    if decl.part is None or decl.whole is None:
        return "CAST(NULL AS VARCHAR)", "CAST(NULL AS VARCHAR)"
    compiler.aliases = ALIASES
    try:
        found = []
        for node in (decl.part, decl.whole):
            if expressions.divides(compiler, node):
                raise compiler.refuse("a division in a partial void's share", node)
            found.append(f"CAST({compiler.expr(node)} AS VARCHAR)")
    finally:
        compiler.aliases = {}
    return found[0], found[1]


def void_clause(compiler: _Compiler, void: VoidInfo) -> str:
    """A `void` clause's condition as SQL over the void event `v` and the
    award's triggering event `t` (TRUE without `where`)."""
    if void.decl.where is None:
        return "TRUE"
    compiler.aliases = ALIASES
    try:
        return compiler.expr(void.decl.where)
    finally:
        compiler.aliases = {}


def _reads_referral(compiler: _Compiler, void: VoidInfo) -> bool:
    """Whether a `void` clause (its condition, or a partial void's part or
    whole) reads a field of the referral event (`referral.source`)."""
    decl = void.decl
    for part in (decl.where, decl.part, decl.whole):
        for node in ast.walk(part):
            binding = compiler.checked.bindings.get(node) if isinstance(node, ast.Ref) else None
            if binding is not None and binding.kind == "field" and binding.event_role == "referral":
                return True
    return False


def _void_sets(milestone: CompiledMilestone) -> list[tuple[int, ...]]:
    """The distinct sets of `void` clauses of the milestone's rewards, in
    order of first use."""
    found: list[tuple[int, ...]] = []
    for reward in milestone.rewards:
        clauses = tuple(reward.info.voids)
        if clauses and clauses not in found:
            found.append(clauses)
    return found


def void_set(milestone: CompiledMilestone, index: int) -> int | None:
    """The `s` of the CTE `f{k}_{s}` of a reward's first void events; None
    for a reward without voids or with partial ones."""
    clauses = tuple(milestone.rewards[index].info.voids)
    if not clauses or partial(milestone, clauses):  # partial: see `clawbacks_select`
        return None
    return _void_sets(milestone).index(clauses)


def reward_join(milestone: CompiledMilestone, index: int) -> str:
    """The join that gives a reward's award rows their first void event."""
    s = void_set(milestone, index)
    return "" if s is None else f" LEFT JOIN f{milestone.info.index}_{s} USING (rid, event)"


def reward_values(milestone: CompiledMilestone, index: int) -> dict[str, str]:
    """A reward's award rows: their status, and the columns of `COLUMNS`."""
    info = milestone.rewards[index].info
    confirmed = sql.later_by(sql.AT, info.hold_ns)
    claw = partial(milestone, tuple(info.voids))
    if not info.voids or claw:  # partial voids: the status is computed from `clawbacks_select`'s rows
        vat, vid = "CAST(NULL AS BIGINT)", "CAST(NULL AS VARCHAR)"
        void = ""
    else:
        vat, vid = "vat", "vid"
        void = f"WHEN vat IS NOT NULL AND vat <= {confirmed} THEN 'void' "
    status = "'confirmed'"
    if void or info.hold_ns is not None:
        status = f"CASE {void}WHEN {AS_OF} < {confirmed} THEN 'pending' ELSE 'confirmed' END"
    return {
        "status": status,
        "vat": vat,
        "vid": vid,
        "confirmed": f"CAST({confirmed} AS HUGEINT)",  # past the last BIGINT instant after a hold
        "claw": "TRUE" if claw else "FALSE",
    }


def reversals_select(issued: str) -> str:
    """The reversal rows of the issued awards (`issued`: the award rows
    after caps), in the Python engine's order: by instant, void event,
    then the award reversed."""
    rid = f"'rv_' || SUBSTR(SHA256({sql.netstring(sql.literal('reversal'))} || {sql.netstring('id')}), 1, 32)"
    return (
        f'SELECT {rid} AS id, id AS reverses, vat AS "at", milestone, role, beneficiary, referrer, referee, '
        f"kind, amount, unit, item, program, vid AS event FROM ({issued}) AS issued "
        f"WHERE vat IS NOT NULL AND vat > confirmed AND confirmed <= {AS_OF} AND NOT claw\n"
        'ORDER BY "at", event, reverses'
    )


def clawbacks_select(compiler: _Compiler, issued: str) -> str:
    """The void events of the awards of rewards with partial voids (the
    issued award rows, after caps), one row each: the award's id, the
    event's instant and id, its first clause, and the part and whole of a
    partial one; "" when no reward has partial voids."""
    branches = []
    for milestone in compiler.compiled.milestones:
        k = milestone.info.index
        own = []
        for r, reward in enumerate(milestone.rewards):
            clauses = tuple(reward.info.voids)
            if not clauses or not partial(milestone, clauses):
                continue
            s = _void_sets(milestone).index(clauses)
            own.append(
                f'SELECT i.id AS award, p.vat, p.vid, p."rule", p.part, p.whole FROM ({issued}) AS i '
                f"JOIN p{k}_{s} AS p ON p.referrer = i.referrer AND p.referee = i.referee AND p.event = i.event "
                f"WHERE i.milestone_index = {k} AND i.reward_index = {r}"
            )
        branches.extend(compiler.reading(k, own))  # `p{k}_{s}` is among its hits' CTEs
    if not branches:
        return ""
    body = "\nUNION ALL\n".join(branches)
    return f"SELECT * FROM (\n{body}\n) AS c\nORDER BY award, vat, vid"
