"""The answers to an editor's requests, from one analysed document.

Each function takes a `Document` (and a position, as the protocol gives
it) and returns protocol types, or None when there is nothing to say. They
read only the analysis: the checked program when the file checks, else its
syntax tree, so an editor still finds names in a file with a type error.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import replace
from typing import Any

from lsprotocol import types

from ..check.bounds import bounds
from ..check.program import CheckedRuleset, MilestoneInfo, ProgramInfo
from ..core.award import KINDS, ROLES
from ..core.lines import split_lines
from ..core.source import Span
from ..report.findings import formatter
from ..syntax import nodes as ast
from ..syntax.parser import keywords
from .documents import Document
from .positions import offset, position, span_range
from .symbols import Declaration, Key

#: a hover quotes at most this many characters of a declaration
HOVER_CHARS = 1_500
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_DID_YOU_MEAN = re.compile(r"did you mean `([^`]+)`\?")
_SYMBOL_KINDS = {
    "event": types.SymbolKind.Struct,
    "field": types.SymbolKind.Field,
    "metric": types.SymbolKind.Variable,
    "milestone": types.SymbolKind.Event,
    "program": types.SymbolKind.Module,
    "unit": types.SymbolKind.Constant,
    "allowance": types.SymbolKind.Object,
}


# -- formatting ----------------------------------------------------------


def formatting(document: Document) -> list[types.TextEdit] | None:
    """`fmt`'s output as one edit over the whole document; None when the
    text does not parse (its diagnostics say why) or is a test file."""
    if document.is_test or (document.tree is None and document.checked is None):
        return None
    formatted, _ = formatter(document.text)(document.text, document.path)
    if formatted is None or formatted == document.text:
        return [] if formatted is not None else None
    whole = types.Range(start=types.Position(0, 0), end=position(document.source, len(document.source.text)))
    return [types.TextEdit(range=whole, new_text=formatted)]


# -- names ---------------------------------------------------------------


def _at(document: Document, where: types.Position) -> tuple[Span, Key, Declaration] | None:
    if document.names is None:
        return None
    found = document.names.at(offset(document.source, where))
    if found is None:
        return None
    return found[0], found[1], document.names.declarations[found[1]]


def definition(document: Document, where: types.Position) -> types.Location | None:
    found = _at(document, where)
    return None if found is None else types.Location(uri=document.uri, range=span_range(found[2].name))


def references(document: Document, where: types.Position, with_declaration: bool) -> list[types.Location] | None:
    found = _at(document, where)
    if found is None or document.names is None:
        return None
    declared = found[2].name
    return [
        types.Location(uri=document.uri, range=span_range(span))
        for span in document.names.uses(found[1])
        if with_declaration or span != declared
    ]


#: what may be renamed: the names only this file uses (a field or an event
#: is named by the ledger, a program by the awards)
RENAMABLE = ("metric", "milestone")


def prepare_rename(document: Document, where: types.Position) -> types.Range | None:
    found = _at(document, where)
    return span_range(found[0]) if found is not None and found[1].kind in RENAMABLE else None


def rename(document: Document, where: types.Position, new_name: str) -> types.WorkspaceEdit | None:
    """Every use of a metric or milestone, renamed; refused (None) for a
    name that is not an identifier, is a keyword, or is already declared."""
    found = _at(document, where)
    if found is None or found[1].kind not in RENAMABLE or document.names is None:
        return None
    if not _NAME.match(new_name) or new_name in keywords():
        raise ValueError(f"`{new_name[:80]}` is not a name a rule file can use")
    if any(key.name == new_name and key.kind in RENAMABLE for key in document.names.declarations):
        raise ValueError(f"`{new_name}` is already declared in this file")
    edits = [types.TextEdit(range=span_range(span), new_text=new_name) for span in document.names.uses(found[1])]
    return types.WorkspaceEdit(changes={document.uri: edits})


def symbols(document: Document) -> list[types.DocumentSymbol]:
    """The file's outline: units, events (with their fields), allowances,
    shared metrics, programs (with their metrics and milestones)."""
    if document.names is None:
        return []
    children: dict[str | None, list[types.DocumentSymbol]] = {}
    top: list[types.DocumentSymbol] = []
    for declaration in document.names.declarations.values():
        symbol = _symbol(declaration)
        key = declaration.key
        if key.kind == "field" or (key.kind == "metric" and key.owner is not None):
            children.setdefault(f"{'event' if key.kind == 'field' else 'program'}:{key.owner}", []).append(symbol)
        elif key.kind == "milestone":
            children.setdefault(f"program:{_program_of(document, declaration)}", []).append(symbol)
        else:
            top.append(symbol)
    for symbol in top:
        symbol.children = children.pop(f"{_kind_name(symbol.kind)}:{symbol.name}", None)
    for rest in children.values():  # a file's implicit program: its milestones at the top
        top.extend(rest)
    return sorted(top, key=lambda s: (s.range.start.line, s.range.start.character))


def _symbol(declaration: Declaration) -> types.DocumentSymbol:
    whole = getattr(declaration.node, "span", None) or declaration.name
    return types.DocumentSymbol(
        name=declaration.key.name,
        detail=declaration.title or declaration.key.kind,
        kind=_SYMBOL_KINDS[declaration.key.kind],
        range=span_range(whole),
        selection_range=span_range(declaration.name),
    )


def _kind_name(kind: types.SymbolKind) -> str:
    return next(name for name, value in _SYMBOL_KINDS.items() if value == kind)


def _program_of(document: Document, declaration: Declaration) -> str | None:
    tree = document.tree
    if tree is None:
        return None
    for program in tree.programs:
        if any(m is declaration.node for m in program.milestones):
            return program.name.text
    return None


# -- hover ---------------------------------------------------------------


def hover(document: Document, where: types.Position) -> types.Hover | None:
    """A name's declaration as written, and what the checker knows of it:
    a metric's type, a field's type and unit, a milestone's rewards."""
    found = _at(document, where)
    if found is None:
        return None
    span, key, declaration = found
    node_span = getattr(declaration.node, "span", None)
    written = _written(node_span) if node_span is not None else declaration.name.text
    if len(written) > HOVER_CHARS:
        written = written[:HOVER_CHARS] + "\n…"
    lines = [f"```rewardrules\n{written}\n```"]
    if key.kind == "field" and key.owner is not None:
        lines.insert(0, f"field `{key.owner}.{key.name}`")
    lines += _facts(document, key)
    return types.Hover(
        contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value="\n\n".join(lines)),
        range=span_range(span),
    )


