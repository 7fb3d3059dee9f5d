"""Store settings: one validated set of values with sensible defaults.

The settings are Python values (cents, basis points, fractions as ``Decimal``, plans as
tuples) under the field names of ``StoreSettings``; each edge reads its own format into
them (the API its camelCase JSON, the admin its form). Every change goes through
``update_store_settings``, which checks each field by its rule and names the bad ones.
They are stored as one JSON document (``to_storage``) and read back through the same
rules, so a bad value can never sit in the database.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import holidays
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from connector import audit
from connector.clock import utcnow
from connector.credit.models import StoreSettingsRow
from connector.credit.rules import add_business_days, due_dates, next_business_day
from connector.errors import Reason, ValidationError
from connector.pix import check_pix_key, pix_text_fits

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):[0-5]\d(:00)?$")
MAX_INSTALLMENTS = 48
MAX_TERM_DAYS = 3650
LANGUAGES = ("pt", "es", "en")  # of the mails; a holder may choose another than the store's


@dataclass(frozen=True)
class Reminder:
    days: int
    time_of_day: str  # HH:MM


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
    time_zone: str = "America/Sao_Paulo"
    due_dates_on_business_days: bool = True
    block_purchases_when_overdue: bool = False
    overdue_grace_days: int = 0
    pix_key: str | None = None
    pix_merchant_name: str = ""
    pix_merchant_city: str = ""
    language: str = "pt"  # of the mails to holders who chose none
    notify_invoice_issued: bool = True
    notify_invoice_paid: bool = True
    notify_dependents: bool = False  # also mail the dependent who made the purchase
    store_name: str = ""  # shown on My Credits and in the mails; empty: "My Credits" only
    store_logo_url: str = ""  # an https image; empty: no logo

    def zone(self) -> ZoneInfo:
        return zone_named(self.time_zone)

    def today(self, now: datetime) -> date:
        """The store's date at the UTC moment ``now``: what due dates are compared with."""
        return now.astimezone(self.zone()).date()

    def start_of(self, day: date) -> datetime:
        """The first moment of ``day`` in the store's zone, as a UTC moment.

        In UTC because Python never finds a moment inside a clock change equal to one of
        another zone (PEP 495): Santiago's 2026-09-06 00:00 does not exist, and its day
        starts at 04:00 UTC all the same.
        """
        return datetime.combine(day, time(0), tzinfo=self.zone()).astimezone(UTC)

    def first_moment(self, bound: date | datetime) -> datetime:
        """A period's start: a moment as is, a day from its first moment in the store's zone."""
        if isinstance(bound, datetime):
            return bound
        return self.start_of(bound)

    def last_moment(self, bound: date | datetime) -> datetime:
        """A period's end, included: a moment as is, a day up to its last moment."""
        if isinstance(bound, datetime):
            return bound
        return self.start_of(bound + timedelta(days=1)) - timedelta(microseconds=1)

    def date_of(self, bound: date | datetime) -> date:
        """A day as is; a moment as the store's date at that moment."""
        return self.today(bound) if isinstance(bound, datetime) else bound

    def due_dates(self, settled_at: datetime, offsets_days: Sequence[int]) -> list[date]:
        """The due dates of a purchase settled at ``settled_at``: the settlement's date in the
        store's zone plus each offset, moved to the next business day when the store says so."""
        return due_dates(self.today(settled_at), offsets_days, self._due_day_rule())

    def postponed(self, due_date: date, days: int) -> date:
        """A due date moved ``days`` later, then to a business day as due dates are."""
        return next_business_day(due_date + timedelta(days=days), self._due_day_rule())

    def _due_day_rule(self) -> Callable[[date], bool] | None:
        if not self.due_dates_on_business_days:
            return None
        is_holiday = self.is_holiday()
        return lambda day: day.weekday() < 5 and not is_holiday(day)

    def plan_for(self, installments: int) -> tuple[int, ...] | None:
        """The payment-term plan with ``installments`` due dates (0 means 1), if any."""
        count = installments or 1
        return next((plan for plan in self.payment_terms if len(plan) == count), None)

    def is_holiday(self) -> Callable[[date], bool]:
        return holiday_checker(self.holiday_calendar)

    def auto_settle_at(self, now: datetime) -> datetime:
        """When a purchase authorized ``now`` is settled if nobody settles it first: as many
        business days later, counted in the store's calendar and zone, at the same time."""
        local = now.astimezone(self.zone())
        later = add_business_days(local, self.auto_settle_business_days, self.is_holiday())
        return later.astimezone(now.tzinfo)

    def to_storage(self) -> dict[str, Any]:
        """The JSON document stored: every field by name, Decimals as strings."""
        return {field.name: _to_json(getattr(self, field.name)) for field in fields(self)}


