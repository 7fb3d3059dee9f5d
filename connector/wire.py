"""Reading what people and programs send: lenient numbers, statuses and moments as
marshmallow fields, and the strict loading every JSON body and query string goes through.

Amounts accept JSON numbers (already ``Decimal``) or strings as people write them
(``"1100"``, ``"1.100,00"``); they load as integer cents and dump as ``Decimal``. Rates
are read as everywhere else (``money.parse_rate``: ``"10%"`` or the fraction ``0.1``) and
dump as the fraction. Whole numbers accept ``3`` or ``"3"``. A float never gets here: the
JSON provider parses numbers as ``Decimal``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields

from connector.credit.invoices import parse_invoice_status
from connector.errors import ValidationError as ConnectorValidationError
from connector.money import (
    AmountError,
    bps_to_decimal,
    cents_to_decimal,
    parse_cents,
    parse_rate,
    parse_rate_bps,
    to_decimal,
)


class Cents(fields.Field[int]):
    """An amount: loads as integer cents, dumps as a ``Decimal`` with two places."""

    def __init__(self, *, allow_negative: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.allow_negative = allow_negative

    def _serialize(self, value: int | None, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else cents_to_decimal(value)

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> int:
        try:
            return parse_cents(value, allow_negative=self.allow_negative)
        except AmountError as exc:
            raise ValidationError(str(exc)) from exc


RATE_DESCRIPTION = (
    'a rate: a fraction (0.1 is 10 %) or a percentage written as a string ("10%", "12,5%"); '
    'a bare number of 1 or more reads two ways and is refused (write "5%" or 0.05); '
    "answered as a fraction"
)


def _described(kwargs: dict[str, Any], what: str | None) -> dict[str, Any]:
    """Field arguments whose description says what the rate does, then how it is written."""
    metadata = dict(kwargs.pop("metadata", {}))
    text = metadata.get("description", what)
    metadata["description"] = f"{text}; {RATE_DESCRIPTION}" if text else RATE_DESCRIPTION
    return {**kwargs, "metadata": metadata}


class Rate(fields.Field[int]):
    """A rate (``0.1`` or ``"10%"``, read by ``money.parse_rate``): loads as basis points,
    dumps as the fraction, a ``Decimal``."""

    def __init__(
        self, *, maximum_bps: int = 10_000, description: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**_described(kwargs, description))
        self.maximum_bps = maximum_bps

    def _serialize(self, value: int | None, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else bps_to_decimal(value)

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> int:
        try:
            return parse_rate_bps(value, maximum_bps=self.maximum_bps)
        except AmountError as exc:
            raise ValidationError(str(exc)) from exc


class Fraction(fields.Field[Decimal]):
    """A rate kept exact (``0.00033`` or ``"0.033%"`` a day, read by ``money.parse_rate``):
    loads and dumps the fraction as a ``Decimal``."""

    def __init__(
        self, *, maximum: Decimal = Decimal(1), description: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**_described(kwargs, description))
        self.maximum = maximum

    def _serialize(self, value: Decimal | None, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Decimal:
        try:
            return parse_rate(value, maximum=self.maximum)
        except AmountError as exc:
            raise ValidationError(str(exc)) from exc


class WholeNumber(fields.Integer):
    """An integer written as a JSON number or a string (``3``, ``"3"``, ``3.0``)."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> int:
        try:
            number = to_decimal(value.strip() if isinstance(value, str) else value)
        except AmountError as exc:
            raise ValidationError("not a whole number") from exc
        if number != number.to_integral_value():
            raise ValidationError("not a whole number")
        return super()._deserialize(int(number), attr, data, **kwargs)


# How the OpenAPI document types the lenient fields above: one JSON type each, so clients
# and their generators see numbers, and the strings also read on input said in words.
AMOUNT_FORMAT = "decimal"  # the OpenAPI format registry's exact decimal number
AMOUNT_INPUT = 'a string such as "1100", "1.100,00" or "1,100.00" is read too'
WHOLE_NUMBER_INPUT = 'a string such as "3" is read too'


def openapi_number(
    field: fields.Field[Any], *, description: str | None, request: bool
) -> dict[str, Any]:
    """The OpenAPI type of an amount, a rate or a whole number, and its description (empty
    for other fields); in a ``request`` body the strings it accepts are described."""
    if isinstance(field, Cents):
        typed, accepts = {"type": "number", "format": AMOUNT_FORMAT}, AMOUNT_INPUT
    elif isinstance(field, Rate | Fraction):  # their description says how they are written
        typed, accepts = {"type": "number", "format": AMOUNT_FORMAT}, ""
    elif isinstance(field, WholeNumber):
        typed, accepts = {"type": "integer"}, WHOLE_NUMBER_INPUT
    else:
        return {}
    text = "; ".join(t for t in (description, accepts if request else "") if t)
    return {**typed, "description": text} if text else typed


