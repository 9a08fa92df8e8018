"""`explain` (docs/explain.md): the score told in plain language, checked
word for word on golden ledgers: counts to the next tier, an ineligible
country, a closed window, pending and voided awards, capped commissions,
duplicate referrals, and the --referrer / --referee filters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rewardrules
from rewardrules.cli import main
from rewardrules.explain import explain, explain_ledger, explanation
from rewardrules.trace import score_traced

from .conftest import GOLDEN, RULESETS


def told(rules: str, case: str, as_of: str | None = None, **filters: str) -> str:
    program = rewardrules.load(RULESETS / f"{rules}.rules")
    traced = score_traced(program, (GOLDEN / rules / f"{case}.jsonl").read_bytes().splitlines(), as_of)
    return explain(traced.data, program=program, voids=traced.voids, **filters)


REFERRAL_MILESTONES_BASIC = (
    "referral_milestones as of 2026-01-07T10:00:00Z\n"
    "\n"
    "alice: 3 referrals (converted referrals: 2)\n"
    "  2026-01-06T08:00:00Z reached: `first_referral` (First converted referral), with bob's event p2\n"
    "  next: `five_referrals` (Five converted referrals): 3 more converted referrals (2 of 5)\n"
    "  next: `ten_referrals` (Ten converted referrals): 8 more converted referrals (2 of 10)\n"
    "  bob, referred 2026-01-01T10:00:00Z (event r1)\n"
    "    2026-01-06T08:00:00Z earned: discount 10 percent to bob (referee) for `welcome_discount` (Welcome discount for both sides)\n"
    "      why: `first payment where payment.amount > 0` at event p2 (payment.amount = 20.00)\n"
    "    2026-01-06T08:00:00Z earned: discount 10 percent to alice (referrer) for `welcome_discount` (Welcome discount for both sides)\n"
    "      why: `first payment where payment.amount > 0` at event p2 (payment.amount = 20.00)\n"
    "    2026-01-06T08:00:00Z earned: gift card 50.00 USD to alice (referrer) for `first_referral` (First converted referral)\n"
    "      why: `when conversions >= 1` at event p2 (conversions = 1)\n"
    "    2026-01-06T08:00:00Z earned: gift card 50.00 USD to bob (referee) for `first_referral` (First converted referral)\n"
    "      why: `when conversions >= 1` at event p2 (conversions = 1)\n"
    "  carol, referred 2026-01-02T10:00:00Z (event r2)\n"
    "    2026-01-06T09:00:00Z earned: discount 10 percent to carol (referee) for `welcome_discount` (Welcome discount for both sides)\n"
    "      why: `first payment where payment.amount > 0` at event p3 (payment.amount = 99.90)\n"
    "    2026-01-06T09:00:00Z earned: discount 10 percent to alice (referrer) for `welcome_discount` (Welcome discount for both sides)\n"
    "      why: `first payment where payment.amount > 0` at event p3 (payment.amount = 99.90)\n"
    "  dan, referred 2026-01-03T10:00:00Z (event r3)\n"
    "    next: `welcome_discount` (Welcome discount for both sides): waiting for a `payment` where `payment.amount > 0`\n"
)


MICROSOFT_COUNTRIES = (
    "microsoft_referral as of 2026-05-02T00:00:00Z\n"
    "\n"
    "alice: 6 referrals\n"
    "  bob, referred 2026-05-01T00:00:00Z (event r1)\n"
    '    not eligible: `referral.country in ["US", "CA", "GB", "DE", "FR", "JP", "AU", "IN"]` is false (country = "BR")\n'
    "  carol, referred 2026-05-01T01:00:00Z (event r2)\n"
    '    not eligible: `referral.country in ["US", "CA", "GB", "DE", "FR", "JP", "AU", "IN"]` is false (country is not set)\n'
    "  dan, referred 2026-05-01T02:00:00Z (event r3)\n"
    "    2026-05-01T02:00:00Z earned: discount 10 percent to dan (referee) for `link_offer` (Discount for following the link)\n"
    "      why: `when true` at event r3\n"
    "    2026-05-02T00:00:00Z earned: credit 5.00 USD to alice (referrer) for `qualifying_purchase` (Qualifying purchase within 30 days)\n"
    "      why: `first purchase where purchase.amount >= 100 USD within 30 days` at event pd (purchase.amount = 100.00)\n"
    "  erin, referred 2026-05-01T03:00:00Z (event r4)\n"
    "    2026-05-01T03:00:00Z earned: discount 10 percent to erin (referee) for `link_offer` (Discount for following the link)\n"
    "      why: `when true` at event r4\n"
    "    next: `qualifying_purchase` (Qualifying purchase within 30 days): waiting for a `purchase` where `purchase.amount >= 100 USD` until 2026-05-31T03:00:00Z\n"
    "  fay, referred 2026-05-01T04:00:00Z (event r5)\n"
    "    2026-05-01T04:00:00Z earned: discount 10 percent to fay (referee) for `link_offer` (Discount for following the link)\n"
    "      why: `when true` at event r5\n"
    "    2026-05-02T00:00:00Z earned: credit 50.00 USD to alice (referrer) for `qualifying_purchase` (Qualifying purchase within 30 days)\n"
    "      why: `first purchase where purchase.amount >= 100 USD within 30 days` at event pf (purchase.amount = 1000.00)\n"
    "  gus, referred 2026-05-01T05:00:00Z (event r6)\n"
    "    2026-05-01T05:00:00Z earned: discount 10 percent to gus (referee) for `link_offer` (Discount for following the link)\n"
    "      why: `when true` at event r6\n"
    "    next: `qualifying_purchase` (Qualifying purchase within 30 days): waiting for a `purchase` where `purchase.amount >= 100 USD` until 2026-05-31T05:00:00Z\n"
)


MICROSOFT_WINDOW_CAROL = (
    "microsoft_referral as of 2026-04-05T00:00:00Z\n"
    "\n"
    "alice: 3 referrals\n"
    "  carol, referred 2026-03-01T10:00:00Z (event r2)\n"
    "    2026-03-01T10:00:00Z earned: discount 10 percent to carol (referee) for `link_offer` (Discount for following the link)\n"
    "      why: `when true` at event r2\n"
    "    not earned: `qualifying_purchase` (Qualifying purchase within 30 days): window closed at 2026-03-31T10:00:00Z without a `purchase` where `purchase.amount >= 100 USD`\n"
)


HOLD_PENDING = (
    "partner_and_customer as of 2026-05-01T00:00:00Z\n"
    "\n"
    "alice: 6 referrals\n"
    "  c1, referred 2026-03-01T00:00:00Z (event ra1)\n"
    "    2026-04-01T00:00:00Z earned: cash 100.00 USD to alice (referrer) for `customer_conversion` (Referred customer paid)\n"
    "      why: `first payment where payment.amount > 0` at event pc1 (payment.amount = 10.00)\n"
    '    not eligible: program `partners` (Partner referrals): `referral.source == "partner"` is false (source = "customer")\n'
    "  c2, referred 2026-03-01T00:00:00Z (event ra2)\n"
    "    2026-04-01T00:00:01Z pending: cash 100.00 USD to alice (referrer) for `customer_conversion` (Referred customer paid)\n"
    "      why: `first payment where payment.amount > 0` at event pc2 (payment.amount = 10.00)\n"
    "      held until 2026-05-01T00:00:01Z (30-day hold); void if `refund where refund.payment == payment.id within 30 days`\n"
    '    not eligible: program `partners` (Partner referrals): `referral.source == "partner"` is false (source = "customer")\n'
    "  c3, referred 2026-03-01T00:00:00Z (event ra3)\n"
    "    2026-04-20T00:00:00Z voided: cash 100.00 USD to alice (referrer) for `customer_conversion` (Referred customer paid)\n"
    "      why: `first payment where payment.amount > 0` at event pc3 (payment.amount = 10.00)\n"
    "      voided by refund rfc3 at 2026-04-30T00:00:00Z: `void if refund where refund.payment == payment.id within 30 days`\n"
    '    not eligible: program `partners` (Partner referrals): `referral.source == "partner"` is false (source = "customer")\n'
    "  c4, referred 2026-03-01T00:00:00Z (event ra4)\n"
    "    2026-04-20T00:00:00Z pending: cash 100.00 USD to alice (referrer) for `customer_conversion` (Referred customer paid)\n"
    "      why: `first payment where payment.amount > 0` at event pc4 (payment.amount = 10.00)\n"
    "      held until 2026-05-20T00:00:00Z (30-day hold); void if `refund where refund.payment == payment.id within 30 days`\n"
    '    not eligible: program `partners` (Partner referrals): `referral.source == "partner"` is false (source = "customer")\n'
    "  c5, referred 2026-03-01T00:00:00Z (event ra5)\n"
    "    2026-04-25T00:00:00Z voided: cash 100.00 USD to alice (referrer) for `customer_conversion` (Referred customer paid)\n"
    "      why: `first payment where payment.amount > 0` at event pc5 (payment.amount = 10.00)\n"
    "      voided by refund rfc5 at 2026-05-01T00:00:00Z: `void if refund where refund.payment == payment.id within 30 days`\n"
    '    not eligible: program `partners` (Partner referrals): `referral.source == "partner"` is false (source = "customer")\n'
    "  c6, referred 2026-03-01T00:00:00Z (event ra6)\n"
    '    not eligible: program `partners` (Partner referrals): `referral.source == "partner"` is false (source = "customer")\n'
    "    next: `customer_conversion` (Referred customer paid): waiting for a `payment` where `payment.amount > 0`\n"
)


COMMISSION_CAP_BETA = (
    "partner_and_customer as of 2026-08-01T00:00:00Z\n"
    "\n"
    "beta: 1 referral\n"
    "  corp3, referred 2026-01-03T00:00:00Z (event rc)\n"
    "    2026-02-01T00:00:00Z earned: cash 5000.00 USD to beta (referrer) for `partner_commission` (Commission on a partner's customer payment)\n"
    "      why: `each payment within 365 days` at event pay20\n"
    "      cut by a cap from 6000.00 USD to 5000.00 USD (1000.00 USD withheld) under `cap referrer 5000 USD per quarter`\n"
    "    2026-02-02T00:00:00Z not issued: cash 1.50 USD to beta (referrer) for `partner_commission` (Commission on a partner's customer payment): cap of 5000 USD per quarter reached\n"
    '    not eligible: program `customers` (Customer referrals): `referral.source == "customer"` is false (source = "partner")\n'
    "    next: `partner_commission` (Commission on a partner's customer payment): each `payment` until 2027-01-03T00:00:00Z\n"
)


SAAS_FEBRUARY = (
    "saas_milestones as of 2026-02-15T00:00:00Z\n"
    "\n"
    "alice: 1 referral\n"
    "  bob, referred 2026-01-05T09:00:00Z (event r1)\n"
    "    2026-02-10T08:00:00Z earned: cash 1000.00 USD to alice (referrer) for `arr_5k` (ARR reached $5,000)\n"
    "      why: `when arr >= 5000 USD` at event s2 (arr = 5400.00)\n"
    "    next: `mrr_1k` (MRR reached $1,000): monthly recurring revenue is 450.00 USD of 1000 USD, 550.00 USD to go\n"
    "    next: `arr_10k` (ARR reached $10,000): annual recurring revenue is 5400.00 USD of 10000 USD, 4600.00 USD to go\n"
)


DUPLICATES_OF_DAN = (
    "referral_milestones as of 2026-01-13T00:00:00Z\n"
    "\n"
    "carol: 1 referral (converted referrals: 1)\n"
    "  2026-01-11T00:00:00Z reached: `first_referral` (First converted referral), with dan's event p2\n"
    "  next: `five_referrals` (Five converted referrals): 4 more converted referrals (1 of 5)\n"
    "  next: `ten_referrals` (Ten converted referrals): 9 more converted referrals (1 of 10)\n"
    "  dan, referred 2026-01-03T00:00:00Z (event r3)\n"
    "    2026-01-11T00:00:00Z earned: discount 10 percent to dan (referee) for `welcome_discount` (Welcome discount for both sides)\n"
    "      why: `first payment where payment.amount > 0` at event p2 (payment.amount = 25.00)\n"
    "    2026-01-11T00:00:00Z earned: discount 10 percent to carol (referrer) for `welcome_discount` (Welcome discount for both sides)\n"
    "      why: `first payment where payment.amount > 0` at event p2 (payment.amount = 25.00)\n"
    "    2026-01-11T00:00:00Z earned: gift card 50.00 USD to carol (referrer) for `first_referral` (First converted referral)\n"
    "      why: `when conversions >= 1` at event p2 (conversions = 1)\n"
    "    2026-01-11T00:00:00Z earned: gift card 50.00 USD to dan (referee) for `first_referral` (First converted referral)\n"
    "      why: `when conversions >= 1` at event p2 (conversions = 1)\n"
    "  2026-01-05T00:00:00Z not counted: referral of dan (event r5): duplicate referral: `dan` was already referred by `carol` (event `r3`)\n"
    "\n"
    "erin: 0 referrals\n"
    "  2026-01-04T00:00:00Z not counted: referral of dan (event r4): duplicate referral: `dan` was already referred by `carol` (event `r3`)\n"
)


@pytest.mark.parametrize(
    ("args", "filters", "expected"),
    [
        (("referral_milestones", "basic"), {}, REFERRAL_MILESTONES_BASIC),
        (("microsoft_referral", "countries"), {}, MICROSOFT_COUNTRIES),
        (("microsoft_referral", "window_boundary"), {"referee": "carol"}, MICROSOFT_WINDOW_CAROL),
        (("partner_and_customer", "hold_pending_asof", "2026-05-01T00:00:00Z"), {}, HOLD_PENDING),
        (("partner_and_customer", "commission_cap"), {"referrer": "beta"}, COMMISSION_CAP_BETA),
        (("saas_milestones", "basic", "2026-02-15T00:00:00Z"), {}, SAAS_FEBRUARY),
        (("referral_milestones", "duplicate_and_self"), {"referee": "dan"}, DUPLICATES_OF_DAN),
    ],
    ids=["tiers", "ineligible-country", "window-closed", "pending-and-void", "cap", "money-threshold", "duplicates"],
)
def test_explain_golden(args: tuple[str, ...], filters: dict[str, str], expected: str) -> None:
    assert told(*args, **filters) == expected


def test_one_more_is_singular() -> None:
    lines = [
        *(
            f'{{"id":"r{i}","at":"2026-01-0{i}T00:00:00Z","type":"referral","referrer":"alice","referee":"c{i}"}}'
            for i in range(1, 5)
        ),
        *(
            f'{{"id":"p{i}","at":"2026-02-0{i}T00:00:00Z","type":"payment","referee":"c{i}","amount":5}}'
            for i in range(1, 5)
        ),
    ]
    text = explain_ledger(rewardrules.load(RULESETS / "referral_milestones.rules"), lines, referrer="alice")
    assert "  next: `five_referrals` (Five converted referrals): 1 more converted referral (4 of 5)\n" in text


def test_filters_by_referrer_and_referee_combine() -> None:
    text = told("partner_and_customer", "commission_cap", referrer="acme", referee="corp2")
    assert "corp2, referred" in text and "corp1" not in text and "beta" not in text
    assert told("partner_and_customer", "commission_cap", referrer="beta", referee="corp2").endswith("\nno referrals\n")


def test_without_the_program_it_tells_what_the_record_says() -> None:
    program = rewardrules.load(RULESETS / "partner_and_customer.rules")
    lines = (GOLDEN / "partner_and_customer" / "hold_pending_asof.jsonl").read_bytes().splitlines()
    data = program.score(lines, as_of="2026-05-01T00:00:00Z").data
    text = explain(data, referee="c2")
    assert text == (
        "partner_and_customer as of 2026-05-01T00:00:00Z\n"
        "\n"
        "alice: 6 referrals\n"
        "  c2, referred 2026-03-01T00:00:00Z (event ra2)\n"
        "    2026-04-01T00:00:01Z pending: cash 100.00 USD to alice (referrer) for `customer_conversion`\n"
        "      why: at event pc2 (payment.amount = 10.00)\n"
        "      held: it is confirmed when the hold is over\n"
        '    not eligible: program `partners`: `referral.source == "partner"` is false (source = "customer")\n'
    )
    assert "voided:" in explain(data, referee="c3") and "voided by" not in explain(data, referee="c3")


def test_reversals_are_told_when_the_result_has_them() -> None:
    program = rewardrules.load(RULESETS / "partner_and_customer.rules")
    lines = (GOLDEN / "partner_and_customer" / "hold_pending_asof.jsonl").read_bytes().splitlines()
    data = dict(program.score(lines, as_of="2026-05-01T00:00:00Z").data)
    award = next(a for a in data["awards"] if a["referee"] == "c1")
    data["reversals"] = [
        {
            **{
                k: award[k]
                for k in ("milestone", "role", "beneficiary", "referrer", "referee", "kind", "amount", "unit", "item")
            },
            "id": "rv_1",
            "reverses": award["id"],
            "at": "2026-06-01T00:00:00Z",
            "why": {"event": "rf9"},
        }
    ]
    text = explain(data, referee="c1", program=program)
    assert "      taken back at 2026-06-01T00:00:00Z by event rf9: cash 100.00 USD comes back\n" in text


def test_structured_form() -> None:
    program = rewardrules.load(RULESETS / "saas_milestones.rules")
    traced = score_traced(
        program, (GOLDEN / "saas_milestones" / "basic.jsonl").read_bytes().splitlines(), "2026-02-15T00:00:00Z"
    )
    result = explanation(traced.data, program=program).to_dict()
    assert result["ruleset"] == "saas_milestones"
    referral = result["referrers"][0]["referrals"][0]
    assert [n["kind"] for n in referral["notes"]] == ["earned", "next", "next"]
    assert referral["notes"][0]["award"] == traced.data["awards"][0]["id"]
    assert referral["notes"][1]["milestone"] == "mrr_1k"


def test_result_without_explanations_is_refused() -> None:
    program = rewardrules.load(RULESETS / "prezi.rules")
    data = program.score([], explain=False).data
    with pytest.raises(ValueError, match="score with explain=True"):
        explain(data)


# ---------------------------------------------------------------------------
# the command


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    rules, ledger = RULESETS / "referral_milestones.rules", GOLDEN / "referral_milestones" / "basic.jsonl"
    code, out, err = run_cli(capsys, "explain", rules, ledger)
    assert (code, out, err) == (0, REFERRAL_MILESTONES_BASIC, "")
    code, out, _ = run_cli(capsys, "explain", rules, ledger, "--format", "json", "--referee", "dan")
    assert code == 0
    payload = json.loads(out)
    assert payload["referrers"][0]["referrals"][0]["notes"][0]["kind"] == "next"


def test_cli_as_of(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys,
        "explain",
        RULESETS / "saas_milestones.rules",
        GOLDEN / "saas_milestones" / "basic.jsonl",
        "--as-of",
        "2026-02-15T00:00:00Z",
    )
    assert (code, out) == (0, SAAS_FEBRUARY)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["--referrer", "alcie"],
            "no referral with referrer `alcie` as of 2026-01-07T10:00:00Z\n     = help: did you mean `alice`?",
        ),
        (["--referee", "alice"], "no referral with referee `alice`"),
        (["--as-of", "2026-01-07"], "--as-of: "),
    ],
)
def test_cli_bad_invocation_is_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], expected: str) -> None:
    rules, ledger = RULESETS / "referral_milestones.rules", GOLDEN / "referral_milestones" / "basic.jsonl"
    code, out, err = run_cli(capsys, "explain", rules, ledger, *argv)
    assert code == 2 and out == ""
    assert expected in err


def test_cli_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "r1", "at": "2026-01-01T00:00:00", "type": "referral", "referrer": "a", "referee": "b"}\n')
    code, _, err = run_cli(capsys, "explain", RULESETS / "prezi.rules", bad)
    assert code == 2
    assert "nothing was explained" in err and "Traceback" not in err
    code, _, err = run_cli(capsys, "explain", tmp_path / "missing.rules", bad)
    assert code == 2
    broken = tmp_path / "broken.rules"
    broken.write_text("milestone x { first payment reward referrer cash 1 USD }\n")
    code, _, err = run_cli(capsys, "explain", broken, bad)
    assert code == 1
    assert "error[RR101]" in err


def test_a_closed_window_is_a_field_of_the_result_and_explain_reads_the_field() -> None:
    """Whether a window closed is in the record (`closed: true`), so explain
    never decides it from the wording of the progress text."""
    program = rewardrules.load(RULESETS / "microsoft_referral.rules")
    ledger = [
        {
            "id": "r1",
            "at": "2026-03-01T10:00:00Z",
            "type": "referral",
            "referrer": "ann",
            "referee": "bo",
            "country": "US",
        }
    ]
    open_ = program.score(ledger, as_of="2026-03-02T00:00:00Z").data
    closed = program.score(ledger, as_of="2026-04-15T00:00:00Z").data

    def purchase(data: dict) -> dict:
        [entry] = [
            m for m in data["referrals"][0]["programs"][0]["milestones"] if m["milestone"] == "qualifying_purchase"
        ]
        return entry

    assert "closed" not in purchase(open_)
    assert purchase(closed)["closed"] is True
    # the same progress text without the field is told as what comes next
    del purchase(closed)["closed"]
    assert "next: `qualifying_purchase`" in explain(closed)
