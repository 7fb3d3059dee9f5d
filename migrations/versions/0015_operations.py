"""Operations: the scheduler's heartbeat (read by /ready and /metrics), and an index of the
mails still to send (the outbox gauge and the mail sender read only those).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNSENT = sa.text("sent_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "scheduler_heartbeats",
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("host", name=op.f("pk_scheduler_heartbeats")),
    )
    op.create_index(
        "ix_outbox_mails_unsent",
        "outbox_mails",
        ["created_at"],
        sqlite_where=_UNSENT,
        postgresql_where=_UNSENT,
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_mails_unsent", table_name="outbox_mails")
    op.drop_table("scheduler_heartbeats")
