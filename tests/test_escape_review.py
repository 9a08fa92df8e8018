"""Values from outside in messages (docs/errors.md, docs/stripe.md): every
id, path and payload value quoted in an error or a summary is escaped
(`formatting.printable`) and cut to its start and end
(`formatting.quoted`), so that no ledger, payload or file name forges a
line, drives a terminal or prints a megabyte; `printable` escapes by
Unicode category; a same-second disagreement about a referral is an error."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rewardrules
from rewardrules.cli import main
from rewardrules.cli.common import describe_os_error
from rewardrules.diagnostics import QUOTE_WIDTH
from rewardrules.formatting import printable, printable_patch_line, quoted
from rewardrules.sources import Payload
from rewardrules.sources.stripe import StripeError, ingest

from .conftest import RULESETS
from .test_followups_trust import PERMUTATIONS, files, outcome
from .test_stripe import charge, customer, event, session, ts

EVIL = "\u001b[31mEVIL\r\nmain.rules:1: error: forged\u2028"
#: longer than any line a message should print
HUGE = "x" * 450_000 + "\u001b" + "y" * 449_999
RULES = RULESETS / "partner_and_customer.rules"


def unsafe(text: str) -> list[str]:
    """The characters of ``text`` that no text output may hold raw (a
    line's own break aside)."""
    return [c for c in text if c != "\n" and unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp", "Cs"}]


def payment(id: str, day: int, amount: str = "50.00", **extra: Any) -> str:
    fields = {"id": id, "at": f"2026-01-{day:02d}T00:00:00Z", "type": "payment", "referee": "bob", "amount": amount}
    return json.dumps({**fields, **extra})


REFERRAL = json.dumps(
    {
        "id": "r1",
        "at": "2026-01-01T00:00:00Z",
        "type": "referral",
        "referrer": "alice",
        "referee": "bob",
        "source": "customer",
    }
)


# ---------------------------------------------------------------------------
# printable: by Unicode category


@pytest.mark.parametrize("char", ["\u061c", "\ufeff", "\u200b", "\u2060", "\u00ad", "\U000e0001", "\ud800", "\x85"])
def test_printable_escapes_every_format_control_and_separator_character(char: str) -> None:
    shown = printable(f"a{char}b")
    assert not unsafe(shown)
    assert (
        shown
        == f"a\\{'x' if ord(char) < 0x100 else 'u' if ord(char) < 0x10000 else 'U'}{ord(char):0{2 if ord(char) < 0x100 else 4 if ord(char) < 0x10000 else 8}x}b"
    )


def test_printable_keeps_visible_text_and_escapes_a_tab_as_before() -> None:
    text = "Zoë 日本 \u00a0 \ue000 \u0301e 👍"  # letters, a no-break space, private use, a combining mark
    assert printable(text) == text
    assert printable("a\tb") == "a\\tb"
    assert printable_patch_line("a\tb\ufeff\n") == "a\tb\\ufeff\n"


@given(st.text())
def test_printable_output_never_holds_an_unsafe_character(text: str) -> None:
    assert not unsafe(printable(text))


def test_quoted_cuts_a_long_value_to_its_start_and_end() -> None:
    shown = quoted(HUGE)
    assert shown.startswith("`xxxx") and shown.endswith("yyyy`") and "..." in shown
    assert len(shown) <= QUOTE_WIDTH + 2
    assert quoted(EVIL) == "`\\x1b[31mEVIL\\r\\nmain.rules:1: error: forged\\u2028`"


# ---------------------------------------------------------------------------
# Ledger errors: ids and paths


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("id", [EVIL, HUGE])
def test_a_reused_id_is_quoted_escaped_and_cut(id: str, stream: bool) -> None:
    program = rewardrules.load(RULES)
    score = program.score_stream if stream else program.score
    with pytest.raises(rewardrules.LedgerError) as caught:
        score([REFERRAL, payment(id, 2), payment(id, 3, "60.00")])
    text = str(caught.value)
    assert not unsafe(text)
    assert len(text) < 400
    assert text.startswith("<ledger>:3: error: field `id`: id `")
    assert text.split("\n")[0].endswith("` is already used on line 2 with different content")


def test_an_event_out_of_order_in_a_stream_is_scored_in_order() -> None:
    """Changed on purpose (issue 19): a stream puts its lines in order
    itself, so an event out of order is no problem to quote any more."""
    program = rewardrules.load(RULES)
    lines = [REFERRAL, payment("b", 3), payment(HUGE + EVIL, 2)]
    assert program.score_stream(lines).to_json() == program.score(lines).to_json()


def test_a_session_quotes_the_id_it_refuses() -> None:
    session = rewardrules.load(RULES).session()
    session.add(json.loads(REFERRAL))
    session.add(json.loads(payment(EVIL, 2)))
    with pytest.raises(rewardrules.LedgerError) as caught:
        session.add(json.loads(payment(EVIL, 2, "70.00")))
    assert caught.value.problems[0].message == (
        "id `\\x1b[31mEVIL\\r\\nmain.rules:1: error: forged\\u2028` was already added with different content"
    )
    with pytest.raises(rewardrules.LedgerError) as caught:
        session.add(json.loads(payment(HUGE, 1)))
    assert len(str(caught.value)) < 400 and not unsafe(str(caught.value))


def test_the_ledger_path_in_every_problem_line_is_printable() -> None:
    program = rewardrules.load(RULES)
    with pytest.raises(rewardrules.LedgerError) as caught:
        program.score([REFERRAL, "{"], path=f"led{EVIL}.jsonl")
    assert str(caught.value).startswith("led\\x1b[31mEVIL\\r\\nmain.rules:1: error: forged\\u2028.jsonl:2: error:")
    assert not unsafe(str(caught.value))


def test_an_os_error_names_the_path_quoted() -> None:
    error = FileNotFoundError(2, "No such file or directory")
    assert describe_os_error(error, f"a{EVIL}") == (
        "cannot read `a\\x1b[31mEVIL\\r\\nmain.rules:1: error: forged\\u2028`: no such file or directory"
    )


def cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("stream", [[], ["--stream"]])
def test_score_prints_a_hostile_ledger_on_lines_of_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stream: list[str]
) -> None:
    ledger = tmp_path / "led.jsonl"
    lines = [REFERRAL, payment(EVIL, 2), payment(EVIL, 3), payment(HUGE, 4), payment(HUGE, 5), payment("z" + EVIL, 6)]
    lines.append(payment("w", 7, currency=EVIL))
    ledger.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = cli(capsys, "score", RULES, ledger, *stream)
    assert code == 2 and out == ""
    assert not unsafe(err)
    assert len(err) < 2000
    assert [line.split(": error: ")[0] for line in err.splitlines() if ": error: " in line] == [
        f"{ledger}:3",
        f"{ledger}:5",
        f"{ledger}:7",
        "rewardrules",
    ]


def test_every_cli_error_line_about_a_path_is_printable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / f"no{EVIL}")
    bad_json = tmp_path / f"bad{EVIL[:6]}.json"  # ESC and `[`: a name a file system takes
    bad_json.write_text("{", encoding="utf-8")
    runs = [
        ("score", RULES, missing),
        ("score", missing, missing),
        ("score", RULES, missing, "--settled", missing),
        ("score", RULES, missing, "--settled", bad_json),
        ("check", missing),
        ("fmt", "--check", missing),
    ]
    for argv in runs:
        code, _, err = cli(capsys, *argv)
        assert code == 2, argv
        assert err and not unsafe(err), argv
        assert err.splitlines()[0].startswith("rewardrules: error: "), argv
        assert "main.rules:1" not in "".join(line[:12] for line in err.splitlines()), argv


