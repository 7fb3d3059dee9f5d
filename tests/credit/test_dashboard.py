"""The dashboard's figures and the statements the pages show, from the ledger."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.orm import Session

from connector.clock import utcnow
from connector.credit.account_search import AccountFilter, account_select, sorted_account_select
from connector.credit.accounts import open_account
from connector.credit.dashboard import credit_use_series, invoice_aging
from connector.credit.invoices import cancel_invoice, pay_invoice
from connector.credit.models import AccountStatus
from connector.credit.settings import StoreSettings
from connector.credit.statements import account_statement, adjust_balance
from connector.db import Database
from tests.factories import Seeded


def test_aging_buckets_by_days_overdue(db: Database, seed: Callable[..., Seeded]) -> None:
    seed(purchase_cents=9_000, installments=3, settled_days_ago=100)  # due -70, -40, -10
    current = seed(purchase_cents=1_000)
    today = StoreSettings().today(utcnow())
    with db.transaction() as session:
        buckets = invoice_aging(session, today)
        mine = invoice_aging(session, today, account_id=current.account_id)
    assert [(b.name, b.count, b.total_cents) for b in buckets] == [
        ("current", 1, 1_000),
        ("1-30", 1, 3_000),
        ("31-60", 1, 3_000),
        ("61-90", 1, 3_000),
        ("90+", 0, 0),
    ]
    assert [b.total_cents for b in mine] == [1_000, 0, 0, 0, 0]


def test_credit_use_follows_the_ledger(db: Database, seed: Callable[..., Seeded]) -> None:
    seeded = seed(limit_cents=50_000, purchase_cents=20_000, installments=2, settled_days_ago=60)
    with db.transaction() as session:
        pay_invoice(session, seeded.invoice_ids[0])
        series = credit_use_series(session, utcnow(), account_id=seeded.account_id)
        store_wide = credit_use_series(session, utcnow())
    assert len(series) == 13
    assert series[0].used_cents == 0 and series[0].limit_cents is None  # before the account
    assert series[-2].used_cents == 20_000 and series[-2].limit_cents == 50_000
    assert series[-1].used_cents == 10_000
    assert [p.used_cents for p in store_wide] == [p.used_cents for p in series]


def test_statement_period_balances(db: Database, seed: Callable[..., Seeded]) -> None:
    seeded = seed(purchase_cents=30_000, installments=3, settled_days_ago=20)
    now = utcnow()
    with db.transaction() as session:
        cancel_invoice(session, seeded.invoice_ids[2], now=now - timedelta(days=5))
        adjust_balance(session, seeded.account_id, -500, description="fee", now=now)
        whole = account_statement(session, seeded.account_id, newest_first=True)
        recent = account_statement(
            session, seeded.account_id, now - timedelta(days=10), newest_first=True
        )
        earlier = account_statement(
            session, seeded.account_id, None, now - timedelta(days=10), newest_first=True
        )
    assert whole.previous_cents == 0
    assert whole.closing_cents == whole.current_cents == -30_000 + 10_000 - 500
    assert [e.origin for e in whole.entries][:2] == ["Statement", "Cancellation"]
    assert recent.previous_cents == -30_000
    assert recent.interval_cents == 9_500
    assert recent.closing_cents == whole.current_cents
    assert {e.origin for e in recent.entries} == {"Statement", "Cancellation"}
    assert earlier.closing_cents == -30_000  # the balance at the end of that period


def test_account_search_by_dependent_email_and_sort_by_available(
    session: Session, seed: Callable[..., Seeded]
) -> None:
    from connector.credit.holders import add_holder

    a = open_account(session, email="a@x.example", credit_limit_cents=10_000)
    b = open_account(session, email="b@x.example", credit_limit_cents=50_000)
    add_holder(session, a.id, "helper_1@y.example")
    found = session.scalars(sorted_account_select(AccountFilter(search="helper_1"))).all()
    assert [x.id for x in found] == [a.id]
    assert session.scalars(sorted_account_select(AccountFilter(search="helper%"))).all() == []
    ordered = session.scalars(
        sorted_account_select(AccountFilter(statuses=(AccountStatus.OPEN,)), sort="available")
    ).all()
    assert [x.id for x in ordered] == [b.id, a.id]
    # The same filters carried by the filter itself (what the list's export uses).
    carried = session.scalars(account_select(AccountFilter(search="helper_1"))).all()
    assert [x.id for x in carried] == [a.id]
    overdue = AccountFilter(search="x.example", overdue_on=utcnow().date())
    assert session.scalars(account_select(overdue)).all() == []


def test_store_totals_count_open_accounts_and_invoices(
    db: Database, seed: Callable[..., Seeded]
) -> None:
    from connector.credit.dashboard import owner_emails, store_totals

    late = seed(limit_cents=50_000, purchase_cents=9_000, installments=3, settled_days_ago=70)
    seed(limit_cents=20_000, purchase_cents=1_000)
    with db.transaction() as session:
        totals = store_totals(session, StoreSettings().today(utcnow()))
        emails = owner_emails(session, {late.account_id})
    assert (totals.open_accounts, totals.limit_cents, totals.reserved_cents) == (2, 70_000, 0)
    assert (totals.open_count, totals.open_cents) == (4, 10_000)
    assert (totals.overdue_count, totals.overdue_cents) == (2, 6_000)
    assert emails == {late.account_id: "buyer1@example.com"}
