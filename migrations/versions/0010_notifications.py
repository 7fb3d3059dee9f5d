"""Invoice mails: written once per invoice, rule and recipient; holders' language and
opt-out; mails with an HTML part and inline images, claimed by one sender at a time.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from connector.migrate import sqlite_table_rebuild

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    with sqlite_table_rebuild(bind), op.batch_alter_table("holders") as batch:
        batch.add_column(sa.Column("language", sa.String(length=2), nullable=True))
        batch.add_column(sa.Column("mail_opt_out_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("outbox_mails") as batch:
        batch.add_column(sa.Column("html", sa.Text(), nullable=True))
        batch.add_column(sa.Column("images", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("invoice_id", sa.String(length=80), nullable=False),
        sa.Column("rule", sa.String(length=24), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("mail_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_notifications_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["mail_id"], ["outbox_mails.id"], name=op.f("fk_notifications_mail_id_outbox_mails")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(
        "uq_notifications_invoice_rule",
        "notifications",
        ["invoice_id", "rule", "recipient"],
        unique=True,
    )
    op.create_index("ix_notifications_created_at", "notifications", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_notifications_created_at", table_name="notifications")
    op.drop_index("uq_notifications_invoice_rule", table_name="notifications")
    op.drop_table("notifications")
    with op.batch_alter_table("outbox_mails") as batch:
        batch.drop_column("claimed_until")
        batch.drop_column("images")
        batch.drop_column("html")
    with sqlite_table_rebuild(op.get_bind()), op.batch_alter_table("holders") as batch:
        batch.drop_column("mail_opt_out_at")
        batch.drop_column("language")