def test_check_escapes_a_doubled_bom_in_text_and_github_formats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "bom.rules"
    rules.write_text("\ufeff\ufeff" + RULES.read_text(encoding="utf-8"), encoding="utf-8")
    for fmt in ("text", "github"):
        code, out, err = cli(capsys, "check", "--format", fmt, rules)
        assert code == 1
        assert "\\ufeff" in out and "\ufeff" not in out + err, fmt


def test_a_damaged_snapshot_names_its_place_quoted() -> None:
    program = rewardrules.load(RULES)
    session = program.session()
    session.add(json.loads(REFERRAL))
    data = json.loads(session.snapshot())
    data["seen"] = {"$o": {HUGE + EVIL: 5}}  # an id whose event is not an object
    with pytest.raises(rewardrules.SnapshotError) as caught:
        program.restore(json.dumps(data))
    assert str(caught.value).startswith("damaged session snapshot: `seen.xxx")
    assert len(str(caught.value)) < 300 and not unsafe(str(caught.value))


# ---------------------------------------------------------------------------
# Stripe: payload values in messages and in the summary


def stripe_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], payloads: list[dict[str, Any]]) -> tuple[int, str]:
    folder = tmp_path / "hooks"
    folder.mkdir()
    for i, payload in enumerate(payloads):
        (folder / f"{i}.json").write_text(json.dumps(payload), encoding="utf-8")
    code, _, err = cli(capsys, "ingest", "stripe", folder)
    return code, err


