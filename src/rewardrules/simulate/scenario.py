"""The scenario format: who refers, how many leads, how they convert and pay.

A scenario is a TOML file (read with `tomllib`, numbers as exact decimals)
checked against pydantic models, which also give its JSON Schema
(`rewardrules schema scenario`). A mistake is a `ScenarioError` listing
every problem with the file, the line where it can be found, the field and
a hint, never a traceback. The conversion rates default to the benchmarks
of Amplifinity's referral-program research (docs/simulate.md): 31% of
partner-referral leads and 13% of customer-referral leads purchase; 41%
and 30% when sales is involved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..core.lines import split_lines
from ..core.tomltext import bounded_decimal, load_toml

#: The most bytes a scenario file may have: it is hand-written, and a
#: larger one is a mistake or hostile.
MAX_SCENARIO_BYTES = 256 * 1024
#: The most referrers a scenario may declare, and the most leads one run
#: may make (referrers x the largest referrals a month x months): a run's
#: ledger is held in memory.
MAX_REFERRERS = 100_000
MAX_LEADS_PER_RUN = 2_000_000
MAX_MONTHS = 60

#: The benchmark conversion rates (lead to purchase) by referral source,
#: without and with sales involvement: Amplifinity's "State of Business
#: Partner Referral Programs" and "... Customer Referral Programs".
BENCHMARKS: dict[str, tuple[Decimal, Decimal]] = {
    "partner": (Decimal("0.31"), Decimal("0.41")),
    "customer": (Decimal("0.13"), Decimal("0.30")),
}

Rate = Annotated[Decimal, Field(ge=0, le=1, description="a share from 0 to 1, e.g. 0.31")]
Count = Annotated[int, Field(ge=0, le=10_000)]
Money = Annotated[Decimal, Field(ge=0, le=Decimal("1e12"))]
Change = Annotated[Decimal, Field(ge=-1, le=10, description="a relative change, e.g. 0.05 for +5%")]
_STRICT = ConfigDict(extra="forbid")


class _Choice(BaseModel):
    model_config = _STRICT
    choice: list[Any]
    weights: list[Annotated[int, Field(ge=0, le=1_000_000)]] | None = Field(
        default=None, max_length=1000, description="one whole-number weight per value (default: all equal)"
    )

    @model_validator(mode="after")
    def _weights_match(self) -> _Choice:
        values = self.choice
        if self.weights is not None and len(self.weights) != len(values):
            raise ValueError(f"{len(self.weights)} weights for {len(values)} values: give one weight per value")
        if self.weights is not None and sum(self.weights) == 0:
            raise ValueError("the weights add up to 0: give at least one a weight above 0")
        return self


class _Uniform(BaseModel):
    model_config = _STRICT
    uniform: tuple[Any, Any]

    @model_validator(mode="after")
    def _ordered(self) -> _Uniform:
        low, high = self.uniform
        if low > high:
            raise ValueError(f"`uniform` goes from {low} to {high}: write the lower bound first")
        return self


class CountUniform(_Uniform):
    """Any whole number from the first to the second, equally likely."""

    uniform: tuple[Count, Count]


class CountChoice(_Choice):
    """One of the values, with the weights' odds."""

    choice: list[Count] = Field(min_length=1, max_length=1000)


class MoneyUniform(_Uniform):
    """Any amount from the first to the second, to the currency's minor unit, equally likely."""

    uniform: tuple[Money, Money]


class MoneyChoice(_Choice):
    """One of the amounts, with the weights' odds."""

    choice: list[Money] = Field(min_length=1, max_length=1000)


class ChangeChoice(_Choice):
    """One of the relative changes, with the weights' odds."""

    choice: list[Change] = Field(min_length=1, max_length=1000)


#: A whole number (referrals, days, orders): fixed, uniform or a choice.
Counts = Count | CountUniform | CountChoice
#: An amount of money: fixed, uniform or a choice.
Amounts = Money | MoneyUniform | MoneyChoice
#: A monthly relative change of MRR: fixed or a choice.
Changes = Change | ChangeChoice


