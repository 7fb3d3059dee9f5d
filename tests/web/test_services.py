"""The read-side queries the pages use, the outbox, staff users and the CLI."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.access.users import StaffUser, authenticate, create_user
from connector.cli import cli
from connector.clock import utcnow
from connector.credit.account_search import AccountFilter, account_select, sorted_account_select
from connector.credit.accounts import open_account
from connector.credit.dashboard import credit_use_series, invoice_aging
from connector.credit.invoices import cancel_invoice, pay_invoice
from connector.credit.models import AccountStatus
from connector.credit.statements import account_statement, adjust_balance
from connector.db import Database
from connector.errors import Conflict, ValidationError
from connector.notify.outbox import OutboxMail, SmtpTarget, deliver_pending, list_mails, queue_mail
from tests.web.conftest import Seeded


def test_aging_buckets_by_days_overdue(db: Database, seed: Callable[..., Seeded]) -> None:
    seed(purchase_cents=9_000, installments=3, settled_days_ago=100)  # due -70, -40, -10
    current = seed(purchase_cents=1_000)
    now = utcnow()
    with db.transaction() as session:
        buckets = invoice_aging(session, now)
        mine = invoice_aging(session, now, account_id=current.account_id)
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
    overdue = AccountFilter(search="x.example", overdue_at=utcnow())
    assert session.scalars(account_select(overdue)).all() == []


def test_users_are_stored_hashed_and_unique(session: Session) -> None:
    user = create_user(session, email="Boss@Store.example", password="a very long secret")
    assert user.email == "boss@store.example"
    assert user.password_hash.startswith("scrypt:") and "secret" not in user.password_hash
    assert authenticate(session, "boss@store.example", "a very long secret") is not None
    assert authenticate(session, "boss@store.example", "wrong") is None
    with pytest.raises(Conflict):
        create_user(session, email="boss@store.example", password="another long one")
    with pytest.raises(ValidationError):
        create_user(session, email="short@store.example", password="short")


class FakeSMTP:
    sent: list[EmailMessage] = []
    fail = False

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.address = (host, port)

    def __enter__(self) -> FakeSMTP:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def starttls(self, context: Any) -> None:
        return None

    def login(self, user: str, password: str) -> None:
        assert (user, password) == ("mailer", "p@ss")

    def send_message(self, message: EmailMessage) -> None:
        if FakeSMTP.fail:
            raise smtplib.SMTPServerDisconnected("gone")
        FakeSMTP.sent.append(message)


def test_the_outbox_keeps_mails_and_sends_them_by_smtp_when_configured(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    FakeSMTP.sent = []
    with db.transaction() as session:
        queue_mail(session, to="c@shop.example", subject="Hi", body="Body")
    assert deliver_pending(db, None) == 0  # no SMTP: the table is the outbox
    url = "smtp+starttls://mailer:p%40ss@mail.example:2525?from=credit@store.example"
    target = SmtpTarget.from_url(url)
    assert (target.host, target.port, target.mode, target.sender) == (
        "mail.example",
        2525,
        "starttls",
        "credit@store.example",
    )
    FakeSMTP.fail = True
    assert deliver_pending(db, url) == 0
    with db.transaction() as session:
        [mail] = list_mails(session)
        assert mail.sent_at is None and mail.attempts == 1 and "gone" in (mail.last_error or "")
    FakeSMTP.fail = False
    assert deliver_pending(db, url) == 1
    assert deliver_pending(db, url) == 0
    [message] = FakeSMTP.sent
    assert message["To"] == "c@shop.example" and message["From"] == "credit@store.example"
    with db.transaction() as session:
        assert session.scalars(select(OutboxMail)).one().sent_at is not None


def test_cli_creates_and_lists_users(db: Database, tmp_path: Path) -> None:
    env = {"DATABASE_URL": db.url, "CONNECTOR_INSTANCE_PATH": str(tmp_path)}
    runner = CliRunner()
    created = runner.invoke(
        cli,
        ["users", "create", "--email", "ops@store.example", "--name", "Ops"],
        input="a long password\na long password\n",
        env=env,
    )
    assert created.exit_code == 0, created.output
    assert "created staff user ops@store.example" in created.output
    again = runner.invoke(
        cli,
        ["users", "create", "--email", "ops@store.example"],
        env={**env, "CONNECTOR_USER_PASSWORD": "x" * 12},
    )
    assert again.exit_code == 1 and "already exists" in again.output
    listed = runner.invoke(cli, ["users", "list"], env=env)
    assert "ops@store.example\tactive" in listed.output
    assert (
        runner.invoke(cli, ["users", "disable", "--email", "ops@store.example"], env=env).exit_code
        == 0
    )
    with db.transaction() as session:
        user = session.scalars(select(StaffUser)).one()
        assert user.disabled_at is not None and user.password_hash.startswith("scrypt:")
        queue_mail(session, to="c@shop.example", subject="Link", body="https://x/y")
    mails = runner.invoke(cli, ["mail", "list"], env=env)
    assert "to c@shop.example (not sent)" in mails.output and "https://x/y" in mails.output


def test_store_totals_count_open_accounts_and_invoices(
    db: Database, seed: Callable[..., Seeded]
) -> None:
    from connector.credit.dashboard import owner_emails, store_totals

    late = seed(limit_cents=50_000, purchase_cents=9_000, installments=3, settled_days_ago=70)
    seed(limit_cents=20_000, purchase_cents=1_000)
    with db.transaction() as session:
        totals = store_totals(session, utcnow())
        emails = owner_emails(session, {late.account_id})
    assert (totals.open_accounts, totals.limit_cents, totals.reserved_cents) == (2, 70_000, 0)
    assert (totals.open_count, totals.open_cents) == (4, 10_000)
    assert (totals.overdue_count, totals.overdue_cents) == (2, 6_000)
    assert emails == {late.account_id: "buyer1@example.com"}
