"""The audit trail: one entry per change, by whoever the edge named, never rewritten."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from connector import audit
from connector.access.connections import ConnectionStatus, PlatformConnection, revoke_connection
from connector.access.keys import create_key, revoke_key
from connector.access.users import StaffUser, create_user, disable_user, set_password, set_role
from connector.audit import AuditEntry, AuditFilter, acting_as, search_entries
from connector.clock import utcnow
from connector.credit.account_changes import change_credit_limit, change_tolerance, update_account
from connector.credit.accounts import close_account, open_account
from connector.credit.holders import add_holder, remove_holder, set_mail_preferences
from connector.credit.invoices import (
    cancel_invoice,
    pay_invoice,
    postpone_invoice,
    update_invoice,
)
from connector.credit.settings import update_store_settings
from connector.credit.statements import adjust_balance
from connector.db import Database
from connector.errors import ConnectorError
from tests import factories

STAFF = "ana@store.example"


@dataclass
class Given:
    account_id: str
    invoice_id: str
    holder_id: str = ""
    key_id: str = ""
    connection_id: str = ""


def _given(db: Database) -> Given:
    seeded = factories.settled_purchase(db, installments=2)
    with db.transaction() as session:
        factories.settings(session, postponement_enabled=True)
        holder = add_holder(session, seeded.account_id, "kid@example.com")
        create_user(session, email="bob@store.example", password="a long password", role="viewer")
        create_user(session, email="root@store.example", password="a long password")
        key = create_key(session, role="gateway", label="old")
        connection = PlatformConnection(
            id="C1",
            application_id="vtex",
            return_url="https://store.example/back?authorizationCode=",
            status=ConnectionStatus.CONNECTED,
            created_at=utcnow(),
            expires_at=utcnow(),
            token_sha256="x" * 64,
            key_id=create_key(session, role="gateway").app_key,
        )
        session.add(connection)
    return Given(seeded.account_id, seeded.invoice_ids[0], holder.id, key.app_key, "C1")


def _admin(session: Session) -> StaffUser:
    found = session.scalar(select(StaffUser).where(StaffUser.email == "root@store.example"))
    assert found is not None
    return found


# (action, the change, the fields before, the fields after)
Case = tuple[str, Callable[[Session, Given], Any], dict[str, Any], dict[str, Any]]
CASES: list[Case] = [
    (
        "account.opened",
        lambda s, g: open_account(s, email="new@example.com", credit_limit_cents=50_000),
        {},
        {
            "email": "new@example.com",
            "document": None,
            "document_type": None,
            "credit_limit_cents": 50_000,
            "tolerance_bps": 0,
        },
    ),
    (
        "account.credit",
        lambda s, g: change_credit_limit(s, g.account_id, 250_000),
        {"credit_limit_cents": 100_000},
        {"credit_limit_cents": 250_000},
    ),
    (
        "account.credit",
        lambda s, g: change_tolerance(s, g.account_id, 1_000),
        {"tolerance_bps": 0},
        {"tolerance_bps": 1_000},
    ),
    (
        "account.details",
        lambda s, g: update_account(s, g.account_id, email="owner@example.com"),
        {"email": "buyer1@example.com"},
        {"email": "owner@example.com"},
    ),
    (
        "account.closed",
        lambda s, g: close_account(s, g.account_id, force=True),
        {"status": "Open"},
        {"status": "Closed"},
    ),
    (
        "account.adjusted",
        lambda s, g: adjust_balance(s, g.account_id, -1_234, entry_id="S1"),
        {},
        {"value_cents": -1_234, "statement_id": "S1"},
    ),
    (
        "holder.added",
        lambda s, g: add_holder(s, g.account_id, "spouse@example.com"),
        {},
        {"email": "spouse@example.com"},
    ),
    (
        "holder.removed",
        lambda s, g: remove_holder(s, g.account_id, g.holder_id),
        {"email": "kid@example.com"},
        {},
    ),
    (
        "holder.mail",
        lambda s, g: set_mail_preferences(
            s, g.account_id, g.holder_id, language="pt", opted_out=True
        ),
        {"language": None, "mails": True},
        {"language": "pt", "mails": False},
    ),
    (
        "invoice.paid",
        lambda s, g: pay_invoice(s, g.invoice_id),
        {"status": "Opened", "received_cents": None},
        {"status": "Paid", "received_cents": 15_000},
    ),
    (
        "invoice.cancelled",
        lambda s, g: cancel_invoice(s, g.invoice_id),
        {"status": "Opened"},
        {"status": "Cancelled"},
    ),
    (
        "invoice.changed",
        lambda s, g: update_invoice(s, g.invoice_id, observation="called the buyer"),
        {"observation": None},
        {"observation": "called the buyer"},
    ),
    (
        "invoice.postponed",
        lambda s, g: postpone_invoice(s, g.invoice_id, 5),
        {"due_date": "2026-12-30"},
        {"due_date": "2027-01-04"},
    ),
    (
        "settings.saved",
        lambda s, g: update_store_settings(s, {"max_postponement_days": 12}),
        {"max_postponement_days": 30},
        {"max_postponement_days": 12},
    ),
    ("key.created", lambda s, g: create_key(s, role="admin", label="erp"), {}, {"role": "admin"}),
    (
        "key.revoked",
        lambda s, g: revoke_key(s, g.key_id),
        {"revoked": False},
        {"revoked": True},
    ),
    (
        "connection.revoked",
        lambda s, g: revoke_connection(s, g.connection_id, _admin(s), now=utcnow()),
        {"status": "connected"},
        {"status": "revoked"},
    ),
    (
        "staff.created",
        lambda s, g: create_user(s, email="eva@store.example", password="a long password"),
        {},
        {"role": "admin"},
    ),
    (
        "staff.role",
        lambda s, g: set_role(s, "bob@store.example", "finance"),
        {"role": "viewer"},
        {"role": "finance"},
    ),
    (
        "staff.disabled",
        lambda s, g: disable_user(s, "bob@store.example"),
        {"disabled": False},
        {"disabled": True},
    ),
    ("staff.password", lambda s, g: set_password(s, "bob@store.example", "another one!"), {}, {}),
]


def _new_entries(db: Database, after_id: int) -> list[AuditEntry]:
    with db.transaction() as session:
        return list(
            session.scalars(
                select(AuditEntry).where(AuditEntry.id > after_id).order_by(AuditEntry.id)
            )
        )


def _last_id(db: Database) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.max(AuditEntry.id))) or 0


@pytest.mark.parametrize(("action", "change", "before", "after"), CASES, ids=lambda c: "")
def test_each_change_writes_one_entry_by_its_actor(
    db: Database, action: str, change: Callable[..., Any], before: dict, after: dict
) -> None:
    given = _given(db)
    start = _last_id(db)
    with acting_as(audit.STAFF, STAFF), db.transaction() as session:
        change(session, given)
    entries = _new_entries(db, start)
    assert [e.action for e in entries] == [action]
    [entry] = entries
    assert (entry.actor_kind, entry.actor_id) == ("staff", STAFF)
    # Only what changed, and at least the fields the case names.
    assert {k: entry.before.get(k) for k in before} == before
    assert {k: entry.after.get(k) for k in after} == after
    assert set(entry.before) | set(entry.after) == {
        k for k in set(entry.before) | set(entry.after) if entry.before.get(k) != entry.after.get(k)
    }
    if entry.subject_kind in ("account", "holder", "invoice"):
        assert entry.account_id is not None


def test_a_change_repeated_or_refused_writes_nothing(db: Database) -> None:
    given = _given(db)
    with db.transaction() as session:
        pay_invoice(session, given.invoice_id)
    start = _last_id(db)
    with db.transaction() as session:
        pay_invoice(session, given.invoice_id)  # paying twice changes nothing
        change_credit_limit(session, given.account_id, 100_000)  # the same limit
    with pytest.raises(ConnectorError), db.transaction() as session:
        cancel_invoice(session, given.invoice_id)  # a paid invoice is not cancelled
    assert _new_entries(db, start) == []


def test_a_rolled_back_change_leaves_no_entry(db: Database) -> None:
    given = _given(db)
    start = _last_id(db)

    class Boom(Exception):
        pass

    with pytest.raises(Boom), db.transaction() as session:
        change_credit_limit(session, given.account_id, 5_000)
        raise Boom
    assert _new_entries(db, start) == []


def test_without_an_actor_the_system_did_it(session: Session) -> None:
    factories.account(session)
    [entry] = session.scalars(select(AuditEntry))
    assert (entry.actor_kind, entry.actor_id) == ("system", "")


def test_a_batch_import_writes_one_entry_per_changed_row(db: Database) -> None:
    from connector.credit.account_changes import AccountChange, update_accounts

    with db.transaction() as session:
        ids = [factories.account(session).id for _ in range(3)]
    start = _last_id(db)
    with acting_as(audit.IMPORT, "J1"), db.transaction() as session:
        update_accounts(
            session,
            [
                AccountChange(ids[0], credit_limit_cents=1),
                AccountChange(ids[1]),  # unchanged: no entry
                AccountChange(ids[2], credit_limit_cents=-5),  # refused: no entry
            ],
        )
    entries = _new_entries(db, start)
    assert [(e.action, e.subject_id, e.actor_kind, e.actor_id) for e in entries] == [
        ("account.credit", ids[0], "import", "J1")
    ]


def test_entries_cannot_be_changed_or_deleted(db: Database) -> None:
    with db.transaction() as session:
        factories.account(session)
    for statement in (
        update(AuditEntry).values(actor_id="someone else"),
        delete(AuditEntry),
    ):
        with pytest.raises(DatabaseError, match="append-only"), db.transaction() as session:
            session.execute(statement)
    with db.transaction() as session:
        assert session.scalar(select(AuditEntry.actor_id)) == ""


def test_entries_cannot_be_changed_on_postgresql(pg: Database) -> None:
    with pg.transaction() as session:
        factories.account(session)
    for sql in ("UPDATE audit_entries SET note = 'x'", "DELETE FROM audit_entries"):
        with pytest.raises(DatabaseError, match="append-only"), pg.transaction() as session:
            session.execute(text(sql))


def test_the_filters(db: Database) -> None:
    with acting_as(audit.STAFF, STAFF), db.transaction() as session:
        first = factories.account(session, email="first@example.com")
    with acting_as(audit.KEY, "ck_erp"), db.transaction() as session:
        second = factories.account(session, email="second@example.com")
        change_credit_limit(session, second.id, 1_000)
    with db.transaction() as session:

        def found(**where: Any) -> list[tuple[str, str]]:
            return [(e.action, e.subject_id) for e in search_entries(session, AuditFilter(**where))]

        assert found() == [
            ("account.credit", second.id),
            ("account.opened", second.id),
            ("account.opened", first.id),
        ]
        assert found(actor="staff") == [("account.opened", first.id)]
        assert found(actor=f"staff:{STAFF}") == [("account.opened", first.id)]
        assert found(actor="ck_erp") == found(actor="key:ck_erp") == found()[:2]
        assert found(action="account.credit") == [("account.credit", second.id)]
        assert found(account_id=first.id) == [("account.opened", first.id)]
        assert found(text="ERP") == found()[:2]
        assert found(text="%") == []
        # Accounts open at the factories' NOW; the limit changed at the real time.
        assert found(until=factories.NOW + timedelta(seconds=1)) == found()[1:]
        assert found(since=factories.NOW + timedelta(seconds=1)) == found()[:1]
