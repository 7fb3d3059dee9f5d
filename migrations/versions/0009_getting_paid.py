"""Getting paid: how an invoice was paid and the late charges received with it.

Invoices get the payment's date (the store's), method, reference and amount received,
and the late fee and interest booked with it; statement entries get the ``LateFee`` and
``Interest`` origins; open invoices get an index by account and due date, which overdue
blocking asks at each purchase. Invoices paid before this revision keep no receipt: their
amount received is unknown (NULL) and their charges zero, as none were taken then.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from connector.migrate import sqlite_table_rebuild

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ORIGINS_BEFORE = "'Credit', 'Invoice', 'Payment', 'Statement', 'Cancellation', 'Refund'"
_ORIGINS_NOW = _ORIGINS_BEFORE + ", 'LateFee', 'Interest'"
_OPENED_ONLY = sa.text("status = 'Opened'")


def _origins(allowed: str) -> None:
    with op.batch_alter_table("statement_entries") as batch:
        batch.drop_constraint(op.f("ck_statement_entries_origin"), type_="check")
        batch.create_check_constraint("origin", f"origin IN ({allowed})")


def upgrade() -> None:
    with sqlite_table_rebuild(op.get_bind()), op.batch_alter_table("invoices") as batch:
        batch.add_column(sa.Column("paid_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("payment_method", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("payment_reference", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("received_cents", sa.BigInteger(), nullable=True))
        for column in ("late_fee_cents", "interest_cents"):
            batch.add_column(
                sa.Column(column, sa.BigInteger(), server_default=sa.text("0"), nullable=False)
            )
        batch.create_check_constraint(
            "payment_method", "payment_method IN ('pix', 'boleto', 'transfer', 'other')"
        )
        batch.create_check_constraint("charges", "late_fee_cents >= 0 AND interest_cents >= 0")
        batch.create_index(
            "ix_invoices_open_due_date",
            ["account_id", "due_date"],
            sqlite_where=_OPENED_ONLY,
            postgresql_where=_OPENED_ONLY,
        )
    _origins(_ORIGINS_NOW)


def downgrade() -> None:
    # Charges booked since go back to being part of the payment: the entries sum the same.
    entries = sa.table("statement_entries", sa.column("origin", sa.String))
    op.execute(
        entries.update()
        .where(entries.c.origin.in_(("LateFee", "Interest")))
        .values(origin="Payment")
    )
    _origins(_ORIGINS_BEFORE)
    with sqlite_table_rebuild(op.get_bind()), op.batch_alter_table("invoices") as batch:
        batch.drop_index("ix_invoices_open_due_date")
        batch.drop_constraint(op.f("ck_invoices_charges"), type_="check")
        batch.drop_constraint(op.f("ck_invoices_payment_method"), type_="check")
        for column in (
            "interest_cents",
            "late_fee_cents",
            "received_cents",
            "payment_reference",
            "payment_method",
            "paid_on",
        ):
            batch.drop_column(column)