class InvoiceStatusField(fields.String):
    """``Opened`` (``Open`` is accepted), ``Paid`` or ``Cancelled``."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> str:
        try:
            return parse_invoice_status(value)
        except ConnectorValidationError as exc:
            raise ValidationError("one of Opened (or Open), Paid, Cancelled") from exc


def parse_moment(value: str, *, end_of_day: bool = False) -> datetime:
    """An ISO 8601 date or date-time as a UTC moment.

    A bare date is that day's first moment, or its last one with ``end_of_day`` (so that
    ``createdDateTo=2026-03-02`` includes the whole day). A moment without an offset is UTC.
    """
    text = value.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        start = datetime.combine(day, time.min, UTC)
        return start + timedelta(days=1, microseconds=-1) if end_of_day else start
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_moment(moment: datetime) -> str:
    """A UTC moment as ISO 8601 with a ``Z``, as the JSON provider writes it."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Moment(fields.DateTime):
    """A UTC date-time: dumps with a ``Z``; loads an ISO 8601 date or date-time."""

    def __init__(self, *, end_of_day: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.end_of_day = end_of_day

    def _serialize(
        self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any
    ) -> str | None:
        return None if value is None else format_moment(value)

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> datetime:
        if not isinstance(value, str):
            raise ValidationError("an ISO 8601 date or date-time")
        try:
            return parse_moment(value, end_of_day=self.end_of_day)
        except (ValueError, OverflowError) as exc:  # OverflowError: beyond year 1 or 9999
            raise ValidationError("an ISO 8601 date or date-time") from exc


def _typed(kwargs: dict[str, Any], kind: str) -> dict[str, Any]:
    """Field arguments whose metadata names the OpenAPI type (a plain Field has none)."""
    return {**kwargs, "metadata": {"type": kind, **kwargs.get("metadata", {})}}


# The store's time zone while a response is written: due dates are written in it.
_STORE_ZONE: ContextVar[tzinfo] = ContextVar("store_zone", default=UTC)


@contextmanager
def store_zone(zone: tzinfo) -> Iterator[None]:
    """Write due dates in ``zone`` (the store's) within the block."""
    token = _STORE_ZONE.set(zone)
    try:
        yield
    finally:
        _STORE_ZONE.reset(token)


class DueDate(fields.Field):  # type: ignore[type-arg]
    """A due date, a day of the store's calendar, written as that day's first moment in the
    store's time zone with its offset (``2026-12-30T00:00:00-03:00``).

    The public API's due dates are date-times; a client that reads this one as a moment and
    shows it in the store's zone, or only takes its date, sees the right day, where
    ``...T00:00:00Z`` would read as the day before west of Greenwich.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_typed(kwargs, "string"))

    def _serialize(
        self, value: date | None, attr: str | None, obj: Any, **kwargs: Any
    ) -> str | None:
        if value is None:
            return None
        start = datetime.combine(value, time.min, tzinfo=_STORE_ZONE.get())
        return start.isoformat().replace("+00:00", "Z")


class DayOrMoment(fields.Field):  # type: ignore[type-arg]
    """A bound of a period: a bare ISO 8601 date (a day of the store's calendar, which the
    caller places in the store's time zone) or a date-time (a moment; UTC without an offset).

    Loads a ``date`` or an aware ``datetime``; ``StoreSettings.first_moment`` and friends
    turn either into what a filter compares.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**_typed(kwargs, "string"))

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> date | datetime:
        if not isinstance(value, str):
            raise ValidationError("an ISO 8601 date or date-time")
        text = value.strip()
        try:
            if len(text) == 10:
                return date.fromisoformat(text)
            return parse_moment(text)
        except (ValueError, OverflowError) as exc:  # OverflowError: beyond year 1 or 9999
            raise ValidationError("an ISO 8601 date or date-time") from exc


def decimal_text(cents: int) -> str:
    """An amount as the text the public API answers with for adjustments (``"-15.00"``)."""
    return str(cents_to_decimal(cents))


def _flatten(messages: Any, prefix: str = "") -> dict[str, str]:
    """Marshmallow's nested messages as ``{"claims.email": "reason"}``."""
    if isinstance(messages, list):
        texts = [m for m in messages if isinstance(m, str)]
        if texts:
            return {prefix or "body": texts[0]}
        out: dict[str, str] = {}
        for item in messages:
            out.update(_flatten(item, prefix))
        return out
    if isinstance(messages, dict):
        out = {}
        for key, value in messages.items():
            name = prefix if key == "_schema" else f"{prefix}.{key}" if prefix else str(key)
            out.update(_flatten(value, name))
        return out
    return {prefix or "body": str(messages)}


# NUL, which no PostgreSQL text can hold, and halves of a surrogate pair, which JSON's
# "\\ud800" escapes can carry but no UTF-8 column (nor SQLite's driver) can store.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE = "must not contain NUL or unpaired surrogate characters"


def unstorable(text: str) -> bool:
    """Whether a text holds characters no database column can store."""
    return _UNSTORABLE.search(text) is not None


def unstorable_fields(data: Any, prefix: str = "") -> dict[str, str]:
    """The fields (and keys) of a decoded body holding text that cannot be stored."""
    if isinstance(data, str):
        return {prefix or "body": UNSTORABLE} if unstorable(data) else {}
    if isinstance(data, dict):
        found: dict[str, str] = {}
        for key, value in data.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            found.update(unstorable_fields(value, name))
            found.update(unstorable_fields(str(key), name))
        return found
    if isinstance(data, list):
        return {k: v for item in data for k, v in unstorable_fields(item, prefix).items()}
    return {}


def load(schema: type[Schema], data: Any, what: str) -> dict[str, Any]:
    """Validate ``data`` with ``schema``; a 400 naming every bad field otherwise."""
    bad = unstorable_fields(data)
    if bad:
        raise ConnectorValidationError("invalid {what}", fields=bad, what=what)
    try:
        loaded: dict[str, Any] = schema().load(data)
    except ValidationError as exc:
        raise ConnectorValidationError(
            "invalid {what}", fields=_flatten(exc.messages), what=what
        ) from exc
    return loaded