def _written(span: Span) -> str:
    """A declaration as written, its lines as indented as its first."""
    before = span.source.line_text(span.line)[: span.column - 1]
    return textwrap.dedent((before if not before.strip() else "") + span.text)


def _facts(document: Document, key: Key) -> list[str]:
    checked = document.checked
    if checked is None:
        return []
    if key.kind == "field" and key.owner in checked.events:
        info = checked.events[key.owner].fields.get(key.name)
        if info is not None:
            return [f"type: {info.type.describe()}" + (", optional" if info.optional else "")]
    if key.kind == "metric":
        for program in checked.programs:
            metric = program.metrics.get(key.name)
            if metric is not None and metric.program == key.owner:
                nullable = " (may be unset)" if metric.nullable else ""
                return [f"type: {metric.type.describe()}{nullable}"]
    if key.kind == "milestone":
        for program in checked.programs:
            for milestone in program.milestones:
                if milestone.name == key.name:
                    rewards = "rewards:\n" + "\n".join(f"- {_reward(r.decl)}" for r in milestone.rewards)
                    return [rewards, "payout bound of this milestone:\n" + _bound(checked, program, milestone)]
    return []


def _bound(checked: CheckedRuleset, program: ProgramInfo, milestone: MilestoneInfo) -> str:
    """What `check --bounds` says of a program that has only this
    milestone (its program's caps apply): the most it pays, per role."""
    alone = replace(checked, programs=[replace(program, milestones=[milestone])])
    lines = split_lines(bounds(alone).render())[2:]  # after the file's and the program's heading
    return "\n".join(f"- {line.strip()}" for line in lines)


def _reward(reward: ast.Reward) -> str:
    return f"`{reward.span.text}`" if reward.span is not None else f"{reward.role.text} {reward.kind.text}"


# -- completion ----------------------------------------------------------

_DOTTED = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z0-9_]*)\Z")
_AFTER_REWARD = re.compile(r"\breward\s+([A-Za-z_]*)\Z")
_AFTER_ROLE = re.compile(r"\breward\s+[A-Za-z_]+\s+([A-Za-z_]*)\Z")


