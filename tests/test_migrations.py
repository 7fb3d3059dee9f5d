"""The schema comes from the migrations alone, and the models agree with it."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from connector.db import Database, make_engine
from connector.migrate import alembic_config, is_current, upgrade
from connector.models import Base


def test_models_and_migrations_have_not_drifted(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], f"models differ from migrations: {differences}"


def test_the_test_database_is_at_the_latest_revision(database: Database) -> None:
    assert is_current(database.engine)


def test_migrations_build_every_table_and_go_down_again(tmp_path: Path) -> None:
    from alembic import command

    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    command.downgrade(alembic_config(url), "base")
    assert inspect(engine).get_table_names() == ["alembic_version"]
    upgrade(url)
    assert is_current(engine)
    engine.dispose()


def test_0006_stores_the_settings_by_field_name_and_back(tmp_path: Path) -> None:
    from datetime import UTC, datetime
    from decimal import Decimal

    from alembic import command
    from sqlalchemy import select, text

    from connector import jsonio
    from connector.credit.models import StoreSettingsRow
    from connector.credit.settings import Reminder, StoreSettings, from_storage

    url = f"sqlite:///{tmp_path / 'settings.sqlite3'}"
    upgrade(url, "0005")
    before = {
        "currency": "USD",
        "toleranceEnabled": True,
        "defaultCreditValue": "1500.5",
        "maxPreAuthorizationGrowthRate": "0.125",
        "dailyInterestRate": "0.001",
        "notificationsSettings": {
            "daysPrior": [{"days": 2, "timeOfDay": "08:30"}],
            "daysAfter": [],
        },
        "paymentTerms": [[7], [30, 60]],
        "holidayCalendar": None,
    }
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO store_settings VALUES (1, :doc, :at, NULL)"),
            {"doc": jsonio.dumps(before), "at": datetime(2026, 1, 1, tzinfo=UTC)},
        )
    upgrade(url)
    with engine.connect() as connection:
        document = connection.scalar(select(StoreSettingsRow.document))
    assert from_storage(document) == StoreSettings(
        currency="USD",
        tolerance_enabled=True,
        default_credit_cents=150_050,
        max_preauthorization_growth_bps=1250,
        daily_interest_rate=Decimal("0.001"),
        reminders_before=(Reminder(2, "08:30"),),
        reminders_after=(),
        payment_terms=((7,), (30, 60)),
        holiday_calendar=None,
    )
    command.downgrade(alembic_config(url), "0005")
    with engine.connect() as connection:
        restored = connection.scalar(select(StoreSettingsRow.document))
    assert restored == {**before, "defaultCreditValue": "1500.5"}
    engine.dispose()
