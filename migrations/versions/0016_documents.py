"""Documents and invoice ids: an account's company name, and the store-wide purchase number
its invoices share (V1001-01, V1001-02), from a sequence on PostgreSQL.

Nothing stored changes: accounts keep their documents and ids (also a document stored
before check digits were checked, such as ``123_CPF``), and invoices keep their ids, so
every link to them keeps working; only purchases invoiced from now on get a number.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from connector.migrate import sqlite_table_rebuild

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns: SQLite adds them in place, no copy.
    op.add_column("accounts", sa.Column("company_name", sa.String(length=200), nullable=True))
    op.add_column("reservations", sa.Column("purchase_number", sa.BigInteger(), nullable=True))
    op.create_index(
        "uq_reservations_purchase_number", "reservations", ["purchase_number"], unique=True
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.schema.CreateSequence(sa.Sequence("purchase_numbers", start=1001)))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.schema.DropSequence(sa.Sequence("purchase_numbers")))
    op.drop_index("uq_reservations_purchase_number", table_name="reservations")
    # Invoices keep the ids they were given (V1001-01): only the number's source goes.
    with sqlite_table_rebuild(op.get_bind()), op.batch_alter_table("reservations") as batch:
        batch.drop_column("purchase_number")
    with sqlite_table_rebuild(op.get_bind()), op.batch_alter_table("accounts") as batch:
        batch.drop_column("company_name")
