from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from connector.credit.holders import find_account_for_buyer
from connector.credit.ledger import lock_account
from tests.factories import OpenAccount


@contextmanager
def statements(session: Session) -> Iterator[list[str]]:
    """The SQL a block sends."""
    sent: list[str] = []
    engine = session.get_bind().engine

    def record(*args: Any) -> None:
        sent.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_lock_is_taken_once_per_transaction(session: Session, new_account: OpenAccount) -> None:
    """Even when nobody holds the account object (the identity map's references are weak)."""
    account = new_account(email="lock@example.com")
    session.flush()
    account_id = account.id
    del account
    with statements(session) as sent:
        found = find_account_for_buyer(session, email="lock@example.com", lock=True)
        assert found is not None
        del found
        gc.collect()
        assert lock_account(session, account_id).id == account_id
    assert len(sent) == 1  # found and locked in one statement, not locked again
    if session.get_bind().dialect.name == "postgresql":  # SQLite locks at BEGIN instead
        assert "FOR UPDATE OF accounts" in sent[0]


def test_a_rolled_back_savepoint_forgets_its_locks(
    session: Session, new_account: OpenAccount
) -> None:
    account = new_account()
    session.flush()
    nested = session.begin_nested()
    lock_account(session, account.id)
    nested.rollback()
    with statements(session) as sent:
        lock_account(session, account.id)
    assert len(sent) == 1  # locked again: the savepoint's lock went with it


def test_a_savepoint_keeps_the_locks_taken_before_it(
    session: Session, new_account: OpenAccount
) -> None:
    account = new_account()
    session.flush()
    lock_account(session, account.id)
    with session.begin_nested(), statements(session) as sent:
        lock_account(session, account.id)
    assert [s for s in sent if "accounts" in s and s.startswith("SELECT")] == []
