from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from connector.credit.settings import (
    StoreSettings,
    load_store_settings,
    update_store_settings,
)
from connector.errors import ValidationError


def test_defaults_when_nothing_was_saved(session: Session) -> None:
    settings = load_store_settings(session)
    assert settings == StoreSettings()
    assert settings.auto_settle_business_days == 5
    assert settings.payment_terms == ((30,), (30, 60), (30, 60, 90))
    assert not settings.tolerance_enabled and not settings.postponement_enabled
    public = settings.to_public()
    assert public["paymentTerms"] == [[30], [30, 60], [30, 60, 90]]
    assert public["notificationsSettings"]["daysPrior"] == [{"days": 3, "timeOfDay": "09:00"}]


def test_update_merges_validates_and_persists(session: Session) -> None:
    updated = update_store_settings(
        session,
        {
            "currency": "usd",
            "toleranceEnabled": "true",
            "defaultCreditValue": "1.500,00",
            "maxPreAuthorizationGrowthRate": 0,
            "paymentTerms": [[30, 60, 90, 120], [7]],
            "holidayCalendar": "us",
            "dailyInterestRate": "0.00033",
            "notificationsSettings": {"daysAfter": [{"days": 2, "timeOfDay": "18:30"}]},
        },
        done_by="admin@store.com",
    )
    session.flush()
    session.expire_all()
    loaded = load_store_settings(session)
    assert loaded == updated
    assert loaded.currency == "USD" and loaded.tolerance_enabled
    assert loaded.default_credit_cents == 150_000
    assert loaded.max_preauthorization_growth_bps == 0
    assert loaded.daily_interest_rate == Decimal("0.00033")
    assert loaded.holiday_calendar == "US"
    assert loaded.plan_for(1) == (7,) and loaded.plan_for(0) == (7,)
    assert loaded.plan_for(2) is None
    assert loaded.plan_for(4) == (30, 60, 90, 120)
    assert loaded.reminders_before == StoreSettings().reminders_before  # untouched
    update_store_settings(session, {"holidayCalendar": None})
    assert load_store_settings(session).holiday_calendar is None


def test_two_plans_with_the_same_count_are_refused(session: Session) -> None:
    with pytest.raises(ValidationError) as error:
        update_store_settings(session, {"paymentTerms": [[7], [28]]})
    assert "paymentTerms" in error.value.fields


def test_every_bad_field_is_named(session: Session) -> None:
    with pytest.raises(ValidationError) as error:
        update_store_settings(
            session,
            {
                "currency": "reais",
                "autoSettleBusinessDays": 99,
                "paymentTerms": [[60, 30]],
                "holidayCalendar": "XX",
                "toleranceEnabled": "maybe",
                "notificationsSettings": {"daysPrior": [{"days": 1, "timeOfDay": "25:00"}]},
            },
        )
    assert set(error.value.fields) == {
        "currency",
        "autoSettleBusinessDays",
        "paymentTerms",
        "holidayCalendar",
        "toleranceEnabled",
        "notificationsSettings.daysPrior",
    }
    assert load_store_settings(session) == StoreSettings()


def test_unknown_settings_are_refused(session: Session) -> None:
    with pytest.raises(ValidationError) as error:
        update_store_settings(session, {"currency": "BRL", "colour": "blue"})
    assert error.value.fields == {"colour": "unknown field"}
