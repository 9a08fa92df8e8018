"""Files of many rewards: plain milestones as rows of a table, not CTEs.

The query gives each milestone a CTE of its hits (`h{k}`) and each reward
a branch of one `UNION ALL`. DuckDB's planning time grows faster than the
square of the number of such CTEs (its CTE filter pusher ORs every
consumer's filter into the shared `totals`, and its other optimizers walk
the whole tree once per CTE), and it binds no `UNION ALL` chain deeper than
1,000 levels: a file of hundreds of rewards took seconds to plan, one of
more than 500 could not be run.

Here the *plain* milestones of a file of many (`FROM` of them or more) are
computed together, whatever their conditions:

- `hg`: every plain milestone's hits, one row per (hit, milestone index):
  each row of `totals` is crossed with the list of the milestone indexes
  whose tests it passes (`UNNEST` of one list holding, per milestone,
  `CASE WHEN tests THEN k END`: a single projection of N expressions, which
  DuckDB plans in time linear in N), then joined to the table of the
  milestones (`VALUES`: index, whether only the first hit counts, whether
  it is counted per referral) and numbered per milestone and referral (or
  referrer) in processing order, as the milestone's own CTE numbers them;
- one award branch per *group* of rewards (rewards whose award columns
  differ only by constants: a file's constant rewards without a hold are
  one group): `hg` joined to the table of the group's rewards (`VALUES`:
  milestone index, reward index, and the constants: milestone name, role,
  kind, amount, unit, item, program, the amount asked of a cap, the cap's
  key, the award id's constant fields).

The columns are the ones `_Compiler.reward_row` writes, in the same order
(each from `_Compiler.award_values`), so the award rows are the same and
everything after them (caps, order, the award text) is unchanged.

A milestone is plain when its trigger is `when C` (not held) or `EVENT`
[`where C`] [`within D`] (`each` or not), it has no `void` clause and no
message, no metric `unless voided` follows it, and every reward's amount
is a constant: what else a milestone may say keeps its own CTE.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..compiler.generate import CompiledMilestone
from ..syntax import nodes as ast

if TYPE_CHECKING:
    from .compile import _Compiler

#: from how many plain milestones a file's plain milestones are computed
#: together: below it, each keeps its own CTE (a few CTEs plan fast)
FROM = 64

#: the award columns that are constants of a reward: in the table of its group
CONSTANTS = ("milestone", "role", "kind", "amount", "unit", "item", "program", "wanted", "cap")

#: the award columns written from the table's constants and the hit's columns
#: (`raw`, the explained sections' amount asked: a constant reward's is its
#: `wanted`; `why_uncut`, an explained award's amount before a cap: its `amount`)
ROW_DEPENDENT = ("id", "beneficiary", "raw", "why_uncut")


def plain(compiler: _Compiler, milestone: CompiledMilestone) -> bool:
    """Whether the milestone's hits and awards can be rows of the tables."""
    info = milestone.info
    trigger = info.trigger
    simple = (isinstance(trigger, ast.WhenTrigger) and trigger.held is None) or isinstance(trigger, ast.EventTrigger)
    return (
        simple
        and not info.voids
        and info.message is None
        and info.index not in compiler.voided.indexes
        and all(r.constant is not None and r.constant_text is not None and r.constant > 0 for r in milestone.rewards)
    )


