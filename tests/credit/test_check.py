from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from connector.credit.check import find_drift
from connector.credit.invoices import pay_invoice
from connector.credit.models import Account, Invoice, Reservation
from connector.credit.reservations import reserve
from connector.credit.settlements import settle_reservation
from tests.factories import NOW, OpenAccount


def test_a_consistent_ledger_has_no_drift(session: Session, new_account: OpenAccount) -> None:
    account = new_account()
    reservation = reserve(session, account.id, 5_000, installments=2, now=NOW)
    settle_reservation(session, reservation.id, now=NOW)
    reserve(session, account.id, 1_000, now=NOW)
    assert find_drift(session) == []


def test_every_kind_of_drift_is_reported(session: Session, new_account: OpenAccount) -> None:
    account = new_account(credit_limit_cents=100_000)
    other = new_account()
    reservation = reserve(session, account.id, 5_000, installments=2, now=NOW)
    [first, _second] = settle_reservation(session, reservation.id, now=NOW).invoices
    pay_invoice(session, first.id, now=NOW)
    reserve(session, other.id, 1_000, now=NOW)
    session.flush()
    # Corrupt the cached figures and one invoice, as a bug would.
    session.execute(update(Account).where(Account.id == account.id).values(balance_cents=7))
    session.execute(update(Account).where(Account.id == other.id).values(reserved_cents=0))
    session.execute(update(Account).where(Account.id == other.id).values(credit_limit_cents=123))
    session.execute(update(Invoice).where(Invoice.id == first.id).values(status="Opened"))
    session.execute(update(Reservation).values(updated_at=NOW))
    drift = {(d.account_id, d.figure, d.subject) for d in find_drift(session)}
    assert drift == {
        (account.id, "balance_cents", None),
        (other.id, "reserved_cents", None),
        (other.id, "credit_capacity_cents", None),
        (account.id, "invoice_entries_cents", first.id),
    }
