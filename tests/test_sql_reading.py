"""`score --engine duckdb` reads a ledger file with DuckDB itself
(`sql/read.py`): the same result, byte for byte, as the Python engine on
every golden ledger of the programs that compile; and on a malformed
ledger the same problems (line, field, message) and exit code, since a
ledger outside the strict form is left to the Python reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rewardrules
from rewardrules.cli import main
from rewardrules.cli.sql import direct_result
from rewardrules.score.api import parse_as_of
from rewardrules.sql.compile import compile_query

from .test_sql_backend import GOLDEN, SUPPORTED, golden_cases, python_json

ROOT = Path(__file__).resolve().parents[1]
SAAS = str(ROOT / "rulesets" / "saas_milestones.rules")


def direct_json(prog: rewardrules.Program, path: Path, as_of: str | None) -> str | None:
    data = direct_result(prog, compile_query(prog.compiled), str(path), parse_as_of(as_of))
    return None if data is None else json.dumps(data, ensure_ascii=False, indent=2) + "\n"


@pytest.mark.parametrize(("name", "ledger"), golden_cases(), ids=lambda v: getattr(v, "stem", v))
def test_golden_ledgers_read_by_duckdb_give_the_same_bytes(name: str, ledger: Path) -> None:
    expected = json.loads(ledger.with_suffix("").with_suffix(".expected.json").read_text())
    prog = rewardrules.load(ROOT / "rulesets" / f"{name}.rules")
    got = direct_json(prog, ledger, expected["as_of"])
    lines = ledger.read_text(encoding="utf-8").splitlines()
    if got is not None:
        assert got == python_json(prog, lines, expected["as_of"])


def test_most_golden_ledgers_are_read_by_duckdb() -> None:
    """The strict form is the common case: the golden ledgers of the
    compiled programs are read by DuckDB (a test above that only compared
    the results of ledgers left to the Python reader would prove little)."""
    direct = [
        ledger
        for name in SUPPORTED
        for ledger in sorted((GOLDEN / name).glob("*.jsonl"))
        if direct_json(rewardrules.load(ROOT / "rulesets" / f"{name}.rules"), ledger, None) is not None
    ]
    assert len(direct) >= len(golden_cases()) * 3 // 4


BASE = [
    '{"id":"r1","at":"2026-01-05T09:00:00Z","type":"referral","referrer":"alice","referee":"bob"}',
    '{"id":"s1","at":"2026-01-10T09:00:00Z","type":"subscription","referee":"bob","mrr":300}',
    '{"id":"s2","at":"2026-02-10T09:00:00+01:00","type":"subscription","referee":"bob","mrr":"450.00"}',
    '{"id":"s3","at":"2026-03-10T09:00:00.5-05:00","type":"subscription","referee":"bob","mrr":900.50}',
    '{"id":"x1","at":"2026-03-11T09:00:00Z","type":"unknown_kind","anything":"[1]"}',
]


def _sub(mrr: str, at: str = "2026-04-10T09:00:00Z", id_: str = "s4") -> str:
    return f'{{"id":"{id_}","at":"{at}","type":"subscription","referee":"bob","mrr":{mrr}}}'


#: (name, the ledger's bytes): each one the Python reader refuses
REFUSED = {
    "bad_json": "\n".join([*BASE, '{"id":"s4",']).encode(),
    "missing_field": "\n".join(
        [*BASE, '{"id":"s4","at":"2026-04-10T09:00:00Z","type":"subscription","referee":"bob"}']
    ).encode(),
    "misspelled_field": "\n".join(
        [*BASE, '{"id":"s4","at":"2026-04-10T09:00:00Z","type":"subscription","referee":"bob","mrrr":1}']
    ).encode(),
    "wrong_type": "\n".join([*BASE, _sub('"abc"')]).encode(),
    "boolean_number": "\n".join([*BASE, _sub("true")]).encode(),
    "out_of_range": "\n".join([*BASE, _sub("1" * 31)]).encode(),
    "out_of_range_text": "\n".join([*BASE, _sub('"0' + "1" * 30 + '"')]).encode(),
    "exponent_out_of_range": "\n".join([*BASE, _sub("1E+31")]).encode(),
    "conflicting_duplicate": "\n".join([*BASE, _sub("1", id_="s1")]).encode(),
    "no_offset": "\n".join([*BASE, _sub("1", at="2026-04-10T09:00:00")]).encode(),
    "not_a_date": "\n".join([*BASE, _sub("1", at="2026-02-29T09:00:00Z")]).encode(),
    "leap_second": "\n".join([*BASE, _sub("1", at="2026-02-28T23:59:60Z")]).encode(),
    "offset_too_far": "\n".join([*BASE, _sub("1", at="2026-02-28T23:59:00+24:00")]).encode(),
    "empty_id": "\n".join(
        [*BASE, '{"id":"","at":"2026-04-10T09:00:00Z","type":"subscription","referee":"bob","mrr":1}']
    ).encode(),
    "no_referee": "\n".join([*BASE, '{"id":"s4","at":"2026-04-10T09:00:00Z","type":"subscription","mrr":1}']).encode(),
    "referral_without_referrer": "\n".join(
        [*BASE, '{"id":"r2","at":"2026-04-10T09:00:00Z","type":"referral","referee":"eve"}']
    ).encode(),
    "unknown_type_bad_at": "\n".join([*BASE, '{"id":"x2","at":"yesterday","type":"other"}']).encode(),
    "unknown_type_empty_referee": "\n".join(
        [*BASE, '{"id":"x2","at":"2026-04-10T09:00:00Z","type":"other","referee":""}']
    ).encode(),
    "not_an_object": "\n".join([*BASE, "[1, 2]"]).encode(),
    "surrogate": "\n".join(
        [*BASE, '{"id":"s4","at":"2026-04-10T09:00:00Z","type":"subscription","referee":"\\ud800","mrr":1}']
    ).encode(),
    "not_utf8": "\n".join(BASE).encode() + b'\n{"id":"s4\xff"}\n',
    "bom_on_line_two": "\n".join(BASE).encode().replace(b"\n", b"\n\xef\xbb\xbf", 1),
    "huge_line": "\n".join([*BASE, _sub("1").replace('"bob"', '"' + "b" * 1_000_001 + '"')]).encode(),
    "nested_too_deep": "\n".join(
        [*BASE, '{"id":"x2","at":"2026-04-10T09:00:00Z","type":"other","a":' + "[" * 40 + "]" * 40 + "}"]
    ).encode(),
    "other_currency": "\n".join([*BASE, _sub("1000")[:-1] + ',"currency":"JPY"}']).encode(),
    "currency_not_text": "\n".join([*BASE, _sub("1000")[:-1] + ',"currency":5}']).encode(),
    "carriage_return_inside": "\n".join([*BASE, _sub("1") + "\r" + _sub("2", id_="s5")]).encode(),
}

#: (name, the ledger's bytes): each one the Python reader accepts, some in
#: the strict form and some not (then read by the Python reader)
ACCEPTED = {
    "plain": "\n".join(BASE).encode(),
    "blank_lines": "\n\n".join(BASE).encode() + b"\n\n  \n",
    "bom": b"\xef\xbb\xbf" + "\n".join(BASE).encode(),
    "exact_duplicates": "\n".join([*BASE, BASE[1], BASE[0]]).encode(),
    "crlf": "\r\n".join(BASE).encode(),
    "lowercase_t_and_space": "\n".join([*BASE, _sub("1", at="2026-04-10t09:00:00z")]).encode(),
    "minus_zero_offset": "\n".join([*BASE, _sub("1000", at="2026-04-10T09:00:00-00:00")]).encode(),
    "escapes_and_unicode": "\n".join(
        [
            *BASE,
            _sub("1000").replace('"bob"', '"b\\u006fb"'),
            '{"id":"r9","at":"2026-01-05T09:00:00Z","type":"referral","referrer":"zoë","referee":"ana"}',
        ]
    ).encode(),
    "key_twice": "\n".join([*BASE, _sub("1000").replace('"mrr"', '"mrr":5,"mrr"')]).encode(),
    "spaces": "\n".join([*BASE, _sub("1000").replace(",", " , ").replace(":", " : ", 1)]).encode(),
    "leading_zeros_text": "\n".join([*BASE, _sub('"0001000.00"')]).encode(),
    "thirty_digits": "\n".join([*BASE, _sub("1" * 24 + ".123456")]).encode(),
    "duplicate_in_other_key_order": "\n".join(
        [*BASE, '{"referee":"bob","id":"s1","at":"2026-01-10T09:00:00Z","type":"subscription","mrr":300}']
    ).encode(),
    "declared_currency": "\n".join([*BASE, _sub("1000")[:-1] + ',"currency":"USD"}']).encode(),
    "declared_currency_lowercase": "\n".join([*BASE, _sub("1000")[:-1] + ',"currency":"usd"}']).encode(),
    "null_optional": "\n".join(
        [*BASE, _sub("1000").replace('"referee":"bob"', '"referee":"bob","referrer":null')]
    ).encode(),
}


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["score", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_refused_ledger_gives_the_python_error(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_bytes(REFUSED[case])
    python = _run(capsys, "--no-explain", "--format", "json", SAAS, str(ledger))
    duckdb = _run(capsys, "--engine", "duckdb", "--no-explain", "--format", "json", SAAS, str(ledger))
    assert python[0] == 2 and "error" in python[2]
    assert duckdb == python
    assert direct_json(rewardrules.load(SAAS), ledger, None) is None  # never read by DuckDB


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_an_accepted_ledger_gives_the_python_result(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_bytes(ACCEPTED[case])
    python = _run(capsys, "--no-explain", "--format", "json", SAAS, str(ledger))
    duckdb = _run(capsys, "--engine", "duckdb", "--no-explain", "--format", "json", SAAS, str(ledger))
    assert python[0] == 0
    assert duckdb == python
    prog = rewardrules.load(SAAS)
    direct = direct_json(prog, ledger, None)
    assert direct is None or direct == python[1]


@pytest.mark.parametrize(
    "case", ["plain", "blank_lines", "bom", "exact_duplicates", "minus_zero_offset", "spaces", "thirty_digits"]
)
def test_the_strict_form_is_read_by_duckdb(case: str, tmp_path: Path) -> None:
    """These are read by DuckDB itself, not left to the Python reader."""
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_bytes(ACCEPTED[case])
    assert direct_json(rewardrules.load(SAAS), ledger, None) is not None


def test_duckdb_reads_only_the_ledger_file(tmp_path: Path) -> None:
    """While it reads, DuckDB may open the ledger file asked for and no
    other: a query that names another file fails."""
    import duckdb

    from rewardrules.sql.run import connect

    ledger = tmp_path / "ledger.jsonl"
    ledger.write_bytes(ACCEPTED["plain"])
    other = tmp_path / "other.jsonl"
    other.write_bytes(ACCEPTED["plain"])
    connection = connect(str(tmp_path / "work"))
    from rewardrules.sql.run import _limit_access

    _limit_access(connection, str(ledger))
    assert connection.execute(f"SELECT count(*) FROM read_text('{ledger}')").fetchone() == (1,)
    with pytest.raises(duckdb.Error):
        connection.execute(f"SELECT count(*) FROM read_text('{other}')").fetchone()
    with pytest.raises(duckdb.Error):
        connection.execute("SET enable_external_access = true")
