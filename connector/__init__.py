"""Customer credit for B2B e-commerce, and its payment provider connector."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

    from connector.clock import Clock


def create_app(overrides: Mapping[str, Any] | None = None, *, clock: Clock | None = None) -> Flask:
    """Build the application (``connector.app``, the composition root).

    Imported on call, so that importing any part of the package never loads the edges.
    """
    from connector.app import create_app as build

    return build(overrides, clock=clock)