def completion(document: Document, where: types.Position) -> list[types.CompletionItem]:
    """What may be written at the cursor: an event's fields after
    `EVENT.` (every event's after a role such as `event.`), a role after
    `reward`, a reward kind after `reward ROLE`, else the file's names,
    units and the language's keywords."""
    before = document.source.text[: offset(document.source, where)].rsplit("\n", 1)[-1]
    dotted = _DOTTED.search(before)
    if dotted:
        return _fields(document, dotted.group(1))
    if _AFTER_ROLE.search(before):
        return [_item(kind, types.CompletionItemKind.EnumMember, "reward kind") for kind in KINDS]
    if _AFTER_REWARD.search(before):
        return [_item(role, types.CompletionItemKind.EnumMember, "role") for role in ROLES]
    names, _ = document.known or (None, None)
    items = [
        _item(key.name, _COMPLETION_KINDS[key.kind], key.kind)
        for key in (names.declarations if names else {})
        if key.kind != "field"
    ]
    items += [_item(unit, types.CompletionItemKind.Unit, "unit") for unit in sorted(_units(document))]
    items += [_item(word, types.CompletionItemKind.Keyword, "keyword") for word in sorted(keywords())]
    return _unique(items)


def _fields(document: Document, head: str) -> list[types.CompletionItem]:
    if document.known is None:
        return []
    names, checked = document.known
    declared = names.declarations
    own = [key for key in declared if key.kind == "field" and key.owner == head]
    keys = own or [key for key in declared if key.kind == "field"]
    return _unique([_item(key.name, types.CompletionItemKind.Field, _field_detail(checked, key)) for key in keys])


def _field_detail(checked: CheckedRuleset | None, key: Key) -> str:
    if checked is not None and key.owner in checked.events:
        info = checked.events[key.owner].fields.get(key.name)
        if info is not None:
            return f"{key.owner}: {info.type.describe()}"
    return f"field of {key.owner}"


def _units(document: Document) -> set[str]:
    names, checked = document.known or (None, None)
    if checked is not None:
        return set(checked.units)
    return {key.name for key in (names.declarations if names else {}) if key.kind == "unit"}


_COMPLETION_KINDS = {
    "event": types.CompletionItemKind.Struct,
    "metric": types.CompletionItemKind.Variable,
    "milestone": types.CompletionItemKind.Event,
    "program": types.CompletionItemKind.Module,
    "unit": types.CompletionItemKind.Unit,
    "allowance": types.CompletionItemKind.Value,
}


def _item(label: str, kind: types.CompletionItemKind, detail: str) -> types.CompletionItem:
    return types.CompletionItem(label=label, kind=kind, detail=detail)


def _unique(items: list[types.CompletionItem]) -> list[types.CompletionItem]:
    seen: dict[str, types.CompletionItem] = {}
    for item in items:
        seen.setdefault(item.label, item)
    return list(seen.values())


# -- code actions --------------------------------------------------------


def code_actions(document: Document, diagnostics: list[types.Diagnostic]) -> list[types.CodeAction]:
    """For each diagnostic whose help is "did you mean `X`?": replace the
    misspelt name with `X` (the name at the diagnostic's range; of a
    dotted name, the part after the dot that the suggestion replaces)."""
    actions: list[types.CodeAction] = []
    for found in diagnostics:
        data: Any = found.data
        help_text = data.get("help") if isinstance(data, dict) else None
        match = _DID_YOU_MEAN.fullmatch(help_text or "")
        if match is None:
            continue
        edit = _replacement(document, found.range, match.group(1))
        if edit is not None:
            actions.append(
                types.CodeAction(
                    title=f"Change to `{match.group(1)}`",
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[found],
                    is_preferred=True,
                    edit=types.WorkspaceEdit(changes={document.uri: [edit]}),
                )
            )
    return actions


def _replacement(document: Document, where: types.Range, name: str) -> types.TextEdit | None:
    start, end = offset(document.source, where.start), offset(document.source, where.end)
    written = document.source.text[start:end]
    if "." in written and "." not in name:
        start += written.rindex(".") + 1
        written = written[written.rindex(".") + 1 :]
    if not _NAME.match(written):
        return None
    target = types.Range(start=position(document.source, start), end=position(document.source, end))
    return types.TextEdit(range=target, new_text=name)
