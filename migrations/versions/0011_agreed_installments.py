"""The installment a buyer agreed to at checkout (the gateway's ``installmentsValue``),
kept on the payment and its reservation so that settling it issues those invoices.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from connector.migrate import sqlite_table_rebuild

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("reservations", "payments")


def upgrade() -> None:
    for table in _TABLES:  # a nullable column: SQLite adds it in place, no copy
        op.add_column(table, sa.Column("installment_value_cents", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    for table in _TABLES:
        with sqlite_table_rebuild(op.get_bind()), op.batch_alter_table(table) as batch:
            batch.drop_column("installment_value_cents")