FIELDS = frozenset(field.name for field in fields(StoreSettings))


def _to_json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Reminder):
        return {"days": value.days, "time_of_day": value.time_of_day}
    if isinstance(value, tuple | list):
        return [_to_json(item) for item in value]
    return value


@lru_cache(maxsize=16)
def zone_named(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=64)
def _holidays_of(code: str, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(code, years=year).keys())


def holiday_checker(code: str | None) -> Callable[[date], bool]:
    """A predicate telling whether a day is a public holiday in the calendar ``code``."""
    if not code:
        return lambda _day: False
    return lambda day: day in _holidays_of(code, day.year)


# --- The rule of each field: the canonical value, or a Reason it is refused ------------


class _Refused(Exception):
    def __init__(self, reason: Reason) -> None:
        self.reason = reason


def _whole(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise _Refused(
                Reason("must be a whole number from {low} to {high}", low=low, high=high)
            )
        if value != int(value) or not low <= value <= high:
            raise _Refused(
                Reason("must be a whole number from {low} to {high}", low=low, high=high)
            )
        return int(value)

    return check


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Refused(Reason("must be true or false"))
    return value


def _currency(value: Any) -> str:
    if not isinstance(value, str) or not _CURRENCY.match(value.strip().upper()):
        raise _Refused(Reason("must be an ISO 4217 code such as BRL or USD"))
    return value.strip().upper()


def _fraction(value: Any) -> Decimal:
    if not isinstance(value, Decimal) or not 0 <= value <= 1:
        raise _Refused(Reason("must be a fraction between 0 and 1"))
    return value


def _reminders(value: Any) -> tuple[Reminder, ...]:
    if not isinstance(value, tuple | list):
        raise _Refused(Reason("must be a list of reminders, each days and a time of day"))
    out = []
    for item in value:
        if not isinstance(item, Reminder):
            raise _Refused(Reason("each reminder is days and a time of day"))
        days = _whole(0, 365)(item.days)
        if not isinstance(item.time_of_day, str) or not _TIME_OF_DAY.match(item.time_of_day):
            raise _Refused(Reason("timeOfDay is HH:MM (the public API's HH:MM:00 is accepted)"))
        out.append(Reminder(days, item.time_of_day[:5]))
    return tuple(out)


def _payment_terms(value: Any) -> tuple[tuple[int, ...], ...]:
    if not isinstance(value, tuple | list) or not value:
        raise _Refused(Reason("must be a non-empty list of plans, each a list of due days"))
    plans: list[tuple[int, ...]] = []
    for plan in value:
        if not isinstance(plan, tuple | list) or not 1 <= len(plan) <= MAX_INSTALLMENTS:
            raise _Refused(
                Reason("each plan is a list of 1 to {maximum} due days", maximum=MAX_INSTALLMENTS)
            )
        days = tuple(_whole(0, MAX_TERM_DAYS)(d) for d in plan)
        if any(b <= a for a, b in itertools.pairwise(days)):
            raise _Refused(Reason("the due days of a plan must increase"))
        if any(len(p) == len(days) for p in plans):
            raise _Refused(
                Reason("two plans have {count} installment(s): keep one per count", count=len(days))
            )
        plans.append(days)
    return tuple(sorted(plans, key=len))


def _calendar(value: Any) -> str | None:
    if value in (None, ""):
        return None  # no calendar: only weekends are skipped
    code = str(value).strip().upper()
    if code not in holidays.list_supported_countries():
        raise _Refused(Reason("{code} is not a supported country code for holidays", code=code))
    return code


def _time_zone(value: Any) -> str:
    """An IANA zone name such as ``America/Sao_Paulo``; ``UTC`` too."""
    if not isinstance(value, str) or not value.strip():
        raise _Refused(Reason("must be an IANA time zone such as America/Sao_Paulo"))
    name = value.strip()
    if name not in _zone_names():
        raise _Refused(
            Reason("{name} is not an IANA time zone such as America/Sao_Paulo", name=name)
        )
    try:
        zone_named(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:  # listed but not loadable
        raise _Refused(
            Reason("{name} is not an IANA time zone such as America/Sao_Paulo", name=name)
        ) from exc
    return name


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}


def _pix_key(value: Any) -> str | None:
    if value in (None, ""):
        return None  # no Pix: invoices offer no code
    refused = Reason(
        "must be a Pix key: a CPF or CNPJ with its check digits, an e-mail, "
        "a phone with +55 or a random key"
    )
    if not isinstance(value, str):
        raise _Refused(refused)
    try:
        return check_pix_key(value)
    except ValueError as exc:
        raise _Refused(refused) from exc


def _language(value: Any) -> str:
    if value not in LANGUAGES:
        raise _Refused(Reason("must be one of {choices}", choices=", ".join(LANGUAGES)))
    return str(value)


def _text(limit: int) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or len(value) > limit:
            raise _Refused(Reason("must be text of at most {limit} characters", limit=limit))
        return value

    return check


MAX_LOGO_URL = 500


def _logo_url(value: Any) -> str:
    """An absolute ``https`` URL of an image, or empty: the pages and the mails load it
    from there (a mail reader would refuse anything but an absolute URL; plain http
    would be mixed content on the pages)."""
    if value in (None, ""):
        return ""
    refused = Reason("must be an https address of an image, such as https://store.example/logo.png")
    if not isinstance(value, str) or len(value) > MAX_LOGO_URL:
        raise _Refused(refused)
    url = value.strip()
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise _Refused(refused) from exc
    if (
        parts.scheme != "https"
        or not parts.hostname
        or parts.username is not None
        or any(c.isspace() or c in "\"'<>" for c in url)
    ):
        raise _Refused(refused)
    return url


RULES: dict[str, Callable[[Any], Any]] = {
    "currency": _currency,
    "tolerance_enabled": _flag,
    "automatic_account_creation_enabled": _flag,
    "default_credit_cents": _whole(0, 10**15),
    "postponement_enabled": _flag,
    "invoice_postponement_limit": _whole(0, 100),
    "max_postponement_days": _whole(0, 3650),
    "max_preauthorization_growth_bps": _whole(0, 100_000),
    "my_credits_enabled": _flag,
    "daily_interest_rate": _fraction,
    "tax_rate": _fraction,
    "reminders_before": _reminders,
    "reminders_after": _reminders,
    "payment_terms": _payment_terms,
    "auto_settle_business_days": _whole(0, 30),
    "holiday_calendar": _calendar,
    "payment_instructions": _text(4000),
    "over_limit_review_enabled": _flag,
    "time_zone": _time_zone,
    "due_dates_on_business_days": _flag,
    "block_purchases_when_overdue": _flag,
    "overdue_grace_days": _whole(0, 365),
    "pix_key": _pix_key,
    "pix_merchant_name": _text(100),
    "pix_merchant_city": _text(100),
    "language": _language,
    "notify_invoice_issued": _flag,
    "notify_invoice_paid": _flag,
    "notify_dependents": _flag,
    "store_name": _text(100),
    "store_logo_url": _logo_url,
}
assert set(RULES) == FIELDS, "every setting has its rule"


def checked(changes: Mapping[str, Any], base: StoreSettings | None = None) -> StoreSettings:
    """``base`` with ``changes`` applied, each by its field's rule; every bad or unknown
    field is named in one ValidationError."""
    errors: dict[str, str | Reason] = {}
    values: dict[str, Any] = {}
    for name, value in changes.items():
        rule = RULES.get(name)
        if rule is None:
            errors[name] = Reason("unknown field")
            continue
        try:
            values[name] = rule(value)
        except _Refused as refused:
            errors[name] = refused.reason
    if errors:
        raise ValidationError("invalid store settings", fields=errors)
    settings = replace(base or StoreSettings(), **values)
    _check_together(settings)
    return settings


def _check_together(settings: StoreSettings) -> None:
    """Rules that join fields: a Pix key needs the name and city its codes carry."""
    errors: dict[str, str | Reason] = {}
    if settings.pix_key is not None:
        for name in ("pix_merchant_name", "pix_merchant_city"):
            if not pix_text_fits(getattr(settings, name)):
                errors[name] = Reason("required with a Pix key: letters the Pix code can carry")
    if errors:
        raise ValidationError("invalid store settings", fields=errors)


def from_storage(document: Mapping[str, Any]) -> StoreSettings:
    """The settings a stored document holds, read through the fields' rules."""
    values: dict[str, Any] = {}
    for name, value in document.items():
        if name in ("daily_interest_rate", "tax_rate"):
            value = Decimal(value)
        elif name in ("reminders_before", "reminders_after"):
            value = [Reminder(item["days"], item["time_of_day"]) for item in value]
        values[name] = value
    return checked(values)


# What each worker read last, by database: the revision and the settings it gave. Every
# request reads the revision (one indexed row) and the document only when it moved, so a
# change, once committed, decides every later request in every worker.
_cache: dict[str, tuple[int, StoreSettings]] = {}


def settings_key(engine: Engine) -> str:
    """Whose settings: one store per database."""
    return engine.url.render_as_string(hide_password=True)


def _cache_key(session: Session) -> str:
    return settings_key(session.get_bind().engine)


def cached_store_settings(key: str) -> tuple[int, StoreSettings] | None:
    """The revision this process read last and its settings, if any."""
    return _cache.get(key)


def forget_cached_settings() -> None:
    """Drop what this process remembers (tests that wipe the database call this)."""
    _cache.clear()


def load_store_settings(session: Session) -> StoreSettings:
    """The store's settings as last committed, or the defaults when none were saved."""
    key = _cache_key(session)
    revision = session.scalar(select(StoreSettingsRow.revision).where(StoreSettingsRow.id == 1))
    cached = _cache.get(key)
    if cached is not None and cached[0] == (revision or 0):
        return cached[1]
    row = session.execute(
        select(StoreSettingsRow.revision, StoreSettingsRow.document).where(StoreSettingsRow.id == 1)
    ).first()
    return remember_store_settings(key, row[0] if row else 0, row[1] if row else None)


def remember_store_settings(
    key: str, revision: int, document: Mapping[str, Any] | None
) -> StoreSettings:
    """Read a stored document (None: never saved, the defaults) and remember it by revision."""
    settings = from_storage(document) if document is not None else StoreSettings()
    _cache[key] = (revision, settings)
    return settings


def update_store_settings(
    session: Session, changes: Mapping[str, Any], *, done_by: str | None = None
) -> StoreSettings:
    """Apply ``changes`` (field name to value) to the stored settings; refuse naming each
    bad or unknown field, and change nothing then."""
    row = session.get(StoreSettingsRow, 1, with_for_update=True)
    current = from_storage(row.document) if row is not None else StoreSettings()
    updated = checked(changes, current)
    if row is None:
        row = StoreSettingsRow(
            id=1, document={}, revision=0, updated_at=utcnow(), updated_by=done_by
        )
        session.add(row)
    before, after = current.to_storage(), updated.to_storage()
    row.document = after
    row.revision += 1
    row.updated_at = utcnow()
    row.updated_by = done_by
    session.flush()
    if before != after:
        audit.record(
            session,
            audit.Change("settings.saved", "settings", "store", None, before, after),
            at=row.updated_at,
        )
    return updated
