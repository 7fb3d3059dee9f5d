"""Races that matter: the database, not process memory, must decide."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
from sqlalchemy import func, select

from connector.credit.accounts import figures, open_account
from connector.credit.check import find_drift
from connector.credit.invoices import pay_invoice
from connector.credit.models import Account, Invoice, StatementEntry
from connector.credit.reservations import reserve
from connector.credit.settings import StoreSettings
from connector.credit.settlements import refund_reservation, settle_reservation
from connector.db import Database
from connector.errors import ConnectorError, CreditDenied
from connector.jobs.settlement import settle_due_reservations
from tests.factories import NOW

T = TypeVar("T")


@pytest.fixture
def wide_db(db: Database) -> Iterator[Database]:
    """A second engine with enough connections for 50 threads at once."""
    wide = Database(db.url, **({"pool_size": 50, "max_overflow": 10} if db.is_postgresql else {}))
    yield wide
    wide.dispose()


def race(count: int, work: Callable[[int], T]) -> list[T | Exception]:
    """Run ``work(i)`` in ``count`` threads released at the same instant."""
    barrier = threading.Barrier(count)

    def run(i: int) -> T | Exception:
        barrier.wait()
        try:
            return work(i)
        except Exception as exc:  # collected and inspected by the test
            return exc

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_fifty_concurrent_reservations_never_overspend(wide_db: Database) -> None:
    with wide_db.transaction() as session:
        account_id = open_account(
            session, email="hot@example.com", credit_limit_cents=100_000, now=NOW
        ).id

    def buy(_i: int) -> str:
        with wide_db.transaction() as session:
            return reserve(session, account_id, 10_000, now=NOW).id

    results = race(50, buy)
    approved = [r for r in results if isinstance(r, str)]
    denied = [r for r in results if isinstance(r, CreditDenied)]
    unexpected = [r for r in results if isinstance(r, Exception) and r not in denied]
    assert unexpected == []
    assert len(approved) == 10 and len(denied) == 40
    assert all(d.code == "insufficient_credit" for d in denied)
    with wide_db.transaction() as session:
        account = session.get(Account, account_id)
        assert account is not None
        assert figures(account, StoreSettings()).available_cents == 0
        assert find_drift(session) == []


def test_concurrent_payment_of_one_invoice_counts_once(wide_db: Database) -> None:
    with wide_db.transaction() as session:
        account = open_account(session, email="pay@example.com", credit_limit_cents=50_000, now=NOW)
        reservation = reserve(session, account.id, 20_000, now=NOW)
        [invoice] = settle_reservation(session, reservation.id, now=NOW).invoices
        invoice_id, account_id = invoice.id, account.id

    def pay(_i: int) -> str:
        with wide_db.transaction() as session:
            return pay_invoice(session, invoice_id, now=NOW).status

    assert race(20, pay) == ["Paid"] * 20
    with wide_db.transaction() as session:
        payments = session.scalar(select(func.count()).where(StatementEntry.origin == "Payment"))
        assert payments == 1
        assert session.get(Account, account_id).balance_cents == 0  # type: ignore[union-attr]
        assert find_drift(session) == []


def test_gateway_settlement_racing_the_auto_settle_job_settles_once(wide_db: Database) -> None:
    with wide_db.transaction() as session:
        account = open_account(session, email="job@example.com", credit_limit_cents=50_000, now=NOW)
        reservation_ids = [
            reserve(session, account.id, 1_000, installments=2, now=NOW).id for _ in range(10)
        ]
    later = NOW.replace(year=NOW.year + 1)

    def work(i: int) -> int:
        if i == 0:
            return settle_due_reservations(wide_db, now=later)
        settled = 0
        for reservation_id in reservation_ids:
            with wide_db.transaction() as session:
                settle_reservation(session, reservation_id, now=later)
                settled += 1
        return settled

    results = race(3, work)
    assert not [r for r in results if isinstance(r, Exception)]
    with wide_db.transaction() as session:
        invoices = session.scalar(select(func.count()).select_from(Invoice))
        assert invoices == 20  # two per purchase, never four
        assert session.get(Account, account.id).balance_cents == -10_000  # type: ignore[union-attr]
        assert find_drift(session) == []


def test_concurrent_refunds_never_exceed_the_settled_value(wide_db: Database) -> None:
    with wide_db.transaction() as session:
        account = open_account(session, email="ref@example.com", credit_limit_cents=50_000, now=NOW)
        reservation = reserve(session, account.id, 10_000, installments=3, now=NOW)
        settle_reservation(session, reservation.id, now=NOW)
        reservation_id = reservation.id

    def refund(_i: int) -> int:
        with wide_db.transaction() as session:
            return refund_reservation(session, reservation_id, 3_000, now=NOW).refunded_cents

    results = race(10, refund)
    done = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, ConnectorError)]
    assert len(done) == 3 and len(refused) == 7
    assert {r.code for r in refused} == {"refund_exceeds_settled"}
    with wide_db.transaction() as session:
        assert session.get(Account, account.id).balance_cents == -1_000  # type: ignore[union-attr]
        assert find_drift(session) == []


def test_two_schedulers_auto_settle_each_reservation_once(wide_db: Database) -> None:
    with wide_db.transaction() as session:
        account = open_account(session, email="two@example.com", credit_limit_cents=10**6, now=NOW)
        for _ in range(30):
            reserve(session, account.id, 1_000, installments=3, now=NOW)
    later = NOW.replace(year=NOW.year + 1)
    results = race(2, lambda _i: settle_due_reservations(wide_db, now=later))
    assert sum(r for r in results if isinstance(r, int)) == 30, results
    with wide_db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Invoice)) == 90
        assert session.get(Account, account.id).balance_cents == -30_000  # type: ignore[union-attr]
        assert find_drift(session) == []
