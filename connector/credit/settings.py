"""Store settings: one validated document with sensible defaults.

The document uses the public API's camelCase names. It is stored as JSON with amounts
as decimal strings, and read back through the same validation, so a bad value can never
sit in the database.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import holidays
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from connector.clock import utcnow
from connector.credit.models import StoreSettingsRow
from connector.credit.rules import add_business_days
from connector.errors import ValidationError
from connector.money import (
    AmountError,
    bps_to_decimal,
    cents_to_decimal,
    parse_cents,
    parse_rate_bps,
    to_decimal,
)

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):[0-5]\d(:00)?$")
MAX_INSTALLMENTS = 48
MAX_TERM_DAYS = 3650


@dataclass(frozen=True)
class Reminder:
    days: int
    time_of_day: str


@dataclass(frozen=True)
class StoreSettings:
    currency: str = "BRL"
    tolerance_enabled: bool = False
    automatic_account_creation_enabled: bool = False
    default_credit_cents: int = 0
    postponement_enabled: bool = False
    invoice_postponement_limit: int = 1
    max_postponement_days: int = 30
    max_preauthorization_growth_bps: int = 1000  # a reservation may grow 10 % with its order
    my_credits_enabled: bool = False
    daily_interest_rate: Decimal = Decimal(0)
    tax_rate: Decimal = Decimal(0)
    reminders_before: tuple[Reminder, ...] = (Reminder(3, "09:00"),)
    reminders_after: tuple[Reminder, ...] = (Reminder(1, "09:00"),)
    payment_terms: tuple[tuple[int, ...], ...] = ((30,), (30, 60), (30, 60, 90))
    auto_settle_business_days: int = 5
    holiday_calendar: str | None = "BR"
    payment_instructions: str = ""
    over_limit_review_enabled: bool = False

    def plan_for(self, installments: int) -> tuple[int, ...] | None:
        """The payment-term plan with ``installments`` due dates (0 means 1), if any."""
        count = installments or 1
        return next((plan for plan in self.payment_terms if len(plan) == count), None)

    def is_holiday(self) -> Callable[[date], bool]:
        return holiday_checker(self.holiday_calendar)

    def auto_settle_at(self, now: datetime) -> datetime:
        """When a purchase authorized ``now`` is settled if nobody settles it first."""
        return add_business_days(now, self.auto_settle_business_days, self.is_holiday())

    def to_public(self) -> dict[str, Any]:
        """The document as the API shows it (amounts and rates as Decimal)."""
        return {
            "currency": self.currency,
            "toleranceEnabled": self.tolerance_enabled,
            "automaticCheckingAccountCreationEnabled": self.automatic_account_creation_enabled,
            "defaultCreditValue": cents_to_decimal(self.default_credit_cents),
            "postponementEnabled": self.postponement_enabled,
            "invoicePostponementLimit": self.invoice_postponement_limit,
            "maxPostponementDays": self.max_postponement_days,
            "maxPreAuthorizationGrowthRate": bps_to_decimal(self.max_preauthorization_growth_bps),
            "myCreditsEnabled": self.my_credits_enabled,
            "dailyInterestRate": self.daily_interest_rate,
            "taxRate": self.tax_rate,
            "notificationsSettings": {
                "daysPrior": [_reminder_doc(r) for r in self.reminders_before],
                "daysAfter": [_reminder_doc(r) for r in self.reminders_after],
            },
            "paymentTerms": [list(plan) for plan in self.payment_terms],
            "autoSettleBusinessDays": self.auto_settle_business_days,
            "holidayCalendar": self.holiday_calendar,
            "paymentInstructions": self.payment_instructions,
            "overLimitReviewEnabled": self.over_limit_review_enabled,
        }

    def to_storage(self) -> dict[str, Any]:
        """The document for the JSON column: Decimals written as strings."""
        document: dict[str, Any] = _decimals_to_str(self.to_public())
        return document


def _reminder_doc(reminder: Reminder) -> dict[str, Any]:
    return {"days": reminder.days, "timeOfDay": reminder.time_of_day}


def _decimals_to_str(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _decimals_to_str(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decimals_to_str(v) for v in value]
    return value


@lru_cache(maxsize=64)
def _holidays_of(code: str, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(code, years=year).keys())


def holiday_checker(code: str | None) -> Callable[[date], bool]:
    """A predicate telling whether a day is a public holiday in the calendar ``code``."""
    if not code:
        return lambda _day: False
    return lambda day: day in _holidays_of(code, day.year)


class _Reader:
    """Reads one field at a time, collecting every error under its public name."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.doc = doc
        self.errors: dict[str, str] = {}

    def get(
        self, name: str, default: Any, parse: Callable[[Any], Any], *, nullable: bool = False
    ) -> Any:
        if name not in self.doc:
            return default
        value = self.doc[name]
        if value is None and not nullable:
            return default  # null keeps the current value
        try:
            return parse(value)
        except (AmountError, ValueError, TypeError) as exc:
            self.errors[name] = str(exc)
            return default


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    raise ValueError("must be true or false")


