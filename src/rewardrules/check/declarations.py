"""The declarations pass: the ruleset line, time zone, units and events."""

from __future__ import annotations

import re
from pathlib import PurePath

from ..core.datatypes import (
    DURATION_UNITS,
    T_BOOLEAN,
    T_ERROR,
    T_NUMBER,
    T_TEXT,
    T_TIME,
    Type,
    quantity,
)
from ..core.diagnostics import did_you_mean, unknown_zone
from ..core.units import CURRENCY_EXPONENTS, currency_for, is_currency
from ..syntax import nodes as ast
from .program import (
    COUNT_UNIT,
    EventInfo,
    FieldInfo,
)
from .scope import _ENVELOPE, Scope


class Declarations(Scope):
    """Checks the file's declarations before any metric or program uses them."""

    def _ruleset_name(self) -> tuple[str, str | None]:
        decls = self.file.rulesets
        for extra in decls[1:]:
            self._duplicate("a rule file declares one `ruleset`", extra.span, decls[0].span, "remove this line")
        if decls:
            return decls[0].name.text, decls[0].title
        stem = PurePath(self.source.path).stem
        return (re.sub(r"\W", "_", stem) or "ruleset"), None

    def _timezone(self) -> str | None:
        decl = self.file.rulesets[0].timezone if self.file.rulesets else None
        if decl is None:
            return None
        problem = unknown_zone("RR111", decl.value, decl.span)
        if problem is not None:
            self.diagnostics.append(problem)
            return None
        return decl.value

    def _declare_units(self) -> None:
        declared: dict[str, ast.UnitDecl] = {}
        for decl in self.file.units:
            name = decl.name.text
            if not self._first(decl, "unit", declared):
                continue
            if name in self.units or name in DURATION_UNITS:
                self.error("RR104", f"unit `{name}` is already known", decl.name.span, "remove this declaration")
            elif name == COUNT_UNIT:
                self.error(
                    "RR110",
                    f"`{name}` counts rewards in caps (`cap referrer 3 rewards`) and cannot name a unit",
                    decl.name.span,
                )
            self.units.add(name)

    def _declare_events(self) -> None:
        for decl in self.file.events:
            name = decl.name.text
            info = self.events.get(name)
            if name in ("referrals", "increase"):
                self.error("RR110", f"`{name}` is a reserved name and cannot name an event", decl.name.span)
                continue
            if info is None:
                info = EventInfo(
                    name,
                    {
                        "id": FieldInfo("id", T_TEXT, builtin=True),
                        "at": FieldInfo("at", T_TIME, builtin=True),
                        "referee": FieldInfo("referee", T_TEXT, builtin=True),
                    },
                    decl,
                )
                self.events[name] = info
            elif info.decl is not None:
                self._duplicate(
                    f"event `{name}` is declared twice",
                    decl.name.span,
                    info.decl.name.span,
                    "merge the two declarations",
                )
                continue
            else:
                info.decl = decl
            seen_fields: dict[str, ast.FieldDecl] = {}
            for fdecl in decl.fields:
                fname = fdecl.name.text
                if fname in _ENVELOPE:
                    self.error(
                        "RR110",
                        f"`{fname}` is a built-in field of every event",
                        fdecl.name.span,
                        "remove this line; `id`, `at`, `type`, `referrer` and `referee` are always there",
                    )
                    continue
                if fname in info.fields:
                    first_field = seen_fields.get(fname)
                    self._duplicate(
                        f"field `{fname}` is declared twice in event `{name}`",
                        fdecl.name.span,
                        first_field.name.span if first_field else None,
                    )
                    continue
                seen_fields[fname] = fdecl
                info.fields[fname] = FieldInfo(fname, self._field_type(fdecl.type), fdecl.optional)

    def _field_type(self, ref: ast.TypeRef) -> Type:
        if ref.kind == "number":
            return T_NUMBER
        if ref.kind == "text":
            return T_TEXT
        if ref.kind == "time":
            return T_TIME
        if ref.kind == "boolean":
            return T_BOOLEAN
        assert ref.unit is not None
        unit = ref.unit.text
        if ref.kind == "money":
            if not is_currency(unit):
                self.error(
                    "RR105",
                    f"`{unit}` is not a currency",
                    ref.unit.span,
                    self._currency_help(unit)
                    or did_you_mean(
                        unit,
                        CURRENCY_EXPONENTS,
                        "money takes an ISO 4217 code such as `USD`; use `quantity` for other units",
                    ),
                )
                return T_ERROR
            return quantity(unit)
        if unit not in self.units:
            self.error("RR105", f"unknown unit `{unit}`", ref.unit.span, self._unit_help(unit))
            return T_ERROR
        return quantity(unit)

    def _unit_help(self, unit: str) -> str:
        return (
            self._currency_help(unit)
            or did_you_mean(unit, list(self.units) + list(DURATION_UNITS))
            or f"declare it with `unit {unit}`"
        )

    @staticmethod
    def _currency_help(unit: str) -> str | None:
        """A money word (`dollars`, `usd`, `€`) points to its ISO 4217 code:
        declaring `unit dollars` would make an amount that is not money."""
        code = currency_for(unit)
        if code is None:
            return None
        return f"did you mean `{code}`? money is written with its ISO 4217 currency code"