def test_ingest_prints_a_hostile_summary_on_lines_of_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payloads = [
        event("evt_1", "customer.created" + EVIL, customer("cus_1", {}), ts(1)),
        event(
            "evt_2",
            "refund.created",
            {
                "id": "re_1" + EVIL,
                "object": "refund",
                "amount": 100,
                "currency": "usd",
                "charge": "ch_" + HUGE,
                "status": "succeeded",
                "created": ts(2),
            },
            ts(2),
        ),
        event(
            "evt_3",
            "checkout.session.completed",
            session("cs_1" + EVIL, None, ts(3), metadata={"referrer": HUGE}),
            ts(3),
        ),
    ]
    code, err = stripe_cli(tmp_path, capsys, payloads)
    assert code == 0
    assert not unsafe(err)
    assert len(err) < 2000
    assert all(line.startswith("rewardrules: ") for line in err.splitlines())


@pytest.mark.parametrize(
    "payload",
    [
        event("evt_1" + EVIL, "charge.succeeded", charge("ch_1", "cus_1", 500, currency=EVIL), ts(1)),
        event("evt_1", "charge.succeeded", charge("ch_1" + HUGE, "cus_1", 500, currency="x" + HUGE), ts(1)),
        event(HUGE, "charge.succeeded", {**charge("ch_1", "cus_1", 500), "object": EVIL}, ts(1)),
    ],
)
def test_ingest_problems_quote_payload_values_escaped_and_cut(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], payload: dict[str, Any]
) -> None:
    code, err = stripe_cli(tmp_path, capsys, [payload])
    assert code == 2
    assert not unsafe(err)
    assert len(err) < 1000
    assert [line.split(": ")[0] for line in err.splitlines()] == [f"{tmp_path}/hooks/0.json", "rewardrules"]


def test_a_conflict_message_quotes_both_values() -> None:
    payloads = [
        Payload("a.json", event("evt_1", "charge.succeeded", charge("ch_1", "cus_" + HUGE, 500), ts(1))),
        Payload("b.json", event("evt_2", "charge.succeeded", charge("ch_1", "cus_" + EVIL, 500), ts(1))),
    ]
    with pytest.raises(StripeError) as caught:
        ingest(payloads)
    text = str(caught.value)
    assert not unsafe(text) and len(text) < 600
    assert "`cus_\\x1b[31mEVIL\\r\\nmain.rules:1: error: forged\\u2028`" in text


