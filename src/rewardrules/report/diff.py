"""Compare two versions of a rule file on one ledger: a plan before an apply.

Both versions score the same ledger as of the same instant, and their
awards are matched by id. An award's id names the ruleset, program,
milestone, referral, occurrence, role and beneficiary, so renaming any of
those removes the award and adds another: exactly what an app that pays
each id once would see. An award with the same id and a different amount,
status, kind, unit, item, instant, referee or message is *changed*.

The cost of a version is, per unit, the sum of the amounts of its
`confirmed` and `pending` awards (items count one each), less what its
reversals take back (when the result has `reversals`); void awards cost
nothing. Percentages do not add up: per rate, the cost is a number of
awards (`units.is_additive`).

    result = diff_ledger(old_program, new_program, ledger_lines)
    print(result.text())          # or result.markdown(), result.to_dict()
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..core.formatting import markdown_code, markdown_text, printable_lines
from ..core.runtime import in_context
from ..core.units import format_amount, is_additive
from ..score.arguments import expect_program, path_name

if TYPE_CHECKING:
    from ..score.api import Instant, Ledger, Program

#: fields that make an award with the same id "changed"
COMPARED = ("at", "referee", "kind", "amount", "unit", "item", "status", "message")
#: statuses that cost money (or storage, or items)
COSTED = ("confirmed", "pending")
#: rows per table in Markdown, so a pull-request comment stays readable
MARKDOWN_ROWS = 50


@dataclass(slots=True)
class Change:
    old: dict[str, Any]
    new: dict[str, Any]
    fields: list[str]

    @property
    def id(self) -> str:
        return str(self.new["id"])


@dataclass(slots=True)
class Cost:
    """Old and new cost in one unit: a sum, or for a unit that does not add
    up (percent), the number of awards of one rate (`each`)."""

    unit: str
    old: Decimal
    new: Decimal
    each: Decimal | None = None

    @property
    def delta(self) -> Decimal:
        return self.new - self.old

    @property
    def name(self) -> str:
        """`USD`, or `20 percent` for a count of awards of that rate."""
        return self.unit if self.each is None else f"{format_amount(self.each, self.unit)} {self.unit}"

    def show(self, value: Decimal) -> str:
        return _amount(value, self.unit) if self.each is None else f"{value} award(s)"

    def signed(self) -> str:
        sign = "+" if self.delta > 0 else "-" if self.delta < 0 else ""
        return sign + self.show(abs(self.delta))


@dataclass(slots=True)
class Group:
    """The changes of one milestone or one referrer."""

    name: str
    added: int = 0
    removed: int = 0
    changed: int = 0
    costs: dict[tuple[str, Decimal], Cost] = field(default_factory=dict)

    def summary(self) -> str:
        parts = [
            f"{n} {word}"
            for n, word in ((self.added, "added"), (self.removed, "removed"), (self.changed, "changed"))
            if n
        ]
        deltas = [f"{c.name} {c.signed()}" for c in self.costs.values() if c.delta]
        return "; ".join(text for text in (", ".join(parts), ", ".join(deltas)) if text) or "no cost change"


@dataclass(slots=True)
class Diff:
    old_ruleset: str
    new_ruleset: str
    as_of: str
    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    changed: list[Change]
    unchanged: int
    costs: list[Cost]
    by_milestone: list[Group]
    by_referrer: list[Group]
    notes: list[str] = field(default_factory=list)
    old_path: str = "OLD"
    new_path: str = "NEW"
    ledger: str = "LEDGER"

    @property
    def equal(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def counts(self) -> str:
        return f"{len(self.added)} added, {len(self.removed)} removed, {len(self.changed)} changed, {self.unchanged} unchanged"

    # -- json ----------------------------------------------------------
    @in_context
    def to_dict(self) -> dict[str, Any]:
        def groups(items: list[Group], key: str) -> list[dict[str, Any]]:
            return [
                {
                    key: g.name,
                    "added": g.added,
                    "removed": g.removed,
                    "changed": g.changed,
                    "cost": [_cost_dict(c) for c in g.costs.values()],
                }
                for g in items
            ]

        return {
            "old": {"rules": self.old_path, "ruleset": self.old_ruleset},
            "new": {"rules": self.new_path, "ruleset": self.new_ruleset},
            "ledger": self.ledger,
            "as_of": self.as_of,
            "equal": self.equal,
            "summary": {
                "added": len(self.added),
                "removed": len(self.removed),
                "changed": len(self.changed),
                "unchanged": self.unchanged,
            },
            "notes": self.notes,
            "added": self.added,
            "removed": self.removed,
            "changed": [{"id": c.id, "fields": c.fields, "old": c.old, "new": c.new} for c in self.changed],
            "cost": [_cost_dict(c) for c in self.costs],
            "by_milestone": groups(self.by_milestone, "milestone"),
            "by_referrer": groups(self.by_referrer, "referrer"),
        }

    # -- text ----------------------------------------------------------
    @in_context
    def text(self) -> str:
        out = [
            f"diff of `{self.old_path}` -> `{self.new_path}` on `{self.ledger}` as of {self.as_of}",
            *(f"note: {n}" for n in self.notes),
            "",
        ]
        if self.equal:
            out.append(f"no differences: {self.unchanged} award{'s' if self.unchanged != 1 else ''} the same")
            return printable_lines(out)
        out.append(self.counts())
        if self.added:
            out += ["", "added:"] + [f"  + {_award_line(a)}" for a in self.added]
        if self.removed:
            out += ["", "removed:"] + [f"  - {_award_line(a)}" for a in self.removed]
        if self.changed:
            out += ["", "changed:"]
            for c in self.changed:
                out.append(f"  ~ {_who(c.new)}  [{c.id}]")
                out.extend(f"      {f}: {_show(c.old.get(f))} -> {_show(c.new.get(f))}" for f in c.fields)
        out += ["", "cost (confirmed + pending), old -> new:"]
        out.extend(f"  {c.name}: {c.show(c.old)} -> {c.show(c.new)} ({c.signed()})" for c in self.costs)
        if not self.costs:
            out.append("  nothing")
        out += ["", "by milestone:"] + [f"  {g.name}: {g.summary()}" for g in self.by_milestone]
        out += ["", "by referrer:"] + [f"  {g.name}: {g.summary()}" for g in self.by_referrer]
        return printable_lines(out)

    # -- markdown ------------------------------------------------------
    @in_context
    def markdown(self) -> str:
        # every name, path and value from outside is a code span or escaped (`markdown_text`):
        # a referrer id or a file name cannot add a link, HTML, emphasis or a column
        title = markdown_code(self.new_ruleset)
        if self.old_ruleset != self.new_ruleset:
            title = f"{markdown_code(self.old_ruleset)} → {title}"
        out = [f"### rewardrules diff: {title}", ""]
        paths = f"{markdown_code(self.old_path)} → {markdown_code(self.new_path)} on {markdown_code(self.ledger)}"
        out.append(f"{paths}, as of {markdown_code(self.as_of)}.")
        out.append("")
        # a note is the diff's own text, its names rulesets' (identifiers: `[A-Za-z_][A-Za-z0-9_]*`) in code spans
        out.extend(f"> **Note:** {n}" for n in self.notes)
        if self.notes:
            out.append("")
        if self.equal:
            out.append(f"**No differences**: {self.unchanged} award{'s' if self.unchanged != 1 else ''} the same.")
            return printable_lines(out)
        out.append(
            f"**{len(self.added)} added, {len(self.removed)} removed, {len(self.changed)} changed**, "
            f"{self.unchanged} unchanged."
        )
        out += ["", "| unit | old | new | change |", "| --- | ---: | ---: | ---: |"]
        out.extend(f"| {_cell(c.name)} | {c.show(c.old)} | {c.show(c.new)} | {c.signed()} |" for c in self.costs)
        out += ["", "Cost: amounts of `confirmed` and `pending` awards."]
        award_head = [
            "| at | milestone | beneficiary | referral | reward | status |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for heading, awards in (("Added", self.added), ("Removed", self.removed)):
            if awards:
                out += ["", f"#### {heading} ({len(awards)})", "", *award_head]
                out.extend(_limit([_award_row(a) for a in awards], 6))
        if self.changed:
            out += ["", f"#### Changed ({len(self.changed)})", ""]
            out += ["| milestone | beneficiary | referral | change |", "| --- | --- | --- | --- |"]
            rows = [
                "| "
                + " | ".join(
                    [
                        _cell(c.new["milestone"]),
                        _beneficiary_cell(c.new),
                        _referral_cell(c.new),
                        "<br>".join(
                            f"{f}: {_value_cell(f, c.old.get(f))} → {_value_cell(f, c.new.get(f))}" for f in c.fields
                        ),
                    ]
                )
                + " |"
                for c in self.changed
            ]
            out.extend(_limit(rows, 4))
        for heading, groups in (("By milestone", self.by_milestone), ("By referrer", self.by_referrer)):
            out += [
                "",
                f"#### {heading}",
                "",
                "| name | added | removed | changed | cost change |",
                "| --- | ---: | ---: | ---: | --- |",
            ]
            rows = [
                f"| {_cell(g.name)} | {g.added} | {g.removed} | {g.changed} | "
                + (", ".join(f"{_cell(c.name)} {c.signed()}" for c in g.costs.values() if c.delta) or "none")
                + " |"
                for g in groups
            ]
            out.extend(_limit(rows, 5))
        return printable_lines(out)


@in_context
def diff_results(old: Mapping[str, Any], new: Mapping[str, Any]) -> Diff:
    """Compare two result records (`ScoreResult.data`) of the same ledger."""
    old_awards = {a["id"]: a for a in old["awards"]}
    new_awards = {a["id"]: a for a in new["awards"]}
    added = [a for a in new["awards"] if a["id"] not in old_awards]
    removed = [a for a in old["awards"] if a["id"] not in new_awards]
    changed: list[Change] = []
    unchanged = 0
    for award in new["awards"]:
        before = old_awards.get(award["id"])
        if before is None:
            continue
        fields = [f for f in COMPARED if before.get(f) != award.get(f)]
        if fields:
            changed.append(Change(before, award, fields))
        else:
            unchanged += 1
    old_reversals = {r["id"]: r for r in old.get("reversals", [])}
    new_reversals = {r["id"]: r for r in new.get("reversals", [])}
    reversals: list[tuple[Mapping[str, Any], str]] = []
    for rid in [*old_reversals, *(r for r in new_reversals if r not in old_reversals)]:
        before, after = old_reversals.get(rid), new_reversals.get(rid)
        if before is not None and after is not None and before["amount"] == after["amount"]:
            continue
        reversals += [(before, "old")] if before is not None else []
        reversals += [(after, "new")] if after is not None else []
    notes = []
    if old["ruleset"] != new["ruleset"] and old["awards"] and new["awards"]:
        notes.append(
            f"the rule files name different rulesets (`{old['ruleset']}`, `{new['ruleset']}`): award ids "
            "include the name, so every award is removed and added"
        )
    return Diff(
        old_ruleset=old["ruleset"],
        new_ruleset=new["ruleset"],
        as_of=new["as_of"],
        added=added,
        removed=removed,
        changed=changed,
        unchanged=unchanged,
        costs=_costs(old, new),
        by_milestone=_groups(added, removed, changed, reversals, "milestone"),
        by_referrer=_groups(added, removed, changed, reversals, "referrer"),
        notes=notes,
    )


@in_context
def diff_ledger(
    old: Program,
    new: Program,
    events: Ledger,
    as_of: Instant | None = None,
    path: str | os.PathLike[str] = "<ledger>",
    max_awards_per_event: int | None = None,
) -> Diff:
    """Score one ledger with both programs and compare. ``events`` is what
    `Program.score` takes (a path, a file, events); it is read once, into
    a list. Raises LedgerError (with the path) when the ledger is invalid
    under either version; `max_awards_per_event` as for `Program.score`."""
    from ..score.api import ledger_events

    expect_program(old, "old")
    expect_program(new, "new")
    path = path_name(path)

    items, path = ledger_events(events, path)
    limit = max_awards_per_event
    old_result = old.score(items, as_of=as_of, explain=False, path=path, max_awards_per_event=limit)
    new_result = new.score(items, as_of=as_of, explain=False, path=path, max_awards_per_event=limit)
    return diff_results(old_result.data, new_result.data)


# -- helpers ---------------------------------------------------------------


def _cost(costs: dict[tuple[str, Decimal], Cost], award: Mapping[str, Any]) -> tuple[Cost, Decimal]:
    """The cost an award (or reversal) counts in, and by how much: its
    amount in a unit that adds up (an item counts one), else one award of
    its rate (see `units.is_additive`)."""
    unit = award["unit"]
    if is_additive(unit):
        key, each, quantity = (
            (unit, Decimal(0)),
            None,
            Decimal(1) if award["kind"] == "item" else Decimal(award["amount"]),
        )
    else:
        each = Decimal(award["amount"])
        key, quantity = (unit, each), Decimal(1)
    cost = costs.get(key)
    if cost is None:
        cost = costs[key] = Cost(unit, Decimal(0), Decimal(0), each)
    return cost, quantity


def _costs(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Cost]:
    """Per unit (per rate, for percent): confirmed and pending awards, less
    the amounts that reversals (when the result has them) take back."""
    costs: dict[tuple[str, Decimal], Cost] = {}
    for data, side in ((old, "old"), (new, "new")):
        entries = [(a, 1) for a in data["awards"] if a["status"] in COSTED]
        entries += [(r, -1) for r in data.get("reversals", [])]
        for entry, sign in entries:
            cost, quantity = _cost(costs, entry)
            setattr(cost, side, getattr(cost, side) + sign * quantity)
    return [costs[key] for key in sorted(costs)]


def _groups(
    added: list[dict[str, Any]],
    removed: list[dict[str, Any]],
    changed: list[Change],
    reversals: list[tuple[Mapping[str, Any], str]],
    key: str,
) -> list[Group]:
    groups: dict[str, Group] = {}

    def group(award: Mapping[str, Any]) -> Group:
        name = str(award[key])
        return groups.setdefault(name, Group(name))

    def spend(g: Group, award: Mapping[str, Any], side: str) -> None:
        if award["status"] in COSTED:
            cost, quantity = _cost(g.costs, award)
            setattr(cost, side, getattr(cost, side) + quantity)

    for award in added:
        g = group(award)
        g.added += 1
        spend(g, award, "new")
    for award in removed:
        g = group(award)
        g.removed += 1
        spend(g, award, "old")
    for change in changed:
        g = group(change.new)
        g.changed += 1
        spend(g, change.old, "old")
        spend(g, change.new, "new")
    for entry, side in reversals:  # amounts taken back count against their side
        g = group(entry)
        cost, quantity = _cost(g.costs, entry)
        setattr(cost, side, getattr(cost, side) - quantity)
    for g in groups.values():
        g.costs = {key: g.costs[key] for key in sorted(g.costs)}
    return [groups[name] for name in sorted(groups)]


def _cost_dict(cost: Cost) -> dict[str, str]:
    """A cost in JSON: sums of the unit, or, with `each` (the rate of a
    unit that does not add up), numbers of awards."""
    if cost.each is not None:
        return {
            "unit": cost.unit,
            "each": format_amount(cost.each, cost.unit),
            "old": str(cost.old),
            "new": str(cost.new),
            "delta": _signed(cost.delta, "item"),
        }
    return {
        "unit": cost.unit,
        "old": _amount(cost.old, cost.unit),
        "new": _amount(cost.new, cost.unit),
        "delta": _signed(cost.delta, cost.unit),
    }


def _amount(value: Decimal, unit: str) -> str:
    return format_amount(value, unit)


def _signed(value: Decimal, unit: str) -> str:
    text = _amount(abs(value), unit)
    return ("+" if value > 0 else "-" if value < 0 else "") + text


def _what(award: Mapping[str, Any]) -> str:
    if award["kind"] == "item":
        return f'item "{award["item"]}"'
    return f"{award['kind'].replace('_', ' ')} {award['amount']} {award['unit']}"


def _who(award: Mapping[str, Any]) -> str:
    return (
        f"{award['milestone']}: to {award['beneficiary']} ({award['role']}), "
        f"referral {award['referrer']} -> {award['referee']}"
    )


def _award_line(award: Mapping[str, Any]) -> str:
    return (
        f"{award['at']} {award['milestone']}: {_what(award)} to {award['beneficiary']} ({award['role']}), "
        f"referral {award['referrer']} -> {award['referee']}, {award['status']}  [{award['id']}]"
    )


def _award_row(award: Mapping[str, Any]) -> str:
    cells = [
        str(award["at"]),  # the engine's instant and status: no markup
        _cell(award["milestone"]),
        _beneficiary_cell(award),
        _referral_cell(award),
        _what_cell(award),
        str(award["status"]),
    ]
    return "| " + " | ".join(cells) + " |"


#: the award fields whose values the engine writes (an instant, an amount,
#: a status, a kind): shown as they are, with no escape to read past
_WRITTEN = ("at", "amount", "status", "kind")


def _value_cell(field: str, value: Any) -> str:
    """A value of a changed award's field in a cell: the ledger's and the
    rule file's text (a referee, an item, a message) escaped."""
    if value is None:
        return "(none)"
    return str(value) if field in _WRITTEN else _cell(str(value))


def _beneficiary_cell(award: Mapping[str, Any]) -> str:
    return f"{_cell(award['beneficiary'])} ({_cell(award['role'])})"


def _referral_cell(award: Mapping[str, Any]) -> str:
    return f"{_cell(award['referrer'])} → {_cell(award['referee'])}"


def _what_cell(award: Mapping[str, Any]) -> str:
    if award["kind"] == "item":
        return f'item "{_cell(award["item"])}"'
    return f"{award['kind'].replace('_', ' ')} {award['amount']} {_cell(award['unit'])}"


def _show(value: Any) -> str:
    return "(none)" if value is None else str(value)


def _cell(text: str) -> str:
    """Text from outside (a name, an id, a unit) inert inside a Markdown
    table cell (`markdown_text`)."""
    return markdown_text(text)


def _limit(rows: list[str], columns: int) -> list[str]:
    if len(rows) <= MARKDOWN_ROWS:
        return rows
    more = len(rows) - MARKDOWN_ROWS
    return [*rows[:MARKDOWN_ROWS], "| " + " | ".join([f"... and {more} more", *[""] * (columns - 1)]) + " |"]


__all__ = ["COMPARED", "COSTED", "Change", "Cost", "Diff", "Group", "diff_ledger", "diff_results"]
