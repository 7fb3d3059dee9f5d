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

Staff users of the admin pages have a role too (``STAFF_ROLE_PERMISSIONS``):

| staff role | may |
|---|---|
| ``admin`` | all ``finance`` may, and the store's settings, connections, keys and users |
| ``finance`` | read; change accounts, holders, limits, invoices and reviews, and import them |
| ``viewer`` | read every page; change nothing |
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from werkzeug.datastructures import Headers

from connector.access.keys import USE_RECORDED_EVERY, note_use, verify_key
from connector.config import Settings
from connector.db import Database

READ = "read"
WRITE_ACCOUNTS = "write:accounts"
WRITE_TRANSACTIONS = "write:transactions"
WRITE_INVOICES = "write:invoices"
WRITE_SETTINGS = "write:settings"
PAYMENTS = "payments"
# Staff only. WRITE_CREDIT: accounts, holders, invoices, reviews and their imports;
# WRITE_ADMIN: the store's settings; MANAGE_KEYS: connections and keys; MANAGE_STAFF: users.
WRITE_CREDIT = "write:credit"
WRITE_ADMIN = "write:admin"
MANAGE_KEYS = "manage:keys"
MANAGE_STAFF = "manage:staff"

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(
        {READ, WRITE_ACCOUNTS, WRITE_TRANSACTIONS, WRITE_INVOICES, WRITE_SETTINGS, PAYMENTS}
    ),
    "accounts": frozenset({READ, WRITE_ACCOUNTS, WRITE_TRANSACTIONS}),
    "invoices": frozenset({READ, WRITE_INVOICES}),
    "read": frozenset({READ}),
    "gateway": frozenset({PAYMENTS}),
}

STAFF_ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({READ, WRITE_CREDIT, WRITE_ADMIN, MANAGE_KEYS, MANAGE_STAFF}),
    "finance": frozenset({READ, WRITE_CREDIT}),
    "viewer": frozenset({READ}),
}
STAFF_ROLES = tuple(STAFF_ROLE_PERMISSIONS)

_KEY_HEADERS = ("X-VTEX-API-AppKey", "X-PROVIDER-API-AppKey")
_TOKEN_HEADERS = ("X-VTEX-API-AppToken", "X-PROVIDER-API-AppToken")


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
    """Checks credentials; one per app, shared by the requests of a worker.

    An issued key is looked up on every request, never remembered, so revoking it takes
    effect on the next request in every worker. (The express authorization checks the
    key in its own statement: see ``connector.protocol.express``.)
    """

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        # When this process last recorded each key's use (monotonic seconds): a key's use is
        # written at most once a minute per process, and the statement itself skips the
        # write when another process recorded it within the minute.
        self._noted: dict[str, float] = {}
        self._noted_lock = threading.Lock()

    def configured(self, app_key: str, app_token: str) -> Principal | None:
        """The admin principal when these are the configured pair, else None."""
        configured_key, configured_token = self.settings.app_key, self.settings.app_token
        if not (configured_key and configured_token and app_key and app_token):
            return None
        if _equal(app_key, configured_key) and _equal(app_token, configured_token):
            return Principal(app_key, "admin")
        return None

    def names_configured_key(self, app_key: str) -> bool:
        """Whether the key is the configured one (then only its own token is accepted)."""
        configured_key = self.settings.app_key
        return bool(configured_key) and _equal(app_key, configured_key or "")

    def authenticate(self, app_key: str, app_token: str) -> Principal | None:
        """The caller's principal, or None for missing, unknown, revoked or wrong credentials."""
        if not app_key or not app_token:
            return None
        principal = self.configured(app_key, app_token)
        if principal is not None or self.names_configured_key(app_key):
            return principal
        role = self.db.run(lambda session: verify_key(session, app_key, app_token), read_only=True)
        if not role:
            return None
        self._note_use(app_key)
        return Principal(app_key, role)

    def _note_use(self, app_key: str) -> None:
        moment = time.monotonic()
        with self._noted_lock:
            last = self._noted.get(app_key)
            if last is not None and moment - last < USE_RECORDED_EVERY.total_seconds():
                return
            self._noted[app_key] = moment
        self.db.run(lambda session: note_use(session, app_key))


def roles_that_may(permission: str) -> tuple[str, ...]:
    """The roles that grant ``permission``."""
    return tuple(role for role, granted in ROLE_PERMISSIONS.items() if permission in granted)
