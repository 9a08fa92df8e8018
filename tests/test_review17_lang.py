"""Review of issue 17's language front end, tried as a newcomer: mistakes
in the new constructs get one diagnostic at the mistake with a hint that
names the fix, not a block "never closed" that is closed, nor a list of
every declaration keyword."""

from __future__ import annotations

import rewardrules
from rewardrules.diagnostics import Diagnostic

EVENTS = (
    "event payment { amount: money USD }\n"
    "event refund { payment: text, amount: money USD }\n"
    "event subscription { mrr: money USD }\n"
)
MILESTONE = "milestone m { first payment  reward referrer cash 10 USD }\n"


def errors(text: str) -> list[Diagnostic]:
    return rewardrules.check_source(text, "case.rules")


def only(text: str) -> Diagnostic:
    found = errors(text)
    assert len(found) == 1, [(d.line, d.column, d.message, d.help) for d in found]
    return found[0]


def at(diagnostic: Diagnostic) -> tuple[str, int, int]:
    return diagnostic.code, diagnostic.line, diagnostic.column


# -- a declaration inside a block that cannot hold it (braces balanced) --------


def test_allowance_inside_a_program_is_misplaced_not_unclosed() -> None:
    text = f"{EVENTS}program p {{\n  allowance budget referrer 500 USD per month\n  draw from budget\n  {MILESTONE}}}\n"
    found = only(text)
    assert at(found) == ("RR001", 5, 3)  # at `allowance`, not at `program`
    assert "never closed" not in found.message
    assert "`allowance` cannot be inside program `p`" in found.message
    assert found.help is not None and "top of the file" in found.help


def test_draw_inside_a_milestone_belongs_to_its_program() -> None:
    text = (
        f"{EVENTS}allowance budget referrer 500 USD\n"
        "program p {\n"
        "  milestone m {\n"
        "    first payment\n"
        "    reward referrer cash 10 USD\n"
        "    draw from budget\n"
        "  }\n"
        "}\n"
    )
    found = only(text)
    assert at(found) == ("RR001", 9, 5)
    assert "`draw` cannot be inside milestone `m`" in found.message
    assert found.help is not None and "program" in found.help


def test_cap_inside_a_rewards_terms_names_the_terms() -> None:
    text = f"{EVENTS}milestone m {{\n  first payment\n  reward referrer cash 10 USD {{ hold 30 days  cap referrer 100 USD }}\n}}\n"
    found = only(text)
    assert at(found) == ("RR001", 6, 47)
    assert "`cap` cannot be inside the terms of a reward" in found.message
    assert found.help is not None and "`hold`" in found.help and "`void`" in found.help


def test_eligible_inside_a_milestone() -> None:
    text = f"{EVENTS}milestone m {{\n  eligible when true\n  first payment\n  reward referrer cash 10 USD\n}}\n"
    found = only(text)
    assert at(found) == ("RR001", 5, 3)
    assert "`eligible` cannot be inside milestone `m`" in found.message


def test_a_metric_inside_an_event_block() -> None:
    found = only("event payment {\n  amount: money USD\n  metric paid = count payment\n}\n" + MILESTONE)
    assert at(found) == ("RR001", 3, 3)
    assert found.message == "`metric` cannot be inside event `payment`"
    assert found.help == "an event block holds only fields (`name: type`): move `metric` after its `}`"


def test_a_missing_brace_is_still_reported_as_never_closed() -> None:
    # one `}` fewer than `{`: the block really is left open
    text = f"{EVENTS}milestone a {{\n  first payment\n  reward referrer cash 10 USD\n{MILESTONE}"
    found = errors(text)[0]
    assert at(found) == ("RR001", 4, 1)
    assert "milestone `a` is never closed" in found.message


# -- clauses in the wrong order ------------------------------------------------


def test_where_after_within_in_a_metric_says_where_comes_first() -> None:
    found = only(f"{EVENTS}metric paid = count payment within 30 days where payment.amount > 0 USD\n{MILESTONE}")
    assert at(found) == ("RR001", 4, 44)
    assert found.help == "write `where ...` before `within ...`"


def test_where_after_within_in_a_trigger() -> None:
    found = only(
        f"{EVENTS}milestone m {{ first payment within 30 days where payment.amount > 0 USD  reward referrer cash 1 USD }}\n"
    )
    assert at(found) == ("RR001", 4, 44)
    assert found.help == "write `where ...` before `within ...`"


