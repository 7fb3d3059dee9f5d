"""update_invoices: many changes, the same result as update_invoice one by one."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.credit.accounts import open_account
from connector.credit.check import find_drift
from connector.credit.invoices import InvoiceChange, update_invoices
from connector.credit.models import Account, StatementEntry
from connector.credit.reservations import reserve
from connector.credit.settlements import settle_reservation
from connector.errors import ConnectorError
from tests.factories import NOW


def test_update_invoices_applies_in_order_and_a_refusal_changes_nothing(session: Session) -> None:
    a = open_account(session, email="a@example.com", credit_limit_cents=100_000, now=NOW)
    b = open_account(session, email="b@example.com", credit_limit_cents=100_000, now=NOW)
    ids = []
    for account in (a, b):
        reservation = reserve(session, account.id, 30_000, installments=3, now=NOW)
        ids += [i.id for i in settle_reservation(session, reservation.id, now=NOW).invoices]
    a1, a2, a3, b1, b2, _b3 = ids
    results = update_invoices(
        session,
        [
            InvoiceChange(a1, status="Paid", observation="boleto 1"),
            InvoiceChange(a1, status="Cancelled"),  # paid just before
            InvoiceChange(a1, status="paid"),  # paying twice is a no-op
            InvoiceChange(a2, status="Paid", payment_link="ftp://x"),  # refused: not paid
            InvoiceChange(a3, status="Opened", payment_link="https://pay.example.com/a3"),
            InvoiceChange(b1, status="Cancelled", account_id=a.id),  # another account's
            InvoiceChange(b2, status="Cancelled"),
            InvoiceChange("nope", status="Paid"),
            InvoiceChange(b2, status="Open"),  # cancelled just before
        ],
        done_by="batch",
        now=NOW,
    )
    codes = [r.code if isinstance(r, ConnectorError) else r.status for r in results]
    assert codes == [
        "Paid",
        "invoice_paid",
        "Paid",
        "invalid_request",
        "Opened",
        "invoice_not_found",
        "Cancelled",
        "invoice_not_found",
        "invoice_not_open",
    ]
    assert (results[0].observation, results[4].payment_link) == (  # type: ignore[union-attr]
        "boleto 1",
        "https://pay.example.com/a3",
    )
    balances = {i: v for i, v in session.execute(select(Account.id, Account.balance_cents))}
    assert balances == {a.id: -20_000, b.id: -20_000}
    entries = session.scalars(
        select(StatementEntry.origin).where(StatementEntry.done_by == "batch")
    ).all()
    assert sorted(entries) == ["Cancellation", "Payment"]
    assert find_drift(session) == []
