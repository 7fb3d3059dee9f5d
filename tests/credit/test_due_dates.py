"""Due dates are days of the store's calendar, in its time zone: weekends and holidays
skipped, overdue from the first moment of the day after, with and without daylight saving."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from connector.credit import rules
from connector.credit.invoice_search import InvoiceFilter, search_invoices
from connector.credit.reservations import reserve
from connector.credit.settings import StoreSettings, checked
from connector.credit.settlements import settle_reservation
from connector.errors import ValidationError
from tests.factories import OpenAccount

SAO_PAULO = StoreSettings()  # the default: America/Sao_Paulo, UTC-3 all year since 2019
SANTIAGO = StoreSettings(time_zone="America/Santiago", holiday_calendar="CL")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("settled_at", "plan", "expected"),
    [
        # Monday 09:00 in São Paulo: +30 is a Wednesday.
        (utc(2026, 3, 2, 12), (30,), [date(2026, 4, 1)]),
        # 01:30 UTC on Tuesday is still Monday evening in São Paulo: the store's Monday.
        (utc(2026, 3, 3, 1, 30), (30,), [date(2026, 4, 1)]),
        # +32 is Good Friday (a holiday), then the weekend: Monday April 6.
        (utc(2026, 3, 2, 12), (32,), [date(2026, 4, 6)]),
        # +60 is Friday May 1, Worker's Day; +90 is a Sunday.
        (utc(2026, 3, 2, 12), (30, 60, 90), [date(2026, 4, 1), date(2026, 5, 4), date(2026, 6, 1)]),
        # Across the year's end: December 2 + 30 is New Year's Day (Friday 2027): Monday.
        (utc(2026, 12, 2, 15), (30,), [date(2027, 1, 4)]),
        # Christmas Eve is a working day; +1 is Christmas.
        (utc(2026, 12, 24, 15), (0, 1), [date(2026, 12, 24), date(2026, 12, 28)]),
    ],
)
def test_due_dates_in_sao_paulo(
    settled_at: datetime, plan: tuple[int, ...], expected: list[date]
) -> None:
    assert SAO_PAULO.due_dates(settled_at, plan) == expected


def test_due_dates_can_stay_on_weekends_and_holidays() -> None:
    calendar_days = StoreSettings(due_dates_on_business_days=False)
    assert calendar_days.due_dates(utc(2026, 3, 2, 12), (60, 90)) == [
        date(2026, 5, 1),
        date(2026, 5, 31),
    ]


def test_due_dates_in_a_zone_with_daylight_saving() -> None:
    """Chile keeps summer time (UTC-3) from September to April, UTC-4 otherwise."""
    # 03:30 UTC on January 16 is 00:30 in Santiago (summer): January 16 there.
    assert SANTIAGO.today(utc(2026, 1, 16, 3, 30)) == date(2026, 1, 16)
    # 03:30 UTC on July 16 is 23:30 on July 15 in Santiago (winter).
    assert SANTIAGO.today(utc(2026, 7, 16, 3, 30)) == date(2026, 7, 15)
    # Settled at 02:00 UTC on Saturday July 11 (Friday 22:00 in Santiago): +30 from Friday
    # is Sunday August 9, then Monday August 10.
    assert SANTIAGO.due_dates(utc(2026, 7, 11, 2), (30,)) == [date(2026, 8, 10)]
    # September 18 and 19 are Chile's national holidays (a Friday and a Saturday).
    assert SANTIAGO.due_dates(utc(2026, 8, 19, 15), (30,)) == [date(2026, 9, 21)]


@pytest.mark.parametrize(
    ("settings", "due", "last_on_time", "first_overdue"),
    [
        (SAO_PAULO, date(2026, 4, 1), utc(2026, 4, 2, 2, 59, 59), utc(2026, 4, 2, 3)),
        (SANTIAGO, date(2026, 1, 15), utc(2026, 1, 16, 2, 59, 59), utc(2026, 1, 16, 3)),
        (SANTIAGO, date(2026, 7, 15), utc(2026, 7, 16, 3, 59, 59), utc(2026, 7, 16, 4)),
        # Chile's clocks go from 00:00 to 01:00 on September 6, 2026: that day starts at
        # 04:00 UTC all the same (00:00 at UTC-4 is 01:00 at UTC-3).
        (SANTIAGO, date(2026, 9, 5), utc(2026, 9, 6, 3, 59, 59), utc(2026, 9, 6, 4)),
    ],
)
def test_an_invoice_is_overdue_from_the_zones_midnight_after_its_due_date(
    settings: StoreSettings, due: date, last_on_time: datetime, first_overdue: datetime
) -> None:
    assert not rules.is_overdue("Opened", due, settings.today(last_on_time))
    assert rules.is_overdue("Opened", due, settings.today(first_overdue))
    assert settings.start_of(due + timedelta(days=1)) == first_overdue


def test_settled_invoices_are_due_on_the_stores_days_and_listed_overdue_by_them(
    session: Session, new_account: OpenAccount, store: Callable[..., None]
) -> None:
    store(time_zone="America/Santiago", holiday_calendar="CL")
    account = new_account(credit_limit_cents=100_000)
    held = reserve(session, account.id, 9_000, installments=1, now=utc(2026, 7, 11, 2))
    [invoice] = settle_reservation(session, held.id, now=utc(2026, 7, 11, 2)).invoices
    assert invoice.due_date == invoice.original_due_date == date(2026, 8, 10)
    overdue = InvoiceFilter(statuses=("Overdue",))
    assert search_invoices(session, overdue, SANTIAGO.today(utc(2026, 8, 11, 3, 59))) == []
    assert search_invoices(session, overdue, SANTIAGO.today(utc(2026, 8, 11, 4))) == [invoice]


@given(
    moment=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    days=st.integers(0, 400),
)
def test_a_due_date_is_a_business_day_never_before_its_offset_nor_a_week_after(
    moment: datetime, days: int
) -> None:
    for settings in (SAO_PAULO, SANTIAGO):
        [due] = settings.due_dates(moment, (days,))
        earliest = settings.today(moment) + timedelta(days=days)
        assert earliest <= due <= earliest + timedelta(days=7)
        assert due.weekday() < 5 and not settings.is_holiday()(due)
        # No business day was skipped on the way.
        day = earliest
        while day < due:
            assert day.weekday() >= 5 or settings.is_holiday()(day)
            day += timedelta(days=1)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "america/sao_paulo", 3])
def test_an_unknown_time_zone_is_refused_by_name(zone: object) -> None:
    with pytest.raises(ValidationError) as error:
        checked({"time_zone": zone})
    assert set(error.value.fields) == {"time_zone"}


def test_the_zone_decides_the_store_date_of_a_moment() -> None:
    assert checked({"time_zone": " Asia/Tokyo "}).time_zone == "Asia/Tokyo"
    tokyo = StoreSettings(time_zone="Asia/Tokyo")
    assert tokyo.today(utc(2026, 3, 2, 15)) == date(2026, 3, 3)
    assert SAO_PAULO.today(utc(2026, 3, 2, 15)) == date(2026, 3, 2)
