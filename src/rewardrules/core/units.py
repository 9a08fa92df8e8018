"""Units of rewards and quantities: ISO 4217 currencies and built-in units.

Money is rounded to its currency's minor unit (ISO 4217 exponent) with
round-half-to-even, through an explicit :class:`decimal.Context` that this
module owns: a caller changing :func:`decimal.getcontext` (precision, rounding,
traps) cannot change any result here.  Amounts are never ``float``.
"""

from __future__ import annotations

from decimal import (
    MAX_EMAX,
    MAX_PREC,
    MIN_EMIN,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from typing import Final

__all__ = [
    "BUILTIN_UNITS",
    "CURRENCY_EXPONENTS",
    "CURRENCY_WORDS",
    "NON_ADDITIVE_UNITS",
    "currency_for",
    "format_amount",
    "is_additive",
    "is_currency",
    "minor_exponent",
    "quantize_money",
]

# ISO 4217 alphabetic codes in current use with their minor-unit exponents
# (the "Minor unit" column of ISO 4217 List One).  Codes whose minor unit is
# "N.A." (XAU, XAG, XPD, XPT, XBA-XBD, XDR, XSU, XUA, XTS, XXX) are left out:
# amounts in them cannot be rounded to a minor unit.  Withdrawn codes (HRK,
# VEF, MRO, STD, LTL, ...) are left out too, except a few still in
# circulation during their replacement (ANG/XCG, SLL/SLE, ZWL/ZWG, CUC).
CURRENCY_EXPONENTS: Final[dict[str, int]] = {
    "AED": 2,  # UAE Dirham
    "AFN": 2,  # Afghani
    "ALL": 2,  # Lek
    "AMD": 2,  # Armenian Dram
    "ANG": 2,  # Netherlands Antillean Guilder (being replaced by XCG)
    "AOA": 2,  # Kwanza
    "ARS": 2,  # Argentine Peso
    "AUD": 2,  # Australian Dollar
    "AWG": 2,  # Aruban Florin
    "AZN": 2,  # Azerbaijan Manat
    "BAM": 2,  # Convertible Mark
    "BBD": 2,  # Barbados Dollar
    "BDT": 2,  # Taka
    "BGN": 2,  # Bulgarian Lev
    "BHD": 3,  # Bahraini Dinar
    "BIF": 0,  # Burundi Franc
    "BMD": 2,  # Bermudian Dollar
    "BND": 2,  # Brunei Dollar
    "BOB": 2,  # Boliviano
    "BOV": 2,  # Mvdol
    "BRL": 2,  # Brazilian Real
    "BSD": 2,  # Bahamian Dollar
    "BTN": 2,  # Ngultrum
    "BWP": 2,  # Pula
    "BYN": 2,  # Belarusian Ruble
    "BZD": 2,  # Belize Dollar
    "CAD": 2,  # Canadian Dollar
    "CDF": 2,  # Congolese Franc
    "CHE": 2,  # WIR Euro
    "CHF": 2,  # Swiss Franc
    "CHW": 2,  # WIR Franc
    "CLF": 4,  # Unidad de Fomento
    "CLP": 0,  # Chilean Peso
    "CNY": 2,  # Yuan Renminbi
    "COP": 2,  # Colombian Peso
    "COU": 2,  # Unidad de Valor Real
    "CRC": 2,  # Costa Rican Colon
    "CUC": 2,  # Peso Convertible
    "CUP": 2,  # Cuban Peso
    "CVE": 2,  # Cabo Verde Escudo
    "CZK": 2,  # Czech Koruna
    "DJF": 0,  # Djibouti Franc
    "DKK": 2,  # Danish Krone
    "DOP": 2,  # Dominican Peso
    "DZD": 2,  # Algerian Dinar
    "EGP": 2,  # Egyptian Pound
    "ERN": 2,  # Nakfa
    "ETB": 2,  # Ethiopian Birr
    "EUR": 2,  # Euro
    "FJD": 2,  # Fiji Dollar
    "FKP": 2,  # Falkland Islands Pound
    "GBP": 2,  # Pound Sterling
    "GEL": 2,  # Lari
    "GHS": 2,  # Ghana Cedi
    "GIP": 2,  # Gibraltar Pound
    "GMD": 2,  # Dalasi
    "GNF": 0,  # Guinean Franc
    "GTQ": 2,  # Quetzal
    "GYD": 2,  # Guyana Dollar
    "HKD": 2,  # Hong Kong Dollar
    "HNL": 2,  # Lempira
    "HTG": 2,  # Gourde
    "HUF": 2,  # Forint
    "IDR": 2,  # Rupiah
    "ILS": 2,  # New Israeli Sheqel
    "INR": 2,  # Indian Rupee
    "IQD": 3,  # Iraqi Dinar
    "IRR": 2,  # Iranian Rial
    "ISK": 0,  # Iceland Krona
    "JMD": 2,  # Jamaican Dollar
    "JOD": 3,  # Jordanian Dinar
    "JPY": 0,  # Yen
    "KES": 2,  # Kenyan Shilling
    "KGS": 2,  # Som
    "KHR": 2,  # Riel
    "KMF": 0,  # Comorian Franc
    "KPW": 2,  # North Korean Won
    "KRW": 0,  # Won
    "KWD": 3,  # Kuwaiti Dinar
    "KYD": 2,  # Cayman Islands Dollar
    "KZT": 2,  # Tenge
    "LAK": 2,  # Lao Kip
    "LBP": 2,  # Lebanese Pound
    "LKR": 2,  # Sri Lanka Rupee
    "LRD": 2,  # Liberian Dollar
    "LSL": 2,  # Loti
    "LYD": 3,  # Libyan Dinar
    "MAD": 2,  # Moroccan Dirham
    "MDL": 2,  # Moldovan Leu
    "MGA": 2,  # Malagasy Ariary
    "MKD": 2,  # Denar
    "MMK": 2,  # Kyat
    "MNT": 2,  # Tugrik
    "MOP": 2,  # Pataca
    "MRU": 2,  # Ouguiya
    "MUR": 2,  # Mauritius Rupee
    "MVR": 2,  # Rufiyaa
    "MWK": 2,  # Malawi Kwacha
    "MXN": 2,  # Mexican Peso
    "MXV": 2,  # Mexican Unidad de Inversion (UDI)
    "MYR": 2,  # Malaysian Ringgit
    "MZN": 2,  # Mozambique Metical
    "NAD": 2,  # Namibia Dollar
    "NGN": 2,  # Naira
    "NIO": 2,  # Cordoba Oro
    "NOK": 2,  # Norwegian Krone
    "NPR": 2,  # Nepalese Rupee
    "NZD": 2,  # New Zealand Dollar
    "OMR": 3,  # Rial Omani
    "PAB": 2,  # Balboa
    "PEN": 2,  # Sol
    "PGK": 2,  # Kina
    "PHP": 2,  # Philippine Peso
    "PKR": 2,  # Pakistan Rupee
    "PLN": 2,  # Zloty
    "PYG": 0,  # Guarani
    "QAR": 2,  # Qatari Rial
    "RON": 2,  # Romanian Leu
    "RSD": 2,  # Serbian Dinar
    "RUB": 2,  # Russian Ruble
    "RWF": 0,  # Rwanda Franc
    "SAR": 2,  # Saudi Riyal
    "SBD": 2,  # Solomon Islands Dollar
    "SCR": 2,  # Seychelles Rupee
    "SDG": 2,  # Sudanese Pound
    "SEK": 2,  # Swedish Krona
    "SGD": 2,  # Singapore Dollar
    "SHP": 2,  # Saint Helena Pound
    "SLE": 2,  # Leone
    "SLL": 2,  # Leone (old, being replaced by SLE)
    "SOS": 2,  # Somali Shilling
    "SRD": 2,  # Surinam Dollar
    "SSP": 2,  # South Sudanese Pound
    "STN": 2,  # Dobra
    "SVC": 2,  # El Salvador Colon
    "SYP": 2,  # Syrian Pound
    "SZL": 2,  # Lilangeni
    "THB": 2,  # Baht
    "TJS": 2,  # Somoni
    "TMT": 2,  # Turkmenistan New Manat
    "TND": 3,  # Tunisian Dinar
    "TOP": 2,  # Pa'anga
    "TRY": 2,  # Turkish Lira
    "TTD": 2,  # Trinidad and Tobago Dollar
    "TWD": 2,  # New Taiwan Dollar
    "TZS": 2,  # Tanzanian Shilling
    "UAH": 2,  # Hryvnia
    "UGX": 0,  # Uganda Shilling
    "USD": 2,  # US Dollar
    "USN": 2,  # US Dollar (Next day)
    "UYI": 0,  # Uruguay Peso en Unidades Indexadas (UI)
    "UYU": 2,  # Peso Uruguayo
    "UYW": 4,  # Unidad Previsional
    "UZS": 2,  # Uzbekistan Sum
    "VED": 2,  # Bolivar Soberano (digital)
    "VES": 2,  # Bolivar Soberano
    "VND": 0,  # Dong
    "VUV": 0,  # Vatu
    "WST": 2,  # Tala
    "XAF": 0,  # CFA Franc BEAC
    "XCD": 2,  # East Caribbean Dollar
    "XCG": 2,  # Caribbean Guilder
    "XOF": 0,  # CFA Franc BCEAO
    "XPF": 0,  # CFP Franc
    "YER": 2,  # Yemeni Rial
    "ZAR": 2,  # Rand
    "ZMW": 2,  # Zambian Kwacha
    "ZWG": 2,  # Zimbabwe Gold
    "ZWL": 2,  # Zimbabwe Dollar (being replaced by ZWG)
}

# Words and signs people write for money, with the ISO 4217 code a rule file
# needs instead: for "did you mean" hints only, never to read an amount (a
# word such as "dollar" names many currencies; the hint names the commonest).
CURRENCY_WORDS: Final[dict[str, str]] = {
    "$": "USD",
    "dollar": "USD",
    "dollars": "USD",
    "buck": "USD",
    "bucks": "USD",
    "€": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "£": "GBP",
    "pound": "GBP",
    "pounds": "GBP",
    "sterling": "GBP",
    "quid": "GBP",
    "¥": "JPY",
    "yen": "JPY",
    "yuan": "CNY",
    "renminbi": "CNY",
    "rmb": "CNY",
    "₹": "INR",
    "rupee": "INR",
    "rupees": "INR",
    "₩": "KRW",
    "won": "KRW",
    "franc": "CHF",
    "francs": "CHF",
    "real": "BRL",
    "reais": "BRL",
    "zloty": "PLN",
    "zlotys": "PLN",
    "rand": "ZAR",
    "ruble": "RUB",
    "rubles": "RUB",
    "rouble": "RUB",
    "roubles": "RUB",
    "lira": "TRY",
    "₺": "TRY",
    "₪": "ILS",
    "shekel": "ILS",
    "shekels": "ILS",
}


def currency_for(word: str) -> str | None:
    """The ISO 4217 code a unit that is not one most likely means: the code
    in another case (`usd`, `Eur`) or a currency's word or sign (`dollars`,
    `€`); None when the word means no currency (or already is a code)."""
    if word in CURRENCY_EXPONENTS:
        return None
    if word.upper() in CURRENCY_EXPONENTS:
        return word.upper()
    return CURRENCY_WORDS.get(word.lower())


BUILTIN_UNITS: Final[frozenset[str]] = frozenset({"percent", "MB", "GB", "TB", "months", "points", "item"})
"""Non-currency units known without declaration.  Durations are not units."""

NON_ADDITIVE_UNITS: Final[frozenset[str]] = frozenset({"percent"})
"""Units whose amounts do not add up: five discounts of 20 percent are not
100 percent of anything.  Totals count their awards per rate instead of
summing them.  Money, storage, months, points, items and declared units
(miles, seats) add up."""

# The one context used for money: exact enough for any Decimal (so quantize
# never fails for lack of precision), half-to-even, trapping invalid results.
_MONEY_CONTEXT: Final = Context(
    prec=MAX_PREC,
    rounding=ROUND_HALF_EVEN,
    Emax=MAX_EMAX,
    Emin=MIN_EMIN,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)

# Decimal("1E-n"), the quantum of a currency with exponent n.
_QUANTA: Final[dict[int, Decimal]] = {n: Decimal(1).scaleb(-n) for n in range(5)}


def is_currency(unit: str) -> bool:
    """True for an ISO 4217 currency code of :data:`CURRENCY_EXPONENTS` (case-sensitive)."""
    return isinstance(unit, str) and unit in CURRENCY_EXPONENTS


def is_additive(unit: str) -> bool:
    """Whether amounts in ``unit`` may be summed into a total (see
    :data:`NON_ADDITIVE_UNITS`): the one rule every total follows."""
    return unit not in NON_ADDITIVE_UNITS


def minor_exponent(unit: str) -> int:
    """The minor-unit exponent of a currency (2 for USD); KeyError otherwise."""
    try:
        return CURRENCY_EXPONENTS[unit]
    except (KeyError, TypeError):
        raise KeyError(f"`{unit}` is not an iso 4217 currency code") from None


def _check_amount(value: object) -> Decimal:
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int) and not isinstance(value, bool):
        amount = Decimal(value)
    else:
        raise TypeError(f"amount must be a Decimal or an int, not {type(value).__name__}")
    if not amount.is_finite():
        raise ValueError(f"amount must be finite, not {amount}")
    return amount


