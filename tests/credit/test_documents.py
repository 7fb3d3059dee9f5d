"""Documents: check digits by python-stdnum, one stored form, a mask to read them by, the
company name; and the accounts stored before the check, which keep working."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from connector.credit.account_changes import update_account
from connector.credit.account_search import AccountFilter, account_select
from connector.credit.accounts import open_account
from connector.credit.holders import find_account_for_buyer
from connector.credit.identity import (
    DOCUMENT_TYPES,
    check_document,
    masked_document,
    normalize_company_name,
    normalize_document,
    normalize_document_type,
)
from connector.errors import ValidationError
from tests.factories import NOW, OpenAccount, valid_cnpj, valid_cpf

# Documents with their check digits right, as people write them.
VALID = [
    ("529.982.247-25", "CPF", "52998224725"),
    ("11.222.333/0001-81", "CNPJ", "11222333000181"),
    ("12.ABC.345/01DE-35", "CNPJ", "12ABC34501DE35"),  # the alphanumeric CNPJ (July 2026)
    ("20-26756539-3", "AR-CUIT", "20267565393"),
    ("12.345.678-5", "CL-RUT", "123456785"),
    ("12345678Z", "ES-NIF", "12345678Z"),
    ("501 964 843", "PT-NIF", "501964843"),
]
# The same with a check digit off, or the wrong length.
INVALID = [
    ("529.982.247-24", "CPF"),
    ("123", "CPF"),
    ("11.222.333/0001-82", "CNPJ"),
    ("12.ABC.345/01DE-36", "CNPJ"),
    ("20-26756539-4", "AR-CUIT"),
    ("12.345.678-6", "CL-RUT"),
    ("12345678A", "ES-NIF"),
    ("501 964 844", "PT-NIF"),
]


@pytest.mark.parametrize(("written", "kind", "stored"), VALID)
def test_a_valid_document_is_stored_without_its_mask_and_shown_with_one(
    written: str, kind: str, stored: str
) -> None:
    document = normalize_document(written)
    assert document == stored
    check_document(document, normalize_document_type(kind.lower(), document))
    if kind in ("CPF", "CNPJ"):
        assert masked_document(document, kind) == written


@pytest.mark.parametrize(("written", "kind"), INVALID)
def test_an_invalid_document_is_refused_naming_the_field(written: str, kind: str) -> None:
    with pytest.raises(ValidationError) as error:
        check_document(normalize_document(written), kind)
    assert list(error.value.fields) == ["document"]
    assert kind in str(error.value.fields["document"])


def test_types_without_a_scheme_are_only_checked_for_their_characters() -> None:
    check_document("X1234567", "Other")
    check_document("123", None)
    assert masked_document("X1234567", "Other") == "X1234567"
    assert set(DOCUMENT_TYPES.values()) >= {"CPF", "CNPJ", "Other", "AR-CUIT", "PT-NIF"}
    with pytest.raises(ValidationError) as error:
        normalize_document_type("DNI", "123")  # a name we do not know: refused as before
    assert "AR-CUIT" in str(error.value.fields["documentType"])


def test_masks_cpf_and_cnpj_and_leaves_what_it_cannot_check() -> None:
    assert masked_document("12345678909", "CPF") == "123.456.789-09"
    assert masked_document("12345678000195", "CNPJ") == "12.345.678/0001-95"
    assert masked_document("123", "CPF") == "123"  # stored before the check
    assert masked_document(None, "CPF") == ""


def test_accounts_are_opened_only_with_valid_documents(
    session: Session, new_account: OpenAccount
) -> None:
    account = new_account(document="529.982.247-25", document_type="cpf")
    assert (account.id, account.document) == ("52998224725_CPF", "52998224725")
    with pytest.raises(ValidationError) as error:
        new_account(email="x@example.com", document="529.982.247-24", document_type="CPF")
    assert "document" in error.value.fields
    with pytest.raises(ValidationError):
        update_account(session, account.id, document="123", document_type="CPF", now=NOW)
    cuit = new_account(email="ar@example.com", document="20-26756539-3", document_type="ar-cuit")
    assert cuit.id == "20267565393_AR-CUIT"


def test_an_account_stored_before_the_check_stays_readable_and_changeable(
    session: Session,
) -> None:
    """``123_CPF`` exists in databases: it is found, shown and changed; only its document
    cannot be given anew."""
    session.execute(
        text(
            "INSERT INTO accounts (id, email, document, document_type, status, "
            "credit_limit_cents, tolerance_bps, balance_cents, reserved_cents, created_at, "
            "updated_at) VALUES ('123_CPF', 'old@example.com', '123', 'CPF', 'Open', 100, 0, "
            "0, 0, :at, :at)"
        ),
        {"at": NOW.replace(tzinfo=None)},
    )
    session.execute(
        text(
            "INSERT INTO holders (id, account_id, email, level, created_at) "
            "VALUES ('h-123', '123_CPF', 'old@example.com', 1, :at)"
        ),
        {"at": NOW.replace(tzinfo=None)},
    )
    update_account(
        session,
        "123_CPF",
        email="older@example.com",
        document="123",
        document_type="CPF",
        company_name="Loja Antiga",
        now=NOW,
    )
    old = find_account_for_buyer(session, email="older@example.com")
    assert old is not None and (old.document, old.company_name) == ("123", "Loja Antiga")
    assert masked_document(old.document, old.document_type) == "123"
    # At checkout, a CPF with wrong check digits is no one's: nothing is looked up.
    assert find_account_for_buyer(session, email=None, document="123", document_type="CPF") is None
    assert find_account_for_buyer(session, email=None, document="123") == old  # untyped
    with pytest.raises(ValidationError):
        open_account(
            session,
            email="new@example.com",
            credit_limit_cents=1,
            document="123",
            document_type="CPF",
            now=NOW,
        )


def test_the_checkout_lookup_finds_a_valid_document_written_either_way(
    session: Session, new_account: OpenAccount
) -> None:
    cnpj = valid_cnpj(11222333)
    account = new_account(email="firm@example.com", document=cnpj, document_type="CNPJ")
    for written in ("11.222.333/0001-81", cnpj):
        found = find_account_for_buyer(
            session, email="someone@example.com", document=written, document_type="CNPJ"
        )
        assert found == account
    wrong = "11.222.333/0001-82"
    assert find_account_for_buyer(session, email=None, document=wrong, document_type="CNPJ") is None
    assert find_account_for_buyer(session, email=None, document="??", document_type="CPF") is None


def test_the_company_name_is_tidied_searched_and_cleared(
    session: Session, new_account: OpenAccount
) -> None:
    firm = new_account(email="firm@example.com", company_name="  Comércio   Souza Ltda ")
    person = new_account(email="ana@example.com", document=valid_cpf(77))
    assert (firm.company_name, person.company_name) == ("Comércio Souza Ltda", None)

    assert session.scalars(account_select(AccountFilter(search="souza"))).all() == [firm]
    by_name = session.scalars(account_select(AccountFilter(company_name="SOUZA LTDA"))).all()
    assert by_name == [firm]
    update_account(session, firm.id, company_name="", now=NOW)
    assert firm.company_name is None
    assert session.scalars(account_select(AccountFilter(search="souza"))).all() == []
    with pytest.raises(ValidationError) as error:
        normalize_company_name("x" * 201)
    assert list(error.value.fields) == ["companyName"]
