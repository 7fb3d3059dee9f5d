from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.credit.models import StoreSettingsRow
from connector.credit.settings import (
    Reminder,
    StoreSettings,
    from_storage,
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
    assert settings.reminders_before == (Reminder(3, "09:00"),)


def test_update_merges_validates_and_persists(session: Session) -> None:
    updated = update_store_settings(
        session,
        {
            "currency": "usd",
            "tolerance_enabled": True,
            "default_credit_cents": 150_000,
            "max_preauthorization_growth_bps": 0,
            "payment_terms": [[30, 60, 90, 120], [7]],
            "holiday_calendar": "us",
            "daily_interest_rate": Decimal("0.00033"),
            "reminders_after": [Reminder(2, "18:30:00")],
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
    assert loaded.reminders_after == (Reminder(2, "18:30"),)
    assert loaded.plan_for(1) == (7,) and loaded.plan_for(0) == (7,)
    assert loaded.plan_for(2) is None
    assert loaded.plan_for(4) == (30, 60, 90, 120)
    assert loaded.reminders_before == StoreSettings().reminders_before  # untouched
    update_store_settings(session, {"holiday_calendar": None})
    assert load_store_settings(session).holiday_calendar is None


def test_stored_by_field_name_and_read_back_through_the_rules(session: Session) -> None:
    changed = update_store_settings(session, {"tax_rate": Decimal("0.05"), "currency": "ARS"})
    document = session.scalar(select(StoreSettingsRow.document))
    assert document is not None
    assert document["tax_rate"] == "0.05" and document["currency"] == "ARS"
    assert document["reminders_before"] == [{"days": 3, "time_of_day": "09:00"}]
    assert from_storage(document) == changed
    with pytest.raises(ValidationError):
        from_storage({**document, "auto_settle_business_days": 99})


def test_two_plans_with_the_same_count_are_refused(session: Session) -> None:
    with pytest.raises(ValidationError) as error:
        update_store_settings(session, {"payment_terms": [[7], [28]]})
    assert error.value.fields == {
        "payment_terms": "two plans have 1 installment(s): keep one per count"
    }


def test_every_bad_field_is_named(session: Session) -> None:
    with pytest.raises(ValidationError) as error:
        update_store_settings(
            session,
            {
                "currency": "reais",
                "auto_settle_business_days": 99,
                "payment_terms": [[60, 30]],
                "holiday_calendar": "XX",
                "tolerance_enabled": "maybe",
                "reminders_before": [Reminder(1, "25:00")],
                "tax_rate": Decimal("1.5"),
            },
        )
    assert set(error.value.fields) == {
        "currency",
        "auto_settle_business_days",
        "payment_terms",
        "holiday_calendar",
        "tolerance_enabled",
        "reminders_before",
        "tax_rate",
    }
    assert load_store_settings(session) == StoreSettings()


def test_unknown_settings_are_refused(session: Session) -> None:
    with pytest.raises(ValidationError) as error:
        update_store_settings(session, {"currency": "BRL", "colour": "blue"})
    assert error.value.fields == {"colour": "unknown field"}
