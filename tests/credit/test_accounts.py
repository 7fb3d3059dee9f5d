from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.credit.account_changes import change_credit_limit, change_tolerance, update_account
from connector.credit.accounts import close_account, figures, open_account
from connector.credit.holders import add_holder, find_account_for_buyer, list_holders, remove_holder
from connector.credit.invoices import pay_invoice
from connector.credit.models import Invoice, Reservation, StatementEntry
from connector.credit.reservations import reserve
from connector.credit.settings import StoreSettings
from connector.credit.settlements import settle_reservation
from connector.errors import Conflict, CreditDenied, NotFound, ValidationError
from tests.factories import NOW, OpenAccount, valid_cnpj, valid_cpf


def entries(session: Session, account_id: str) -> list[StatementEntry]:
    return list(
        session.scalars(
            select(StatementEntry)
            .where(StatementEntry.account_id == account_id)
            .order_by(StatementEntry.created_at, StatementEntry.id)
        )
    )


def test_open_account_derives_id_and_records_credit(session: Session) -> None:
    account = open_account(
        session,
        email=" Ana@Example.com ",
        credit_limit_cents=100_000,
        tolerance_bps=500,
        document="123.456.789-09",
        document_type="cpf",
        now=NOW,
    )
    assert account.id == "12345678909_CPF"
    assert account.email == "ana@example.com"
    assert (account.document, account.document_type) == ("12345678909", "CPF")
    assert account.status == "Open"
    [credit] = entries(session, account.id)
    assert (credit.origin, credit.value_cents) == ("Credit", 105_000)
    [owner] = list_holders(session, account.id)
    assert (owner.email, owner.level) == ("ana@example.com", 1)
    f = figures(account, StoreSettings())
    assert (f.available_cents, f.reserved_cents, f.balance_cents) == (100_000, 0, 0)


def test_open_account_without_document_gets_a_generated_id(session: Session) -> None:
    account = open_account(session, email="x@example.com", credit_limit_cents=0, now=NOW)
    assert len(account.id) == 32 and account.document is None and account.document_type is None


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"credit_limit_cents": -1}, "creditLimit"),
        ({"tolerance_bps": 10_001}, "tolerance"),
        ({"document_type": "passport"}, "documentType"),
        ({"account_id": "has spaces"}, "id"),
    ],
)
def test_open_account_names_the_bad_field(
    session: Session, fields: dict[str, object], bad_field: str
) -> None:
    base: dict[str, object] = {
        "email": "ok@example.com",
        "credit_limit_cents": 100,
        "document": "1",
        "now": NOW,
    }
    with pytest.raises(ValidationError) as error:
        open_account(session, **{**base, **fields})  # type: ignore[arg-type]
    assert bad_field in error.value.fields


def test_an_account_that_exists_is_a_conflict(new_account: OpenAccount) -> None:
    new_account(email="a@example.com", document=valid_cnpj(111), document_type="CNPJ")
    with pytest.raises(Conflict) as error:
        new_account(email="b@example.com", document=valid_cnpj(111), document_type="CNPJ")
    assert error.value.code == "account_exists"
    with pytest.raises(Conflict) as error:
        new_account(email="a@example.com", document=valid_cpf(222))
    assert error.value.code == "holder_exists"


def test_a_closed_account_never_shadows_a_new_one(
    session: Session, new_account: OpenAccount
) -> None:
    cnpj = valid_cnpj(999)
    old = new_account(email="shop@example.com", document=cnpj, document_type="CNPJ")
    close_account(session, old.id, now=NOW)
    fresh = new_account(email="shop@example.com", document=cnpj, document_type="CNPJ")
    assert fresh.id != old.id and fresh.id.startswith(f"{cnpj}_CNPJ_")
    assert find_account_for_buyer(session, email="shop@example.com") == fresh
    assert find_account_for_buyer(session, email=None, document=cnpj, document_type="CNPJ") == fresh


def test_limit_and_tolerance_changes_apply_at_once_with_credit_entries(
    session: Session, new_account: OpenAccount
) -> None:
    account = new_account(credit_limit_cents=100_000)
    change_credit_limit(session, account.id, 150_000, now=NOW)
    change_tolerance(session, account.id, 1000, now=NOW)
    change_tolerance(session, account.id, 1000, now=NOW)  # no change, no entry
    credits = [e.value_cents for e in entries(session, account.id)]
    assert credits == [100_000, 50_000, 15_000]
    assert sum(credits) == 165_000  # limit * (1 + tolerance)
    reserve(session, account.id, 150_000, now=NOW)  # the new limit is usable right away


