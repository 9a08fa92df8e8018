"""The help lines of `check` a newcomer follows: the "did you mean" name
for common typos (the right side of the referral, `referrals` over
`referral`), a field written without its event, template errors pointed at
the name inside the message, rewards that can never be issued, and unit
mismatches."""

from __future__ import annotations

from pathlib import Path

import pytest

import rewardrules
from rewardrules.check import KINDS, ROLES
from rewardrules.cli import main
from rewardrules.diagnostics import Diagnostic, did_you_mean
from rewardrules.testing import TestFileError, parse_test_file

HEAD = """event payment { amount: money USD, euros: money EUR, size: quantity MB, discount: optional money USD }
event signup { plan: text }
metric paid = count payment where payment.amount > 0
"""
EVENTS = ("referral", "payment", "signup", "subscription")
FIELDS = ("amount", "discount", "plan", "note")
DURATIONS = ("minutes", "hours", "days", "weeks")


def diagnostics(text: str) -> list[Diagnostic]:
    return rewardrules.check_source(HEAD + text, "case.rules")


def only(text: str, code: str) -> Diagnostic:
    found = [d for d in diagnostics(text) if d.code == code]
    assert len(found) == 1, [(d.code, d.message, d.help) for d in diagnostics(text)]
    return found[0]


# -- 1. did you mean: the likelier typo, both sides when it cannot tell ---------

TYPOS = [
    # a doubled letter typed once: a dropped letter beats a changed one
    ("referer", ROLES, "did you mean `referrer`?"),
    ("referals", (*EVENTS, "referrals"), "did you mean `referrals`?"),
    ("refferal", EVENTS, "did you mean `referral`?"),
    ("referal", EVENTS, "did you mean `referral`?"),
    ("ammount", FIELDS, "did you mean `amount`?"),
    ("amout", FIELDS, "did you mean `amount`?"),
    ("discont", FIELDS, "did you mean `discount`?"),
    ("refere", ROLES, "did you mean `referee`?"),
    ("refree", ROLES, "did you mean `referee`?"),
    # letters swapped
    ("paymnet", EVENTS, "did you mean `payment`?"),
    ("subscirption", EVENTS, "did you mean `subscription`?"),
    ("gift_crad", KINDS, "did you mean `gift_card`?"),
    ("cahs", KINDS, "did you mean `cash`?"),
    # a letter added: the same length wins, as before
    ("dayz", ("day", *DURATIONS), "did you mean `days`?"),
    # as near to one side of the referral as to the other: both, in order
    ("referor", ROLES, "did you mean `referrer` or `referee`?"),
    ("referree", ROLES, "did you mean `referrer` or `referee`?"),
    ("refferer", ROLES, "did you mean `referrer` or `referee`?"),
]


@pytest.mark.parametrize(("typo", "names", "hint"), TYPOS, ids=[t[0] for t in TYPOS])
def test_marketer_typos_get_the_meant_name(typo: str, names: tuple[str, ...], hint: str) -> None:
    assert did_you_mean(typo, names) == hint


ROLE_TYPOS = [
    ("reward", "milestone m { first payment  reward referer cash 50 USD }"),
    ("cap", "cap referer 100 USD\nmilestone m { first payment  reward referrer cash 50 USD }"),
]


@pytest.mark.parametrize(("where", "text"), ROLE_TYPOS, ids=[r[0] for r in ROLE_TYPOS])
def test_referer_is_the_referrer_not_the_referee(where: str, text: str) -> None:
    diagnostic = only(text, "RR106")
    assert diagnostic.message == "unknown role `referer`"
    assert diagnostic.help == "did you mean `referrer`?"


def test_referer_in_a_message_template_is_the_referrer() -> None:
    diagnostic = only(
        'milestone m { first payment  reward referrer cash 5 USD  message "Thanks {{ referer }}" }', "RR502"
    )
    assert diagnostic.help == "did you mean `referrer`?"


def test_referer_in_a_test_file_is_the_referrer() -> None:
    text = '[[case]]\nname = "c"\nevents = []\nexpect = [ { role = "referer" } ]\n'
    with pytest.raises(TestFileError) as raised:
        parse_test_file(text, "case.test.toml")
    hints = [p.hint for p in raised.value.problems]
    assert hints == ["did you mean `referrer`?"], raised.value.problems


