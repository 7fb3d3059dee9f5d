"""Customer credit for B2B e-commerce, and its payment provider connector."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: the one place where settings, database and routes meet."""
    from connector.app import build_app

    return build_app(overrides)
