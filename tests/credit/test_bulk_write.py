"""bulk_write: its fast JSON writes what the engine's serializer writes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from connector import jsonio
from connector.credit.bulk_write import _flat, _flat_json


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"creditLimit": 100_000, "toleranceBps": 500},
        {"email": "josé@exemplo.com.br", "document": None, "ok": True, "big": 10**20},
        {"text": 'quote " backslash \\ newline \n control \x01 line sep \u2028 emoji 😀'},
    ],
)
def test_flat_documents_are_written_as_the_engine_writes_them(document: dict[str, Any]) -> None:
    assert _flat(document)
    assert _flat_json(document) == jsonio.dumps(document)


@pytest.mark.parametrize(
    "document", [{"amount": Decimal("1.50")}, {"nested": {"a": 1}}, [1, 2], {1: "a"}]
)
def test_other_documents_go_to_the_engine(document: Any) -> None:
    assert not _flat(document)
