"""DuckDB's overflow said the same on every run (`sql.run._said`).

DuckDB quotes the operands it overflowed on (`Overflow in multiplication
of DECIMAL(38) (A * B)`). With more than one thread, which row stops the
query first differs from run to run, and the error's text did too: the
same rules and ledger gave two different messages in four runs. The
operands (and DuckDB's advice to add a cast) are left out."""

from __future__ import annotations

from pathlib import Path

import pytest

from rewardrules.cli import main as cli
from rewardrules.sql.run import TooWide, _said, _without_operands

RULES = """ruleset big "Big"
event subscription { mrr: money USD  n: number }
metric mrr = latest subscription.mrr
metric big = mrr * 100000000000000000000000000000
milestone a { when big >= 1000 USD  reward referrer cash 1 USD }
"""


@pytest.mark.parametrize(
    ("said", "left"),
    [
        (
            "Out of Range Error: Overflow in multiplication of DECIMAL(38) (99 * 12000000). You might want to add an "
            "explicit cast to a decimal with a smaller scale.",
            "Out of Range Error: Overflow in multiplication of DECIMAL(38)",
        ),
        (
            "Out of Range Error: Overflow in addition of INT64 (9223372036854775807 + 1)!",
            "Out of Range Error: Overflow in addition of INT64",
        ),
        (
            "Out of Range Error: Overflow in subtraction of INT64 (-9223372036854775808 - 1)!",
            "Out of Range Error: Overflow in subtraction of INT64",
        ),
        (
            "Out of Range Error: Overflow in addition of DECIMAL(38) (9 + 9);",
            "Out of Range Error: Overflow in addition of DECIMAL(38)",
        ),
        (
            "Out of Range Error: Overflow in HUGEINT multiplication: 999 * 3",
            "Out of Range Error: Overflow in HUGEINT multiplication",
        ),
        ("Out of Range Error: Cannot take logarithm of zero", "Out of Range Error: Cannot take logarithm of zero"),
        (
            "Conversion Error: Could not cast value 1000000000 to DECIMAL(38,29)",
            "Conversion Error: Could not cast a value to DECIMAL(38,29)",
        ),
    ],
)
def test_the_operands_are_left_out(said: str, left: str) -> None:
    assert _without_operands(said) == left


def test_duckdb_s_own_overflow_is_said_without_its_operands() -> None:
    import duckdb

    with pytest.raises(TooWide) as said, _said():
        duckdb.sql(
            "SELECT CAST('99999999999999999999999999999' AS DECIMAL(38,0)) * CAST('99999999999999999999' AS DECIMAL(38,0))"
        ).fetchall()
    assert str(said.value) == (
        "DuckDB could not compute a value exactly: Out of Range Error: Overflow in multiplication of DECIMAL(38)"
    )


def test_a_ledger_of_many_overflows_is_said_the_same_each_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "big.rules"
    rules.write_text(RULES)
    lines = [
        f'{{"id": "r{n}", "at": "2026-01-01T00:00:00Z", "type": "referral", "referrer": "p", "referee": "c{n}"}}'
        for n in range(200)
    ]
    lines += [
        f'{{"id": "s{n}", "at": "2026-01-02T00:00:00Z", "type": "subscription", "referee": "c{n}", "mrr": "{n + 1}999999999.99", "n": "1"}}'
        for n in range(200)
    ]
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text("\n".join(lines) + "\n")
    said = []
    for _ in range(3):
        assert cli(["score", str(rules), str(ledger), "--engine", "duckdb", "--threads", "2", "--format", "json"]) == 2
        said.append(capsys.readouterr().err)
    assert said == [said[0]] * 3
    assert said[0].strip().endswith("Overflow in multiplication of DECIMAL(38)")


def test_failed_casts_are_said_without_their_value_and_a_long_text_is_bounded() -> None:
    assert _without_operands(
        'Conversion Error: Casting value "1000000" to type DECIMAL(38,10) failed: value is out of range!'
    ) == ("Conversion Error: Casting a value to type DECIMAL(38,10) failed: value is out of range!")
    assert (
        _without_operands(
            "Conversion Error: Type INT128 with value 99999999999999999999 can't be cast because the value is out of range"
        )
        == "Conversion Error: Type INT128 can't be cast because the value is out of range"
    )
    assert _without_operands("Invalid Input Error: a file (line 3)") == "Invalid Input Error: a file (line 3)"
    # another error that holds the same words (a file's name, a column's) is
    # left whole: each pattern holds to the start of DuckDB's own text
    for other in (
        'IO Error: Cannot open file "/data/Overflow in Q1 (final).jsonl": Permission denied',
        "Invalid Input Error: No magic bytes found at end of file '/tmp/Overflow in march (copy).parquet'",
        'Binder Error: column "Casting value "x"" with value 3 (not found)',
    ):
        assert _without_operands(other) == other
    long = "Out of Range Error: Overflow in x" + " y" * 100_000
    assert len(_without_operands(long)) == 2003