def test_from_after_if_in_a_time_trigger() -> None:
    text = f"{EVENTS}metric mrr = latest subscription.mrr otherwise 0 USD\nmilestone m {{ after 30 days if mrr > 0 USD from subscription  reward referrer cash 1 USD }}\n"
    found = only(text)
    assert at(found) == ("RR001", 5, 44)
    assert found.help == "write `from ...` before `if ...`"


def test_unless_voided_after_within() -> None:
    text = (
        f"{EVENTS}metric paid = count payment\n"
        "metric kept = count referrals where paid >= 1 within 30 days unless voided m\n"
        f"{MILESTONE}"
    )
    found = only(text)
    assert at(found) == ("RR001", 5, 62)
    assert found.help == "write `unless ...` before `within ...`"


def test_within_after_otherwise() -> None:
    found = only(f"{EVENTS}metric paid = count payment otherwise 0 within 30 days\n{MILESTONE}")
    assert at(found) == ("RR001", 4, 41)
    assert found.help == "write `within ...` before `otherwise ...`"


def test_lapses_after_the_conversion_of_an_attribution() -> None:
    text = f"{EVENTS}program p {{\n  attribution first referral unless first payment lapses after 30 days\n  {MILESTONE}}}\n"
    found = only(text)
    assert at(found) == ("RR001", 5, 51)
    assert found.help == "write `lapses ...` before `unless ...`"


def test_a_repeated_clause_is_not_called_out_of_order() -> None:
    found = only(
        f"{EVENTS}metric paid = count payment where payment.amount > 0 USD where payment.amount < 9 USD\n{MILESTONE}"
    )
    assert found.help is not None and "before" not in found.help


# -- a new keyword that an existing file uses as a name -------------------------


def test_a_metric_named_tiers_read_at_the_start_of_a_metric() -> None:
    text = f"{EVENTS}metric tiers = count payment\nmetric more_tiers = tiers + 1\n{MILESTONE}"
    found = only(text)
    assert at(found) == ("RR004", 5, 21)  # at `tiers`, not at the `+` after it
    assert found.message == "`tiers` is a reserved word and cannot be used as a name here"
    assert found.help == "choose another name, such as `tiers_1`"


def test_a_metric_named_graduated() -> None:
    text = f"{EVENTS}metric graduated = count payment\nmetric twice = graduated * 2\n{MILESTONE}"
    assert at(only(text)) == ("RR004", 5, 16)


def test_an_event_named_earlier() -> None:
    text = "event earlier { amount: money USD }\nmetric spent = sum earlier.amount\nmilestone m { first earlier  reward referrer cash 1 USD }\n"
    found = errors(text)[0]
    assert at(found) == ("RR004", 2, 20)
    assert "`earlier` is a reserved word" in found.message


def test_names_spelled_like_the_new_keywords_still_parse_as_fields_and_metrics() -> None:
    words = ("from", "to", "more", "case", "before", "after", "unless", "voided", "tiers", "draw")
    words += ("earlier", "allowance", "lapses", "ignoring", "graduated", "attribution", "for", "of")
    for word in words:
        text = (
            f"event payment {{ amount: money USD, {word}: optional text }}\n"
            f'metric n = count payment where payment.{word} == "x"\n'
            f"metric {word} = sum payment.amount\n"
            f"milestone a {{ when {word} >= 10 USD and n >= 1  reward referrer cash 10 USD }}\n"
            f'milestone b {{ first payment where payment.{word} in ["a"] ignoring case  reward referrer cash 1 USD }}\n'
        )
        assert errors(text) == [], word


# -- rate table rows written as the shorthand --------------------------

TABLE = "metric paid = count payment\nmetric conversions = count referrals where paid >= 1\n"


def test_a_row_written_low_dash_high() -> None:
    found = only(f"{EVENTS}{TABLE}metric rate = tiers of conversions {{\n  1-4: 10%\n  5 or more: 15%\n}}\n{MILESTONE}")
    assert at(found) == ("RR001", 7, 4)
    assert found.help == "a row is `LOW to HIGH: VALUE`: write `1 to 4`"


def test_an_open_row_written_with_a_plus() -> None:
    found = only(f"{EVENTS}{TABLE}metric rate = tiers of conversions {{\n  1 to 9: 10%\n  10+: 15%\n}}\n{MILESTONE}")
    assert at(found) == ("RR001", 8, 5)
    assert found.help == "the last row may be open: write `10 or more`"


