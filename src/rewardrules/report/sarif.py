"""SARIF 2.1.0 output of ``check --format sarif``, for code scanning.

Built from the same :class:`~rewardrules.core.problem.Problem` objects as
the text, JSON and GitHub outputs, by the same renderer (`core.render`).
One run, one rule per diagnostic code (every code, with its help text),
one result per diagnostic. Locations are
relative URIs (from the working directory, as GitHub code scanning expects
them from the repository root) with 1-based lines and columns counted in
Unicode code points; the end column is the one just past the region.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote

from .. import __version__
from ..core.diagnostics import CODES, Diagnostic
from ..core.render import sarif_result

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

#: The help text of every code: what it means and the usual fix (docs/errors.md).
RULE_HELP: dict[str, str] = {
    "RR001": "A word or sign where the grammar does not allow it. The help line lists what was expected, "
    "or names the likely slip: `=` where `==` is meant, a title without quotes, an aggregate (`latest x.y`) "
    "inside an expression, which must be a metric of its own, a number without its unit (`30 days`), a "
    "misspelled keyword, a thousands separator (`1000`, not `1,000`), a `}`, `]` or `)` never closed.",
    "RR002": "A character the rule language does not use. Strings use straight double quotes; a currency "
    "is its ISO 4217 code after the amount (`500 USD`, not `$500`).",
    "RR003": "The file ends inside a declaration, or inside a `[` or `(`: a `}`, `]` or `)` is missing.",
    "RR004": "A reserved word where a name is expected: choose another name.",
    "RR101": "An event type that is not declared: declare it with `event NAME { ... }`, or fix the name.",
    "RR102": "The event has no such field: declare it in the event, or fix the name.",
    "RR103": "A name that is no metric or field in scope: declare the metric, or fix the name.",
    "RR104": "A name declared twice (event, field, metric, milestone, program, unit, ruleset): "
    "rename one, or merge them. The help line says where the first one is declared.",
    "RR105": "An unknown unit, or a `money` type whose unit is not an ISO 4217 currency. "
    "Declare your own unit with `unit NAME`.",
    "RR106": "An unknown role: the roles are `referrer` and `referee`.",
    "RR107": "An unknown reward kind: `cash`, `credit`, `discount`, `gift_card`, `storage`, `upgrade`, `item`.",
    "RR108": "An unknown cap period: `day`, `week`, `month`, `quarter`, `year`.",
    "RR109": "An unknown duration unit: `minutes`, `hours`, `days`, `weeks`.",
    "RR110": "A built-in name redeclared: `id`, `at`, `type`, `referrer`, `referee`, `referral`, "
    "`referrals` and `increase` are built in.",
    "RR111": 'The `timezone` of a `ruleset` names no known IANA time zone: use a name such as "Europe/Paris".',
    "RR113": "`earlier` applies to `referrals` only: `count earlier referrals`.",
    "RR115": "`draw from` names no `allowance` declared in the file: declare it at the top of the file.",
    "RR116": "An `attribution` line with an unknown model (the models are `first` and `last`), or another "
    "word than `referral` after it: `attribution last referral before first payment`.",
    "RR201": "Types that do not agree (money, counts, text, times), or an operator that does not apply to them.",
    "RR202": "Two amounts in different units (USD and MB, USD and EUR) cannot be added or compared.",
    "RR203": "A condition is expected (`when`, `where`, `eligible when`) but the expression is a value: "
    "compare it with something, e.g. `>= 1000`.",
    "RR204": "A name that exists but cannot be used here: an event's fields outside its metric filter or "
    "milestone, a metric inside a metric's filter, `increase` outside `whenever`.",
    "RR205": "An aggregate that does not make sense, such as `count payment.amount`, `sum payment` or `max referrals`.",
    "RR208": "`X in earlier referrals.F` where X can change after the referral, or where no referral is "
    "being judged (inside `count earlier referrals where`): compare a field of the referral.",
    "RR209": "An `eligible when` that reads a metric which can change after the referral: eligibility is "
    "judged once, at the referral, and reads only its fields and counts of earlier referrals.",
    "RR212": "A rate table bound in another unit than the metric the table reads, or a table over a value that is not a number or an amount.",
    "RR213": "Rows of a rate table that give values of different units: every row gives the same unit.",
    "RR214": "`ignoring case` on values that are not texts (numbers, amounts, instants, conditions): "
    "remove it, or compare a text field.",
    "RR215": "An attribution whose conversion is the `referral` event: a referral cannot convert its "
    "referee. Name the event that does, e.g. `first payment where payment.amount > 0`.",
    "RR114": "`unless voided` names no milestone of the metric's program: name the milestone whose awards "
    "are taken back (the conversion).",
    "RR210": "The share of a partial void (`void PART of WHOLE if EVENT`) is not two amounts in one unit: "
    "write e.g. `void refund.amount of payment.amount if refund`.",
    "RR211": "The whole of a partial void reads the void event: the whole is the award's base, the same at "
    "every void event. Divide by the triggering event's amount or a constant.",
    "RR301": "A milestone without a trigger: add `when`, `first`, `each`, `whenever` or `every`.",
    "RR302": "A milestone with more than one trigger: combine the conditions with `and`, or write two milestones.",
    "RR303": "A milestone without a reward: add a line such as `reward referrer cash 100 USD`.",
    "RR304": "An invalid threshold: a count compared with a negative or fractional number, a zero or "
    "negative duration, cap or `every` step, or a duration that is not a whole number of nanoseconds.",
    "RR305": "An invalid reward amount: no unit, a unit the kind does not take, or an item without a name.",
    "RR306": "Misplaced or repeated clauses: milestones outside `program` blocks in a file with programs, "
    "two holds or messages, or no milestone at all.",
    "RR307": "A metric that depends on itself, directly or through other metrics.",
    "RR313": "An aggregate over earlier referrals other than `count earlier referrals [where ...] [within D]`, "
    "or one with `otherwise`.",
    "RR319": "Rows of a rate table out of order: list them from the lowest bound to the highest.",
    "RR320": "Rate table bounds that cannot say which row a value is in: reversed bounds, two rows from one bound, or an open row before the last.",
    "RR321": "A cap on the number of rewards that is not a whole number of at least 1.",
    "RR322": "Two `attribution` lines in one program: a referee is credited by one model in a program.",
    "RR323": "An `attribution` line whose parts make no model: `last referral` needs `before first EVENT`, "
    "a lapse needs `unless first EVENT`, and `first referral` with a conversion needs a lapse.",
    "RR316": "A partial void in a milestone with an item or a percent reward, which has no part to take "
    "back: give that reward a milestone of its own, with `void if`.",
    "RR317": "A milestone `hold` or `void` that no reward takes: every reward has terms of its own "
    "(`reward ... { hold 30 days }`). Move the clause into the terms of the rewards it is for.",
    "RR318": "`unless voided` on an aggregate that is not over referrals, or naming a milestone counted per "
    "referrer, whose awards are no single referral's.",
    "RR401": "A limit for untrusted rule files exceeded: nesting depth, digits of a number, length of a "
    "string, number of milestones, size of the file; in a message template, blocks nested more than 8 deep, "
    "more than 8 filters or 64 parts in one tag.",
    "RR402": "An `every` step smaller than its metric takes: the minor unit of a currency (0.01 USD), 1 for a "
    "count, 0.01 for other numbers. A smaller step means nothing more, only far more awards.",
    "RR450": "A construct the SQL back end (`score --engine duckdb`, `rewardrules sql`) does not compile yet, "
    "reported by `check --engine sql`: score the file with the Python engine, or see docs/sql.md for what compiles.",
    "RR501": "An invalid message template: a syntax error, or a construct templates may not use (loops, "
    "calls, arithmetic, item access, unknown filters, filter arguments, comparisons other than `==` and `!=`, "
    "an attribute of a value that is not an event).",
    "RR502": "An unknown name in a message template, or a field the triggering event does not declare: use "
    "award fields, metrics and the triggering event's declared fields.",
    "RR601": "A condition that no ledger can make true (`when false`, `1 > 2`, `x > 10 and x < 5`, a count "
    "below 0, a required field that `is not set`), so a milestone, metric filter, eligibility or void is dead; "
    "also `every N M` where M can never reach N, and `whenever M increases` where M can never rise.",
    "RR602": "Tiers out of order: `when M >= T` milestones on the same metric, in file order, whose threshold "
    "is not higher than an earlier tier's. List tiers from the lowest threshold to the highest.",
    "RR603": "Two milestones of one program with the same trigger: both are awarded at the same event. "
    "Merge their rewards, or change one trigger.",
    "RR604": "A declared event type or field that no rule uses. Remove it, or use it.",
    "RR605": "Unbounded liability: a money reward that one referral can draw without limit (a computed "
    "amount, or a milestone that repeats with `each`, `whenever` or `every`) and that no cap counts. Add a cap.",
    "RR606": "A `void if` whose window is longer than the milestone's hold: an award is confirmed when its "
    "hold ends, and a void event after that gives a reversal of a confirmed, perhaps paid, award. "
    "Hold awards at least as long as the void window.",
    "RR607": "A fixed reward larger than a cap that counts it: every award is cut to the cap. "
    "Lower the reward or raise the cap.",
    "RR608": "A reward whose amount is zero (after rounding to the currency's minor unit) or has no value at "
    "every event: every award of it is withheld. Give it a positive amount, or remove it.",
    "RR609": "`count referral` without a filter: a referral has one `referral` event, so it is 1 for every "
    "referral. To count a referrer's referrals, write `count referrals`.",
    "RR610": "`when C for D` where C reads no metric: C is fixed from the referral on, so nothing breaks it and "
    "the clock starts at the referral. Write `after D if C`, which says so.",
    "RR612": "A comparison of a value with itself moved by a constant, such as `referral.at >= referral.at - "
    "24 hours`: it is always true or never true. For a velocity rule, count the referrer's earlier referrals: "
    "`count earlier referrals within 24 hours`.",
    "RR613": "`within` on an aggregate over the referral's own `referral` event: that event starts the window, "
    "so the window leaves nothing out. To count the referrer's recent referrals, write "
    "`count earlier referrals within 24 hours`.",
    "RR614": "`referral.F not in earlier referrals.F` on an optional field in `eligible when`: a comparison with "
    "a missing value is false, so every referral without the field is ineligible. Write "
    "`referral.F is not set or referral.F not in earlier referrals.F` to accept them.",
    "RR617": "A gap between two rows of a rate table: a value in it is in no row, and the reward reading the table is withheld.",
    "RR618": "Two rows of a rate table overlap: a value in both gets the first row's value.",
    "RR619": "An allowance that no program draws from limits nothing.",
    "RR620": "Two texts of one `in` list that differ only in case: write one spelling and add `ignoring case` "
    "after the list (with it already, remove the repeated item).",
    "RR621": "A milestone paid at the referral itself in a program whose attribution moves: each later "
    "referral that takes the referee pays it again. Pay at the conversion instead.",
    "RR616": "`unless voided M` where milestone M has no `void`: no award of it is ever taken back, and the "
    "metric counts what it would without it. Add a `void if`, or remove `unless voided`.",
    "RR615": "A partial void in an `each EVENT` milestone whose condition does not read the triggering event: "
    "every void event of the referral takes its part of every award. Link it: `where refund.payment == payment.id`.",
    "RR801": "A word or sign a matching file does not allow where it stands; the help line lists what was "
    "expected. Each clause starts with a keyword (`matching`, `workload`, `require`, `round robin`, ...).",
    "RR802": "A matching file starts with one `matching NAME` line: it is missing, or there are two.",
    "RR803": "A workload or attribute declared twice, a name listed twice, or a clause that may appear once "
    "(`require`, `round robin`, `tie break`, `split`, `fallback`, `pause`, `acceptance`) written twice.",
    "RR804": "`require` names a gate that is neither `endorsement` nor a declared attribute.",
    "RR805": "`round robin by` or `acceptance ... by` names an attribute that is not declared "
    "(`workload` is built in for `round robin by`); an acceptance rate is measured by one attribute.",
    "RR806": "A tie-break key that is not `longest_idle`, `earliest_joined` or `partner`, or a tie-break that "
    "does not end with `partner`: ties would be left to the input's order.",
    "RR807": "An unknown period: `day`, `week`, `month`, `quarter`, `year`.",
    "RR808": "A number out of range: `split up to` takes a whole number from 2 to 10, `pause at most` a whole "
    "positive duration, `acceptance at least` a percent above 0 and at most 100; any number at most 30 digits.",
    "RR809": "An unknown duration unit: `minutes`, `hours`, `days`, `weeks`.",
    "RR810": "A clause a matching file needs: at least one `workload`, a `tie break`, a period for `acceptance`.",
    "RR811": "An attribute declared but used by no clause (`check --strict`): require it, balance by it, or remove it.",
    "RR812": 'The `timezone` of a `matching` line names no known IANA time zone: use a name such as "Europe/Paris".',
    "RR830": "`rematch` lists something other than `unmatched` and `fallback`, or one twice: list the parts to match again.",
    "RR831": "A `rematch` kind the file never makes (`fallback` without a `fallback` clause, `unmatched` with one).",
}

_LINT = frozenset(code for code in CODES if code.startswith("RR6"))


def rule(code: str) -> dict[str, object]:
    """The reportingDescriptor of one code."""
    title = CODES[code]
    help_text = RULE_HELP.get(code, title)
    return {
        "id": code,
        "name": "".join(word.capitalize() for word in re.findall(r"[a-z0-9]+", title.lower())),
        "shortDescription": {"text": title},
        "fullDescription": {"text": help_text},
        "help": {"text": help_text},
        "defaultConfiguration": {"level": "warning" if code in _LINT else "error"},
    }


def artifact_uri(path: str, cwd: str | None = None) -> str:
    """A relative URI for a file below the working directory (`rulesets/x.rules`),
    else an absolute `file:` URI."""
    base = os.path.abspath(cwd or os.getcwd())
    full = os.path.abspath(path)
    if os.path.commonpath([base, full]) == base:
        return quote(Path(os.path.relpath(full, base)).as_posix(), safe="/")
    return Path(full).as_uri()


def result(diagnostic: Diagnostic, path: str, index: dict[str, int]) -> dict[str, object]:
    """The result of one diagnostic of the file at ``path`` (`render.sarif_result`)."""
    return sarif_result(diagnostic.to_problem(), artifact_uri(path), index)


def sarif_log(reports: list[tuple[str, list[Diagnostic]]]) -> dict[str, object]:
    """A SARIF 2.1.0 log of the diagnostics of each checked file."""
    codes = list(CODES)
    index = {code: i for i, code in enumerate(codes)}
    results = [result(d, path, index) for path, diagnostics in reports for d in diagnostics]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "rewardrules", "version": __version__, "rules": [rule(c) for c in codes]}},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
