"""E-mails and documents in the one form every lookup compares them in."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from connector.credit.accounts import close_account
from connector.credit.conditions import purchase_conditions
from connector.credit.holders import add_holder, find_account_for_buyer, has_closed_account
from connector.credit.identity import (
    canonical_email,
    normalize_document,
    normalize_document_type,
    normalize_email,
)
from connector.errors import ValidationError
from tests.factories import OpenAccount


def test_the_canonical_forms() -> None:
    assert canonical_email("  Ana.Silva@Example.COM \n") == "ana.silva@example.com"
    assert normalize_email(" Ana@Example.com ") == "ana@example.com"
    assert normalize_document("123.456.789-09") == "12345678909"
    assert normalize_document("12.345.678/0001-95") == "12345678000195"
    assert normalize_document("  ") is None
    assert normalize_document_type("cnpj", "1") == "CNPJ"
    assert normalize_document_type(None, "1") == "Other"
    for bad in ("no-at-sign", "a@b", "two@@example.com", 42, "x" * 250 + "@e.com"):
        with pytest.raises(ValidationError):
            normalize_email(bad)


def test_every_lookup_finds_a_buyer_however_the_e_mail_is_written(
    session: Session, new_account: OpenAccount
) -> None:
    account = new_account(email="Owner@Shop.example")
    add_holder(session, account.id, " Helper@Shop.EXAMPLE ")
    for written in ("owner@shop.example", " OWNER@shop.example", "helper@SHOP.example "):
        found = find_account_for_buyer(session, email=written)
        assert found is not None and found.id == account.id, written
        assert purchase_conditions(session, email=written).account_id == account.id
    close_account(session, account.id, force=True)
    assert has_closed_account(session, "  OWNER@Shop.Example")
