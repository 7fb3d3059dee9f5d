from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.credit import rules
from connector.credit.account_search import AccountFilter, account_select, count_rows
from connector.credit.accounts import close_account
from connector.credit.invoice_search import (
    InvoiceFilter,
    invoice_summary,
    overdue,
    search_invoices,
)
from connector.credit.invoices import cancel_invoice, pay_invoice, update_invoice
from connector.credit.models import Invoice
from connector.credit.reservations import reserve
from connector.credit.settlements import settle_reservation
from tests.factories import NOW, OpenAccount, valid_cpf


def buy(
    session: Session, account_id: str, cents: int, n: int, order: str, days: int = 0
) -> list[str]:
    reservation = reserve(session, account_id, cents, installments=n, order_id=order, now=NOW)
    result = settle_reservation(session, reservation.id, now=NOW + timedelta(days=days))
    return [i.id for i in result.invoices]


def test_invoice_filters_order_and_summary(session: Session, new_account: OpenAccount) -> None:
    a = new_account(credit_limit_cents=10**7)
    b = new_account(credit_limit_cents=10**7)
    a1 = buy(session, a.id, 30_000, 3, "order-a1")  # due +30, +60, +90
    a2 = buy(session, a.id, 5_000, 1, "order-a2", days=1)
    b1 = buy(session, b.id, 7_000, 1, "order-b1", days=2)
    pay_invoice(session, a1[0], now=NOW)
    cancel_invoice(session, a1[1], now=NOW)
    update_invoice(session, a2[0], observation="Boleto 100% sent", now=NOW)
    # a2 is due 2026-04-02; b1's +30 is Good Friday 2026-04-03, so 2026-04-06. On April 11
    # both are overdue; a1[2] (2026-06-01) is not.
    later = date(2026, 4, 11)

    everything = search_invoices(session, InvoiceFilter(), later)
    assert [i.id for i in everything] == [b1[0], a2[0], *reversed(a1)]  # newest first
    assert [i.id for i in search_invoices(session, InvoiceFilter(), later, direction="asc")] == [
        *a1,
        a2[0],
        b1[0],
    ]
    overdue = InvoiceFilter(statuses=("Overdue",))
    assert {i.id for i in search_invoices(session, overdue, later)} == {a2[0], b1[0]}
    assert {i.id for i in search_invoices(session, overdue, date(2026, 4, 2))} == set()
    assert {i.id for i in search_invoices(session, overdue, date(2026, 4, 3))} == {a2[0]}
    paid_or_cancelled = InvoiceFilter(statuses=("Paid", "Cancelled"))
    assert {i.id for i in search_invoices(session, paid_or_cancelled, later)} == {a1[0], a1[1]}
    of_a_opened = InvoiceFilter(account_id=a.id, statuses=("Opened",))
    assert {i.id for i in search_invoices(session, of_a_opened, later)} == {a1[2], a2[0]}
    assert [i.id for i in search_invoices(session, InvoiceFilter(order_id="order-b1"), later)] == b1
    note = InvoiceFilter(observation="100%")
    assert [i.id for i in search_invoices(session, note, later)] == a2
    assert search_invoices(session, InvoiceFilter(observation="1_0"), later) == []
    either = InvoiceFilter(value_cents=7_000, order_id="order-a2", op="or")
    assert {i.id for i in search_invoices(session, either, later)} == {a2[0], b1[0]}
    both = InvoiceFilter(value_cents=7_000, order_id="order-a2", op="and")
    assert search_invoices(session, both, later) == []
    # "or" never escapes the account of a per-account listing.
    scoped = InvoiceFilter(account_id=a.id, value_cents=7_000, order_id="order-a2", op="or")
    assert {i.id for i in search_invoices(session, scoped, later)} == {a2[0]}
    due_window = InvoiceFilter(due_from=date(2026, 4, 2), due_to=date(2026, 4, 3))
    assert {i.id for i in search_invoices(session, due_window, later)} == {a2[0]}
    due_window = InvoiceFilter(due_from=date(2026, 4, 3), due_to=date(2026, 4, 6))
    assert {i.id for i in search_invoices(session, due_window, later)} == {b1[0]}
    page = search_invoices(session, InvoiceFilter(), later, offset=1, limit=2)
    assert [i.id for i in page] == [a2[0], a1[2]]

    summary = invoice_summary(session, InvoiceFilter(), later)
    assert (summary.count, summary.total_cents) == (5, 42_000)
    assert (summary.paid_cents, summary.cancelled_cents) == (10_000, 10_000)
    assert (summary.opened_cents, summary.overdue_cents) == (22_000, 12_000)


def test_account_search_hides_closed_accounts(session: Session, new_account: OpenAccount) -> None:
    first = new_account(email="first@example.com", document=valid_cpf(1))
    second = new_account(email="second@example.com", document=valid_cpf(2))
    closed = new_account(email="gone@example.com", document=valid_cpf(3))
    close_account(session, closed.id, now=NOW)
    listed = session.scalars(account_select(AccountFilter())).all()
    assert {a.id for a in listed} == {first.id, second.id}
    by_email = session.scalars(account_select(AccountFilter(email="SECOND@example.com"))).all()
    assert by_email == [second]
    either = AccountFilter(email="first@example.com", document=valid_cpf(2), op="or")
    assert count_rows(session, account_select(either)) == 2
    with_closed = AccountFilter(statuses=("Open", "Closed"))
    assert count_rows(session, account_select(with_closed)) == 3


def test_the_overdue_filter_is_the_overdue_rule(session: Session, new_account: OpenAccount) -> None:
    """The SQL of every overdue list and total comes from ``rules.is_overdue``: it picks
    exactly the invoices the rule calls overdue, at the boundary too."""
    account = new_account(credit_limit_cents=10**7)
    invoices = []
    for days in (0, 1, 29, 30, 31, 60):
        reservation = reserve(session, account.id, 1_000, now=NOW - timedelta(days=days))
        settled = settle_reservation(session, reservation.id, now=NOW - timedelta(days=days))
        invoices.extend(settled.invoices)
    pay_invoice(session, invoices[-1].id, now=NOW)  # overdue by date, but paid
    session.flush()
    today = NOW.date()
    for day in (
        today - timedelta(days=1),
        today,
        today + timedelta(days=1),
        today + timedelta(days=2),
    ):
        by_sql = set(session.scalars(select(Invoice.id).where(overdue(day))))
        by_rule = {i.id for i in invoices if rules.is_overdue(i.status, i.due_date, day)}
        assert by_sql == by_rule
    # Due 2026-03-02 (+30 from Sunday 2026-01-31 and Saturday 2026-01-30, moved to Monday):
    # overdue from March 3; the one due February 2 was paid.
    assert not any(rules.is_overdue(i.status, i.due_date, today) for i in invoices)
    tomorrow = today + timedelta(days=1)
    assert {i.id for i in invoices if rules.is_overdue(i.status, i.due_date, tomorrow)} == {
        invoices[3].id,
        invoices[4].id,
    }
