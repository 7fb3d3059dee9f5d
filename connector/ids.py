"""Identifiers and the clock."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime


def new_id() -> str:
    """A 32-hex-digit id that sorts by creation time (48-bit ms clock + 80 random bits).

    Time-ordered ids keep B-tree inserts local on PostgreSQL, unlike random UUIDs.
    """
    return f"{time.time_ns() // 1_000_000:012x}{secrets.randbits(80):020x}"


def utcnow() -> datetime:
    return datetime.now(UTC)