# ---------------------------------------------------------------------------
# Stripe: one referral, two referrers at the same second


def referral_pair(first: dict[str, str], second: dict[str, str], at2: int = ts(1)) -> list[Payload]:
    return [
        Payload("a.json", event("evt_a", "customer.updated", customer("cus_1", first), ts(1))),
        Payload("b.json", event("evt_b", "customer.updated", customer("cus_1", second), at2)),
    ]


@pytest.mark.parametrize(
    "first, second, what",
    [
        ({"referrer": "alice"}, {"referrer": "bob"}, "the referrer `bob`, and a.json names `alice`"),
        ({"referrer": "bob"}, {"referrer": "alice"}, "the referrer `alice`, and a.json names `bob`"),
        (
            {"referrer": "alice", "referral_source": "partner"},
            {"referrer": "alice", "referral_source": "customer"},
            "referral attribute `source` as `customer`, and a.json as `partner`",
        ),
        (
            {"referrer": "alice"},
            {"referrer": "alice", "referral_source": "customer"},
            "referral attribute `source` as `customer`, and a.json as none",
        ),
    ],
)
def test_referrals_of_one_object_that_disagree_at_the_same_second_are_an_error_naming_both(
    first: dict[str, str], second: dict[str, str], what: str
) -> None:
    payloads = referral_pair(first, second)
    for order in (payloads, payloads[::-1]):
        with pytest.raises(StripeError) as caught:
            ingest(order)
        assert [p.render() for p in caught.value.problems] == [
            f"b.json: event evt_b: customer `cus_1` names {what}, at the same second: "
            "which one is current cannot be told; remove the payload that is out of date"
        ]


def test_referrals_that_agree_at_the_same_second_are_one() -> None:
    payloads = referral_pair(
        {"referrer": "alice", "referral_source": "x"}, {"referrer": "alice", "referral_source": "x"}
    )
    result = ingest(payloads)
    assert [(r["referrer"], r["source"]) for r in result.ledger] == [("alice", "x")]
    assert result.report.duplicates == {"same object in several payloads": 1}


def test_a_later_referrer_is_a_warning_not_an_error() -> None:
    result = ingest(referral_pair({"referrer": "bob"}, {"referrer": "alice"}, ts(2)))
    assert [r["referrer"] for r in result.ledger] == ["bob"]
    assert result.report.warnings == [
        "`stripe:cus_1:referral`: the referrer changed from `bob` to `alice`; the first referral stands"
    ]


REFERRAL_CONFLICTS = files(
    [
        event("evt_a", "customer.updated", customer("cus_1", {"referrer": "alice"}), ts(1)),
        event("evt_b", "customer.updated", customer("cus_1", {"referrer": "bob"}), ts(1)),
        event("evt_c", "customer.updated", customer("cus_2", {"referrer": "carol", "referral_source": "s1"}), ts(1)),
        event("evt_d", "customer.updated", customer("cus_2", {"referrer": "carol", "referral_source": "s2"}), ts(1)),
        event("evt_e", "customer.updated", customer("cus_3", {"referrer": "dan"}), ts(1)),
        event("evt_f", "customer.updated", customer("cus_3", {"referrer": "dan"}), ts(1)),
        event("evt_g", "charge.succeeded", charge("ch_1", "cus_1", 500), ts(2)),
    ],
    "referrals",
)


@PERMUTATIONS
@given(data=st.data())
def test_any_order_of_conflicting_referrals_gives_the_same_errors(data: st.DataObject) -> None:
    """The permutation property of tests/test_followups_trust.py, on a set of
    same-second referral conflicts (and an exact agreement)."""
    expected = outcome(REFERRAL_CONFLICTS)
    assert expected.startswith("error:") and expected.count("at the same second") == 2
    assert outcome(data.draw(st.permutations(REFERRAL_CONFLICTS))) == expected
