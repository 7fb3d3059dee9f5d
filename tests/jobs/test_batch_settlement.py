"""The auto-settle job's set-wise path (``credit.batch_settlement``) writes what the
general path writes: the same due reservations settled by ``settle_reservation`` one by
one and by the job, into the same emptied database, give the same rows, and
``connector check`` finds no drift after either."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from connector.credit import batch_settlement
from connector.credit.accounts import open_account
from connector.credit.check import find_drift
from connector.credit.models import Account, Invoice, Reservation, StatementEntry
from connector.credit.reservations import release_reservation, reserve
from connector.credit.settings import update_store_settings
from connector.credit.settlements import settle_reservation
from connector.db import Database
from connector.errors import ConnectorError
from connector.jobs import settlement
from connector.jobs.settlement import _due_for_settlement, settle_due_reservations
from connector.metrics import REGISTRY
from tests.conftest import _empty_tables
from tests.factories import NOW

DUE = NOW + timedelta(days=8)  # five business days after NOW (a Monday), and a bit
GATEWAY = "r-gateway"  # settled in part by the gateway while the job runs
VOIDED = "r-voided"  # released before the job: the general path refuses it


def _scenario(db: Database) -> None:
    """Three accounts (one blocked by an overdue invoice), plans of 1, 2 and 3
    installments, agreed installment values, odd cents, fewer cents than installments,
    a hold that is never auto-settled, a voided one, one the gateway settles meanwhile."""
    earlier = NOW - timedelta(days=70)
    with db.transaction() as session:
        update_store_settings(session, {"holiday_calendar": "BR"})
        for name in ("a", "b", "c"):
            open_account(
                session,
                email=f"{name}@example.com",
                credit_limit_cents=10**7,
                account_id=f"acc-{name}",
                now=earlier,
            )
        # acc-c is blocked: an invoice of a purchase settled long ago is overdue.
        reserve(session, "acc-c", 5_000, reservation_id="r-old", order_id="o-old", now=earlier)
        settle_reservation(session, "r-old", now=earlier)
        plans: list[tuple[str, str, int, int, int | None]] = [
            ("r-a1", "acc-a", 10_000, 1, None),
            ("r-a2", "acc-a", 10_001, 2, None),
            ("r-a3", "acc-a", 10_002, 3, None),
            ("r-a4", "acc-a", 2, 3, None),  # two cents in three installments: two invoices
            ("r-b1", "acc-b", 30_100, 3, 10_033),  # agreed: 10033 + 10033 + 10034
            ("r-b2", "acc-b", 20_000, 2, 9_000),  # agreed value that cannot add up: split
            ("r-b3", "acc-b", 99_999, 3, None),
            ("r-c1", "acc-c", 12_345, 2, 6_173),
            ("r-c2", "acc-c", 7_777, 1, None),
            (GATEWAY, "acc-a", 40_000, 3, None),
            (VOIDED, "acc-b", 1_500, 2, None),
        ]
        for reservation_id, account_id, value, installments, agreed in plans:
            reserve(
                session,
                account_id,
                value,
                installments=installments,
                installment_value_cents=agreed,
                reservation_id=reservation_id,
                order_id=f"o-{reservation_id}",
                now=NOW,
            )
        reserve(session, "acc-b", 3_000, reservation_id="r-held", auto_settle=False, now=NOW)
        release_reservation(session, VOIDED, now=NOW + timedelta(days=1))


def _gateway_settles(db: Database) -> None:
    with db.transaction() as session:
        settle_reservation(session, GATEWAY, 25_001, now=DUE)


def _one_by_one(db: Database) -> None:
    """The reference: the job's candidates in its order, each through the general path."""
    candidates = _due_for_settlement(db, DUE, 1000, None)
    _gateway_settles(db)
    for row in sorted(candidates, key=lambda row: row.account_id):
        try:
            with db.transaction() as session:
                settle_reservation(session, row.id, now=DUE)
        except ConnectorError:
            pass  # refused (the voided one): passed over, as the job does


def _snapshot(db: Database) -> dict[str, Any]:
    """Every row that matters, the entries' random ids left out and purchase numbers
    replaced by their rank (PostgreSQL's sequence goes on counting after a wipe)."""
    with db.transaction() as session:
        assert [d.describe() for d in find_drift(session)] == []
        reservations = [
            _row(r) for r in session.scalars(select(Reservation).order_by(Reservation.id))
        ]
        numbers = sorted(r["purchase_number"] for r in reservations if r["purchase_number"])
        rank = {number: f"#{position}" for position, number in enumerate(numbers)}
        for row in reservations:
            row["purchase_number"] = rank.get(row["purchase_number"])
        invoices = [_row(i) for i in session.scalars(select(Invoice).order_by(Invoice.id))]
        for row in invoices:
            number, running = row["friendly_id"][1:].split("-")
            row["friendly_id"] = f"{rank[int(number)]}-{running}"
        entries = []
        for entry in session.scalars(select(StatementEntry)):
            row = _row(entry)
            del row["id"]
            entries.append(row)
        entries.sort(key=lambda row: (row["account_id"], str(row["invoice_id"]), row["origin"]))
        accounts = [_row(a) for a in session.scalars(select(Account).order_by(Account.id))]
    return {
        "reservations": reservations,
        "invoices": invoices,
        "entries": entries,
        "accounts": accounts,
    }