@pytest.mark.parametrize(
    ("said", "left"),
    [
        (
            "java.util.concurrent.ExecutionException: org.apache.spark.SparkArithmeticException: "
            "[NUMERIC_VALUE_OUT_OF_RANGE.WITH_SUGGESTION]  1000000000000000000000 cannot be represented as "
            'Decimal(38, 0). If necessary set "spark.sql.ansi.enabled" to "false" to bypass this error, and return '
            "NULL instead. SQLSTATE: 22003",
            "[NUMERIC_VALUE_OUT_OF_RANGE] a value cannot be represented as Decimal(38, 0).",
        ),
        (
            "org.apache.spark.SparkArithmeticException: [ARITHMETIC_OVERFLOW] Overflow in integral divide. Use "
            "'try_divide' to tolerate overflow and return NULL instead. SQLSTATE: 22003",
            "[ARITHMETIC_OVERFLOW] Overflow in integral divide.",
        ),
        (  # Spark 4.0's template of a rounding that does not fit
            "[NUMERIC_VALUE_OUT_OF_RANGE.WITHOUT_SUGGESTION] The 100000000000000000000000000000000000000 rounded half "
            "up from 1.0000000000000000000000000000000000000E+38 cannot be represented as Decimal(38, 0). SQLSTATE: 22003",
            "[NUMERIC_VALUE_OUT_OF_RANGE] a value cannot be represented as Decimal(38, 0).",
        ),
    ],
)
def test_spark_s_overflow_is_said_without_its_value_or_advice(said: str, left: str) -> None:
    from rewardrules.sql.spark import _overflow_text

    assert _overflow_text(said) == left


def test_the_loggers_silenced_are_restored_when_the_last_session_closes(monkeypatch: pytest.MonkeyPatch) -> None:
    # two sessions open in turn and closed in the same order: loud again only
    # once neither is open, at the level the app gave them before (the
    # sessions other tests of this process keep open are not counted here)
    import logging

    from pyspark.logger import PySparkLogger

    from rewardrules.sql import spark as spark_module

    monkeypatch.setattr(spark_module, "_OPEN", [])
    monkeypatch.setattr(spark_module, "_LEVELS", [])
    logger = PySparkLogger.getLogger("SQLQueryContextLogger")
    before = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        one, two = object.__new__(spark_module.Spark), object.__new__(spark_module.Spark)
        spark_module._quiet_query_context(one)
        spark_module._quiet_query_context(two)
        assert logger.level == logging.CRITICAL
        spark_module._loud_again(one)
        assert logger.level == logging.CRITICAL  # `two` is still open
        spark_module._loud_again(one)  # closed twice: nothing more
        spark_module._loud_again(two)
        assert logger.level == logging.DEBUG
    finally:
        logger.setLevel(before)


def test_many_decimals_beside_many_whole_digits_say_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A `qty` of 29 decimals compared with 1000000000: DuckDB has no
    common DECIMAL of 38 digits for both and stops (a Conversion Error);
    the error says why and that the Python engine scores the ledger, which
    it does."""
    rules = tmp_path / "d.rules"
    rules.write_text(
        "ruleset d\nevent purchase { qty: number }\n"
        "milestone big {\n  each purchase where purchase.qty < 1000000000\n  reward referrer cash 1 USD\n}\n",
        encoding="utf-8",
    )
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(
        '{"id": "r1", "type": "referral", "at": "2026-01-01T00:00:00Z", "referrer": "ann", "referee": "bob"}\n'
        '{"id": "p1", "type": "purchase", "at": "2026-01-02T00:00:00Z", "referee": "bob", '
        '"qty": "1.00000000000000000000000000001"}\n',
        encoding="utf-8",
    )
    assert cli(["score", "--engine", "duckdb", "--format", "json", str(rules), str(ledger)]) == 2
    err = capsys.readouterr().err
    assert "DECIMAL(38,29) failed" in err and "a value with 29 decimals met one of more than 9 whole digits" in err
    assert "`--engine python` scores it" in err
    assert cli(["score", "--format", "json", str(rules), str(ledger)]) == 0
    assert '"milestone": "big"' in capsys.readouterr().out


@pytest.mark.parametrize(
    "said",
    [
        'DuckDB could not run the query: Conversion Error: Could not convert string "abc" to DECIMAL(38,2)',
        "DuckDB could not run the query: Conversion Error: Casting a value to type DECIMAL(38,0) failed",
    ],
)
def test_other_conversion_errors_get_no_hint(said: str) -> None:
    from rewardrules.sql.run import _with_hint

    assert _with_hint(said) == said
