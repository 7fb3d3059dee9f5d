"""Identifiers: time-ordered, unique, readable in a URL."""

from __future__ import annotations

import secrets
import threading
import time

_lock = threading.Lock()
_last = 0


def new_id() -> str:
    """A 32-hex-digit id that sorts by creation time: a 48-bit ms clock and 80 random bits.

    Within one process the ids strictly increase, even inside one millisecond, so rows
    written in one transaction keep their order. Time-ordered ids also keep B-tree
    inserts local on PostgreSQL, unlike random UUIDs.
    """
    global _last
    candidate = ((time.time_ns() // 1_000_000) << 80) | secrets.randbits(80)
    with _lock:
        if candidate <= _last:
            candidate = _last + secrets.randbelow(2**16) + 1
        _last = candidate
    return f"{candidate:032x}"
