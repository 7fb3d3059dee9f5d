"""The clock every rule is given: UTC moments, from the system or pinned by a test."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta


def utcnow() -> datetime:
    return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until moved: what HTTP tests give the app."""

    def __init__(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("a clock tells UTC moments, not naive ones")
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, delta: timedelta) -> datetime:
        self.moment += delta
        return self.moment


Clock = Callable[[], datetime]
