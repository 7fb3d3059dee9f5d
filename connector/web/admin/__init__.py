"""The admin for store staff: one blueprint, a module per section."""

from __future__ import annotations

from connector.web.admin import (
    accounts,
    actions,
    base,
    bulk,
    connections,
    invoices,
    payments,
    reviews,
    settings,
)

bp = base.bp

# The sections register their routes on ``base.bp`` when imported.
__all__ = [
    "accounts",
    "actions",
    "bp",
    "bulk",
    "connections",
    "invoices",
    "payments",
    "reviews",
    "settings",
]
