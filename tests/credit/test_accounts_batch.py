"""open_accounts and update_accounts: many requests, the same result as one by one."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.credit.account_changes import AccountChange, update_accounts
from connector.credit.accounts import NewAccount, close_account, open_account, open_accounts
from connector.credit.check import find_drift
from connector.credit.holders import add_holder
from connector.credit.ledger import lock_accounts
from connector.credit.models import Account, Holder, StatementEntry
from connector.errors import Conflict, ConnectorError, CreditDenied, NotFound, ValidationError
from tests.factories import NOW, valid_cnpj, valid_cpf

C1, C2, C9, CNPJ3 = valid_cpf(1), valid_cpf(2), valid_cpf(9), valid_cnpj(3)


def codes(results: list[object]) -> list[str]:
    return [r.code if isinstance(r, ConnectorError) else "ok" for r in results]


def test_open_accounts_sees_the_requests_before_it(session: Session) -> None:
    open_account(session, email="taken@example.com", credit_limit_cents=1, now=NOW)
    closed = open_account(
        session,
        email="old@example.com",
        credit_limit_cents=1,
        document=C9,
        document_type="CPF",
        now=NOW,
    )
    close_account(session, closed.id, now=NOW)
    results = open_accounts(
        session,
        [
            NewAccount("a@example.com", 100, document=C1, document_type="CPF"),
            NewAccount("b@example.com", 100, document=C1, document_type="CPF"),  # document taken
            NewAccount("A@Example.com", 100, document="2"),  # e-mail taken by the first
            NewAccount("taken@example.com", 100),  # e-mail taken in the database
            NewAccount("bad", 100),
            NewAccount("c@example.com", -1),
            NewAccount("d@example.com", 100, document=C9, document_type="CPF"),  # a closed one
            NewAccount("e@example.com", 100, account_id=f"{C1}_CPF"),  # the id the first took
            NewAccount("f@example.com", 250, tolerance_bps=1000, account_id="custom-id"),
        ],
        now=NOW,
    )
    assert codes(results) == [
        "ok",
        "account_exists",
        "holder_exists",
        "holder_exists",
        "invalid_request",
        "invalid_request",
        "ok",
        "account_exists",
        "ok",
    ]
    assert results[0] == f"{C1}_CPF" and results[8] == "custom-id"
    assert isinstance(results[6], str) and results[6].startswith(f"{C9}_CPF_")
    custom = session.get(Account, "custom-id")
    assert custom is not None and (custom.email, custom.credit_limit_cents) == (
        "f@example.com",
        250,
    )
    owners = session.scalars(select(Holder.email).where(Holder.account_id == "custom-id")).all()
    credit = session.scalars(
        select(StatementEntry.value_cents).where(StatementEntry.account_id == "custom-id")
    ).all()
    assert (owners, credit) == (["f@example.com"], [275])
    assert find_drift(session) == []


def test_update_accounts_applies_in_order_and_a_refusal_changes_nothing(session: Session) -> None:
    a = open_account(
        session,
        email="a@example.com",
        credit_limit_cents=100,
        document=C1,
        document_type="CPF",
        now=NOW,
    )
    b = open_account(
        session,
        email="b@example.com",
        credit_limit_cents=100,
        document=C2,
        document_type="CPF",
        now=NOW,
    )
    c = open_account(session, email="c@example.com", credit_limit_cents=100, now=NOW)
    add_holder(session, c.id, "dep@example.com", now=NOW)
    closed = open_account(session, email="z@example.com", credit_limit_cents=1, now=NOW)
    close_account(session, closed.id, now=NOW)
    results = update_accounts(
        session,
        [
            AccountChange(a.id, email="free@example.com", credit_limit_cents=500),
            AccountChange(b.id, email="a@example.com"),  # freed by the change before
            AccountChange(c.id, email="dep@example.com", credit_limit_cents=900),  # its dependent
            AccountChange(c.id, document=C2, document_type="CPF"),  # b still has it
            AccountChange(b.id, document=CNPJ3, document_type="CNPJ", tolerance_bps=200),
            AccountChange(c.id, document=C2, document_type="CPF"),  # free now
            AccountChange(a.id, credit_limit_cents=-5),
            AccountChange("nope", credit_limit_cents=1),
            AccountChange(closed.id, credit_limit_cents=1),
        ],
        now=NOW,
    )
    assert codes(results) == [
        "ok",
        "ok",
        "holder_exists",
        "account_exists",
        "ok",
        "ok",
        "invalid_request",
        "account_not_found",
        "account_closed",
    ]
    assert isinstance(results[7], NotFound) and isinstance(results[8], CreditDenied)
    assert isinstance(results[2], Conflict) and isinstance(results[6], ValidationError)
    assert (a.email, a.credit_limit_cents) == ("free@example.com", 500)
    assert (b.email, b.document, b.document_type, b.tolerance_bps) == (
        "a@example.com",
        CNPJ3,
        "CNPJ",
        200,
    )
    assert (c.email, c.credit_limit_cents, c.document) == (
        "c@example.com",
        100,
        C2,
    )  # row 3 refused
    session.flush()
    query = select(Holder.account_id, Holder.email).where(
        Holder.level == 1, Holder.removed_at.is_(None)
    )
    owners = {account_id: email for account_id, email in session.execute(query)}
    assert owners[a.id] == "free@example.com" and owners[b.id] == "a@example.com"
    assert find_drift(session) == []


def test_lock_accounts_returns_what_exists(session: Session) -> None:
    a = open_account(session, email="a@example.com", credit_limit_cents=1, now=NOW)
    assert list(lock_accounts(session, [a.id, "missing", a.id])) == [a.id]
    assert lock_accounts(session, []) == {}