# -- 2. `count referals` means the referrer's referrals --------------------------


@pytest.mark.parametrize(
    "metric",
    ["metric x = count referals where paid >= 1", "metric x = sum referals.paid"],
    ids=["count", "sum"],
)
def test_referals_suggests_the_referrals_construct(metric: str) -> None:
    diagnostic = only(metric + "\nmilestone m { when x >= 1  reward referrer cash 5 USD }", "RR101")
    assert diagnostic.message == "unknown event `referals`"
    assert diagnostic.help == "did you mean `referrals`?"


def test_referrals_is_no_candidate_where_it_cannot_stand() -> None:
    # `first referrals` is not a trigger: the event `referral` is the hint
    diagnostic = only("milestone m { first referals  reward referrer cash 5 USD }", "RR101")
    assert diagnostic.help == "did you mean `referral`?"


def test_following_the_old_hint_is_caught_by_strict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `count referral` passes check but counts the referral's own event: 1
    path = tmp_path / "referral.rules"
    path.write_text("metric x = count referral where 1 > 0\nmilestone m { when x >= 3  reward referrer cash 5 USD }\n")
    code = main(["check", "--strict", "--fail-level", "warning", str(path)])
    out = capsys.readouterr().out
    assert code == 1
    assert "warning[RR609]: metric `x` counts the referral's own `referral` event" in out
    assert "write `count referrals`" in out


# -- 3. a field written without its event ---------------------------------------


def test_bare_field_of_the_triggering_event_gets_its_event() -> None:
    diagnostic = only("milestone m { first payment where amount > 0  reward referrer cash 5 USD }", "RR103")
    assert diagnostic.message == "unknown name `amount` in a milestone filter"
    assert diagnostic.help is not None and "did you mean `payment.amount`?" in diagnostic.help


def test_bare_field_in_a_metric_filter_gets_its_event() -> None:
    diagnostic = only("metric big = count payment where amount > 100\n", "RR103")
    assert diagnostic.help is not None and "`payment.amount`" in diagnostic.help


def test_bare_field_of_an_event_not_in_scope_names_the_event() -> None:
    diagnostic = only("milestone m { when plan == 'pro'  reward referrer cash 5 USD }".replace("'", '"'), "RR103")
    assert diagnostic.help is not None
    assert "`plan` is a field of event `signup`" in diagnostic.help and "`signup.plan`" in diagnostic.help


def test_a_nearer_name_still_wins_over_a_field_elsewhere() -> None:
    diagnostic = only("milestone m { when pad >= 1  reward referrer cash 5 USD }", "RR103")
    assert diagnostic.help == "did you mean `paid`?"


# -- 4. template errors point at the name inside the message ---------------------


def _column_of(text: str, needle: str) -> tuple[int, int]:
    """1-based line and column of the first ``needle`` in HEAD + text."""
    full = HEAD + text
    offset = full.index(needle)
    line = full.count("\n", 0, offset) + 1
    return line, offset - (full.rfind("\n", 0, offset) + 1) + 1


TEMPLATES = [
    (
        "field",
        '"Thanks {{ referrer }}, your friend {{ referee }} paid and we are happy to say {{ payment.amout }} arrived"',
        "amout",
        "RR502",
    ),
    ("name", '"Thanks {{ referer }}"', "referer", "RR502"),
    ("filter", '"Hi {{ referee | uper }}"', "uper", "RR501"),
    # escapes before the name are several characters of the file each
    ("escapes", '"Caf\\u00e9 \\"x\\" \\ud83d\\ude00 \\\\ {{ payment.amout }}"', "amout", "RR502"),
    ("unknown-escape", '"a\\q {{ referer }}"', "referer", "RR502"),
]


@pytest.mark.parametrize(("literal", "name", "code"), [t[1:] for t in TEMPLATES], ids=[t[0] for t in TEMPLATES])
def test_template_error_points_at_the_name_in_the_literal(literal: str, name: str, code: str) -> None:
    text = f"milestone m {{ first payment  reward referrer cash 5 USD\n  message {literal} }}\n"
    diagnostic = only(text, code)
    line, column = _column_of(text, name)
    found = diagnostic.to_dict()
    assert (found["line"], found["column"], found["end_column"]) == (line, column, column + len(name))


