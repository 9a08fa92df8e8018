"""The attribution pass: a program's `attribution` clause, which says which
referral of a referee the program credits (docs/semantics.md, Attribution).

Three models, each read as a sentence:

- `attribution first referral` (the default): the first valid referral
  holds the referee for good;
- `attribution last referral before first payment where ...`: each later
  referral takes the referee, until its first such event (its conversion);
- `attribution first referral lapses after 30 days unless first payment`:
  a referral that has not converted within 30 days lapses, and a later
  referral may take the referee;
- `attribution last referral lapses after 30 days unless first payment`:
  both: the last referral takes the referee, and earns only if it converts
  within 30 days (a "last click, 30-day cookie" affiliate program).
"""

from __future__ import annotations

from ..core.diagnostics import did_you_mean
from ..syntax import nodes as ast
from .messages import Messages
from .program import FIRST_REFERRAL, AttributionInfo
from .scope import _Context

#: the attribution models, by the word that names them
MODELS = ("first", "last")

_FORMS = (
    "write `attribution first referral`, `attribution last referral before first EVENT`, "
    "or `attribution first referral lapses after N days unless first EVENT` (`last` may lapse too)"
)


class Attributions(Messages):
    """A program's attribution clause."""

    def _attribution(self, program: ast.Program) -> AttributionInfo:
        """The program's attribution, checked; the default when it has none."""
        for repeated in program.attributions[1:]:
            self.error(
                "RR322",
                "a program has at most one `attribution`",
                repeated.span,
                "keep one: a referee is credited by one model in a program",
            )
        if not program.attributions:
            return FIRST_REFERRAL
        decl = program.attributions[0]
        ok = self._attribution_words(decl)
        lapse_ns = self.duration(decl.lapse) if decl.lapse is not None else None
        event, where = self._conversion(decl.conversion)
        ok = self._attribution_form(decl) and ok
        if not ok:
            return FIRST_REFERRAL
        return AttributionInfo(decl.model.text, lapse_ns, event, where, decl)

    def _attribution_words(self, decl: ast.Attribution) -> bool:
        """RR116: the model is `first` or `last`, and the word after it `referral`."""
        ok = True
        if decl.model.text not in MODELS:
            self.error(
                "RR116",
                f"unknown attribution model `{decl.model.text}`",
                decl.model.span,
                did_you_mean(decl.model.text, MODELS, "the models are `first` and `last`"),
            )
            ok = False
        if decl.subject.text != "referral":
            self.error(
                "RR116",
                f"expected `referral` after `attribution {decl.model.text}`, not `{decl.subject.text}`",
                decl.subject.span,
                f"write `attribution {decl.model.text} referral ...`",
            )
            ok = False
        return ok

    def _conversion(self, conversion: ast.Conversion | None) -> tuple[str | None, ast.Expr | None]:
        """The conversion event and its filter (RR101 unknown event, RR215
        the `referral` event itself); the filter reads that event only."""
        if conversion is None:
            return None, None
        info = self._event(conversion.event)
        if info is None:
            return None, None
        if info.name == "referral":
            self.error(
                "RR215",
                "a referral cannot convert its referee: the conversion is another event",
                conversion.event.span,
                "name the event that converts, e.g. `first payment where payment.amount > 0`",
            )
            return None, None
        if conversion.where is not None:
            ctx = _Context("in an attribution's conversion", {info.name: (info, "event")})
            self.condition(conversion.where, ctx)
        return info.name, conversion.where

    def _attribution_form(self, decl: ast.Attribution) -> bool:
        """RR323: the clauses a model takes: `last` needs a conversion;
        `first` with a conversion needs a lapse, and a lapse needs a
        conversion (what the referral must reach in time)."""
        model, lapse, conversion = decl.model.text, decl.lapse, decl.conversion
        problem = None
        if model == "last" and conversion is None:
            problem = "`attribution last referral` needs the conversion that ends it: `before first EVENT`"
        elif model == "first" and lapse is not None and conversion is None:
            problem = "a lapse needs the conversion the referral must reach in time: `unless first EVENT`"
        elif model == "first" and conversion is not None and lapse is None:
            problem = "the first referral holds for good, so a conversion changes nothing without `lapses after`"
        if problem is not None:
            self.error("RR323", problem, decl.span, _FORMS)
        return problem is None
