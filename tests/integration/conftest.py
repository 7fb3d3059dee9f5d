from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from connector.credit.accounts import open_account
from connector.credit.models import Account
from connector.credit.settings import update_store_settings
from tests.conftest import NOW

OpenAccount = Callable[..., Account]


@pytest.fixture
def new_account(session: Session) -> OpenAccount:
    """Open an account with sensible defaults; keywords override them."""
    counter = iter(range(1, 10_000))

    def make(**overrides: Any) -> Account:
        n = next(counter)
        fields: dict[str, Any] = {
            "email": f"buyer{n}@example.com",
            "credit_limit_cents": 100_000,
            "document": f"{n:011d}",
            "document_type": "CPF",
            "now": NOW,
        }
        fields.update(overrides)
        return open_account(session, **fields)

    return make


@pytest.fixture
def store(session: Session) -> Callable[..., None]:
    """Change store settings by their public names."""

    def change(**changes: Any) -> None:
        update_store_settings(session, changes)

    return change
