"""The services this API added: create-or-change by id, holds, statements, conditions."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.orm import Session

from connector.credit.accounts import close_account, open_account
from connector.credit.conditions import purchase_conditions
from connector.credit.holders import add_holder
from connector.credit.invoices import pay_invoice
from connector.credit.reservations import put_reservation, release_reservation, reserve
from connector.credit.settings import update_store_settings
from connector.credit.settlements import refund_reservation, settle_reservation
from connector.credit.statements import account_statement, adjust_balance
from connector.db import Database
from connector.errors import Conflict, CreditDenied, NotFound, ValidationError
from connector.migrate import alembic_config
from tests.factories import NOW


def _account(session: Session, n: int = 1, limit: int = 100_000) -> str:
    return open_account(
        session, email=f"b{n}@example.com", credit_limit_cents=limit, document=str(n), now=NOW
    ).id


def test_reservation_verbs_check_the_account(session: Session) -> None:
    mine, other = _account(session, 1), _account(session, 2)
    held = reserve(session, mine, 1_000, now=NOW)
    for verb in (
        lambda: release_reservation(session, held.id, account_id=other, now=NOW),
        lambda: settle_reservation(session, held.id, account_id=other, now=NOW),
        lambda: refund_reservation(session, held.id, account_id=other, now=NOW),
    ):
        with pytest.raises(NotFound):
            verb()
    assert settle_reservation(session, held.id, account_id=mine, now=NOW).settled_cents == 1_000


def test_put_reservation_creates_then_changes(session: Session) -> None:
    mine, other = _account(session, 1), _account(session, 2)
    created, is_new = put_reservation(session, mine, "T-1", 5_000, installments=2, now=NOW)
    assert is_new and (created.id, created.installments, created.value_cents) == ("T-1", 2, 5_000)
    changed, is_new = put_reservation(session, mine, "T-1", 5_500, installments=2, now=NOW)
    assert not is_new and changed.value_cents == 5_500
    with pytest.raises(Conflict) as mismatch:
        put_reservation(session, mine, "T-1", 5_500, installments=1, now=NOW)
    assert mismatch.value.code == "installments_mismatch"
    with pytest.raises(Conflict):
        put_reservation(session, other, "T-1", 5_500, now=NOW)
    with pytest.raises(ValidationError):
        put_reservation(session, mine, "has space", 1, now=NOW)
    with pytest.raises(CreditDenied):
        put_reservation(session, mine, "T-2", 10**7, now=NOW)


def test_holds_have_no_auto_settle_moment(session: Session) -> None:
    aid = _account(session)
    hold = reserve(
        session, aid, 100, auto_settle=False, expires_at=NOW + timedelta(days=3), now=NOW
    )
    assert hold.auto_settle_at is None and hold.expires_at == NOW + timedelta(days=3)
    with pytest.raises(ValidationError):
        reserve(session, aid, 100, expires_at=NOW, now=NOW)


def test_account_statement_periods(session: Session) -> None:
    aid = _account(session)
    held = reserve(session, aid, 3_000, now=NOW)
    [invoice] = settle_reservation(session, held.id, now=NOW + timedelta(days=1)).invoices
    pay_invoice(session, invoice.id, now=NOW + timedelta(days=2))
    adjust_balance(session, aid, -500, entry_id="adj", now=NOW + timedelta(days=3))
    whole = account_statement(session, aid)
    assert [e.origin for e in whole.entries] == ["Credit", "Invoice", "Payment", "Statement"]
    assert (whole.previous_cents, whole.interval_cents, whole.current_cents) == (0, -500, -500)
    middle = account_statement(session, aid, NOW + timedelta(days=2), NOW + timedelta(days=2))
    assert [e.origin for e in middle.entries] == ["Payment"]
    assert (middle.previous_cents, middle.interval_cents) == (-3_000, 3_000)
    with pytest.raises(ValidationError) as too_long:
        account_statement(session, aid, max_entries=3)
    assert too_long.value.code == "period_too_long"
    with pytest.raises(NotFound):
        account_statement(session, "nope")


def test_purchase_conditions_see_only_open_accounts(session: Session) -> None:
    aid = _account(session, 1, limit=50_000)
    add_holder(session, aid, "dep@example.com", now=NOW)
    reserve(session, aid, 10_000, now=NOW)
    found = purchase_conditions(session, email="DEP@example.com")
    assert (found.account_id, found.available_cents, found.spending_power_cents) == (
        aid,
        40_000,
        40_000,
    )
    assert purchase_conditions(session, email=None, document="1").account_id == aid
    close_account(session, aid, force=True, now=NOW)
    with pytest.raises(NotFound):
        purchase_conditions(session, email="b1@example.com")
    update_store_settings(
        session, {"automatic_account_creation_enabled": True, "default_credit_cents": 1000}
    )
    future = purchase_conditions(session, email="b1@example.com")
    assert (future.account_id, future.available_cents) == (None, 1_000)
    with pytest.raises(ValidationError):
        purchase_conditions(session, email=None)


def test_migration_0003_keeps_data_and_references(tmp_path: Path) -> None:
    """SQLite rebuilds the reservations table, which invoices point at."""
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    config = alembic_config(url)
    command.upgrade(config, "0001")
    db = Database(url)
    aid = "A-1"
    # An account, two purchases and an invoice pointing at the first, in SQL: the models
    # have columns the schema of 0001 does not.
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO accounts (id, email, document, document_type, status, "
                "credit_limit_cents, tolerance_bps, balance_cents, reserved_cents, created_at, "
                "updated_at, closed_at) VALUES (:id, 'b1@example.com', NULL, NULL, 'Open', "
                "100000, 0, 0, 0, :at, :at, NULL)"
            ),
            {"id": aid, "at": "2026-03-02 12:00:00"},
        )
        for held, cents in (("R-1", 1_000), ("R-2", 500)):
            connection.execute(
                text(
                    "INSERT INTO reservations VALUES (:id, :account, NULL, NULL, 'pending', "
                    ":cents, :cents, 0, 0, 1, '[30]', 0, :at, NULL, :at, :at, NULL, NULL)"
                ),
                {"id": held, "account": aid, "cents": cents, "at": "2026-03-02 12:00:00"},
            )
        connection.execute(
            text(
                "INSERT INTO invoices VALUES ('I-1', 'F-1', :account, 'R-1', NULL, 1, 1, 1000, "
                "1000, 'Opened', :at, :at, :at, :at, NULL, NULL, NULL, 0, 0)"
            ),
            {"account": aid, "at": "2026-03-02 12:00:00"},
        )
    command.upgrade(config, "head")
    with db.transaction() as session:
        hold = reserve(session, aid, 200, auto_settle=False, now=NOW)
        assert hold.auto_settle_at is None
    command.downgrade(config, "0001")
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        moments = connection.exec_driver_sql("SELECT auto_settle_at FROM reservations").scalars()
        assert sorted(str(m)[:4] for m in moments) == ["2026", "2026", "9999"]
    command.upgrade(config, "head")
    db.dispose()
