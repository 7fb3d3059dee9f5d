"""Money in integer cents; lenient parsing of decimal input, exact arithmetic.

Amounts arrive as JSON numbers (parsed to ``Decimal``, never ``float``), integers, or
strings written the way people and gateways write them: ``"31.90"``, ``"29,90"``,
``"1.234,56"``, ``"1,234.56"``. A ``float`` is refused: it may already have lost a cent.
"""

from __future__ import annotations

import re
from decimal import ROUND_FLOOR, Decimal, InvalidOperation

CENT = Decimal("0.01")
BASIS_POINT = Decimal("0.0001")
MAX_CENTS = 10**15  # ten trillion units: far beyond any credit line, well inside BIGINT
MAX_DIGITS = 40  # digits or exponent of any number read: far beyond MAX_CENTS

_SPACES = re.compile(r"[\s\u00a0\u202f']")
_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
_GROUPED = re.compile(r"^[1-9]\d{0,2}$")


class AmountError(ValueError):
    """The text is not an amount this service accepts."""


def _normalize(text: str, grouping: bool) -> str:
    """Turn a human-written decimal into a plain one with a point, or raise AmountError.

    Rules: with both ``.`` and ``,`` the last one is the decimal separator; a separator
    that occurs several times groups thousands. With ``grouping`` (people's spreadsheets),
    a single separator followed by exactly three digits after a 1-3 digit group
    (``1.234``, ``12,500``) groups thousands, since no amount in cents has three decimals.
    Without it (machine input such as the gateway's), a single separator is always the
    decimal one, so ``"10.001"`` is refused as a fraction of a cent rather than read as
    ten thousand.
    """
    s = _SPACES.sub("", text.strip())
    for symbol in ("R$", "US$", "$", "€", "£"):
        s = s.replace(symbol, "")
    if not s:
        raise AmountError("empty amount")
    sign = ""
    if s[0] in "+-":
        sign, s = ("-" if s[0] == "-" else ""), s[1:]
    dots, commas = s.count("."), s.count(",")
    if dots and commas:
        decimal_sep = "." if s.rfind(".") > s.rfind(",") else ","
        group_sep = "," if decimal_sep == "." else "."
        if s.count(decimal_sep) > 1:
            raise AmountError(f"not an amount: {text!r}")
        integer, fraction = s.split(decimal_sep)
        groups = integer.split(group_sep)
        if not _GROUPED.match(groups[0]) or any(len(g) != 3 for g in groups[1:]):
            raise AmountError(f"misplaced thousands separator in {text!r}")
        s = "".join(groups) + "." + fraction
    elif dots + commas > 1:
        if not grouping:
            raise AmountError(f"not an amount: {text!r}")
        sep = "." if dots else ","
        groups = s.split(sep)
        if not _GROUPED.match(groups[0]) or any(len(g) != 3 for g in groups[1:]):
            raise AmountError(f"not an amount: {text!r}")
        s = "".join(groups)
    elif dots + commas == 1:
        sep = "." if dots else ","
        integer, fraction = s.split(sep)
        if grouping and len(fraction) == 3 and _GROUPED.match(integer):
            s = integer + fraction
        else:
            s = integer + "." + fraction
    s = sign + s
    if not _NUMBER.match(s):
        raise AmountError(f"not an amount: {text!r}")
    return s


def _bounded(number: Decimal, original: object) -> Decimal:
    """Refuse a number with so many digits, or so large an exponent, that merely computing
    with it would cost the service (``1e999999`` is a valid JSON number)."""
    if len(number.as_tuple().digits) > MAX_DIGITS or abs(number.adjusted()) > MAX_DIGITS:
        raise AmountError(f"{original!r} has too many digits")
    return number


def to_decimal(value: object, *, grouping: bool = True) -> Decimal:
    """Read a number written in any accepted form as an exact Decimal."""
    if isinstance(value, bool):
        raise AmountError("a boolean is not an amount")
    if isinstance(value, float):
        raise AmountError("floats are not accepted for money; send a string or a decimal")
    if isinstance(value, int):
        return _bounded(Decimal(value), value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise AmountError("not a finite amount")
        return _bounded(value, value)
    if isinstance(value, str):
        try:
            return _bounded(Decimal(_normalize(value, grouping)), value)
        except InvalidOperation:
            raise AmountError(f"not an amount: {value!r}") from None
    raise AmountError(f"not an amount: {value!r}")


def parse_cents(value: object, *, allow_negative: bool = False, grouping: bool = True) -> int:
    """Parse an amount in currency units into integer cents, refusing fractions of a cent."""
    amount = to_decimal(value, grouping=grouping)
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise AmountError(f"{value!r} has a fraction of a cent")
    result = int(cents)
    if result < 0 and not allow_negative:
        raise AmountError(f"{value!r} is negative")
    if abs(result) >= MAX_CENTS:
        raise AmountError(f"{value!r} is too large")
    return result


def parse_rate_bps(value: object, *, maximum_bps: int = 10_000) -> int:
    """Parse a fraction (``0.05``, ``"0,05"``, ``"5%"``) into integer basis points."""
    if isinstance(value, str) and value.strip().endswith("%"):
        rate = to_decimal(value.strip()[:-1]) / 100
    else:
        rate = to_decimal(value)
    bps = rate * 10_000
    if bps != bps.to_integral_value():
        raise AmountError(f"{value!r} is finer than a hundredth of a percent")
    result = int(bps)
    if not 0 <= result <= maximum_bps:
        raise AmountError(f"{value!r} must be between 0 and {maximum_bps / 10_000:g}")
    return result


def cents_to_decimal(cents: int) -> Decimal:
    """Integer cents as a Decimal amount with two places, for output."""
    return (Decimal(cents) / 100).quantize(CENT)


def bps_to_decimal(bps: int) -> Decimal:
    """Basis points as a fraction (500 -> 0.05), normalized for output."""
    value = (Decimal(bps) / 10_000).quantize(BASIS_POINT).normalize()
    return value if value != 0 else Decimal(0)


def scale_cents(cents: int, bps: int) -> int:
    """``cents * bps / 10000`` rounded down to a cent: headroom never rounds up."""
    return int((Decimal(cents) * bps / 10_000).to_integral_value(rounding=ROUND_FLOOR))