# -- the issue's own words, written as a newcomer writes them ------------------

REFERRAL = "event referral { source: optional text, device: optional text }\n"
EACH = "milestone m {\n  each payment\n  reward referrer cash 10 USD\n"


def test_ignore_case_is_ignoring_case() -> None:
    found = only(f'{EVENTS}{REFERRAL}eligible when referral.source == "partner" ignore case\n{MILESTONE}')
    assert at(found) == ("RR001", 5, 44)
    assert found.help == "did you mean `ignoring case`?"


def test_case_insensitive_is_ignoring_case() -> None:
    found = only(f'{EVENTS}{REFERRAL}eligible when referral.source == "partner" case insensitive\n{MILESTONE}')
    assert at(found) == ("RR001", 5, 44)
    assert found.help is not None and "`ignoring case` follows the comparison" in found.help


def test_ignoring_case_before_the_comparison() -> None:
    found = only(f'{EVENTS}{REFERRAL}eligible when referral.source ignoring case == "partner"\n{MILESTONE}')
    assert at(found) == ("RR001", 5, 31)
    assert found.help is not None and "`ignoring case` follows the comparison" in found.help


def test_a_title_without_quotes_is_still_told_so() -> None:
    found = only(f"{EVENTS}milestone m Welcome {{ first payment  reward referrer cash 1 USD }}\n")
    assert found.help == "a title goes in double quotes, and the block starts with `{`"


def test_a_count_of_earlier_referrals_inside_a_condition_is_a_metric_of_its_own() -> None:
    found = only(f"{EVENTS}{REFERRAL}eligible when count earlier referrals within 24 hours < 3\n{MILESTONE}")
    assert at(found) == ("RR001", 5, 21)
    assert found.help is not None and "declare `metric NAME = count earlier" in found.help


def test_a_cap_per_referrer_per_month() -> None:
    found = only(f"{EVENTS}{EACH}  cap referrer 3 rewards per referrer per month\n}}\n")
    assert at(found) == ("RR001", 7, 26)  # at `per referrer`
    assert found.help == "a cap counts for each beneficiary of its role already: write `per month` alone"


def test_a_cap_without_its_role() -> None:
    found = only(f"{EVENTS}{EACH}  cap 3 rewards per month\n}}\n")
    assert at(found) == ("RR001", 7, 7)
    assert found.help == "a cap names its role first: `cap referrer 3 ...`"


def test_a_cap_of_3_reward_is_3_rewards() -> None:
    found = only(f"{EVENTS}{EACH}  cap referrer 3 reward per month\n}}\n")
    assert at(found) == ("RR001", 7, 18)
    assert found.help == "did you mean `rewards`? (`cap referrer 3 rewards` counts rewards)"


# -- a duration without its unit in the new clauses ----------------------------

MRR = "metric mrr = latest subscription.mrr otherwise 0 USD\n"


def test_when_for_without_unit() -> None:
    found = only(f"{EVENTS}{MRR}milestone m {{\n  when mrr >= 1000 USD for 60\n  reward referrer cash 1 USD\n}}\n")
    assert at(found) == ("RR001", 6, 28)
    assert found.message == "a duration needs a unit: `60 days`"
    assert found.help is not None and "`reward` starts the next clause" in found.help


def test_after_without_unit() -> None:
    found = only(f"{EVENTS}{MRR}milestone m {{\n  after 30\n  reward referrer cash 1 USD\n}}\n")
    assert at(found) == ("RR001", 6, 9)
    assert found.message == "a duration needs a unit: `30 days`"


def test_lapses_after_without_unit_does_not_take_unless_as_its_unit() -> None:
    text = f"{EVENTS}program p {{\n  attribution last referral lapses after 30 unless first payment\n  {MILESTONE}}}\n"
    found = only(text)
    assert at(found) == ("RR001", 5, 42)
    assert found.message == "a duration needs a unit: `30 days`"
    assert found.help is not None and "`unless` starts the next clause" in found.help


def test_a_rate_table_paid_as_cash_is_told_to_take_its_part_of_an_amount() -> None:
    text = f"{EVENTS}{TABLE}metric rate = tiers of conversions {{ 1 to 4: 10%  5 or more: 15% }}\nmilestone c {{ each payment  reward referrer cash rate }}\n"
    found = only(text)
    assert at(found) == ("RR305", 7, 50)
    assert found.help == "a rate pays its part of an amount: `rate of payment.amount`"


