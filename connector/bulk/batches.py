"""Applying a chunk's rows in batches: waves that keep repeated keys in file order, and a
savepoint that lets one row lose a race without failing its batch."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector.errors import Code, Conflict, ConnectorError

T = TypeVar("T")
R = TypeVar("R")


def waves(items: Sequence[T], key: Callable[[T], Hashable]) -> list[list[T]]:
    """Split items so that no wave has a key twice; the n-th item of a key goes to wave n.

    Each wave is read and written as one batch, so a row naming the same account or
    invoice as an earlier row of its chunk sees that row's effect, as if the file ran
    row by row.
    """
    result: list[list[T]] = []
    seen: dict[Hashable, int] = {}
    for item in items:
        index = seen.get(key(item), 0)
        seen[key(item)] = index + 1
        if index == len(result):
            result.append([])
        result[index].append(item)
    return result


def apply_batch(
    session: Session,
    items: Sequence[T],
    apply: Callable[[list[T]], list[R | ConnectorError]],
) -> list[R | ConnectorError]:
    """Apply a whole batch in one savepoint. If the database refuses it (a concurrent
    writer took an e-mail or document between our read and our write), apply the items
    one savepoint each, so that only the item that lost the race fails."""
    if not items:
        return []
    try:
        with session.begin_nested():
            return apply(list(items))
    except IntegrityError:
        pass
    results: list[R | ConnectorError] = []
    for item in items:
        try:
            with session.begin_nested():
                results.extend(apply([item]))
        except IntegrityError:
            results.append(
                Conflict("a concurrent change conflicts with this row", code=Code.CONFLICT)
            )
    return results
