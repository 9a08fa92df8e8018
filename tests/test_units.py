"""Tests for rewardrules.units: currencies, built-in units, money rounding and formatting."""

from __future__ import annotations

import decimal
import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardrules.datatypes import DURATION, NUMBER, QUANTITY, TIME, Type
from rewardrules.formatting import format_value, formatter
from rewardrules.units import (
    BUILTIN_UNITS,
    CURRENCY_EXPONENTS,
    format_amount,
    is_currency,
    minor_exponent,
    quantize_money,
)

from .conftest import examples

PROPERTY = settings(max_examples=examples(300), derandomize=True, database=None, deadline=None)

# --------------------------------------------------------------------------
# The currency table.

EXPONENTS = [
    # (code, ISO 4217 minor unit)
    ("USD", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("CHF", 2),
    ("CAD", 2),
    ("AUD", 2),
    ("CNY", 2),
    ("INR", 2),
    ("BRL", 2),
    ("MXN", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("CZK", 2),
    ("TWD", 2),
    ("MGA", 2),
    ("JPY", 0),
    ("KRW", 0),
    ("CLP", 0),
    ("VND", 0),
    ("ISK", 0),
    ("PYG", 0),
    ("UGX", 0),
    ("RWF", 0),
    ("BIF", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("KMF", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
    ("UYI", 0),
    ("KWD", 3),
    ("BHD", 3),
    ("JOD", 3),
    ("OMR", 3),
    ("TND", 3),
    ("IQD", 3),
    ("LYD", 3),
    ("CLF", 4),
    ("UYW", 4),
]


@pytest.mark.parametrize(("code", "exponent"), EXPONENTS, ids=[code for code, _ in EXPONENTS])
def test_currency_exponent(code: str, exponent: int) -> None:
    assert CURRENCY_EXPONENTS[code] == exponent
    assert minor_exponent(code) == exponent
    assert is_currency(code)


def test_currency_table_shape() -> None:
    assert len(CURRENCY_EXPONENTS) >= 150
    for code, exponent in CURRENCY_EXPONENTS.items():
        assert re.fullmatch(r"[A-Z]{3}", code), code
        assert exponent in (0, 2, 3, 4), code
    zero = {code for code, exponent in CURRENCY_EXPONENTS.items() if exponent == 0}
    three = {code for code, exponent in CURRENCY_EXPONENTS.items() if exponent == 3}
    assert zero == {
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "ISK",
        "JPY",
        "KMF",
        "KRW",
        "PYG",
        "RWF",
        "UGX",
        "UYI",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    }
    assert three == {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"}


@pytest.mark.parametrize(
    "code",
    ["XAU", "XAG", "XPT", "XPD", "XDR", "XSU", "XUA", "XTS", "XXX", "XBA", "HRK", "VEF", "LTL", "DEM", "BTC"],
    ids=lambda code: code,
)
def test_not_in_currency_table(code: str) -> None:
    """No minor unit (precious metals, funds, test codes), withdrawn, or not ISO."""
    assert code not in CURRENCY_EXPONENTS
    assert not is_currency(code)


# --------------------------------------------------------------------------
# Built-in units and classification.


def test_builtin_units() -> None:
    assert frozenset({"percent", "MB", "GB", "TB", "months", "points", "item"}) == BUILTIN_UNITS
    assert isinstance(BUILTIN_UNITS, frozenset)
    assert not BUILTIN_UNITS & CURRENCY_EXPONENTS.keys()
    for duration in ("days", "day", "hours", "weeks", "seconds"):
        assert duration not in BUILTIN_UNITS


IS_CURRENCY = [
    ("USD", True),
    ("JPY", True),
    ("KWD", True),
    ("usd", False),
    ("Usd", False),
    ("USD ", False),
    ("US", False),
    ("USDX", False),
    ("", False),
    ("points", False),
    ("percent", False),
    ("MB", False),
    ("item", False),
    ("XAU", False),
]


@pytest.mark.parametrize(("unit", "expected"), IS_CURRENCY, ids=[repr(unit) for unit, _ in IS_CURRENCY])
def test_is_currency(unit: str, expected: bool) -> None:
    assert is_currency(unit) is expected


@pytest.mark.parametrize("value", [None, 5, ("USD",)], ids=["none", "int", "tuple"])
def test_is_currency_non_str(value: object) -> None:
    assert is_currency(value) is False  # type: ignore[arg-type]


@pytest.mark.parametrize("unit", ["points", "percent", "usd", "XAU", "", "days"], ids=lambda u: repr(u))
def test_minor_exponent_rejects_non_currency(unit: str) -> None:
    with pytest.raises(KeyError, match=r"is not an iso 4217 currency code"):
        minor_exponent(unit)


# --------------------------------------------------------------------------
# quantize_money.

QUANTIZE = [
    # (id, value, unit, expected text of the Decimal)
    ("usd-exact", "500", "USD", "500.00"),
    ("usd-int-input", 500, "USD", "500.00"),
    ("usd-half-even-down", "0.125", "USD", "0.12"),
    ("usd-half-even-up", "0.135", "USD", "0.14"),
    ("usd-half-to-zero", "0.005", "USD", "0.00"),
    ("usd-half-to-two-cents", "0.015", "USD", "0.02"),
    ("usd-12.345", "12.345", "USD", "12.34"),
    ("usd-12.3451", "12.3451", "USD", "12.35"),
    ("usd-12.355", "12.355", "USD", "12.36"),
    ("usd-negative-half-even", "-0.125", "USD", "-0.12"),
    ("usd-negative-up", "-2.675", "USD", "-2.68"),
    ("usd-tiny-negative-is-zero", "-0.001", "USD", "0.00"),
    ("usd-negative-zero", "-0", "USD", "0.00"),
    ("usd-exponent-form", "1E+3", "USD", "1000.00"),
    ("usd-huge", "123456789012345678901234567890.125", "USD", "123456789012345678901234567890.12"),
    ("usd-more-digits", "0.1000000000000000000000000000000001", "USD", "0.10"),
    ("eur", "19.999", "EUR", "20.00"),
    ("jpy-whole", "500", "JPY", "500"),
    ("jpy-half-even-0.5", "0.5", "JPY", "0"),
    ("jpy-half-even-1.5", "1.5", "JPY", "2"),
    ("jpy-half-even-2.5", "2.5", "JPY", "2"),
    ("jpy-499.5", "499.5", "JPY", "500"),
    ("jpy-decimals-dropped", "500.00", "JPY", "500"),
    ("krw", "1234.49", "KRW", "1234"),
    ("kwd-pads", "1.25", "KWD", "1.250"),
    ("kwd-half-even", "1.2345", "KWD", "1.234"),
    ("kwd-half-even-up", "1.2355", "KWD", "1.236"),
    ("bhd", "0.0005", "BHD", "0.000"),
    ("tnd", "10", "TND", "10.000"),
    ("clf-4-decimals", "1.23456", "CLF", "1.2346"),
    ("huf-2-decimals", "100.555", "HUF", "100.56"),
]


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [(Decimal(v) if isinstance(v, str) else v, u, e) for _, v, u, e in QUANTIZE],
    ids=[q[0] for q in QUANTIZE],
)
def test_quantize_money(value: Decimal, unit: str, expected: str) -> None:
    result = quantize_money(value, unit)
    assert isinstance(result, Decimal)
    assert str(result) == expected
    assert result.as_tuple().exponent == -minor_exponent(unit)
    assert not (result.is_zero() and result.is_signed())


HOSTILE_CONTEXTS = [
    decimal.Context(prec=1, rounding=decimal.ROUND_UP),
    decimal.Context(prec=3, rounding=decimal.ROUND_FLOOR, traps=[decimal.Inexact, decimal.Rounded]),
    decimal.Context(prec=28, rounding=decimal.ROUND_HALF_UP, Emax=3, Emin=-3),
    decimal.Context(prec=50, rounding=decimal.ROUND_DOWN),
]


@pytest.mark.parametrize(
    "context",
    HOSTILE_CONTEXTS,
    ids=["prec-1-round-up", "traps-inexact", "small-emax-half-up", "round-down"],
)
def test_quantize_and_format_ignore_the_global_context(context: decimal.Context) -> None:
    cases = [(Decimal(v), u, e) for _, v, u, e in QUANTIZE if isinstance(v, str)]
    with decimal.localcontext(context):
        for value, unit, expected in cases:
            assert str(quantize_money(value, unit)) == expected
            assert format_amount(value, unit) == expected
        assert format_amount(Decimal("1234567.891"), "points") == "1234567.891"
        assert format_amount(Decimal("1E+30"), "points") == "1" + "0" * 30


@pytest.mark.parametrize(
    ("value", "unit", "error", "pattern"),
    [
        (Decimal("NaN"), "USD", ValueError, r"must be finite"),
        (Decimal("sNaN"), "USD", ValueError, r"must be finite"),
        (Decimal("Infinity"), "USD", ValueError, r"must be finite"),
        (Decimal("-Infinity"), "JPY", ValueError, r"must be finite"),
        (1.5, "USD", TypeError, r"not float"),
        (True, "USD", TypeError, r"not bool"),
        ("1.50", "USD", TypeError, r"not str"),
        (Decimal("1"), "points", KeyError, r"not an iso 4217 currency code"),
        (Decimal("1"), "usd", KeyError, r"not an iso 4217 currency code"),
    ],
    ids=["nan", "snan", "infinity", "minus-infinity", "float", "bool", "str", "non-currency", "lowercase-code"],
)
def test_quantize_money_errors(value: object, unit: str, error: type[Exception], pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        quantize_money(value, unit)  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# format_amount.

FORMAT = [
    # (id, value, unit, text)
    ("usd", "500", "USD", "500.00"),
    ("usd-rounds", "12.345", "USD", "12.34"),
    ("usd-rounds-up", "12.3456", "USD", "12.35"),
    ("usd-negative", "-3.5", "USD", "-3.50"),
    ("usd-zero", "0", "USD", "0.00"),
    ("usd-negative-zero", "-0.00", "USD", "0.00"),
    ("usd-rounds-to-zero", "-0.004", "USD", "0.00"),
    ("usd-scientific-input", "1E+3", "USD", "1000.00"),
    ("usd-large", "1E+25", "USD", "10000000000000000000000000.00"),
    ("jpy", "500", "JPY", "500"),
    ("jpy-rounds", "500.5", "JPY", "500"),
    ("jpy-zero", "-0.4", "JPY", "0"),
    ("kwd", "1.25", "KWD", "1.250"),
    ("bhd", "12", "BHD", "12.000"),
    ("clf", "2", "CLF", "2.0000"),
    ("points", "500", "points", "500"),
    ("points-trailing-zeros", "500.000", "points", "500"),
    ("gb-fraction", "2.50", "GB", "2.5"),
    ("percent", "12.5", "percent", "12.5"),
    ("percent-small", "0.001", "percent", "0.001"),
    ("percent-tiny-exponent", "1E-7", "percent", "0.0000001"),
    ("points-scientific", "1E+3", "points", "1000"),
    ("points-scientific-negative", "-2.5E+2", "points", "-250"),
    ("points-1000-not-1E3", "1000", "points", "1000"),
    ("points-trailing-zero-integer", "100", "points", "100"),
    ("months", "12", "months", "12"),
    ("item-zero", "0", "item", "0"),
    ("item-negative-zero", "-0", "item", "0"),
    ("item-zero-with-exponent", "0E-5", "item", "0"),
    ("item-negative-zero-fraction", "-0.000", "item", "0"),
    ("item-zero-positive-exponent", "0E+3", "item", "0"),
    ("mb-negative", "-1.50", "MB", "-1.5"),
    ("tb-many-digits", "123456789.123456789", "TB", "123456789.123456789"),
    ("custom-unit", "3.10", "seats", "3.1"),
]


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [(Decimal(v), u, t) for _, v, u, t in FORMAT],
    ids=[f[0] for f in FORMAT],
)
def test_format_amount(value: Decimal, unit: str, text: str) -> None:
    assert format_amount(value, unit) == text


def test_format_amount_accepts_int() -> None:
    assert format_amount(500, "USD") == "500.00"
    assert format_amount(-0, "points") == "0"
    assert format_amount(10**30, "points") == "1" + "0" * 30


@pytest.mark.parametrize(
    ("value", "unit", "error"),
    [
        (Decimal("NaN"), "points", ValueError),
        (Decimal("Infinity"), "USD", ValueError),
        (2.5, "points", TypeError),
        (None, "points", TypeError),
    ],
    ids=["nan-points", "infinity-usd", "float", "none"],
)
def test_format_amount_errors(value: object, unit: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        format_amount(value, unit)  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# Properties.

FINITE_DECIMALS = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
    lambda d: -60 <= d.adjusted() <= 60
)


EXACT = decimal.Context(prec=500, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)


def half_even_reference(value: Decimal, exponent: int) -> int:
    """``value * 10**exponent`` rounded half-to-even, by integer arithmetic only."""
    sign, digits, exp = value.as_tuple()
    assert isinstance(exp, int)
    coefficient = int("".join(map(str, digits)) or "0")
    shift = exp + exponent
    if shift >= 0:
        rounded = coefficient * 10**shift
    else:
        quotient, remainder = divmod(coefficient, 10**-shift)
        twice = 2 * remainder
        if twice > 10**-shift or (twice == 10**-shift and quotient % 2 == 1):
            quotient += 1
        rounded = quotient
    return int(-rounded if sign else rounded)


@PROPERTY
@given(FINITE_DECIMALS, st.sampled_from([*sorted(BUILTIN_UNITS), "seats"]))
def test_property_plain_format(value: Decimal, unit: str) -> None:
    text = format_amount(value, unit)
    assert re.fullmatch(r"-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?", text), text
    assert text != "-0"
    assert Decimal(text) == value


@PROPERTY
@given(FINITE_DECIMALS, st.sampled_from(sorted(CURRENCY_EXPONENTS)))
def test_property_currency_format(value: Decimal, unit: str) -> None:
    exponent = minor_exponent(unit)
    rounded = quantize_money(value, unit)
    text = format_amount(value, unit)
    fraction = rf"\.[0-9]{{{exponent}}}" if exponent else ""
    assert re.fullmatch(r"-?(0|[1-9][0-9]*)" + fraction, text), text
    assert not re.fullmatch(r"-0(\.0*)?", text)
    assert Decimal(text) == rounded
    assert rounded.scaleb(exponent, context=EXACT) == half_even_reference(value, exponent)


# --------------------------------------------------------------------------
# Writing values in explanations: a formatter chosen per type when the rules
# are compiled writes exactly what the general `format_value` writes.

_VALUE_TYPES = [
    *(Type(QUANTITY, code) for code in sorted(CURRENCY_EXPONENTS)),
    Type(QUANTITY, "seats"),
    Type(NUMBER),
    Type(TIME),
    Type(DURATION),
    None,
]
_VALUES = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=None),
    st.decimals(min_value=-(10**30), max_value=10**30, allow_nan=False, allow_infinity=False, places=9),
    st.sampled_from([Decimal("-0"), Decimal("-0.001"), Decimal("1E+5"), Decimal("1E-7"), Decimal("123.455")]),
    st.integers(min_value=0, max_value=253402300799 * 10**9),
    st.none(),
    st.booleans(),
    st.text(max_size=5),
)


@PROPERTY
@given(typ=st.sampled_from(_VALUE_TYPES), value=_VALUES)
def test_formatter_of_a_type_writes_what_format_value_writes(typ: Type | None, value: object) -> None:
    with decimal.localcontext(decimal.Context(prec=5)):  # the caller's context must not matter
        try:
            expected: object = format_value(value, typ)
        except decimal.InvalidOperation:  # more digits than the scoring context holds
            with pytest.raises(decimal.InvalidOperation):
                formatter(typ)(value)
            return
        assert formatter(typ)(value) == expected
