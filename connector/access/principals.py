"""Who is calling: the credential headers, checked against the configured pair or issued keys.

Both the payment protocol and the REST API call ``authenticate``; each renders a refusal
in its own error shape. Roles grant permissions:

| role | may |
|---|---|
| ``admin`` | everything |
| ``accounts`` | read; write accounts, holders, statements and transactions |
| ``invoices`` | read; write invoices (pay, cancel, change, postpone) and import them |
| ``read`` | read |
| ``gateway`` | speak the payment provider protocol only |
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from werkzeug.datastructures import Headers

from connector.access.keys import verify_key
from connector.config import Settings
from connector.db import Database

READ = "read"
WRITE_ACCOUNTS = "write:accounts"
WRITE_TRANSACTIONS = "write:transactions"
WRITE_INVOICES = "write:invoices"
WRITE_SETTINGS = "write:settings"
PAYMENTS = "payments"

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(
        {READ, WRITE_ACCOUNTS, WRITE_TRANSACTIONS, WRITE_INVOICES, WRITE_SETTINGS, PAYMENTS}
    ),
    "accounts": frozenset({READ, WRITE_ACCOUNTS, WRITE_TRANSACTIONS}),
    "invoices": frozenset({READ, WRITE_INVOICES}),
    "read": frozenset({READ}),
    "gateway": frozenset({PAYMENTS}),
}

_KEY_HEADERS = ("X-VTEX-API-AppKey", "X-PROVIDER-API-AppKey")
_TOKEN_HEADERS = ("X-VTEX-API-AppToken", "X-PROVIDER-API-AppToken")

# A verified key is trusted for this long without asking the database again, which keeps
# the authorization path at one transaction. A revocation takes effect within it.
CACHE_SECONDS = 10.0


@dataclass(frozen=True)
class Principal:
    key: str
    role: str

    def may(self, permission: str) -> bool:
        return permission in ROLE_PERMISSIONS.get(self.role, frozenset())


def credentials_from(headers: Headers | Mapping[str, str]) -> tuple[str, str]:
    """The (key, token) pair from either header family; empty strings when absent.

    Werkzeug's headers are case-insensitive, so any spelling of the names matches.
    """
    key = next((headers.get(name) for name in _KEY_HEADERS if headers.get(name)), "") or ""
    token = next((headers.get(name) for name in _TOKEN_HEADERS if headers.get(name)), "") or ""
    return key.strip(), token.strip()


def _equal(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


class Authenticator:
    """Checks credentials; one per app, shared by the requests of a worker."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self._cache: dict[tuple[str, str], tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def authenticate(self, app_key: str, app_token: str) -> Principal | None:
        """The caller's principal, or None for missing, unknown or wrong credentials."""
        if not app_key or not app_token:
            return None
        configured_key, configured_token = self.settings.app_key, self.settings.app_token
        if configured_key and configured_token:
            key_matches = _equal(app_key, configured_key)
            token_matches = _equal(app_token, configured_token)
            if key_matches and token_matches:
                return Principal(app_key, "admin")
            if key_matches:
                return None
        role = self._issued_role(app_key, app_token)
        return Principal(app_key, role) if role else None

    def _issued_role(self, app_key: str, app_token: str) -> str | None:
        cache_key = (app_key, hashlib.sha256(app_token.encode()).hexdigest())
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(cache_key)
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        with self.db.transaction() as session:
            role = verify_key(session, app_key, app_token)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[cache_key] = (now, role)
        return role