class Referrers(BaseModel):
    """One group of referrers alike: how many, how active, what their leads do."""

    model_config = _STRICT
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,39}$", description="the group's name; ids are NAME-0001, ...")
    source: str = Field(
        default="customer", pattern=r"^[A-Za-z0-9_-]{1,40}$", description="written as the referral's `source`"
    )
    count: Annotated[int, Field(ge=1, le=MAX_REFERRERS)]
    referrals_per_month: Counts = Field(description="leads one referrer makes in a month")
    sales_involvement: Rate = Field(default=Decimal(0), description="the share of leads sales works")
    conversion: Rate | None = Field(default=None, description="lead to purchase without sales (default: the benchmark)")
    conversion_with_sales: Rate | None = Field(
        default=None, description="lead to purchase with sales (default: the benchmark)"
    )
    delay_days: Counts = Field(default=14, description="days from the referral to the first purchase")
    customer: Literal["subscription", "orders"] = "subscription"
    mrr: Amounts | None = Field(default=None, description="a subscription's first monthly revenue")
    mrr_change: Changes = Field(default=Decimal(0), description="each month's relative change of MRR")
    churn_rate: Rate = Field(default=Decimal(0), description="the chance a subscription ends, each month")
    order_value: Amounts | None = Field(default=None, description="one order's amount")
    orders: Counts = Field(default=1, description="orders per customer")
    order_interval_days: Counts = Field(default=30, description="days between one customer's orders")
    refund_rate: Rate = Field(default=Decimal(0), description="the chance a payment is refunded")
    refund_delay_days: Counts = Field(default=14, description="days from a payment to its refund")

    @model_validator(mode="after")
    def _complete(self) -> Referrers:
        needed = "mrr" if self.customer == "subscription" else "order_value"
        if getattr(self, needed) is None:
            raise ValueError(f'`customer = "{self.customer}"` needs `{needed}`')
        if self.source not in BENCHMARKS and (self.conversion is None or self.conversion_with_sales is None):
            raise ValueError(f"source `{self.source}` has no benchmark: give `conversion` and `conversion_with_sales`")
        return self

    def rates(self) -> tuple[Decimal, Decimal]:
        """The conversion rates without and with sales: stated, else the benchmark."""
        default = BENCHMARKS.get(self.source, (Decimal(0), Decimal(0)))
        plain = self.conversion if self.conversion is not None else default[0]
        sales = self.conversion_with_sales if self.conversion_with_sales is not None else default[1]
        return plain, sales


