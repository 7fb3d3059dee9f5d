from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from connector.credit.accounts import open_account
from connector.credit.models import Account, Invoice, Reservation
from connector.credit.reservations import reserve
from connector.credit.settings import update_store_settings
from connector.db import Database
from connector.errors import CreditDenied
from connector.jobs import settlement
from connector.jobs.settlement import expire_reservations, settle_due_reservations
from tests.factories import NOW


def setup(db: Database, *values: int, **settings: object) -> tuple[str, list[str]]:
    with db.transaction() as session:
        if settings:
            update_store_settings(session, settings)
        account = open_account(session, email="job@example.com", credit_limit_cents=10**7, now=NOW)
        ids = [reserve(session, account.id, v, installments=3, now=NOW).id for v in values]
    return account.id, ids


def statuses(db: Database, ids: list[str]) -> list[str]:
    with db.transaction() as session:
        return [session.get(Reservation, i).status for i in ids]  # type: ignore[union-attr]


def test_auto_settle_after_five_business_days(db: Database) -> None:
    account_id, ids = setup(db, 10_000, 20_000)
    # NOW is a Monday: five business days later is the next Monday, same time.
    assert settle_due_reservations(db, now=NOW + timedelta(days=7, seconds=-1)) == 0
    assert statuses(db, ids) == ["pending", "pending"]
    assert settle_due_reservations(db, now=NOW + timedelta(days=7)) == 2
    assert statuses(db, ids) == ["posted", "posted"]
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Invoice)) == 6
        account = session.get(Account, account_id)
        assert account is not None
        assert (account.reserved_cents, account.balance_cents) == (0, -30_000)
    assert settle_due_reservations(db, now=NOW + timedelta(days=30)) == 0  # nothing left


def test_auto_settle_respects_the_holiday_calendar(db: Database) -> None:
    # From Monday 20 April 2026, Tiradentes (Tuesday 21) pushes the fifth business day
    # from Monday 27 to Tuesday 28 in Brazil.
    monday = NOW.replace(month=4, day=20)
    with db.transaction() as session:
        update_store_settings(session, {"holiday_calendar": "BR"})
        account = open_account(session, email="h@example.com", credit_limit_cents=10**6, now=monday)
        reservation = reserve(session, account.id, 1_000, now=monday)
    assert reservation.auto_settle_at == monday + timedelta(days=8)


def test_the_store_window_is_a_setting(db: Database) -> None:
    _account, ids = setup(db, 10_000, auto_settle_business_days=1)
    assert settle_due_reservations(db, now=NOW + timedelta(days=1)) == 1
    assert statuses(db, ids) == ["posted"]


def test_expired_reservations_are_released(db: Database) -> None:
    with db.transaction() as session:
        account = open_account(session, email="e@example.com", credit_limit_cents=10**6, now=NOW)
        soon = reserve(session, account.id, 1_000, expires_at=NOW + timedelta(hours=1), now=NOW)
        never = reserve(session, account.id, 2_000, now=NOW)
    assert expire_reservations(db, now=NOW + timedelta(hours=2)) == 1
    assert statuses(db, [soon.id, never.id]) == ["expired", "pending"]
    with db.transaction() as session:
        assert session.get(Account, account.id).reserved_cents == 2_000  # type: ignore[union-attr]


def test_batches_cover_every_due_reservation(db: Database) -> None:
    _account, ids = setup(db, *([100] * 7))
    assert settle_due_reservations(db, now=NOW + timedelta(days=8), batch_size=3) == 7
    assert set(statuses(db, ids)) == {"posted"}


def test_a_refused_settlement_is_passed_over_alone(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _account, ids = setup(db, *([100] * 5))
    refused = ids[2]
    real = settlement.settle_reservation

    def refuse_one(session: Any, reservation_id: str, **kwargs: Any) -> Any:
        if reservation_id == refused:
            raise CreditDenied("refused for the test", code="test_refusal")
        return real(session, reservation_id, **kwargs)

    set_wise = settlement.settle_due_batch

    def refuse_its_batch(session: Any, reservations: Any, **kwargs: Any) -> Any:
        if refused in {reservation_id for reservation_id, _ in reservations}:
            raise CreditDenied("refused for the test", code="test_refusal")
        return set_wise(session, reservations, **kwargs)

    monkeypatch.setattr(settlement, "settle_reservation", refuse_one)
    monkeypatch.setattr(settlement, "settle_due_batch", refuse_its_batch)
    assert settle_due_reservations(db, now=NOW + timedelta(days=8), batch_size=2) == 4
    assert statuses(db, ids) == ["posted", "posted", "pending", "posted", "posted"]
