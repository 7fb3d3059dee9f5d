"""Web: staff users, the mail outbox, customers' one-time sign-in links.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 20:00:03.618998
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_mails",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_mails")),
    )
    with op.batch_alter_table("outbox_mails", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_mails_created_at", ["created_at", "id"], unique=False)

    op.create_table(
        "staff_users",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("session_epoch", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_users")),
        sa.UniqueConstraint("email", name=op.f("uq_staff_users_email")),
    )
    op.create_table(
        "customer_sign_in_tokens",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("holder_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_customer_sign_in_tokens_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["holder_id"], ["holders.id"], name=op.f("fk_customer_sign_in_tokens_holder_id_holders")
        ),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_customer_sign_in_tokens")),
    )
    with op.batch_alter_table("customer_sign_in_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_customer_sign_in_tokens_holder_id", ["holder_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("customer_sign_in_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_sign_in_tokens_holder_id")

    op.drop_table("customer_sign_in_tokens")
    op.drop_table("staff_users")
    with op.batch_alter_table("outbox_mails", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_mails_created_at")

    op.drop_table("outbox_mails")
