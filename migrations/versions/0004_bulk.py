"""Bulk CSV: the import history, its row errors and the uploaded files' parts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("requested_by", sa.String(length=254), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("encoding", sa.String(length=16), nullable=False),
        sa.Column("delimiter", sa.String(length=4), nullable=True),
        sa.Column("ignored_columns", sa.JSON(), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("chunks_done", sa.Integer(), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("created_count", sa.Integer(), nullable=False),
        sa.Column("updated_count", sa.Integer(), nullable=False),
        sa.Column("unchanged_count", sa.Integer(), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("worker", sa.String(length=255), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("chunk_size > 0", name=op.f("ck_import_jobs_chunk_size")),
        sa.CheckConstraint("kind IN ('accounts', 'invoices')", name=op.f("ck_import_jobs_kind")),
        sa.CheckConstraint("mode IN ('create', 'update')", name=op.f("ck_import_jobs_mode")),
        sa.CheckConstraint("source IN ('cli', 'api')", name=op.f("ck_import_jobs_source")),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'interrupted', 'completed', 'failed')",
            name=op.f("ck_import_jobs_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
    )
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_import_jobs_created_at", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_import_jobs_file_sha256", ["file_sha256"], unique=False)
        batch_op.create_index("ix_import_jobs_status", ["status", "created_at"], unique=False)

    op.create_table(
        "import_file_parts",
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["import_jobs.id"],
            name=op.f("fk_import_file_parts_job_id_import_jobs"),
        ),
        sa.PrimaryKeyConstraint("job_id", "seq", name=op.f("pk_import_file_parts")),
    )
    op.create_table(
        "import_row_errors",
        sa.Column("job_id", sa.String(length=32), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("column", sa.String(length=255), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["import_jobs.id"],
            name=op.f("fk_import_row_errors_job_id_import_jobs"),
        ),
        sa.PrimaryKeyConstraint(
            "job_id", "row_number", "position", name=op.f("pk_import_row_errors")
        ),
    )


def downgrade() -> None:
    op.drop_table("import_row_errors")
    op.drop_table("import_file_parts")
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_import_jobs_status")
        batch_op.drop_index("ix_import_jobs_file_sha256")
        batch_op.drop_index("ix_import_jobs_created_at")
    op.drop_table("import_jobs")