def test_update_account_moves_the_owner_email(session: Session, new_account: OpenAccount) -> None:
    account = new_account(email="old@example.com")
    update_account(session, account.id, email="new@example.com", credit_limit_cents=5_000, now=NOW)
    assert find_account_for_buyer(session, email="new@example.com") == account
    assert find_account_for_buyer(session, email="old@example.com") is None
    assert account.credit_limit_cents == 5_000
    assert [e.value_cents for e in entries(session, account.id)] == [100_000, -95_000]


def test_update_account_refuses_a_document_of_another_open_account(
    session: Session, new_account: OpenAccount
) -> None:
    new_account(document=valid_cpf(1), document_type="CPF")
    other = new_account(document=valid_cpf(2), document_type="CPF")
    with pytest.raises(Conflict):
        update_account(session, other.id, document=valid_cpf(1))


def test_dependents_spend_from_the_owner_pool(session: Session, new_account: OpenAccount) -> None:
    account = new_account(credit_limit_cents=10_000)
    dependent = add_holder(session, account.id, "Buyer.Two@Example.com", now=NOW)
    assert dependent.level == 2
    assert find_account_for_buyer(session, email="buyer.two@example.com") == account
    reserve(session, account.id, 6_000, holder_email="buyer.two@example.com", now=NOW)
    with pytest.raises(CreditDenied) as error:
        reserve(session, account.id, 6_000, now=NOW)  # the owner shares the same pool
    assert error.value.code == "insufficient_credit"
    remove_holder(session, account.id, dependent.id, now=NOW)
    assert find_account_for_buyer(session, email="buyer.two@example.com") is None
    assert [h.level for h in list_holders(session, account.id)] == [1]


def test_holder_rules(session: Session, new_account: OpenAccount) -> None:
    first = new_account(email="one@example.com")
    second = new_account(email="two@example.com")
    with pytest.raises(Conflict):
        add_holder(session, second.id, "one@example.com")  # one e-mail, one account
    owner = list_holders(session, first.id)[0]
    with pytest.raises(Conflict) as error:
        remove_holder(session, first.id, owner.id)
    assert error.value.code == "owner_not_removable"
    with pytest.raises(NotFound):
        remove_holder(session, second.id, owner.id)  # not a holder of that account
    with pytest.raises(ValidationError):
        add_holder(session, first.id, "nope")


def test_document_is_the_fallback_lookup(session: Session, new_account: OpenAccount) -> None:
    account = new_account(
        email="doc@example.com", document="55.666.777/0001-81", document_type="CNPJ"
    )
    assert (
        find_account_for_buyer(
            session, email="unknown@example.com", document="55666777000181", document_type="cnpj"
        )
        == account
    )
    assert find_account_for_buyer(session, email="unknown@example.com", document="000") is None
    assert find_account_for_buyer(session, email=None, document=None) is None


def test_close_is_refused_with_open_items_unless_forced(
    session: Session, new_account: OpenAccount
) -> None:
    account = new_account(credit_limit_cents=100_000)
    dependent = add_holder(session, account.id, "dep@example.com", now=NOW)
    pending = reserve(session, account.id, 10_000, now=NOW)
    settled = reserve(session, account.id, 20_000, now=NOW)
    settle_reservation(session, settled.id, now=NOW)
    with pytest.raises(Conflict) as error:
        close_account(session, account.id, now=NOW)
    assert error.value.code == "account_has_open_items"

    close_account(session, account.id, force=True, now=NOW + timedelta(hours=1))
    assert account.status == "Closed" and account.reserved_cents == 0
    assert session.get(Reservation, pending.id).status == "voided"  # type: ignore[union-attr]
    invoices = session.scalars(select(Invoice).where(Invoice.account_id == account.id)).all()
    assert invoices and all(i.status == "Opened" for i in invoices)  # still owed
    assert find_account_for_buyer(session, email=dependent.email) is None
    with pytest.raises(CreditDenied) as denied:
        reserve(session, account.id, 100, now=NOW)
    assert denied.value.code == "account_closed"
    # Invoices of a closed account can still be paid: the customer still owes them.
    pay_invoice(session, invoices[0].id, now=NOW)
    assert close_account(session, account.id) is account  # closing twice is harmless


def test_unknown_account_is_not_found(session: Session) -> None:
    with pytest.raises(NotFound):
        change_credit_limit(session, "nope", 1)