class Events(BaseModel):
    """The event types the synthetic ledger writes, named as the rule file names them."""

    model_config = _STRICT
    referral: str = Field(default="referral", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    payment: str = Field(default="payment", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    refund: str = Field(default="refund", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    subscription: str = Field(default="subscription", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

    @model_validator(mode="after")
    def _distinct(self) -> Events:
        """Each kind its own type name: two kinds under one name would be
        read as one (a refund named `payment` is a second payment, and
        doubles the payouts), and `referral` is the engine's own referral
        event, whichever kind is given that name."""
        named: dict[str, str] = {}
        for kind, name in self.model_dump().items():
            other = named.setdefault(name, kind)
            if other != kind:
                raise ValueError(
                    f"`{other}` and `{kind}` are both written as `{name}` events: each kind needs its own type name, "
                    "or the rules read one kind as the other"
                )
        if self.referral != "referral" and "referral" in named:
            kind = named["referral"]
            raise ValueError(
                f'`{kind} = "referral"`: `referral` is the engine\'s referral event, so every {kind} would be read '
                "as a referral; name it otherwise"
            )
        return self


class Scenario(BaseModel):
    """A scenario file: the horizon and the groups of referrers."""

    model_config = _STRICT
    version: Literal[1] = 1
    name: str = Field(max_length=200)
    start: date = Field(description="the first day of the first month simulated")
    months: Annotated[int, Field(ge=1, le=MAX_MONTHS)] = Field(description="the horizon, in calendar months")
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$", description="the currency of payments and MRR")
    seed: Annotated[int, Field(ge=0, lt=2**63)] = Field(default=0, description="the seed when --seed is not given")
    events: Events = Field(
        default_factory=lambda: Events(),
        description="the type name each kind of event is written as (docs/simulate.md), each kind its own",
    )
    referrers: list[Referrers] = Field(min_length=1, max_length=100)

    @field_validator("start")
    @classmethod
    def _first_of_month(cls, start: date) -> date:
        if start.day != 1:
            raise ValueError(f"`start` is {start}: a scenario starts on the first day of a month")
        return start

    @model_validator(mode="after")
    def _bounded(self) -> Scenario:
        names = [group.name for group in self.referrers]
        if len(set(names)) != len(names):
            raise ValueError("two groups of referrers have the same `name`: give each its own")
        if "lead" in names:
            # a referrer `lead-1000` would be the customer `lead-1000`: a self-referral, dropped unsaid
            raise ValueError(
                "a group of referrers is named `lead`, the name of the simulated customers (lead-1, lead-2, ...): "
                "give it another name"
            )
        if sum(group.count for group in self.referrers) > MAX_REFERRERS:
            raise ValueError(f"more than {MAX_REFERRERS:,} referrers: a scenario models a program, not a census")
        leads = most_leads(self)
        if leads > MAX_LEADS_PER_RUN:
            raise ValueError(f"up to {leads:,} leads a run, more than {MAX_LEADS_PER_RUN:,}: a run is held in memory")
        return self


def most_leads(scenario: Scenario) -> int:
    """The most leads one run of `scenario` may make: each referrer's
    largest number of referrals a month, every month."""
    return sum(group.count * most(group.referrals_per_month) for group in scenario.referrers) * scenario.months


def most(counts: Counts) -> int:
    """The largest value a count distribution may draw."""
    if isinstance(counts, int):
        return counts
    if isinstance(counts, CountUniform):
        return counts.uniform[1]
    return max(counts.choice)


#: Each field's description, the hint for a value it does not take.
_DESCRIPTIONS = {
    name: info.description
    for model in (Scenario, Referrers, Events)
    for name, info in model.model_fields.items()
    if info.description
}


@dataclass(frozen=True)
class ScenarioProblem:
    """One mistake in a scenario: where (line, field) and what to do."""

    line: int | None
    field: str
    message: str
    hint: str


class ScenarioError(Exception):
    """A scenario that cannot be used: every problem, with the file's name."""

    def __init__(self, path: str, problems: list[ScenarioProblem]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(self.text())

    def text(self) -> str:
        lines = []
        for problem in self.problems:
            where = f"{self.path}:{problem.line}" if problem.line is not None else self.path
            field = f"field `{problem.field}`: " if problem.field else ""
            lines.append(f"{where}: error: {field}{problem.message}")
            if problem.hint:
                lines.append(f"     = help: {problem.hint}")
        return "\n".join(lines)


_AT_LINE = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


def parse_scenario(text: str, path: str = "<scenario>") -> Scenario:
    """The scenario a TOML text declares, or `ScenarioError`."""
    try:
        data = load_toml(text, bounded_decimal)
    except ValueError as error:  # TOMLDecodeError, a number out of bounds, nesting too deep
        message = str(error)
        found = _AT_LINE.search(message)
        line = int(found.group(1)) if found else None
        reason = _AT_LINE.sub("", message)
        raise ScenarioError(path, [ScenarioProblem(line, "", f"not TOML: {reason}", "see docs/simulate.md")]) from None
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        problems = [_problem(text, item) for item in error.errors(include_url=False)]
        raise ScenarioError(path, _unique(problems)) from None


def _unique(problems: list[tuple[ScenarioProblem, bool]]) -> list[ScenarioProblem]:
    """One problem per field. A value that fits none of a distribution's
    forms (a number, `uniform`, `choice`) fails each of them: the failures
    of the forms it does not take (`noise`) are dropped when the form it
    takes says what is wrong."""
    groups: dict[str, list[tuple[ScenarioProblem, bool]]] = {}
    for problem, noise in problems:
        key = re.sub(r"\.(uniform|choice|weights)(\[\d+\])?$", "", problem.field)
        groups.setdefault(key, []).append((problem, noise))
    kept = []
    for group in groups.values():
        real = [problem for problem, noise in group if not noise]
        kept.append(real[0] if real else group[0][0])
    return kept


#: The parts of a location pydantic adds for a union's member, not fields.
_MEMBERS = {"int", "decimal", "constrained-int", "constrained-decimal", "function-after"}
_NUMBER_ERRORS = ("int_type", "int_parsing", "decimal_type", "decimal_parsing", "int_from_float", "decimal_parsing")
_FORMS = ("uniform", "choice")


def _problem(text: str, item: Any) -> tuple[ScenarioProblem, bool]:
    """A pydantic error as a problem, and whether it is the failure of a
    distribution's form the value does not take (see `_unique`)."""
    loc = tuple(
        part
        for part in item["loc"]
        if not (isinstance(part, str) and (part in _MEMBERS or part[:1].isupper() or "[" in part))
    )
    field = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
    message = str(item["msg"]).removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    kind = item["type"]
    value = item.get("input")
    noise = (
        (kind in _NUMBER_ERRORS and isinstance(value, dict))
        or (kind in ("model_type", "model_attributes_type", "dict_type") and not isinstance(value, dict))
        or (kind == "extra_forbidden" and bool(loc) and loc[-1] in (*_FORMS, "weights"))
        or (kind == "missing" and bool(loc) and loc[-1] in _FORMS)
    )
    return ScenarioProblem(_line_of(text, loc), field, message, _hint(kind, loc)), noise


def _hint(kind: str, loc: tuple[Any, ...]) -> str:
    if kind == "extra_forbidden":
        return "not a field of a scenario here; the fields are listed in docs/simulate.md"
    if kind == "missing":
        return "add it (docs/simulate.md lists each field)"
    if (loc and loc[-1] in ("uniform", "choice", "weights")) or kind.startswith(("model_", "dict_")):
        return "a number, `{ uniform = [LOW, HIGH] }` or `{ choice = [A, B], weights = [3, 1] }`"
    named = [part for part in loc if isinstance(part, str)]
    described = _DESCRIPTIONS.get(named[-1]) if named else None
    if described:
        return f"`{named[-1]}`: {described}"
    return "see docs/simulate.md for what the field takes"


_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\- ]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")


def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """The line of the file that holds `loc` (a path of keys and array
    indexes), or of its nearest enclosing table; None when neither is
    written (a missing top-level field)."""
    best: tuple[int, int] | None = None  # (length of the match, line)
    table: tuple[Any, ...] = ()
    arrays: dict[tuple[str, ...], int] = {}
    for number, line in enumerate(split_lines(text), start=1):
        header = _HEADER.match(line)
        if header:
            names = tuple(part.strip() for part in header.group(2).split("."))
            if header.group(1) == "[[":
                arrays[names] = arrays.get(names, -1) + 1
                table = (*names, arrays[names])
            else:
                table = names
            path = table
        elif (key := _KEY.match(line)) is not None:
            path = (*table, key.group(1))
        else:
            continue
        if path and loc[: len(path)] == path and (best is None or len(path) > best[0]):
            best = (len(path), number)
    return best[1] if best else None
