"""Money in integer cents and rates as fractions; lenient parsing of decimal input, exact
arithmetic.

Amounts arrive as JSON numbers (parsed to ``Decimal``, never ``float``), integers, or
strings written the way people and gateways write them: ``"31.90"``, ``"29,90"``,
``"1.234,56"``, ``"1,234.56"``. A ``float`` is refused: it may already have lost a cent.

Rates (tolerance, growth, interest, fees) are read by one rule everywhere, ``parse_rate``:
``"10%"`` is a percentage, a bare number (``0.1``, ``"0,1"``) a fraction, and a bare
number of 1 or more is refused as ambiguous, its two readings shown.
"""

from __future__ import annotations

import re
from decimal import ROUND_FLOOR, Decimal, InvalidOperation, localcontext

from connector.errors import N_, Reason

CENT = Decimal("0.01")
BASIS_POINT = Decimal("0.0001")
MAX_CENTS = 10**15  # ten trillion units: far beyond any credit line, well inside BIGINT
MAX_DIGITS = 40  # digits or exponent of any number read: far beyond MAX_CENTS

_SPACES = re.compile(r"[\s\u00a0\u202f']")
_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
_GROUPED = re.compile(r"^[1-9]\d{0,2}$")


class AmountError(ValueError):
    """The text is not an amount (or a rate) this service accepts.

    ``reason``, when set, is the same words as a ``Reason`` (an English template and its
    values), so a page can say it in its language; ``str()`` is always the English text.
    """

    def __init__(self, message: str | Reason) -> None:
        self.reason = message if isinstance(message, Reason) else None
        super().__init__(str(message))


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


# --- Rates: one reading rule for every edge -----------------------------------------

# The reasons a rate is refused, as templates (``pybabel extract`` finds them here): the
# pages translate them, the API and the CSV import's report write them in English.
RATE_NOT_A_NUMBER = N_(
    "{value} is not a rate: write a fraction such as 0.1 or a percentage such as 10%"
)
RATE_AMBIGUOUS = N_(
    "{value} reads as {as_fraction} (a fraction) or as {as_percent}: write {percent} or {fraction}"
)
RATE_OUT_OF_RANGE = N_("{value} is out of range: from 0% to {maximum}")
RATE_TOO_FINE = N_("{value} is finer than a hundredth of a percent (0.01%)")
RATE_REASONS = (RATE_NOT_A_NUMBER, RATE_AMBIGUOUS, RATE_OUT_OF_RANGE, RATE_TOO_FINE)
_RATE_DIGITS = 3 * MAX_DIGITS  # a context wide enough that scaling a rate never rounds


def _shown(value: object) -> str:
    """A rate as it was written, for a reason: the text as typed, a number in full."""
    if isinstance(value, str):
        return value.strip() or '""'
    if isinstance(value, Decimal) and value.is_finite():
        return _written(value, ".")
    return str(value)


def _written(number: Decimal, separator: str) -> str:
    """A number in plain digits (``500``, ``0.033``), with the writer's decimal separator."""
    with localcontext(prec=_RATE_DIGITS):
        text = format(number.normalize(), "f")
    return text.replace(".", ",") if separator == "," else text


def _exact(number: Decimal) -> Decimal:
    """``number`` without trailing zeros or an exponent (``0.10`` -> ``0.1``, ``-0`` -> ``0``)."""
    if number == 0:
        return Decimal(0)
    with localcontext(prec=_RATE_DIGITS):
        normal = number.normalize()
        exponent = normal.as_tuple().exponent
        return normal.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else normal


def parse_rate(
    value: object, *, maximum: Decimal = Decimal(1), decimal_separator: str = "."
) -> Decimal:
    """Read a rate as people and clients write it, as its exact fraction (``0.1`` is 10 %).

    A text ending in ``%`` is a percentage: ``"10%"``, ``"10 %"``, ``"12,5%"``, ``"0.5%"``.
    A bare number (a JSON number, ``"0.1"``, ``"0,1"``) is a fraction, as the public
    Customer Credit API writes rates; ``0`` is 0. A bare number of 1 or more reads two ways
    (``5`` is 500 % as a fraction, but people mean 5 %), so it is refused with both
    readings; 100 % or more is written with ``%``. A single separator is always the
    decimal one (a rate has no thousands). The fraction must be from 0 to ``maximum``;
    when neither reading of a bare number fits, the range is the reason. A reason writes
    numbers with the separator of the text, or ``decimal_separator`` when it has none
    (a page passes its language's: ``5`` on a Portuguese page suggests ``0,05``).
    """
    shown = _shown(value)
    percent = isinstance(value, str) and shown.endswith("%")
    try:
        number = to_decimal(shown[:-1] if percent else value, grouping=False)
    except AmountError:
        raise AmountError(Reason(RATE_NOT_A_NUMBER, value=shown)) from None
    separator = decimal_separator
    if isinstance(value, str) and ("," in shown) != ("." in shown):
        separator = "," if "," in shown else "."
    with localcontext(prec=_RATE_DIGITS):
        fraction = number.scaleb(-2) if percent else number
        out_of_range = Reason(
            RATE_OUT_OF_RANGE, value=shown, maximum=_written(maximum.scaleb(2), separator) + "%"
        )
        if not percent and number >= 1:
            if number.scaleb(-2) > maximum:
                raise AmountError(out_of_range)
            raise AmountError(
                Reason(
                    RATE_AMBIGUOUS,
                    value=shown,
                    as_fraction=_written(number.scaleb(2), separator) + " %",
                    as_percent=_written(number, separator) + " %",
                    percent=_written(number, separator) + "%",
                    fraction=_written(number.scaleb(-2), separator),
                )
            )
        if not 0 <= fraction <= maximum:
            raise AmountError(out_of_range)
        return _exact(fraction)


def parse_rate_bps(
    value: object, *, maximum_bps: int = 10_000, decimal_separator: str = "."
) -> int:
    """``parse_rate`` into integer basis points (``"10%"`` and ``0.1`` are 1000), refusing
    what is finer than a basis point."""
    with localcontext(prec=_RATE_DIGITS):
        fraction = parse_rate(
            value, maximum=Decimal(maximum_bps).scaleb(-4), decimal_separator=decimal_separator
        )
        bps = fraction.scaleb(4)
    if bps != bps.to_integral_value():
        raise AmountError(Reason(RATE_TOO_FINE, value=_shown(value)))
    return int(bps)


def percent_text(fraction: Decimal) -> str:
    """A fraction as people write the percentage, which ``parse_rate`` reads back exactly:
    ``0.1`` is ``"10%"``, ``0.00033`` ``"0.033%"``, ``0.125`` ``"12.5%"``."""
    with localcontext(prec=_RATE_DIGITS):
        return _written(fraction.scaleb(2), ".") + "%"


def bps_percent_text(bps: int) -> str:
    """Basis points as ``percent_text`` writes them (``1250`` is ``"12.5%"``)."""
    return percent_text(Decimal(bps).scaleb(-4))


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
