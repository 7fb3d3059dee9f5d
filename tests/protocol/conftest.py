"""Every protocol answer these tests see is checked against our OpenAPI document."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.documented import DocumentedClient


@pytest.fixture(autouse=True)
def _documented_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each app's test client checks the protocol's answers (``tests.documented``)."""
    monkeypatch.setattr(Flask, "test_client_class", DocumentedClient)