def quantize_money(value: Decimal | int, unit: str) -> Decimal:
    """Round ``value`` half-to-even to the minor unit of currency ``unit``.

    ``quantize_money(Decimal("12.345"), "USD") == Decimal("12.34")``; JPY rounds
    to whole yen, KWD to 3 decimals.  The result always has exactly the
    currency's exponent, and a zero result is never negative.  KeyError if
    ``unit`` is not a currency, TypeError for a float, ValueError for NaN or
    infinity.
    """
    quantum = _QUANTA[minor_exponent(unit)]
    amount = _check_amount(value)
    result = amount.quantize(quantum, context=_MONEY_CONTEXT)
    if result.is_zero() and result.is_signed():
        result = result.copy_abs()
    return result


def _plain(value: Decimal) -> str:
    """Fixed-point digits of ``value``, without exponent or trailing zeros."""
    text = format(value, "f")  # exact: no precision given, so no rounding
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text == "-0":
        text = "0"
    return text


def format_amount(value: Decimal | int, unit: str) -> str:
    """The amount as text for ``unit``, never in scientific notation.

    Currencies: rounded by :func:`quantize_money`, with exactly the currency's
    number of decimals (``"500.00"``, JPY ``"500"``, KWD ``"1.250"``).  Any
    other unit: plain digits without trailing zeros (``"2.5"``, ``"1000"``).
    Zero is never written with a minus sign.
    """
    if is_currency(unit):
        return format(quantize_money(value, unit), "f")
    amount = _check_amount(value)
    return _plain(amount)
