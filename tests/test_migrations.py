"""The schema comes from the migrations alone, and the models agree with it."""

from __future__ import annotations

from collections.abc import Iterator
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


_DUE_ROWS = {
    # id: (original due moment, due moment) as UTC, and the days the store saw
    "T-01": ("2026-12-30 04:27:16", "2026-12-30 04:27:16", "2026-12-30", "2026-12-30"),
    # 01:30 UTC is still the evening before in Brasília (UTC-3)
    "T-02": ("2027-01-02 01:30:00", "2027-01-09 02:59:59", "2027-01-01", "2027-01-08"),
    "T-03": ("2027-01-02 03:00:00", "2027-01-02 03:00:00", "2027-01-02", "2027-01-02"),
}


def _migration_database(tmp_path: Path, database: Database) -> Iterator[str]:
    """A fresh database for a migration test: SQLite in a file, or a schema of its own in
    the suite's PostgreSQL database (the search path names it)."""
    if not database.is_postgresql:
        yield f"sqlite:///{tmp_path / 'migration.sqlite3'}"
        return
    from sqlalchemy import text

    with database.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS migration_test CASCADE"))
        connection.execute(text("CREATE SCHEMA migration_test"))
    url = database.engine.url.update_query_dict({"options": "-csearch_path=migration_test"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with database.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA migration_test CASCADE"))


def test_0008_turns_due_moments_into_the_store_days_and_back(
    tmp_path: Path, database: Database
) -> None:
    from datetime import date

    from alembic import command
    from sqlalchemy import text

    for url in _migration_database(tmp_path, database):
        upgrade(url, "0007")
        engine = make_engine(url)
        stamp = "2026-11-30 12:00:00"
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO accounts VALUES ('A', 'a@example.com', NULL, NULL, 'Open', "
                    "100000, 0, -3000, 0, :at, :at, NULL)"
                ),
                {"at": stamp},
            )
            connection.execute(
                text(
                    "INSERT INTO reservations VALUES ('T', 'A', NULL, NULL, 'posted', 0, 3000, "
                    "3000, 0, 3, '[30, 60, 90]', 3, NULL, NULL, :at, :at, :at, NULL)"
                ),
                {"at": stamp},
            )
            for number, (key, (original, due, _, _)) in enumerate(_DUE_ROWS.items(), start=1):
                connection.execute(
                    text(
                        "INSERT INTO invoices (id, friendly_id, account_id, reservation_id, "
                        "order_id, installment, number_of_installments, value_cents, "
                        "original_value_cents, status, created_at, updated_at, "
                        "original_due_date, due_date, resolved_at, payment_link, observation, "
                        "postponement_count, postponed_days) VALUES (:id, :friendly, 'A', 'T', "
                        "NULL, :n, 3, 1000, 1000, 'Opened', :at, :at, :original, :due, NULL, "
                        "NULL, NULL, 0, 0)"
                    ),
                    {
                        "id": key,
                        "friendly": f"F-{number}",
                        "n": number,
                        "at": stamp,
                        "original": original + "+00:00" if database.is_postgresql else original,
                        "due": due + "+00:00" if database.is_postgresql else due,
                    },
                )
        upgrade(url)
        with Database(url).transaction() as session:
            from connector.credit.models import Invoice

            days = {
                invoice.id: (invoice.original_due_date, invoice.due_date)
                for invoice in session.query(Invoice)
            }
        assert days == {
            key: (date.fromisoformat(original), date.fromisoformat(due))
            for key, (_, _, original, due) in _DUE_ROWS.items()
        }
        command.downgrade(alembic_config(url), "0007")
        with engine.connect() as connection:
            back = connection.execute(text("SELECT id, due_date FROM invoices")).all()
        # Back to moments: each day's first moment in the store's zone (03:00 UTC).
        assert {key: str(value)[:19] for key, value in back} == {
            key: f"{due} 03:00:00" for key, (_, _, _, due) in _DUE_ROWS.items()
        }
        engine.dispose()


def test_0014_adds_platform_connections_and_makes_every_staff_user_an_admin(
    tmp_path: Path, database: Database
) -> None:
    from alembic import command
    from sqlalchemy import text

    for url in _migration_database(tmp_path, database):
        upgrade(url, "0011")
        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO staff_users VALUES ('U1', 'boss@store.example', 'Boss', "
                    "'scrypt:x', :at, NULL, 1)"
                ),
                {"at": "2026-11-30 12:00:00+00:00"},
            )
        upgrade(url, "0014")
        assert "platform_connections" in inspect(engine).get_table_names()
        with engine.connect() as connection:
            assert connection.execute(text("SELECT id, role FROM staff_users")).all() == [
                ("U1", "admin")
            ]
        command.downgrade(alembic_config(url), "0011")
        assert "platform_connections" not in inspect(engine).get_table_names()
        columns = {column["name"] for column in inspect(engine).get_columns("staff_users")}
        assert "role" not in columns and "session_epoch" in columns
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT email FROM staff_users")) == "boss@store.example"
        engine.dispose()


