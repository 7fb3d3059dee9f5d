"""The checkout platform's configuration flow: its connections, and a role for staff users.

``platform_connections`` keeps each run of the flow (the token and the code as SHA-256
only, the decision, the key it issued). Staff users get a ``role``; every user so far
could change anything, so they are all ``admin``.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from connector.migrate import sqlite_table_rebuild

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "platform_connections",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("application_id", sa.String(length=100), nullable=False),
        sa.Column("return_url", sa.String(length=2000), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("code_sha256", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=254), nullable=True),
        sa.Column("key_id", sa.String(length=64), nullable=True),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=254), nullable=True),
        sa.CheckConstraint(
            "status IN ('issued', 'opened', 'denied', 'allowed', 'connected', 'revoked', "
            "'code_reused')",
            name=op.f("ck_platform_connections_status"),
        ),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name=op.f("fk_platform_connections_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_connections")),
        sa.UniqueConstraint("code_sha256", name=op.f("uq_platform_connections_code_sha256")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_platform_connections_token_sha256")),
    )
    op.create_index(
        "ix_platform_connections_status_expires_at",
        "platform_connections",
        ["status", "expires_at"],
    )
    # A column with a default: SQLite adds it in place, no copy.
    op.add_column(
        "staff_users",
        sa.Column("role", sa.String(length=16), server_default="admin", nullable=False),
    )


def downgrade() -> None:
    with sqlite_table_rebuild(op.get_bind()), op.batch_alter_table("staff_users") as batch:
        batch.drop_column("role")
    op.drop_index("ix_platform_connections_status_expires_at", "platform_connections")
    op.drop_table("platform_connections")
