from __future__ import annotations

from pathlib import Path

import pytest
from werkzeug.datastructures import Headers

from connector.access import principals as auth
from connector.access.keys import create_key, revoke_key
from connector.access.principals import Authenticator, credentials_from
from connector.config import load_settings
from connector.db import Database


def authenticator(db: Database, tmp_path: Path, **env: str) -> Authenticator:
    settings = load_settings(
        {"DATABASE_URL": db.url, "CONNECTOR_INSTANCE_PATH": str(tmp_path), **env}
    )
    return Authenticator(settings, db)


def test_header_pairs_are_read_case_insensitively() -> None:
    vtex = Headers({"x-vtex-api-appkey": "k", "X-VTEX-API-APPTOKEN": "t"})
    provider = Headers({"X-PROVIDER-API-AppKey": "k2", "x-provider-api-apptoken": "t2"})
    assert credentials_from(vtex) == ("k", "t")
    assert credentials_from(provider) == ("k2", "t2")
    assert credentials_from(Headers()) == ("", "")


def test_configured_pair_is_admin(db: Database, tmp_path: Path) -> None:
    a = authenticator(
        db, tmp_path, CONNECTOR_APP_KEY="store", CONNECTOR_APP_TOKEN="sixteen-chars-or-more"
    )
    principal = a.authenticate("store", "sixteen-chars-or-more")
    assert principal is not None and principal.role == "admin"
    assert principal.may(auth.PAYMENTS) and principal.may(auth.WRITE_SETTINGS)
    assert a.authenticate("store", "sixteen-chars-or-morf") is None
    assert a.authenticate("store", "") is None
    assert a.authenticate("", "") is None


def test_issued_keys_carry_their_role_until_revoked(db: Database, tmp_path: Path) -> None:
    with db.transaction() as session:
        issued = create_key(session, role="invoices")
    a = authenticator(db, tmp_path)
    principal = a.authenticate(issued.app_key, issued.app_token)
    assert principal is not None and principal.role == "invoices"
    assert principal.may(auth.WRITE_INVOICES) and principal.may(auth.READ)
    assert not principal.may(auth.WRITE_ACCOUNTS) and not principal.may(auth.PAYMENTS)
    assert a.authenticate(issued.app_key, issued.app_token[:-1] + "x") is None
    with db.transaction() as session:
        revoke_key(session, issued.app_key)
    assert a.authenticate(issued.app_key, issued.app_token) is None  # at once


@pytest.mark.parametrize(
    ("role", "allowed", "refused"),
    [
        ("accounts", {auth.WRITE_ACCOUNTS, auth.WRITE_TRANSACTIONS}, {auth.WRITE_SETTINGS}),
        ("read", {auth.READ}, {auth.WRITE_INVOICES, auth.PAYMENTS}),
        ("gateway", {auth.PAYMENTS}, {auth.READ}),
    ],
)
def test_roles(role: str, allowed: set[str], refused: set[str]) -> None:
    principal = auth.Principal("k", role)
    assert all(principal.may(p) for p in allowed)
    assert not any(principal.may(p) for p in refused)
