"""What each name in a rule file declares or refers to.

Go to definition, references, rename, hover and document symbols all ask
the same question of a name under the cursor, so it is answered once: the
syntax tree is walked (without recursion: expressions may be 64 levels
deep) and every name is recorded with the declaration it means. A field
after an event's name (`payment.amount`) means that event's field; after a
role (`event.amount`), the checker's binding says which event it is, when
the file checks. A metric of a program shadows a shared one of that name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..syntax import nodes as ast

if TYPE_CHECKING:
    from ..check.program import CheckedRuleset
    from ..core.source import Span

#: The kinds of declarations, in the order a name is looked up when its
#: place does not say (a trigger's metric, a `draw from`, ...).
KINDS = ("metric", "milestone", "event", "program", "unit", "allowance")


@dataclass(frozen=True, slots=True)
class Key:
    """What a declaration is: its kind, name, and the event (of a field)
    or program (of a program's own metric) it belongs to."""

    kind: str
    name: str
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class Declaration:
    key: Key
    name: Span  # the name as written
    node: Any  # the declaration's syntax node (its span is the whole of it)
    title: str | None = None


@dataclass(slots=True)
class Index:
    """Every declaration and every use of a name, in file order."""

    declarations: dict[Key, Declaration] = field(default_factory=dict)
    #: (span of the name, what it means), declarations included
    names: list[tuple[Span, Key]] = field(default_factory=list)

    def at(self, offset: int) -> tuple[Span, Key] | None:
        """The name under a character offset (its end included: the cursor
        is often just after the word)."""
        for span, key in self.names:
            if span.start <= offset <= span.end:
                return span, key
        return None

    def uses(self, key: Key) -> list[Span]:
        return [span for span, k in self.names if k == key]


def index(tree: ast.RuleFile, checked: CheckedRuleset | None = None) -> Index:
    """The index of a parsed rule file (`checked`: the checker's bindings,
    for fields read through a role such as `event.amount`)."""
    found = Index()
    _declare(found, tree)
    _Walker(found, checked).run(tree)
    found.names.sort(key=lambda item: (item[0].start, item[0].end))
    return found


def _declare(found: Index, tree: ast.RuleFile) -> None:
    def add(key: Key, ident: ast.Ident, node: Any, title: str | None = None) -> None:
        if ident.span is not None and key not in found.declarations:
            found.declarations[key] = Declaration(key, ident.span, node, title)

    for unit in tree.units:
        add(Key("unit", unit.name.text), unit.name, unit, unit.title)
    for event in tree.events:
        add(Key("event", event.name.text), event.name, event, event.title)
        for decl in event.fields:
            add(Key("field", decl.name.text, event.name.text), decl.name, decl)
    for allowance in tree.allowances:
        add(Key("allowance", allowance.name.text), allowance.name, allowance, allowance.title)
    for metric in tree.metrics:
        add(Key("metric", metric.name.text), metric.name, metric, metric.title)
    for program in _programs(tree):
        owner = program.name.text if program is not tree.implicit else None
        if owner is not None:
            add(Key("program", owner), program.name, program, program.title)
        for metric in program.metrics:
            add(Key("metric", metric.name.text, owner), metric.name, metric, metric.title)
        for milestone in program.milestones:
            add(Key("milestone", milestone.name.text), milestone.name, milestone, milestone.title)


def _programs(tree: ast.RuleFile) -> list[ast.Program]:
    return [*tree.programs, *([tree.implicit] if tree.implicit is not None else [])]


#: the declarations whose `name` is what they declare
_DECLARES: dict[type, str] = {
    ast.UnitDecl: "unit",
    ast.EventDecl: "event",
    ast.Allowance: "allowance",
    ast.MetricDecl: "metric",
    ast.Milestone: "milestone",
}


class _Walker:
    """Records what every `Ident` of the tree means."""

    def __init__(self, found: Index, checked: CheckedRuleset | None) -> None:
        self.found = found
        self.checked = checked

    def run(self, tree: ast.RuleFile) -> None:
        stack: list[tuple[Any, str | None, str | None]] = [(tree, None, None)]
        while stack:
            node, program, event = stack.pop()
            if isinstance(node, ast.Program) and node is not tree.implicit:
                program = node.name.text
            if isinstance(node, ast.EventDecl):
                event = node.name.text
            handled = self._special(node, program, event)
            for name in getattr(node, "__slots__", ()):
                if name == "span":
                    continue
                value = getattr(node, name)
                for child in value if isinstance(value, tuple) else (value,):
                    if isinstance(child, ast.Ident):
                        if id(child) not in handled:
                            self._name(child, self._meaning(node, name, child, program, event))
                    elif hasattr(child, "__slots__"):
                        stack.append((child, program, event))

    def _name(self, ident: ast.Ident, key: Key | None) -> None:
        if key is not None and ident.span is not None and key in self.found.declarations:
            self.found.names.append((ident.span, key))

    def _special(self, node: Any, program: str | None, event: str | None) -> set[int]:
        """Names whose meaning depends on a sibling: a field after its
        event or role, an aggregate's field after its event."""
        if isinstance(node, ast.Ref) and node.attr is not None:
            owner = self._event_of(node)
            self._name(node.head, Key("event", node.head.text) if owner == node.head.text else None)
            self._name(node.attr, Key("field", node.attr.text, owner) if owner else None)
            return {id(node.head), id(node.attr)}
        if isinstance(node, ast.Aggregate) and node.field is not None:
            self._name(node.source, Key("event", node.source.text))
            self._name(node.field, Key("field", node.field.text, node.source.text))
            return {id(node.source), id(node.field)}
        return set()

    def _event_of(self, ref: ast.Ref) -> str | None:
        if Key("event", ref.head.text) in self.found.declarations:
            return ref.head.text
        if self.checked is not None:
            binding = self.checked.bindings.get(ref)
            if binding is not None and binding.event is not None:
                return binding.event.name
        return None

    def _meaning(self, node: Any, slot: str, ident: ast.Ident, program: str | None, event: str | None) -> Key | None:
        text = ident.text
        if slot == "name" and type(node) in _DECLARES:
            kind = _DECLARES[type(node)]
            return self._lookup(kind, text, program) if kind == "metric" else Key(kind, text)
        if isinstance(node, ast.Program) and slot == "name":
            return Key("program", text)
        if isinstance(node, ast.FieldDecl) and slot == "name":
            return Key("field", text, event)
        if isinstance(node, ast.Ref):
            return self._lookup("metric", text, program)
        for kind in KINDS:
            key = self._lookup(kind, text, program)
            if key is not None:
                return key
        return None

    def _lookup(self, kind: str, text: str, program: str | None) -> Key | None:
        for owner in (program, None) if kind == "metric" else (None,):
            key = Key(kind, text, owner)
            if key in self.found.declarations:
                return key
        return None
