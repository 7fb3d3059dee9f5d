"""REST API: indexes for invoice search; holds the scheduler never settles.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _rebuild_reservations(nullable: bool) -> None:
    """Change ``auto_settle_at``'s nullability; on SQLite, by rebuilding the table.

    SQLite changes a column by copying the table, dropping it and renaming the copy. With
    foreign keys enforced, the drop fails while invoices point at the table, and
    ``foreign_keys = OFF`` is ignored inside a transaction. So, as SQLite's own procedure
    for table changes says: commit what came before, turn the checks off, rebuild in a
    transaction of its own, prove every reference still holds, and turn them back on.
    """
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        raw = bind.connection.dbapi_connection
        assert raw is not None
        raw.execute("COMMIT")
        raw.execute("PRAGMA foreign_keys = OFF")
        raw.execute("BEGIN IMMEDIATE")
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.alter_column(
            "auto_settle_at", existing_type=sa.DateTime(timezone=True), nullable=nullable
        )
    if sqlite:
        broken = bind.exec_driver_sql("PRAGMA foreign_key_check").all()
        if broken:
            raise RuntimeError(f"foreign keys broken by the rebuild: {broken[:5]}")
        raw.execute("COMMIT")
        raw.execute("PRAGMA foreign_keys = ON")
        raw.execute("BEGIN IMMEDIATE")


def upgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index(
            "ix_invoices_status_created_at", ["status", "created_at", "id"], unique=False
        )
        batch_op.create_index("ix_invoices_value_cents", ["value_cents"], unique=False)
    # A pre-authorization created with ``settle: false`` has no auto-settle moment.
    _rebuild_reservations(nullable=True)


def downgrade() -> None:
    # The old schema cannot say "never": holds get a moment that never comes, so the
    # scheduler still never settles them (they still expire at their expiration date).
    never = (
        "9999-12-31 00:00:00.000000"
        if op.get_bind().dialect.name == "sqlite"
        else "9999-12-31 00:00:00+00"
    )
    op.execute(
        sa.text(
            "UPDATE reservations SET auto_settle_at = :never WHERE auto_settle_at IS NULL"
        ).bindparams(never=never)
    )
    _rebuild_reservations(nullable=False)
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_invoices_value_cents")
        batch_op.drop_index("ix_invoices_status_created_at")
