"""An order id for every purchase: a pre-authorization of the API, which has no order,
takes its own id (the transaction id the merchant refers to it by), and so do its
invoices, whose ``orderId`` the public API requires as a string.

Statement entries keep the metadata they were written with: they are never edited.

Revision ID: 0013
Revises: 0011 (0012 was reserved for a change that needed no migration)
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("UPDATE reservations SET order_id = id WHERE order_id IS NULL")
    op.execute("UPDATE invoices SET order_id = reservation_id WHERE order_id IS NULL")


def downgrade() -> None:
    # A purchase whose order id is its own id had none before.
    op.execute("UPDATE invoices SET order_id = NULL WHERE order_id = reservation_id")
    op.execute("UPDATE reservations SET order_id = NULL WHERE order_id = id")
