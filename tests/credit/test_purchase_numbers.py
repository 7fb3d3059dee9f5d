"""Invoice ids: the installments of one purchase share its store-wide number (V1001-01,
V1001-02), numbers only go up, and two transactions never take the same one."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.credit.accounts import open_account
from connector.credit.models import Invoice, Reservation
from connector.credit.purchase_numbers import (
    FIRST_PURCHASE_NUMBER,
    next_purchase_number,
    reserve_purchase_numbers,
)
from connector.credit.reservations import reserve
from connector.credit.settlements import settle_reservation
from connector.db import Database
from connector.jobs.settlement import settle_due_reservations
from tests.factories import NOW, OpenAccount


def friendly_ids(session: Session, reservation_id: str) -> list[str]:
    query = select(Invoice.friendly_id).where(Invoice.reservation_id == reservation_id)
    return list(session.scalars(query.order_by(Invoice.id)))


def test_the_installments_of_a_purchase_share_one_number(
    session: Session, new_account: OpenAccount
) -> None:
    account = new_account(credit_limit_cents=100_000)
    first = reserve(session, account.id, 9_000, installments=3, now=NOW)
    second = reserve(session, account.id, 1_000, now=NOW)
    settle_reservation(session, first.id, now=NOW)
    settle_reservation(session, second.id, now=NOW)
    n = first.purchase_number
    assert n is not None and second.purchase_number == n + 1
    assert friendly_ids(session, first.id) == [f"V{n}-01", f"V{n}-02", f"V{n}-03"]
    assert friendly_ids(session, second.id) == [f"V{n + 1}-01"]
    # The order grows after it was invoiced: its new invoices go on counting.
    settle_reservation(session, second.id, 1_100, now=NOW + timedelta(days=1))
    assert friendly_ids(session, second.id) == [f"V{n + 1}-01", f"V{n + 1}-02"]


def test_a_block_taken_at_once_is_used_first_and_never_handed_out_again(
    session: Session, new_account: OpenAccount
) -> None:
    account = new_account(credit_limit_cents=100_000)
    reserve_purchase_numbers(session, 3)
    held = [reserve(session, account.id, 100, now=NOW) for _ in range(5)]
    for reservation in held:
        settle_reservation(session, reservation.id, now=NOW)
    numbers = [r.purchase_number for r in held]
    assert len(set(numbers)) == 5
    assert numbers == sorted(numbers)  # the block's three, then new ones after it
    assert next_purchase_number(session) > max(n for n in numbers if n is not None)


def test_the_first_number_is_1001(db: Database) -> None:
    with db.transaction() as session:
        if not db.is_postgresql:  # a sequence is never reset: PostgreSQL's may be past it
            assert next_purchase_number(session) == FIRST_PURCHASE_NUMBER
        assert next_purchase_number(session) >= FIRST_PURCHASE_NUMBER


def test_the_auto_settle_job_numbers_every_purchase_once(db: Database) -> None:
    with db.transaction() as session:
        accounts = [
            open_account(session, email=f"b{i}@example.com", credit_limit_cents=10_000, now=NOW)
            for i in range(4)
        ]
        for account in accounts:
            for _ in range(5):
                reserve(session, account.id, 100, installments=2, now=NOW)
    settled = settle_due_reservations(db, now=NOW + timedelta(days=30), group_size=3, threads=2)
    assert settled == 20
    with db.transaction() as session:
        numbers = list(session.scalars(select(Reservation.purchase_number)))
        ids = list(session.scalars(select(Invoice.friendly_id)))
    assert len(numbers) == len(set(numbers)) == 20 and None not in numbers
    assert len(ids) == len(set(ids)) == 40


def settle_in_two_threads(db: Database, per_thread: int) -> list[int | None]:
    """Two threads, released at once, each settling its own purchases one per transaction
    (one of them taking a block first, as the job does)."""
    reservation_ids: list[list[str]] = []
    with db.transaction() as session:
        for i in range(2):
            account = open_account(
                session, email=f"t{i}@example.com", credit_limit_cents=1_000_000, now=NOW
            )
            reservation_ids.append(
                [reserve(session, account.id, 100, now=NOW).id for _ in range(per_thread)]
            )
    barrier = threading.Barrier(2)

    def settle(i: int) -> None:
        barrier.wait()
        for reservation_id in reservation_ids[i]:
            with db.transaction() as session:
                if i == 0:
                    reserve_purchase_numbers(session, 2)
                settle_reservation(session, reservation_id, now=NOW)

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(settle, range(2)))
    with db.transaction() as session:
        return list(session.scalars(select(Reservation.purchase_number)))


def test_two_threads_settling_at_once_on_postgresql_never_share_a_number(pg: Database) -> None:
    numbers = settle_in_two_threads(pg, per_thread=25)
    assert len(numbers) == 50 and None not in numbers
    assert len(set(numbers)) == 50


def test_two_threads_settling_at_once_never_share_a_number(db: Database) -> None:
    numbers = settle_in_two_threads(db, per_thread=10)
    assert len(numbers) == 20 and len(set(numbers)) == 20 and None not in numbers
