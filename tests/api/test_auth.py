"""Credentials on every operation: 401 without a valid key, 403 without the right."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from connector.api.routes import OPERATIONS, Operation
from connector.db import Database
from tests.api.conftest import BASE, DocumentedClient

# What each role may do, written out here rather than read from the code under test, so
# that widening a role fails this test.
ROLE_PERMISSIONS = {
    "admin": {
        "read",
        "write:accounts",
        "write:transactions",
        "write:invoices",
        "write:settings",
        "payments",
    },
    "accounts": {"read", "write:accounts", "write:transactions"},
    "invoices": {"read", "write:invoices"},
    "read": {"read"},
    "gateway": {"payments"},
}


def _url(op: Operation) -> str:
    return BASE + re.sub(r"<[^>]+>", "x", op.rule)


def _call(api: DocumentedClient, op: Operation, headers: dict[str, str]) -> int:
    path = re.sub(r"<[^>]+>", "x", op.rule)
    return api.request(op.method.upper(), path, headers=headers, json={}).status_code


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: f"{op.method} {op.rule}")
def test_every_operation_needs_credentials(api: DocumentedClient, op: Operation) -> None:
    client = api.client
    for headers in (
        {},
        {"X-VTEX-API-AppKey": "ck_unknown", "X-VTEX-API-AppToken": "whatever-token"},
        {**api.headers, "X-VTEX-API-AppToken": "wrong-token-0123456789"},
    ):
        response = client.open(_url(op), method=op.method.upper(), headers=headers)
        assert response.status_code == 401, headers
        assert response.get_json()["error"]["code"] == "unauthorized"


ROLES = ("read", "accounts", "invoices", "gateway")


@pytest.mark.parametrize("role", ROLES)
def test_roles_limit_what_a_key_may_do(
    api: DocumentedClient, headers_for: Callable[[str], dict[str, str]], role: str
) -> None:
    headers = headers_for(role)
    for op in OPERATIONS:
        status = _call(api, op, headers)
        if op.permission in ROLE_PERMISSIONS[role]:
            assert status not in (401, 403), (role, op.method, op.rule, status)
        else:
            assert status == 403, (role, op.method, op.rule, status)


def test_keys_from_the_cli_work_over_http(
    api: DocumentedClient, db: Database, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env.update(DATABASE_URL=db.url, CONNECTOR_INSTANCE_PATH=str(tmp_path / "instance"))

    def connector(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "connector.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout

    printed = connector("keys", "create", "--role", "invoices", "--label", "erp")
    pair = dict(line.split(":", 1) for line in printed.strip().splitlines())
    headers = {name: value.strip() for name, value in pair.items()}
    assert set(headers) == {"X-VTEX-API-AppKey", "X-VTEX-API-AppToken"}
    assert api.get("/invoices", headers=headers).status_code == 200
    opened = api.post(
        "/accounts", headers=headers, json={"email": "a@example.com", "creditLimit": 1}
    )
    assert opened.status_code == 403
    assert opened.get_json()["error"]["code"] == "forbidden"
    listed = connector("keys", "list")
    assert headers["X-VTEX-API-AppKey"] in listed and headers["X-VTEX-API-AppToken"] not in listed
    connector("keys", "revoke", headers["X-VTEX-API-AppKey"])
    assert api.get("/invoices", headers=headers).status_code == 401  # at once
