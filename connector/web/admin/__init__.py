"""The admin for store staff: one blueprint, a module per section."""

from __future__ import annotations

from connector.web.admin import (
    accounts,
    actions,
    audit,
    base,
    bulk,
    connections,
    invoices,
    keys,
    payments,
    people,
    reviews,
    settings,
)

bp = base.bp

# The sections register their routes on ``base.bp`` when imported.
__all__ = [
    "accounts",
    "actions",
    "audit",
    "bp",
    "bulk",
    "connections",
    "invoices",
    "keys",
    "payments",
    "people",
    "reviews",
    "settings",
]
