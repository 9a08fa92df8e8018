"""Reading TOML (scenarios, rule test files: both untrusted) so that every
failure is a `ValueError` with a message, which each reader reports as its
file's problem, never a traceback."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from . import limits


def load_toml(text: str, parse_float: Callable[[str], Any]) -> dict[str, Any]:
    """`tomllib.loads`, where a text nested deeper than Python's stack
    (`a = [[[[...`, a few kilobytes) fails as a `ValueError` like any other
    invalid TOML, not a `RecursionError` (tomllib parses arrays and inline
    tables recursively). An integer too long to convert is a `ValueError`
    already."""
    try:
        return tomllib.loads(text, parse_float=parse_float)
    except RecursionError:
        raise ValueError("the TOML nests too deeply") from None


def bounded_decimal(text: str) -> Decimal:
    """A TOML float as an exact Decimal, within the bounds of a ledger
    number (digits and exponent): `1e888888888888888888` is short, but
    any arithmetic on it, or turning it into an int, does not end."""
    if limits.written_digits(text) > limits.MAX_LEDGER_DIGITS or len(text) > limits.MAX_NUMBER_CHARS:
        raise ValueError(f"the number {text[:20]}{'...' if len(text) > 20 else ''} has too many digits")
    value = Decimal(text)  # TOML's float syntax is Decimal's (`1_000.5` too)
    if not value.is_finite():
        raise ValueError(f"`{text}` is not a finite number")
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or abs(exponent) > limits.MAX_LEDGER_EXPONENT:
        raise ValueError(f"the number {text[:20]}{'...' if len(text) > 20 else ''} is out of range")
    return value