@dataclass(slots=True)
class Table:
    """The plain milestones computed together, and their award groups."""

    #: the milestones in the table, by index
    indexes: frozenset[int] = frozenset()
    #: per milestone: its index, its tests' `CASE`, whether once, whether per referral
    milestones: list[tuple[int, str, bool, bool]] = field(default_factory=list)
    #: per group (its shared columns' SQL, in order): the rows of its table
    groups: dict[tuple[tuple[str, str], ...], list[str]] = field(default_factory=dict)
    #: per group: the first reward of the group, (milestone index, reward index)
    firsts: dict[tuple[tuple[str, str], ...], tuple[int, int]] = field(default_factory=dict)
    #: the award columns, in the order of `_Compiler.award_values`
    order: tuple[str, ...] = ()
    #: with explanations: per SQL of `why.values`, the milestones it is of
    whys: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def of(cls, compiler: _Compiler) -> Table:
        """The table of a file's plain milestones: empty below `FROM` of them."""
        found = frozenset(m.info.index for m in compiler.compiled.milestones if plain(compiler, m))
        return cls(found if len(found) >= FROM else frozenset())

    def add(self, compiler: _Compiler, milestone: CompiledMilestone) -> None:
        """A plain milestone: its tests and its rewards' rows of the tables
        (refused where the milestone's own CTE would be)."""
        from .compile import id_fields  # compile.py imports this module

        info = milestone.info
        compiler.voided.current = info.index
        compiler.program = milestone.program  # the program whose referrers its per-referrer values are
        tests, once, _ = compiler.trigger_tests(info)
        test = " AND ".join([f"e{milestone.program}", *tests])
        self.milestones.append((info.index, f"CASE WHEN {test} THEN {info.index} END", once, info.level == "referral"))
        from .explain import hit_value  # explain.py imports compile.py, which imports this module

        why = hit_value(compiler, milestone)
        if why is not None:
            self.whys.setdefault(why, []).append(info.index)
        for index in range(len(milestone.rewards)):
            values, where = compiler.award_values(milestone, index)
            assert not where  # a constant amount is never withheld
            shared = tuple((name, value) for name, value in values.items() if name not in (*CONSTANTS, *ROW_DEPENDENT))
            head, role, rank = id_fields(milestone, index)
            to_referrer = _bool(values["beneficiary"] == "referrer")
            row = [str(info.index), str(index), *(values[name] for name in CONSTANTS), head, role, rank, to_referrer]
            row.append(_bool(info.level == "referral"))
            self.order = tuple(values)
            self.groups.setdefault(shared, []).append(f"({', '.join(row)})")
            self.firsts.setdefault(shared, (info.index, index))

    def hits(self) -> list[str]:
        """The CTE `hg` of every plain milestone's hits (none without any)."""
        if not self.milestones:
            return []
        cases = ", ".join(case for _, case, _, _ in self.milestones)
        table = ", ".join(f"({k}, {_bool(once)}, {_bool(referral)})" for k, _, once, referral in self.milestones)
        # `UNNEST` in the projection: DuckDB turns a lateral `CROSS JOIN
        # UNNEST(...)` into a join of every row with every list item on all
        # the columns the list reads (seconds at 2,000 milestones)
        crossed = f'rid, referrer, referee, "at", id AS event, UNNEST([{cases}]) AS milestone_index FROM totals'
        ranked = (
            'u.rid, u.referrer, u.referee, u."at", u.event, u.milestone_index, m.w_once, ROW_NUMBER() OVER '
            "(PARTITION BY u.milestone_index, CASE WHEN m.w_referral THEN u.rid ELSE u.referrer END "
            'ORDER BY u."at", u.event) AS n'
        )
        hits = (
            'SELECT rid, referrer, referee, "at", event, '
            "CASE WHEN w_once THEN '' ELSE event END AS occurrence, milestone_index FROM "
            f"(SELECT {ranked} FROM (SELECT {crossed}) AS u "
            f"JOIN (VALUES {table}) AS m(w_k, w_once, w_referral) ON u.milestone_index = m.w_k) AS r "
            "WHERE n = 1 OR NOT w_once"
        )
        return [f"hg AS ({self._explained(hits)})"]

    def _explained(self, hits: str) -> str:
        """`hits` with each hit's `why_values` (sql/explain.py), with
        explanations: its row of `totals` joined back (one per referral and
        event), the milestones that write their values alike sharing one
        branch of a `CASE`; `hits` as it is without."""
        if not self.whys:
            return hits
        cases = " ".join(
            f"WHEN h.w_k IN ({', '.join(map(str, indexes))}) THEN {why}" for why, indexes in self.whys.items()
        )
        # the hit's columns renamed, so that the values' SQL (unqualified,
        # as on a milestone's own hit rows) reads `totals` alone
        renamed = (
            'rid AS w_rid, referrer AS w_referrer, referee AS w_referee, "at" AS w_at, event AS w_event, '
            "occurrence AS w_occurrence, milestone_index AS w_k"
        )
        return (
            'SELECT h.w_rid AS rid, h.w_referrer AS referrer, h.w_referee AS referee, h.w_at AS "at", '
            "h.w_event AS event, h.w_occurrence AS occurrence, h.w_k AS milestone_index, "
            f"CASE {cases} END AS why_values FROM (SELECT {renamed} FROM ({hits}) AS r) AS h "
            "JOIN totals ON totals.rid = h.w_rid AND totals.id = h.w_event"
        )

    def rows(self) -> list[str]:
        """One award branch per group: `hg` joined to the group's rewards."""
        from .compile import award_id  # compile.py imports this module

        found = []
        names = ", ".join(f"w_{name}" for name in CONSTANTS)
        beneficiary = "CASE WHEN g.w_to_referrer THEN referrer ELSE referee END"
        for shared, rows in self.groups.items():
            values = dict(shared)
            values.update({name: f"g.w_{name}" for name in CONSTANTS})
            values["beneficiary"] = beneficiary
            if "raw" in self.order:  # with the explained sections (sql/sections.py)
                values["raw"] = "CAST(g.w_wanted AS VARCHAR)"
            if "why_uncut" in self.order:  # with explanations: the table's column, never this list's alias
                values["why_uncut"] = "g.w_amount"
            referee = "CASE WHEN g.w_referral THEN referee ELSE '' END"
            values["id"] = award_id("g.w_head", referee, "g.w_id_role", beneficiary, "g.w_rank")
            selected = ", ".join(f"{values[name]} AS {name}" for name in self.order)
            found.append(
                f'SELECT "at", event, h.milestone_index, g.w_r AS reward_index, referrer, referee, {selected} '
                f"FROM hg AS h JOIN (VALUES {', '.join(rows)}) AS g(w_k, w_r, {names}, w_head, w_id_role, w_rank, "
                "w_to_referrer, w_referral) ON h.milestone_index = g.w_k"
            )
        return found


def _bool(value: bool) -> str:
    return "TRUE" if value else "FALSE"
