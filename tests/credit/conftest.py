"""The credit services are tested in the test's own session (``session``): settings change
in that same transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests import factories


@pytest.fixture
def store(session: Session) -> Callable[..., None]:
    """Change the store's settings, by field name, in the test's session."""

    def change(**changes: Any) -> None:
        factories.settings(session, **changes)

    return change