def test_template_error_on_a_literal_of_its_own_line() -> None:
    text = 'milestone m { first payment  reward referrer cash 5 USD\n  message\n    "Hi {{ payment.amout }}" }\n'
    diagnostic = only(text, "RR502")
    assert (diagnostic.line, diagnostic.column) == _column_of(text, "amout")


def test_template_error_falls_back_to_the_clause_when_the_text_cannot_be_mapped() -> None:
    # jinja2 reads `\r\n` as `\n`: its tokens are no longer pieces of the text
    text = 'milestone m { first payment  reward referrer cash 5 USD  message "a\\r\\nb {{ referer }}" }\n'
    diagnostic = only(text, "RR502")
    assert (diagnostic.line, diagnostic.column) == _column_of(text, "message")


# -- 5. a reward that can never be issued ---------------------------------------


@pytest.mark.parametrize("amount", ["-50 USD", "0 USD - 5 USD", "-(5 USD)", "-0.001 USD"])
def test_a_negative_constant_reward_is_an_error(amount: str) -> None:
    diagnostic = only(f"milestone m {{ first payment  reward referrer cash {amount} }}", "RR305")
    assert diagnostic.message == f"the reward amount `{amount}` is less than zero, so it is never issued"
    assert diagnostic.help is not None and "void if" in diagnostic.help
    with pytest.raises(rewardrules.RuleError):
        rewardrules.compile(HEAD + f"milestone m {{ first payment  reward referrer cash {amount} }}")


@pytest.mark.parametrize(
    "amount", ["payment.amount - 10 USD", "0 USD", "0.004 USD", "5 USD / 0"], ids=["computed", "zero", "round", "none"]
)
def test_other_rewards_are_not_errors(amount: str) -> None:
    found = diagnostics(f"milestone m {{ first payment  reward referrer cash {amount} }}")
    assert [d.code for d in found] == []


def _strict(tmp_path: Path, capsys: pytest.CaptureFixture[str], reward: str) -> tuple[int, str]:
    path = tmp_path / "zero.rules"
    path.write_text(HEAD + f"milestone m {{ first payment  reward referrer {reward} }}\n")
    code = main(["check", "--strict", "--fail-level", "warning", str(path)])
    return code, capsys.readouterr().out


@pytest.mark.parametrize(
    ("reward", "what"),
    [("cash 0 USD", "is zero"), ("credit 0.004 USD", "rounds to zero"), ("cash 5 USD / 0", "has no value")],
)
def test_a_reward_never_issued_is_a_strict_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], reward: str, what: str
) -> None:
    code, out = _strict(tmp_path, capsys, reward)
    assert code == 1
    assert f"warning[RR608]: the reward `{reward.split(' ', 1)[1]}` of milestone `m` {what}" in out


def test_a_positive_reward_gets_no_rr608(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out = _strict(tmp_path, capsys, "cash 0.01 USD")
    assert "warning[" in out and "[RR608]" not in out  # the other warnings of HEAD, not this one


# -- 6. unit mismatches and percentages ------------------------------------------


def test_two_currencies_say_there_is_no_conversion() -> None:
    diagnostic = only(
        "milestone m { first payment where payment.amount > payment.euros  reward referrer cash 5 USD }", "RR202"
    )
    assert diagnostic.help is not None
    assert "cannot convert" in diagnostic.help and "one currency" in diagnostic.help


def test_two_other_units_get_a_help_line() -> None:
    diagnostic = only(
        "milestone m { first payment where payment.amount / payment.size > 1  reward referrer cash 5 USD }", "RR202"
    )
    assert diagnostic.help is not None and "`USD` and `MB` are different units" in diagnostic.help


@pytest.mark.parametrize(
    ("amount", "hint"),
    [
        ("payment.amount * 10 percent", "`10% of payment.amount`"),
        ("10% * payment.amount", "`10% of payment.amount`"),
        ("2.5 percent * payment.amount", "`2.5% of payment.amount`"),
    ],
)
def test_amount_times_percent_suggests_percent_of(amount: str, hint: str) -> None:
    diagnostic = only(f"milestone m {{ first payment  reward referrer cash {amount} }}", "RR201")
    assert diagnostic.help == f"a percentage of an amount is written {hint}"


def test_amount_times_amount_keeps_its_help() -> None:
    diagnostic = only("milestone m { first payment  reward referrer cash payment.amount * payment.amount }", "RR201")
    assert diagnostic.help == "multiply an amount by a plain number"