def _int_between(low: int, high: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        number = to_decimal(value)
        if number != number.to_integral_value() or not low <= number <= high:
            raise ValueError(f"must be a whole number from {low} to {high}")
        return int(number)

    return parse


def _currency(value: Any) -> str:
    if not isinstance(value, str) or not _CURRENCY.match(value.strip().upper()):
        raise ValueError("must be an ISO 4217 code such as BRL or USD")
    return value.strip().upper()


def _nonnegative_decimal(value: Any) -> Decimal:
    number = to_decimal(value)
    if number < 0 or number > 1:
        raise ValueError("must be a fraction between 0 and 1")
    return number


def _reminders(value: Any) -> tuple[Reminder, ...]:
    if not isinstance(value, list):
        raise ValueError("must be a list of {days, timeOfDay}")
    out = []
    for item in value:
        if not isinstance(item, Mapping) or set(item) - {"days", "timeOfDay"}:
            raise ValueError("each reminder is {days, timeOfDay}")
        days = _int_between(0, 365)(item.get("days"))
        time_of_day = str(item.get("timeOfDay") or "09:00")
        if not _TIME_OF_DAY.match(time_of_day):
            raise ValueError("timeOfDay is HH:MM (the public API's HH:MM:00 is accepted)")
        out.append(Reminder(days, time_of_day[:5]))
    return tuple(out)


def _payment_terms(value: Any) -> tuple[tuple[int, ...], ...]:
    if not isinstance(value, list) or not value:
        raise ValueError("must be a non-empty list of plans, each a list of due days")
    plans: list[tuple[int, ...]] = []
    for plan in value:
        if not isinstance(plan, list) or not 1 <= len(plan) <= MAX_INSTALLMENTS:
            raise ValueError(f"each plan is a list of 1 to {MAX_INSTALLMENTS} due days")
        days = tuple(_int_between(0, MAX_TERM_DAYS)(d) for d in plan)
        if any(b <= a for a, b in itertools.pairwise(days)):
            raise ValueError("the due days of a plan must increase")
        if any(len(p) == len(days) for p in plans):
            raise ValueError(f"two plans have {len(days)} installment(s): keep one per count")
        plans.append(days)
    return tuple(sorted(plans, key=len))


def _calendar(value: Any) -> str | None:
    if value in (None, ""):
        return None
    code = str(value).strip().upper()
    if code not in holidays.list_supported_countries():
        raise ValueError(f"{value!r} is not a supported country code for holidays")
    return code


def _text(limit: int) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or len(value) > limit:
            raise ValueError(f"must be text of at most {limit} characters")
        return value

    return parse


def parse_settings(doc: Mapping[str, Any], base: StoreSettings | None = None) -> StoreSettings:
    """Validate a (partial) public document over ``base``; raise naming each bad field."""
    base = base or StoreSettings()
    r = _Reader(doc)
    notifications = doc.get("notificationsSettings") or {}
    if not isinstance(notifications, Mapping):
        r.errors["notificationsSettings"] = "must be {daysPrior, daysAfter}"
        notifications = {}
    nr = _Reader(notifications)
    result = replace(
        base,
        currency=r.get("currency", base.currency, _currency),
        tolerance_enabled=r.get("toleranceEnabled", base.tolerance_enabled, _bool),
        automatic_account_creation_enabled=r.get(
            "automaticCheckingAccountCreationEnabled",
            base.automatic_account_creation_enabled,
            _bool,
        ),
        default_credit_cents=r.get("defaultCreditValue", base.default_credit_cents, parse_cents),
        postponement_enabled=r.get("postponementEnabled", base.postponement_enabled, _bool),
        invoice_postponement_limit=r.get(
            "invoicePostponementLimit", base.invoice_postponement_limit, _int_between(0, 100)
        ),
        max_postponement_days=r.get(
            "maxPostponementDays", base.max_postponement_days, _int_between(0, 3650)
        ),
        max_preauthorization_growth_bps=r.get(
            "maxPreAuthorizationGrowthRate",
            base.max_preauthorization_growth_bps,
            lambda v: parse_rate_bps(v, maximum_bps=100_000),
        ),
        my_credits_enabled=r.get("myCreditsEnabled", base.my_credits_enabled, _bool),
        daily_interest_rate=r.get(
            "dailyInterestRate", base.daily_interest_rate, _nonnegative_decimal
        ),
        tax_rate=r.get("taxRate", base.tax_rate, _nonnegative_decimal),
        reminders_before=nr.get("daysPrior", base.reminders_before, _reminders),
        reminders_after=nr.get("daysAfter", base.reminders_after, _reminders),
        payment_terms=r.get("paymentTerms", base.payment_terms, _payment_terms),
        auto_settle_business_days=r.get(
            "autoSettleBusinessDays", base.auto_settle_business_days, _int_between(0, 30)
        ),
        # null clears the calendar: then only weekends are skipped
        holiday_calendar=r.get("holidayCalendar", base.holiday_calendar, _calendar, nullable=True),
        payment_instructions=r.get("paymentInstructions", base.payment_instructions, _text(4000)),
        over_limit_review_enabled=r.get(
            "overLimitReviewEnabled", base.over_limit_review_enabled, _bool
        ),
    )
    for name, message in nr.errors.items():
        r.errors[f"notificationsSettings.{name}"] = message
    if r.errors:
        raise ValidationError("invalid store settings", fields=r.errors)
    return result


SETTINGS_FIELDS = frozenset(StoreSettings().to_public())


# Settings are read on every authorization; a worker keeps what it read this long. A
# change made in this process is seen at once; other workers see it within the window.
CACHE_SECONDS = 1.0
_cache: dict[str, tuple[float, StoreSettings]] = {}


def settings_key(engine: Engine) -> str:
    """Whose settings: one store per database."""
    return engine.url.render_as_string(hide_password=True)


def _cache_key(session: Session) -> str:
    return settings_key(session.get_bind().engine)


def cached_store_settings(key: str) -> StoreSettings | None:
    """The settings this process read less than ``CACHE_SECONDS`` ago, if any."""
    cached = _cache.get(key)
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    return None


def forget_cached_settings() -> None:
    """Drop what this process remembers (tests that wipe the database call this)."""
    _cache.clear()


def load_store_settings(session: Session) -> StoreSettings:
    """The store's settings, or the defaults when none were saved."""
    key = _cache_key(session)
    settings = cached_store_settings(key)
    if settings is not None:
        return settings
    row = session.get(StoreSettingsRow, 1)
    return remember_store_settings(key, row.document if row is not None else None)


def remember_store_settings(key: str, document: Mapping[str, Any] | None) -> StoreSettings:
    """Parse the stored document (None: never saved, the defaults) and cache the result."""
    settings = parse_settings(document) if document is not None else StoreSettings()
    _cache[key] = (time.monotonic(), settings)
    return settings


def update_store_settings(
    session: Session, changes: Mapping[str, Any], *, done_by: str | None = None
) -> StoreSettings:
    """Merge ``changes`` (public names) into the settings; unknown names are refused."""
    unknown = set(changes) - SETTINGS_FIELDS
    if unknown:
        raise ValidationError(
            "unknown store settings", fields={name: "unknown field" for name in sorted(unknown)}
        )
    row = session.get(StoreSettingsRow, 1, with_for_update=True)
    current = parse_settings(row.document) if row is not None else StoreSettings()
    updated = parse_settings(changes, current)
    if row is None:
        row = StoreSettingsRow(id=1, document={}, updated_at=utcnow(), updated_by=done_by)
        session.add(row)
    row.document = updated.to_storage()
    row.updated_at = utcnow()
    row.updated_by = done_by
    session.flush()
    _cache.pop(_cache_key(session), None)
    return updated