def test_0013_gives_every_purchase_an_order_id_and_back(tmp_path: Path, database: Database) -> None:
    from alembic import command
    from sqlalchemy import Engine, text

    for url in _migration_database(tmp_path, database):
        upgrade(url, "0011")
        engine = make_engine(url)
        stamp = "2026-11-30 12:00:00"
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO accounts (id, email, status, credit_limit_cents, tolerance_bps, "
                    "balance_cents, reserved_cents, created_at, updated_at) "
                    "VALUES ('A', 'a@example.com', 'Open', 100000, 0, -2000, 0, :at, :at)"
                ),
                {"at": stamp},
            )
            # T: a pre-authorization of the API (no order); P: a payment of the protocol.
            for key, order in (("T", None), ("P", "order-1")):
                connection.execute(
                    text(
                        "INSERT INTO reservations (id, account_id, order_id, status, "
                        "value_cents, authorized_cents, settled_cents, refunded_cents, "
                        "installments, term_days, invoice_count, created_at, updated_at) "
                        "VALUES (:id, 'A', :order, 'posted', 0, 1000, 1000, 0, 1, '[30]', 1, "
                        ":at, :at)"
                    ),
                    {"id": key, "order": order, "at": stamp},
                )
                connection.execute(
                    text(
                        "INSERT INTO invoices (id, friendly_id, account_id, reservation_id, "
                        "order_id, installment, number_of_installments, value_cents, "
                        "original_value_cents, status, created_at, updated_at, "
                        "original_due_date, due_date, postponement_count, postponed_days) "
                        "VALUES (:invoice, :friendly, 'A', :id, :order, 1, 1, 1000, 1000, "
                        "'Opened', :at, :at, '2026-12-30', '2026-12-30', 0, 0)"
                    ),
                    {
                        "invoice": f"{key}-01",
                        "friendly": f"F-{key}",
                        "id": key,
                        "order": order,
                        "at": stamp,
                    },
                )

        def order_ids(engine: Engine) -> set[tuple[str, str | None]]:
            with engine.connect() as connection:
                return {
                    (key, order)
                    for table in ("reservations", "invoices")
                    for key, order in connection.execute(
                        text(f"SELECT id, order_id FROM {table}")  # noqa: S608 (our own names)
                    )
                }

        protocol = {("P", "order-1"), ("P-01", "order-1")}  # an order id is kept as it is
        upgrade(url)
        assert order_ids(engine) == {("T", "T"), ("T-01", "T"), *protocol}
        command.downgrade(alembic_config(url), "0011")
        assert order_ids(engine) == {("T", None), ("T-01", None), *protocol}
        engine.dispose()