def _row(item: Any) -> dict[str, Any]:
    return {column.key: getattr(item, column.key) for column in item.__mapper__.column_attrs}


@pytest.mark.parametrize(
    "group_size", [500, 2], ids=["one group", "groups of two (two accounts share one)"]
)
def test_the_job_writes_what_settling_one_by_one_writes(
    db: Database, monkeypatch: pytest.MonkeyPatch, group_size: int
) -> None:
    _scenario(db)
    _one_by_one(db)
    expected = _snapshot(db)
    _empty_tables(db)

    _scenario(db)
    set_wise = batch_settlement.settle_due_batch
    batches: list[list[str]] = []

    def gateway_first(session: Any, reservations: Any, **kwargs: Any) -> Any:
        """The gateway settles its purchase after the job read its candidates."""
        if not batches:
            _gateway_settles(db)
        batches.append([reservation_id for reservation_id, _ in reservations])
        return set_wise(session, reservations, **kwargs)

    monkeypatch.setattr(settlement, "settle_due_batch", gateway_first)
    settled = settle_due_reservations(db, now=DUE, group_size=group_size, threads=1)
    assert settled == 9  # every due one but the gateway's and the voided one
    assert any(GATEWAY in batch for batch in batches)  # the race did reach the batch
    actual = _snapshot(db)

    for table in expected:
        assert actual[table] == expected[table], table
    invoiced = {row["reservation_id"] for row in actual["invoices"]}
    assert {"r-a4", "r-b1", "r-c2", GATEWAY} <= invoiced
    assert {row["id"] for row in actual["invoices"] if row["reservation_id"] == "r-a4"} == {
        "r-a4-01",
        "r-a4-02",
    }


def _settled_metric() -> float:
    return REGISTRY.get_sample_value("connector_credit_settled_cents_total") or 0.0


def test_a_second_run_settles_nothing_again(db: Database) -> None:
    _scenario(db)
    counted = _settled_metric()
    assert settle_due_reservations(db, now=DUE) == 10
    before = _snapshot(db)
    invoiced = sum(i["original_value_cents"] for i in before["invoices"] if i["created_at"] == DUE)
    assert _settled_metric() - counted == invoiced  # the metric counts the set-wise path
    assert settle_due_reservations(db, now=DUE + timedelta(days=1)) == 0
    assert _snapshot(db) == before


def test_a_batch_the_database_refuses_is_settled_one_by_one(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A constraint the batch breaks (in its COPY, on PostgreSQL) rolls it back whole; the
    general path then settles each reservation, so the outcome is the reference's."""
    _scenario(db)
    _one_by_one(db)
    expected = _snapshot(db)
    _empty_tables(db)
    _scenario(db)
    _gateway_settles(db)

    def broken(session: Any, reservations: Any, **kwargs: Any) -> Any:
        # An invoice with the id the batch is about to write (gone with its rollback).
        session.execute(
            insert(Invoice),
            {
                **dict.fromkeys(("order_id", "resolved_at", "payment_link", "observation")),
                "id": "r-a1-01",
                "friendly_id": "X-01",
                "account_id": "acc-a",
                "reservation_id": "r-a1",
                "installment": 1,
                "number_of_installments": 1,
                "value_cents": 1,
                "original_value_cents": 1,
                "status": "Opened",
                "created_at": DUE,
                "updated_at": DUE,
                "original_due_date": DUE.date(),
                "due_date": DUE.date(),
                "postponement_count": 0,
                "postponed_days": 0,
            },
        )
        return batch_settlement.settle_due_batch(session, reservations, **kwargs)

    monkeypatch.setattr(settlement, "settle_due_batch", broken)
    assert settle_due_reservations(db, now=DUE) == 9
    assert _snapshot(db) == expected


def test_two_schedulers_at_once_settle_each_purchase_once(db: Database) -> None:
    _scenario(db)
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(
            pool.map(lambda _: settle_due_reservations(db, now=DUE, group_size=3), range(2))
        )
    assert sum(runs) == 10  # each due purchase by one of them; the voided one by neither
    after = _snapshot(db)  # no drift
    per_purchase: dict[str, int] = {}
    for invoice in after["invoices"]:
        per_purchase[invoice["reservation_id"]] = per_purchase.get(invoice["reservation_id"], 0) + 1
    assert per_purchase["r-b1"] == 3 and per_purchase["r-a1"] == 1
