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
    "RR201": "Types that do not agree (money, counts, text, times), or an operator that does not apply to them.",
    "RR202": "Two amounts in different units (USD and MB, USD and EUR) cannot be added or compared.",
    "RR203": "A condition is expected (`when`, `where`, `eligible when`) but the expression is a value: "
    "compare it with something, e.g. `>= 1000`.",
    "RR204": "A name that exists but cannot be used here: an event's fields outside its metric filter or "
    "milestone, a metric inside a metric's filter, `increase` outside `whenever`.",
    "RR205": "An aggregate that does not make sense, such as `count payment.amount`, `sum payment` or `max referrals`.",
    "RR301": "A milestone without a trigger: add `when`, `first`, `each`, `whenever` or `every`.",
    "RR302": "A milestone with more than one trigger: combine the conditions with `and`, or write two milestones.",
    "RR303": "A milestone without a reward: add a line such as `reward referrer cash 100 USD`.",
    "RR304": "An invalid threshold: a count compared with a negative or fractional number, or a zero or "
    "negative duration, cap or `every` step.",
    "RR305": "An invalid reward amount: no unit, a unit the kind does not take, or an item without a name.",
    "RR306": "Misplaced or repeated clauses: milestones outside `program` blocks in a file with programs, "
    "two holds or messages, or no milestone at all.",
    "RR307": "A metric that depends on itself, directly or through other metrics.",
    "RR401": "A limit for untrusted rule files exceeded: nesting depth, digits of a number, length of a "
    "string, number of milestones, size of the file; in a message template, blocks nested more than 8 deep, "
    "more than 8 filters or 64 parts in one tag.",
    "RR402": "An `every` step smaller than its metric takes: the minor unit of a currency (0.01 USD), 1 for a "
    "count, 0.01 for other numbers. A smaller step means nothing more, only far more awards.",
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
    "positive duration, `acceptance at least` a percent above 0 and at most 100.",
    "RR809": "An unknown duration unit: `minutes`, `hours`, `days`, `weeks`.",
    "RR810": "A clause a matching file needs: at least one `workload`, a `tie break`, a period for `acceptance`.",
    "RR811": "An attribute declared but used by no clause (`check --strict`): require it, balance by it, or remove it.",
    "RR812": 'The `timezone` of a `matching` line names no known IANA time zone: use a name such as "Europe/Paris".',
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