def test_0016_keeps_every_document_and_invoice_id_and_goes_back(
    tmp_path: Path, database: Database
) -> None:
    """An account stored before check digits were checked (``123_CPF``) and an invoice with
    a random id come through 0016 as they were, both ways; new purchases get numbers."""
    from alembic import command
    from sqlalchemy import Engine, text

    for url in _migration_database(tmp_path, database):
        upgrade(url, "0015")
        engine = make_engine(url)
        stamp = "2026-11-30 12:00:00"
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO accounts (id, email, document, document_type, status, "
                    "credit_limit_cents, tolerance_bps, balance_cents, reserved_cents, "
                    "created_at, updated_at) VALUES ('123_CPF', 'a@example.com', '123', 'CPF', "
                    "'Open', 100000, 0, -1000, 0, :at, :at)"
                ),
                {"at": stamp},
            )
            connection.execute(
                text(
                    "INSERT INTO reservations (id, account_id, holder_email, order_id, status, "
                    "value_cents, authorized_cents, settled_cents, refunded_cents, "
                    "installments, term_days, invoice_count, created_at, updated_at) "
                    "VALUES ('R', '123_CPF', 'dep@example.com', 'order-1', 'posted', 0, 1000, "
                    "1000, 0, 1, '[30]', 1, :at, :at)"
                ),
                {"at": stamp},
            )
            connection.execute(
                text(
                    "INSERT INTO invoices (id, friendly_id, account_id, reservation_id, "
                    "order_id, installment, number_of_installments, value_cents, "
                    "original_value_cents, status, created_at, updated_at, "
                    "original_due_date, due_date, postponement_count, postponed_days) "
                    "VALUES ('R-01', 'L7X5WJIZ-1', '123_CPF', 'R', 'order-1', 1, 1, 1000, "
                    "1000, 'Opened', :at, :at, '2026-12-30', '2026-12-30', 0, 0)"
                ),
                {"at": stamp},
            )

        def stored(engine: Engine) -> tuple[object, ...]:
            with engine.connect() as connection:
                account = connection.execute(
                    text("SELECT id, document, document_type FROM accounts")
                ).one()
                invoice = connection.execute(text("SELECT id, friendly_id FROM invoices")).one()
                return (tuple(account), tuple(invoice))

        before = stored(engine)
        upgrade(url)
        assert stored(engine) == before
        db = Database(url)
        with db.transaction() as session:
            from connector.credit.models import Account, Invoice
            from connector.credit.purchase_numbers import next_purchase_number

            account = session.get(Account, "123_CPF")
            invoice = session.get(Invoice, "R-01")
            assert account is not None and account.company_name is None
            assert invoice is not None and invoice.bought_by == "dep@example.com"
            assert next_purchase_number(session) >= 1001  # PostgreSQL: from its sequence
        db.dispose()
        command.downgrade(alembic_config(url), "0015")
        assert stored(engine) == before
        with engine.connect() as connection:
            columns = {c["name"] for c in inspect(connection).get_columns("accounts")}
            assert "company_name" not in columns
            if database.is_postgresql:
                assert not engine.dialect.has_sequence(connection, "purchase_numbers")
        upgrade(url)
        engine.dispose()


def test_0017_adds_set_password_links_second_factors_and_key_use_and_back(
    tmp_path: Path, database: Database
) -> None:
    from alembic import command
    from sqlalchemy import text

    for url in _migration_database(tmp_path, database):
        upgrade(url, "0015")
        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO staff_users (id, email, name, password_hash, created_at,"
                    " disabled_at, session_epoch, role) VALUES ('U1', 'boss@store.example',"
                    " 'Boss', 'scrypt:x', :at, NULL, 1, 'admin')"
                ),
                {"at": "2026-11-30 12:00:00+00:00"},
            )
            connection.execute(
                text(
                    "INSERT INTO api_keys (id, token_sha256, role, label, created_at, revoked_at)"
                    " VALUES ('ck_1', 'x', 'read', 'ERP', :at, NULL)"
                ),
                {"at": "2026-11-30 12:00:00+00:00"},
            )
        upgrade(url, "0017")
        assert "staff_password_tokens" in inspect(engine).get_table_names()
        with engine.connect() as connection:
            assert connection.execute(
                text("SELECT id, totp_secret, totp_failures FROM staff_users")
            ).all() == [("U1", None, 0)]
            assert connection.execute(
                text("SELECT id, created_by, last_used_at FROM api_keys")
            ).all() == [("ck_1", None, None)]
        command.downgrade(alembic_config(url), "0015")
        assert "staff_password_tokens" not in inspect(engine).get_table_names()
        users = {column["name"] for column in inspect(engine).get_columns("staff_users")}
        keys = {column["name"] for column in inspect(engine).get_columns("api_keys")}
        assert "totp_secret" not in users and "role" in users
        assert "last_used_at" not in keys and "label" in keys
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT email FROM staff_users")) == "boss@store.example"
            assert connection.scalar(text("SELECT label FROM api_keys")) == "ERP"
        engine.dispose()


def test_0018_adds_the_append_only_audit_trail_and_back(tmp_path: Path, database: Database) -> None:
    import pytest
    from alembic import command
    from sqlalchemy import text
    from sqlalchemy.exc import DatabaseError

    for url in _migration_database(tmp_path, database):
        upgrade(url, "0018")
        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO audit_entries (at, actor_kind, actor_id, action, subject_kind, "
                    "subject_id, account_id, before, after) VALUES (:at, 'staff', 'a@b.c', "
                    "'account.credit', 'account', 'A1', 'A1', '{}', '{}')"
                ),
                {"at": "2026-11-30 12:00:00+00:00"},
            )
        for statement in ("UPDATE audit_entries SET note = 'x'", "DELETE FROM audit_entries"):
            with pytest.raises(DatabaseError, match="append-only"), engine.begin() as connection:
                connection.execute(text(statement))
        command.downgrade(alembic_config(url), "0015")
        assert "audit_entries" not in inspect(engine).get_table_names()
        upgrade(url, "0018")
        assert "audit_entries" in inspect(engine).get_table_names()
        engine.dispose()
