"""Initial schema: accounts, holders, reservations, invoices, entries, settings, keys, payments.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 19:30:02.477274
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("document", sa.String(length=64), nullable=True),
        sa.Column("document_type", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("credit_limit_cents", sa.BigInteger(), nullable=False),
        sa.Column("tolerance_bps", sa.Integer(), nullable=False),
        sa.Column("balance_cents", sa.BigInteger(), nullable=False),
        sa.Column("reserved_cents", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('Open', 'Closed')", name=op.f("ck_accounts_status")),
        sa.CheckConstraint("credit_limit_cents >= 0", name=op.f("ck_accounts_credit_limit_cents")),
        sa.CheckConstraint("reserved_cents >= 0", name=op.f("ck_accounts_reserved_cents")),
        sa.CheckConstraint(
            "tolerance_bps BETWEEN 0 AND 10000", name=op.f("ck_accounts_tolerance_bps")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index("ix_accounts_created_at", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_accounts_email", ["email"], unique=False)
        batch_op.create_index(
            "uq_accounts_open_document",
            ["document", "document_type"],
            unique=True,
            sqlite_where=sa.text("status = 'Open' AND document IS NOT NULL"),
            postgresql_where=sa.text("status = 'Open' AND document IS NOT NULL"),
        )

    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    op.create_table(
        "payment_operations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("payment_id", sa.String(length=200), nullable=False),
        sa.Column("request_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("value_cents", sa.BigInteger(), nullable=False),
        sa.Column("http_status", sa.SmallInteger(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('settle', 'cancel', 'refund')", name=op.f("ck_payment_operations_kind")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_operations")),
        sa.UniqueConstraint(
            "payment_id", "request_id", name=op.f("uq_payment_operations_payment_id_request_id")
        ),
    )
    op.create_table(
        "store_settings",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=254), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_store_settings_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_settings")),
    )
    op.create_table(
        "holders",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=120), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("level IN (1, 2)", name=op.f("ck_holders_level")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_holders_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holders")),
    )
    with op.batch_alter_table("holders", schema=None) as batch_op:
        batch_op.create_index("ix_holders_account_id", ["account_id"], unique=False)
        batch_op.create_index(
            "uq_holders_active_email",
            ["email"],
            unique=True,
            sqlite_where=sa.text("removed_at IS NULL"),
            postgresql_where=sa.text("removed_at IS NULL"),
        )

    op.create_table(
        "reservations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=120), nullable=False),
        sa.Column("holder_email", sa.String(length=254), nullable=True),
        sa.Column("order_id", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("value_cents", sa.BigInteger(), nullable=False),
        sa.Column("authorized_cents", sa.BigInteger(), nullable=False),
        sa.Column("settled_cents", sa.BigInteger(), nullable=False),
        sa.Column("refunded_cents", sa.BigInteger(), nullable=False),
        sa.Column("installments", sa.SmallInteger(), nullable=False),
        sa.Column("term_days", sa.JSON(), nullable=False),
        sa.Column("invoice_count", sa.SmallInteger(), nullable=False),
        sa.Column("auto_settle_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status = 'pending' OR value_cents = 0", name=op.f("ck_reservations_held_only_pending")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'posted', 'voided', 'expired')",
            name=op.f("ck_reservations_status"),
        ),
        sa.CheckConstraint("authorized_cents > 0", name=op.f("ck_reservations_authorized_cents")),
        sa.CheckConstraint("installments >= 1", name=op.f("ck_reservations_installments")),
        sa.CheckConstraint(
            "refunded_cents >= 0 AND refunded_cents <= settled_cents",
            name=op.f("ck_reservations_refunded_cents"),
        ),
        sa.CheckConstraint("value_cents >= 0", name=op.f("ck_reservations_value_cents")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_reservations_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reservations")),
    )
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reservations_account_id", ["account_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_reservations_due",
            ["auto_settle_at"],
            unique=False,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )

    op.create_table(
        "invoices",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("friendly_id", sa.String(length=24), nullable=False),
        sa.Column("account_id", sa.String(length=120), nullable=False),
        sa.Column("reservation_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=200), nullable=True),
        sa.Column("installment", sa.SmallInteger(), nullable=False),
        sa.Column("number_of_installments", sa.SmallInteger(), nullable=False),
        sa.Column("value_cents", sa.BigInteger(), nullable=False),
        sa.Column("original_value_cents", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("original_due_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payment_link", sa.String(length=2048), nullable=True),
        sa.Column("observation", sa.Text(), nullable=True),
        sa.Column("postponement_count", sa.SmallInteger(), nullable=False),
        sa.Column("postponed_days", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('Opened', 'Paid', 'Cancelled')", name=op.f("ck_invoices_status")
        ),
        sa.CheckConstraint(
            "value_cents >= 0 AND value_cents <= original_value_cents",
            name=op.f("ck_invoices_value_cents"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_invoices_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name=op.f("fk_invoices_reservation_id_reservations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("friendly_id", name=op.f("uq_invoices_friendly_id")),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index(
            "ix_invoices_account_id", ["account_id", "created_at", "id"], unique=False
        )
        batch_op.create_index("ix_invoices_created_at", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_invoices_due_date", ["due_date"], unique=False)
        batch_op.create_index("ix_invoices_order_id", ["order_id"], unique=False)
        batch_op.create_index("ix_invoices_reservation_id", ["reservation_id"], unique=False)
        batch_op.create_index("ix_invoices_status_due_date", ["status", "due_date"], unique=False)

    op.create_table(
        "payments",
        sa.Column("payment_id", sa.String(length=200), nullable=False),
        sa.Column("transaction_id", sa.String(length=200), nullable=True),
        sa.Column("order_id", sa.String(length=200), nullable=True),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("account_id", sa.String(length=120), nullable=True),
        sa.Column("reservation_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("message", sa.String(length=500), nullable=True),
        sa.Column("value_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("installments", sa.SmallInteger(), nullable=False),
        sa.Column("buyer_email", sa.String(length=254), nullable=True),
        sa.Column("buyer_document", sa.String(length=64), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("authorization_id", sa.String(length=64), nullable=True),
        sa.Column("tid", sa.String(length=64), nullable=False),
        sa.Column("nsu", sa.String(length=64), nullable=False),
        sa.Column("callback_url", sa.Text(), nullable=True),
        sa.Column("test_suite", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('approved', 'denied', 'undefined')", name=op.f("ck_payments_status")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_payments_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["reservation_id"],
            ["reservations.id"],
            name=op.f("fk_payments_reservation_id_reservations"),
        ),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_payments")),
        sa.UniqueConstraint("reservation_id", name=op.f("uq_payments_reservation_id")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index("ix_payments_transaction_id", ["transaction_id"], unique=False)

    op.create_table(
        "statement_entries",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=120), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("value_cents", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_by", sa.String(length=254), nullable=True),
        sa.Column("invoice_id", sa.String(length=80), nullable=True),
        sa.Column("transaction_id", sa.String(length=64), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "origin IN ('Credit', 'Invoice', 'Payment', 'Statement', 'Cancellation', 'Refund')",
            name=op.f("ck_statement_entries_origin"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_statement_entries_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_statement_entries_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_entries")),
    )
    with op.batch_alter_table("statement_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_statement_entries_account_id", ["account_id", "created_at", "id"], unique=False
        )
        batch_op.create_index("ix_statement_entries_invoice_id", ["invoice_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("statement_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_statement_entries_invoice_id")
        batch_op.drop_index("ix_statement_entries_account_id")

    op.drop_table("statement_entries")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_transaction_id")

    op.drop_table("payments")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_invoices_status_due_date")
        batch_op.drop_index("ix_invoices_reservation_id")
        batch_op.drop_index("ix_invoices_order_id")
        batch_op.drop_index("ix_invoices_due_date")
        batch_op.drop_index("ix_invoices_created_at")
        batch_op.drop_index("ix_invoices_account_id")

    op.drop_table("invoices")
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_reservations_due",
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )
        batch_op.drop_index("ix_reservations_account_id")

    op.drop_table("reservations")
    with op.batch_alter_table("holders", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_holders_active_email",
            sqlite_where=sa.text("removed_at IS NULL"),
            postgresql_where=sa.text("removed_at IS NULL"),
        )
        batch_op.drop_index("ix_holders_account_id")

    op.drop_table("holders")
    op.drop_table("store_settings")
    op.drop_table("payment_operations")
    op.drop_table("api_keys")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_accounts_open_document",
            sqlite_where=sa.text("status = 'Open' AND document IS NOT NULL"),
            postgresql_where=sa.text("status = 'Open' AND document IS NOT NULL"),
        )
        batch_op.drop_index("ix_accounts_email")
        batch_op.drop_index("ix_accounts_created_at")

    op.drop_table("accounts")