def test_ignoring_case_after_earlier_referrals_says_it_does_not_apply() -> None:
    text = f"{EVENTS}{REFERRAL}eligible when referral.device not in earlier referrals.device ignoring case\n{MILESTONE}"
    found = only(text)
    assert at(found) == ("RR001", 5, 63)
    assert found.help is not None and "does not apply to `in earlier referrals.device`" in found.help


def test_a_misspelled_tiers_is_named_not_the_brace_after_it() -> None:
    found = only(f"{EVENTS}{TABLE}metric rate = teirs of conversions {{ 1 to 4: 10%  5 or more: 15% }}\n{MILESTONE}")
    assert at(found) == ("RR001", 6, 15)
    assert found.help == "did you mean `tiers`?"


def test_a_partial_void_without_its_whole() -> None:
    text = f"{EVENTS}milestone m {{\n  each payment\n  reward referrer cash 10% of payment.amount\n  void refund.amount if refund\n}}\n"
    found = only(text)
    assert at(found) == ("RR001", 7, 22)
    assert found.help == (
        "a partial void names the whole it is a part of: `void refund.amount of WHOLE if refund`, such as "
        "`of payment.amount`; `void if refund` takes the whole award back"
    )


def test_a_partial_void_written_as_a_division() -> None:
    text = f"{EVENTS}milestone m {{\n  each payment\n  reward referrer cash 10% of payment.amount\n  void refund.amount / payment.amount if refund\n}}\n"
    found = only(text)
    assert found.help is not None and found.help.startswith(
        "a partial void is a part of a whole, not a division: `void refund.amount of payment.amount if refund`"
    )


def test_a_partial_void_as_a_percentage_is_not_out_of_order() -> None:
    text = f"{EVENTS}milestone m {{\n  each payment\n  reward referrer cash 10% of payment.amount\n  void 50% of payment.amount if refund\n}}\n"
    found = only(text)
    assert at(found) == ("RR001", 7, 30)
    assert found.help is not None and "before" not in found.help
    assert "`void PART of WHOLE if refund`" in found.help


# -- the words that are not the language's ------------------------------


def test_held_for_is_for() -> None:
    found = only(f"{EVENTS}{MRR}milestone m {{ when mrr >= 1000 USD held for 60 days  reward referrer cash 1 USD }}\n")
    assert at(found) == ("RR001", 5, 36)
    assert found.help == "`when CONDITION for 60 days` says how long it must hold: drop `held`"


def test_since_is_from() -> None:
    found = only(f"{EVENTS}{MRR}milestone m {{ after 30 days since subscription  reward referrer cash 1 USD }}\n")
    assert at(found) == ("RR001", 5, 29)
    assert found.help == "did you mean `from`?"


def test_until_is_unless_in_an_attribution() -> None:
    text = f"{EVENTS}program p {{\n  attribution first referral lapses after 30 days until first payment\n  {MILESTONE}}}\n"
    found = only(text)
    assert at(found) == ("RR001", 5, 51)
    assert found.help == "did you mean `unless`?"


def test_each_misplaced_declaration_is_reported_once_without_echoes() -> None:
    text = (
        "event payment { amount: money USD }\n"
        "allowance b referrer 5 USD\n"
        "program p {\n"
        "  allowance c referrer 5 USD\n"
        "  milestone m {\n"
        "    first payment\n"
        "    reward referrer cash 1 USD\n"
        "    draw from b\n"
        "  }\n"
        "}\n"
        "program q { milestone n { first payment  reward referrer cash 1 USD { cap referrer 3 USD } } }\n"
    )
    found = errors(text)
    assert [(d.line, d.column, d.message) for d in found] == [
        (4, 3, "`allowance` cannot be inside program `p`"),
        (8, 5, "`draw` cannot be inside milestone `m`"),
        (11, 71, "`cap` cannot be inside the terms of a reward"),
    ]


def test_an_attribution_window_written_with_within() -> None:
    text = f"{EVENTS}program p {{\n  attribution last referral before first payment within 30 days\n  {MILESTONE}}}\n"
    found = only(text)
    assert at(found) == ("RR001", 5, 50)
    assert found.help == (
        "an attribution's window is `lapses after 30 days`, before the conversion: "
        "`attribution last referral lapses after 30 days unless first payment`"
    )
