"""Protocol: callbacks and over-limit reviews; method, auto-settle delay, cancellation.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 19:41:22.947942
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payment_callbacks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("payment_id", sa.String(length=200), nullable=False),
        sa.Column("final_status", sa.String(length=10), nullable=False),
        sa.Column("final_code", sa.String(length=64), nullable=True),
        sa.Column("final_message", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "final_status IN ('approved', 'denied')", name=op.f("ck_payment_callbacks_final_status")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'skipped', 'expired', 'cancelled')",
            name=op.f("ck_payment_callbacks_status"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.payment_id"],
            name=op.f("fk_payment_callbacks_payment_id_payments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_callbacks")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_payment_callbacks_payment_id")),
    )
    with op.batch_alter_table("payment_callbacks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payment_callbacks_due",
            ["next_attempt_at"],
            unique=False,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )

    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payment_method", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column(
                "delay_to_auto_settle_seconds",
                sa.Integer(),
                server_default=sa.text("604800"),
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "payment_reviews",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("payment_id", sa.String(length=200), nullable=False),
        sa.Column("account_id", sa.String(length=120), nullable=False),
        sa.Column("value_cents", sa.BigInteger(), nullable=False),
        sa.Column("spending_power_cents", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=254), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'denied', 'cancelled')",
            name=op.f("ck_payment_reviews_status"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_payment_reviews_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.payment_id"],
            name=op.f("fk_payment_reviews_payment_id_payments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_reviews")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_payment_reviews_payment_id")),
    )
    with op.batch_alter_table("payment_reviews", schema=None) as batch_op:
        batch_op.create_index("ix_payment_reviews_status", ["status", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payment_reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_reviews_status")
    op.drop_table("payment_reviews")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_column("cancelled_at")
        batch_op.drop_column("delay_to_auto_settle_seconds")
        batch_op.drop_column("payment_method")

    with op.batch_alter_table("payment_callbacks", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_payment_callbacks_due",
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )

    op.drop_table("payment_callbacks")
