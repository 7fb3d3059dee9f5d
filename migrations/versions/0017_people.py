"""People in the admin: one-time set-password links, an optional TOTP second factor for
staff users, and who created each API key and when it was last used.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from connector.migrate import sqlite_table_rebuild

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_password_tokens",
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=254), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["staff_users.id"],
            name=op.f("fk_staff_password_tokens_user_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("token_sha256", name=op.f("pk_staff_password_tokens")),
    )
    op.create_index("ix_staff_password_tokens_user_id", "staff_password_tokens", ["user_id"])
    # Nullable columns and one with a default: SQLite adds them in place, no copy.
    op.add_column("staff_users", sa.Column("totp_secret", sa.String(length=255), nullable=True))
    op.add_column("staff_users", sa.Column("totp_last_step", sa.Integer(), nullable=True))
    op.add_column(
        "staff_users",
        sa.Column("totp_failures", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "staff_users", sa.Column("totp_failed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("api_keys", sa.Column("created_by", sa.String(length=254), nullable=True))
    op.add_column("api_keys", sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with sqlite_table_rebuild(op.get_bind()):
        with op.batch_alter_table("api_keys") as batch:
            batch.drop_column("last_used_at")
            batch.drop_column("created_by")
        with op.batch_alter_table("staff_users") as batch:
            batch.drop_column("totp_failed_at")
            batch.drop_column("totp_failures")
            batch.drop_column("totp_last_step")
            batch.drop_column("totp_secret")
    op.drop_index("ix_staff_password_tokens_user_id", "staff_password_tokens")
    op.drop_table("staff_password_tokens")
